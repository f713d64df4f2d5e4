//! Topic administration (Kafka's `AdminManager`): CreateTopics, DeleteTopics
//! and CreatePartitions. Every change is written to the metadata store first
//! and only then applied to the replica manager.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::router::{Answer, Api, Call, Response};
use super::{legacy, ProtocolError, Reply};
use super::{validate_topic_name, Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};
use crate::config::BrokerConfig;
use crate::metadata::{MetadataError, TopicMetadata};

/// A refused admin operation: a Kafka error code and a message for the client.
type Refusal = (ResponseError, String);

/// A metadata store failure as the client sees it. An unreachable store
/// (ZooKeeper connection lost) answers REQUEST_TIMED_OUT, retriable: Kafka's
/// ZooKeeper client blocks the change until `zookeeper.connection.timeout.ms`
/// and the change did not happen in time; we answer at once instead of
/// holding the request.
pub(super) fn store_refusal(e: MetadataError) -> Refusal {
    match e {
        MetadataError::TopicExists(_) => (ResponseError::TopicAlreadyExists, e.to_string()),
        MetadataError::UnknownTopic(_) => (ResponseError::UnknownTopicOrPartition, e.to_string()),
        MetadataError::Unavailable(_) => (ResponseError::RequestTimedOut, e.to_string()),
        MetadataError::Storage(_) => (ResponseError::UnknownServerError, e.to_string()),
    }
}

/// A topic creation refused, as CreateTopics would answer it.
#[derive(Debug, thiserror::Error)]
#[error("{message} ({error:?})")]
pub struct TopicRefused {
    /// The Kafka error.
    pub error: ResponseError,
    /// What went wrong, for the log.
    pub message: String,
}

impl Broker {
    /// Creates a topic exactly as CreateTopics does (the same authorization:
    /// CREATE on the cluster, else on the topic; the same validation; the
    /// metadata store is written before the topic is installed). For the
    /// topics declared in the config file, at start-up, and the web console.
    pub async fn create_topic(
        &self,
        ctx: &RequestContext,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<TopicMetadata, TopicRefused> {
        if !self.authorize_filter(ctx, Check::CreateTopicsCluster, CLUSTER_NAME)
            && !self.authorize(ctx, Check::CreateTopicsTopic, name)
        {
            return Err(TopicRefused {
                error: ResponseError::TopicAuthorizationFailed,
                message: "Authorization failed.".into(),
            });
        }
        create_topic(self, name, partitions, replication_factor, configs, false)
            .await
            .map_err(|(error, message)| TopicRefused { error, message })
    }
}

/// Creates one topic (validated as Kafka does); `validate_only` stops before any change.
pub(crate) async fn create_topic(
    broker: &Broker,
    name: &str,
    num_partitions: i32,
    replication_factor: i16,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<TopicMetadata, Refusal> {
    validate_topic_name(name).map_err(|m| (ResponseError::InvalidTopicException, m))?;
    if broker.replica_manager.topic(name).is_some() {
        return Err((
            ResponseError::TopicAlreadyExists,
            format!("Topic '{name}' already exists."),
        ));
    }
    let partitions = match num_partitions {
        -1 => broker.config.num_partitions,
        n if n >= 1 => n,
        n => {
            return Err((
                ResponseError::InvalidPartitions,
                format!("Number of partitions was set to an invalid non-positive value {n}."),
            ))
        }
    };
    let replication = match replication_factor {
        -1 => broker.config.default_replication_factor,
        r => r,
    };
    if replication < 1 {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!("Replication factor must be larger than 0, not {replication}."),
        ));
    }
    if replication > 1 {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!("Replication factor: {replication} larger than available brokers: 1."),
        ));
    }
    for (key, value) in &configs {
        BrokerConfig::validate_topic_config(key, value)
            .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    }
    let collides =
        broker.replica_manager.topics().keys().any(|existing| {
            existing != name && existing.replace('.', "_") == name.replace('.', "_")
        });
    if collides {
        // Kafka refuses names that differ from an existing one only in '.' vs '_'
        // (their metric names would collide).
        return Err((
            ResponseError::InvalidTopicException,
            format!("Topic '{name}' collides with an existing topic: names that differ only in '.' and '_' share metric names."),
        ));
    }
    let metadata = TopicMetadata {
        name: name.to_string(),
        topic_id: Uuid::new_v4(),
        partitions,
        configs,
    };
    broker
        .config
        .log_config(&metadata.configs)
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    if validate_only {
        return Ok(metadata);
    }
    broker
        .metadata
        .create_topic(&metadata)
        .await
        .map_err(|e| match e {
            MetadataError::TopicExists(_) => (ResponseError::TopicAlreadyExists, e.to_string()),
            other => store_refusal(other),
        })?;
    broker
        .replica_manager
        .install_topic_async(metadata.clone())
        .await
        .map_err(|e| (ResponseError::KafkaStorageError, e.to_string()))?;
    tracing::info!(topic = name, partitions, topic_id = %metadata.topic_id, "created topic");
    Ok(metadata)
}

