//! Metadata and DescribeCluster: the broker (as the advertised endpoint of
//! the listener the request came in on), the controller (this broker) and
//! the topics with their partitions.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, MetadataRequest, MetadataResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use std::sync::Arc;

use super::router::{Answer, Api, Call, Response};
use super::{validate_topic_name, Broker, RequestContext};
use crate::authorizer::{Check, ResourceType, CLUSTER_NAME};
use crate::replica_manager::Topic;

/// "Not requested" for the authorized-operations fields, as Kafka leaves them.
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let broker_id = broker.config.broker_id;
    let cluster_ops = if request.include_cluster_authorized_operations {
        broker.authorized_operations(ctx, ResourceType::Cluster, CLUSTER_NAME)
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    let mut response = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(broker_id))
            .with_host(StrBytes::from_string(ctx.advertised.host.clone()))
            .with_port(i32::from(ctx.advertised.port))
            .with_rack(
                broker.config.broker_rack.clone().map(StrBytes::from_string),
            )])
        .with_cluster_id(Some(StrBytes::from_string(broker.metadata.cluster_id())))
        .with_controller_id(BrokerId(broker_id))
        .with_cluster_authorized_operations(cluster_ops);
    let topics = broker.replica_manager.topics();
    let all_topics = match &request.topics {
        None => true,
        Some(list) => list.is_empty() && version == 0,
    };
    let mut out: Vec<MetadataResponseTopic> = Vec::new();
    if all_topics {
        // Topics the principal may not DESCRIBE are left out.
        out.extend(
            topics
                .values()
                .filter(|t| broker.authorize_filter(ctx, Check::MetadataTopic, &t.metadata.name))
                .map(|t| describe_topic(broker_id, t)),
        );
    }
    for wanted in request.topics.unwrap_or_default() {
        if all_topics {
            break;
        }
        out.push(
            named_topic(
                broker,
                ctx,
                version,
                request.allow_auto_topic_creation,
                wanted,
            )
            .await,
        );
    }
    if request.include_topic_authorized_operations {
        for t in out.iter_mut().filter(|t| t.error_code == 0) {
            if let Some(name) = &t.name {
                t.topic_authorized_operations =
                    broker.authorized_operations(ctx, ResourceType::Topic, name.0.as_str());
            }
        }
    }
    response.topics = out;
    response
}

/// One topic asked for by name or id: DESCRIBE first (else
/// TOPIC_AUTHORIZATION_FAILED, existing or not), then auto-creation with
/// CREATE on the cluster or on the topic.
async fn named_topic(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    allow_auto_topic_creation: bool,
    wanted: kafka_protocol::messages::metadata_request::MetadataRequestTopic,
) -> MetadataResponseTopic {
    let broker_id = broker.config.broker_id;
    let by_name = wanted.name.as_ref().map(|n| n.0.as_str().to_string());
    let mut found = match &by_name {
        Some(name) => broker.replica_manager.topic(name),
        None => broker.replica_manager.topic_by_id(wanted.topic_id),
    };
    let denied = |name: Option<String>, id| {
        MetadataResponseTopic::default()
            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
            .with_name(name.map(|n| TopicName(StrBytes::from_string(n))))
            .with_topic_id(id)
            .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
    };
    let name_for_check = by_name
        .clone()
        .or_else(|| found.as_ref().map(|t| t.metadata.name.clone()));
    if let Some(name) = &name_for_check {
        if !broker.authorize(ctx, Check::MetadataTopic, name) {
            return match &by_name {
                Some(n) => denied(Some(n.clone()), uuid::Uuid::nil()),
                None => denied(None, wanted.topic_id),
            };
        }
    }
    if let (None, Some(name)) = (&found, &by_name) {
        let auto_create =
            broker.config.auto_create_topics_enable && (version < 4 || allow_auto_topic_creation);
        if auto_create && validate_topic_name(name).is_ok() {
            let may_create =
                broker.authorize_filter(ctx, Check::MetadataCreateCluster, CLUSTER_NAME)
                    || broker.authorize(ctx, Check::MetadataCreateTopic, name);
            if !may_create {
                return denied(Some(name.clone()), uuid::Uuid::nil());
            }
            found = auto_create_topic(broker, name).await;
        }
    }
    match (found, by_name) {
        (Some(topic), _) => describe_topic(broker_id, &topic),
        (None, Some(name)) => {
            let code = if validate_topic_name(&name).is_err() {
                ResponseError::InvalidTopicException.code()
            } else {
                ResponseError::UnknownTopicOrPartition.code()
            };
            MetadataResponseTopic::default()
                .with_error_code(code)
                .with_name(Some(TopicName(StrBytes::from_string(name))))
                .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
        }
        (None, None) => MetadataResponseTopic::default()
            .with_error_code(ResponseError::UnknownTopicId.code())
            .with_topic_id(wanted.topic_id)
            .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED),
    }
}

/// Creates a topic a client asked for by name (`auto.create.topics.enable`),
/// with `num.partitions` and the default replication factor.
async fn auto_create_topic(broker: &Broker, name: &str) -> Option<Arc<Topic>> {
    let created = super::admin::create_topic(
        broker,
        name,
        -1,
        -1,
        std::collections::BTreeMap::new(),
        false,
    )
    .await;
    match created {
        Ok(_) => broker.replica_manager.topic(name),
        Err((code, message)) => {
            tracing::info!(topic = name, error = %code, message, "auto-creating topic failed");
            broker.replica_manager.topic(name)
        }
    }
}

fn describe_topic(broker_id: i32, topic: &Topic) -> MetadataResponseTopic {
    let partitions = (0..topic.metadata.partitions)
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p)
                .with_leader_id(BrokerId(broker_id))
                .with_leader_epoch(0)
                .with_replica_nodes(vec![BrokerId(broker_id)])
                .with_isr_nodes(vec![BrokerId(broker_id)])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(
            topic.metadata.name.clone(),
        ))))
        .with_topic_id(topic.metadata.topic_id)
        .with_is_internal(topic.metadata.name.starts_with("__"))
        .with_partitions(partitions)
        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
}

pub(super) fn describe_cluster(
    broker: &Broker,
    ctx: &RequestContext,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let broker_id = broker.config.broker_id;
    DescribeClusterResponse::default()
        .with_endpoint_type(request.endpoint_type)
        .with_cluster_id(StrBytes::from_string(broker.metadata.cluster_id()))
        .with_controller_id(BrokerId(broker_id))
        .with_brokers(vec![DescribeClusterBroker::default()
            .with_broker_id(BrokerId(broker_id))
            .with_host(StrBytes::from_string(ctx.advertised.host.clone()))
            .with_port(i32::from(ctx.advertised.port))
            .with_rack(
                broker.config.broker_rack.clone().map(StrBytes::from_string),
            )])
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            broker.authorized_operations(ctx, ResourceType::Cluster, CLUSTER_NAME)
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
}

/// Metadata (API 3).
pub(super) struct Metadata;

impl Api for Metadata {
    const KEY: ApiKey = ApiKey::Metadata;
    type Request = MetadataRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 12;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: MetadataRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

/// DescribeCluster (API 60).
pub(super) struct DescribeCluster;

impl Api for DescribeCluster {
    const KEY: ApiKey = ApiKey::DescribeCluster;
    type Request = DescribeClusterRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DescribeClusterRequest,
    ) -> Answer<Response<Self>> {
        describe_cluster(broker, call.ctx, request).into()
    }
}
