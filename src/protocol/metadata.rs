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
        .with_cluster_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED);
    let topics = broker.replica_manager.topics();
    let requested: Vec<MetadataResponseTopic> = match request.topics {
        // null (or, before v1, empty) means every topic
        None => topics
            .values()
            .map(|t| describe_topic(broker_id, t))
            .collect(),
        Some(list) if list.is_empty() && version == 0 => topics
            .values()
            .map(|t| describe_topic(broker_id, t))
            .collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for wanted in list {
                let by_name = wanted.name.as_ref().map(|n| n.0.as_str().to_string());
                let mut found = match &by_name {
                    Some(name) => topics.get(name).cloned(),
                    None => broker.replica_manager.topic_by_id(wanted.topic_id),
                };
                if let (None, Some(name)) = (&found, &by_name) {
                    let auto_create = broker.config.auto_create_topics_enable
                        && (version < 4 || request.allow_auto_topic_creation);
                    if auto_create && validate_topic_name(name).is_ok() {
                        found = auto_create_topic(broker, name).await;
                    }
                }
                out.push(match (found, by_name) {
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
                });
            }
            out
        }
    };
    response.topics = requested;
    response
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
        .with_cluster_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
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
