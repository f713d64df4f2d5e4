//! DescribeProducers (v0): the active idempotent producers of each partition,
//! from the log's producer state (`log::producer_state`), as Kafka's
//! `Partition.activeProducerState`: producer id, epoch, last sequence (-1
//! when no batch is retained), last timestamp; coordinator epoch -1 and
//! current transaction start offset -1 (no transactions). Sorted by producer
//! id. An unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse};

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::authorizer::Check;

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let allowed = broker.authorize(ctx, Check::DescribeProducers, topic.name.0.as_str());
            let found = broker.replica_manager.topic(topic.name.0.as_str());
            let partitions =
                topic
                    .partition_indexes
                    .iter()
                    .map(|&index| {
                        let result = PartitionResponse::default().with_partition_index(index);
                        match found.as_ref().and_then(|t| t.partition(index)) {
                            _ if !allowed => result
                                .with_error_code(ResponseError::TopicAuthorizationFailed.code()),
                            None => result
                                .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                            Some(partition) => {
                                result.with_active_producers(partition.with_log(active_producers))
                            }
                        }
                    })
                    .collect();
            TopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

fn active_producers(log: &crate::log::Log) -> Vec<ProducerState> {
    let mut producers: Vec<ProducerState> = log
        .producer_state()
        .producers()
        .map(|(id, entry)| {
            ProducerState::default()
                .with_producer_id(id.into())
                .with_producer_epoch(i32::from(entry.epoch))
                .with_last_sequence(entry.batches.back().map_or(-1, |b| b.last_seq))
                .with_last_timestamp(entry.last_timestamp)
                .with_coordinator_epoch(-1)
                .with_current_txn_start_offset(-1)
        })
        .collect();
    producers.sort_by_key(|p| p.producer_id.0);
    producers
}

/// DescribeProducers (API 61).
pub(super) struct DescribeProducers;

impl Api for DescribeProducers {
    const KEY: ApiKey = ApiKey::DescribeProducers;
    type Request = DescribeProducersRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DescribeProducersRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}