pub(super) async fn create_topics(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    // CREATE on the cluster, else on each topic.
    let cluster_create = broker.authorize_filter(ctx, Check::CreateTopicsCluster, CLUSTER_NAME);
    let mut results = Vec::with_capacity(request.topics.len());
    let mut seen = std::collections::HashSet::new();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_string();
        let mut result = CreatableTopicResult::default()
            .with_name(topic.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if !seen.insert(name.clone()) {
            result.error_code = ResponseError::InvalidRequest.code();
            result.error_message = Some(StrBytes::from_static_str(
                "Create topics request from client contains the topic more than once",
            ));
            results.push(result);
            continue;
        }
        if !cluster_create && !broker.authorize(ctx, Check::CreateTopicsTopic, &name) {
            result.error_code = ResponseError::TopicAuthorizationFailed.code();
            result.error_message = Some(StrBytes::from_static_str("Authorization failed."));
            results.push(result);
            continue;
        }
        match create_one(broker, &name, &topic, request.validate_only).await {
            Ok(metadata) => {
                result.num_partitions = metadata.partitions;
                result.replication_factor = 1;
                if version >= 7 {
                    result.topic_id = metadata.topic_id;
                }
                if version >= 5
                    && !broker.authorize_filter(ctx, Check::CreateTopicsDescribeConfigs, &name)
                {
                    result.topic_config_error_code = ResponseError::TopicAuthorizationFailed.code();
                } else if version >= 5 {
                    let described = broker
                        .config
                        .describe_topic_configs(&metadata.configs, false);
                    result.configs = Some(
                        described
                            .into_iter()
                            .map(|c| {
                                CreatableTopicConfigs::default()
                                    .with_name(StrBytes::from_string(c.name))
                                    .with_value(c.value.map(StrBytes::from_string))
                                    .with_read_only(c.read_only)
                                    .with_config_source(c.source as i8)
                                    .with_is_sensitive(c.sensitive)
                            })
                            .collect(),
                    );
                }
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = Some(StrBytes::from_string(message));
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

async fn create_one(
    broker: &Broker,
    name: &str,
    topic: &CreatableTopic,
    validate_only: bool,
) -> Result<TopicMetadata, Refusal> {
    if !topic.assignments.is_empty() {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return Err((
                ResponseError::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
            ));
        }
        let own = broker.config.broker_id;
        let valid = topic.assignments.iter().enumerate().all(|(i, a)| {
            a.partition_index == i as i32 && a.broker_ids.len() == 1 && a.broker_ids[0].0 == own
        });
        if !valid {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!("Replica assignments must place each partition, numbered from 0, on broker {own} alone."),
            ));
        }
    }
    let partitions = if topic.assignments.is_empty() {
        topic.num_partitions
    } else {
        topic.assignments.len() as i32
    };
    let mut configs = BTreeMap::new();
    for c in &topic.configs {
        match &c.value {
            Some(v) => {
                configs.insert(c.name.as_str().to_string(), v.as_str().to_string());
            }
            None => {
                return Err((
                    ResponseError::InvalidConfig,
                    format!(
                        "Null value not supported for topic configs: {}",
                        c.name.as_str()
                    ),
                ))
            }
        }
    }
    let replication = if topic.assignments.is_empty() {
        topic.replication_factor
    } else {
        1
    };
    create_topic(
        broker,
        name,
        partitions,
        replication,
        configs,
        validate_only,
    )
    .await
}

pub(super) async fn delete_topics(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // v6 names topics (by name or id) in `topics`; earlier versions in `topic_names`.
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        request
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.as_ref().map(|n| n.0.as_str().to_string()),
                    t.topic_id,
                )
            })
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| (Some(n.0.as_str().to_string()), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let topic = match &name {
            Some(n) => broker.replica_manager.topic(n),
            None => broker.replica_manager.topic_by_id(id),
        };
        let mut result = DeletableTopicResult::default()
            .with_name(name.clone().map(|n| TopicName(StrBytes::from_string(n))))
            .with_topic_id(id);
        // DELETE on the topic (by id: a topic id names no topic it may not delete).
        let check_name = name
            .clone()
            .or_else(|| topic.as_ref().map(|t| t.metadata.name.clone()));
        if check_name.is_some_and(|n| !broker.authorize(ctx, Check::DeleteTopics, &n)) {
            result.error_code = ResponseError::TopicAuthorizationFailed.code();
            responses.push(result);
            continue;
        }
        match topic {
            None => {
                let code = if name.is_some() {
                    ResponseError::UnknownTopicOrPartition
                } else {
                    ResponseError::UnknownTopicId
                };
                result.error_code = code.code();
            }
            Some(_) if !broker.config.delete_topic_enable => {
                result.error_code = ResponseError::TopicDeletionDisabled.code();
            }
            Some(topic) => {
                let topic_name = topic.metadata.name.clone();
                result.name = Some(TopicName(StrBytes::from_string(topic_name.clone())));
                result.topic_id = topic.metadata.topic_id;
                if let Err(e) = delete_topic(broker, &topic_name).await {
                    result.error_code = e.0.code();
                    result.error_message = Some(StrBytes::from_string(e.1));
                }
            }
        }
        responses.push(result);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

async fn delete_topic(broker: &Broker, name: &str) -> Result<(), Refusal> {
    broker
        .metadata
        .delete_topic(name)
        .await
        .map_err(store_refusal)?;
    broker
        .replica_manager
        .remove_topic_async(name)
        .await
        .map_err(|e| (ResponseError::KafkaStorageError, e.to_string()))?;
    crate::metrics::topic_deleted(name);
    tracing::info!(topic = name, "deleted topic");
    Ok(())
}

pub(super) async fn create_partitions(
    broker: &Broker,
    ctx: &RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let name = t.name.0.as_str().to_string();
        let mut result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if !broker.authorize(ctx, Check::CreatePartitions, &name) {
            result.error_code = ResponseError::TopicAuthorizationFailed.code();
            result.error_message = Some(StrBytes::from_static_str("Authorization failed."));
            results.push(result);
            continue;
        }
        let outcome = add_partitions(
            broker,
            &name,
            t.count,
            t.assignments.as_ref().map(|a| {
                a.iter()
                    .map(|p| p.broker_ids.iter().map(|b| b.0).collect())
                    .collect()
            }),
            request.validate_only,
        )
        .await;
        if let Err((code, message)) = outcome {
            result.error_code = code.code();
            result.error_message = Some(StrBytes::from_string(message));
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}

async fn add_partitions(
    broker: &Broker,
    name: &str,
    count: i32,
    assignments: Option<Vec<Vec<i32>>>,
    validate_only: bool,
) -> Result<(), Refusal> {
    let topic = broker.replica_manager.topic(name).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        )
    })?;
    let current = topic.metadata.partitions;
    if count < current {
        return Err((
            ResponseError::InvalidPartitions,
            format!("Topic currently has {current} partitions, which is higher than the requested {count}."),
        ));
    }
    if count == current {
        return Err((
            ResponseError::InvalidPartitions,
            format!("Topic already has {current} partitions."),
        ));
    }
    if let Some(assignments) = assignments {
        // Kafka: one assignment per new partition, each with the topic's
        // replication factor (1 here) of live brokers (only this one).
        let own = broker.config.broker_id;
        let new = usize::try_from(count - current).unwrap_or(0);
        if assignments.len() != new {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!(
                    "Increasing the number of partitions by {new} but {} assignments provided.",
                    assignments.len()
                ),
            ));
        }
        if let Some(bad) = assignments.iter().find(|a| a.as_slice() != [own]) {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!("Assignment {bad:?} is invalid: the only broker is {own} and the replication factor is 1."),
            ));
        }
    }
    if validate_only {
        return Ok(());
    }
    let mut metadata = topic.metadata.clone();
    metadata.partitions = count;
    update_topic(broker, metadata).await
}

/// Writes a changed topic to the metadata store, then applies it.
pub(crate) async fn update_topic(broker: &Broker, metadata: TopicMetadata) -> Result<(), Refusal> {
    broker
        .metadata
        .update_topic(&metadata)
        .await
        .map_err(|e| match e {
            MetadataError::UnknownTopic(_) => {
                (ResponseError::UnknownTopicOrPartition, e.to_string())
            }
            other => store_refusal(other),
        })?;
    broker
        .replica_manager
        .install_topic_async(metadata)
        .await
        .map_err(|e| (ResponseError::KafkaStorageError, e.to_string()))
}

/// CreateTopics (API 19).
pub(super) struct CreateTopics;

impl Api for CreateTopics {
    const KEY: ApiKey = ApiKey::CreateTopics;
    type Request = CreateTopicsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 7;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: CreateTopicsRequest,
    ) -> Answer<Response<Self>> {
        create_topics(broker, call.ctx, call.version, request)
            .await
            .into()
    }

    /// v0 is v1 without `validate_only`; v1's body is v2's, and its answer is
    /// v2's without the leading throttle time; v0's answer lacks the messages too.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: bytes::Bytes,
    ) -> Result<Reply, ProtocolError> {
        let version = call.version;
        let body = if version == 0 {
            legacy::widened(&[], &body, &[0])
        } else {
            body
        };
        let request = legacy::decode_as(Self::KEY, version, 2, body)?;
        let response = create_topics(broker, call.ctx, version, request).await;
        let cid = call.correlation_id;
        let out = if version == 0 {
            legacy::create_topics_v0_response(cid, &response)
        } else {
            legacy::encode_as(Self::KEY, cid, version, 2, 4, &response)?
        };
        Ok(Reply::Now(Some(out)))
    }
}

/// DeleteTopics (API 20).
pub(super) struct DeleteTopics;

impl Api for DeleteTopics {
    const KEY: ApiKey = ApiKey::DeleteTopics;
    type Request = DeleteTopicsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 6;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DeleteTopicsRequest,
    ) -> Answer<Response<Self>> {
        delete_topics(broker, call.ctx, call.version, request)
            .await
            .into()
    }

    /// v0's body is v1's; its answer is v1's without the leading throttle time.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: bytes::Bytes,
    ) -> Result<Reply, ProtocolError> {
        let version = call.version;
        let request = legacy::decode_as(Self::KEY, version, 1, body)?;
        let response = delete_topics(broker, call.ctx, version, request).await;
        let out = legacy::encode_as(Self::KEY, call.correlation_id, version, 1, 4, &response)?;
        Ok(Reply::Now(Some(out)))
    }
}

/// CreatePartitions (API 37).
pub(super) struct CreatePartitions;

impl Api for CreatePartitions {
    const KEY: ApiKey = ApiKey::CreatePartitions;
    type Request = CreatePartitionsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: CreatePartitionsRequest,
    ) -> Answer<Response<Self>> {
        create_partitions(broker, call.ctx, request).await.into()
    }
}
