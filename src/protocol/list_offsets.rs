//! ListOffsets (v0–v8): earliest (-2), earliest local (-4, the same as
//! earliest without tiered storage), latest (-1), max timestamp (-3) or the
//! first offset at or after a timestamp, per partition.
//!
//! v0 asks for up to `max_num_offsets` offsets and is answered in the old
//! offsets array, as Kafka's `handleListOffsetRequestV0` does: segment
//! boundaries at or before the timestamp (by segment file time), newest
//! first ([`crate::log::Log::legacy_offsets_before`]).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::router::{Answer, Api, Call, Response};
use super::{legacy, ProtocolError, Reply};
use super::{Broker, RequestContext};
use crate::authorizer::Check;
use crate::replica_manager::Partition;
use bytes::Bytes;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let allowed = broker.authorize(ctx, Check::ListOffsetsTopic, topic.name.0.as_str());
        let found = broker.replica_manager.topic(topic.name.0.as_str());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let base = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(-1);
            if !allowed {
                partitions
                    .push(base.with_error_code(ResponseError::TopicAuthorizationFailed.code()));
                continue;
            }
            partitions.push(
                match found.as_ref().and_then(|t| t.partition(p.partition_index)) {
                    // A timestamp is looked up in the time index and the log
                    // files: on the blocking pool, off the reactor.
                    Some(partition) if p.timestamp >= 0 => {
                        let (partition, ts) = (partition.clone(), p.timestamp);
                        let fallback = base.clone();
                        tokio::task::spawn_blocking(move || lookup(&partition, ts, version, base))
                            .await
                            .unwrap_or_else(|_| {
                                fallback.with_error_code(ResponseError::KafkaStorageError.code())
                            })
                    }
                    Some(partition) => lookup(partition, p.timestamp, version, base),
                    None => base.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                },
            );
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

fn lookup(
    partition: &Partition,
    timestamp: i64,
    version: i16,
    base: ListOffsetsPartitionResponse,
) -> ListOffsetsPartitionResponse {
    partition.with_log(|log| {
        // The leader epoch exists from v4 on.
        let base = if version >= 4 {
            base.with_leader_epoch(0)
        } else {
            base
        };
        match timestamp {
            LATEST => base.with_offset(log.log_end_offset()),
            EARLIEST | EARLIEST_LOCAL => base.with_offset(log.log_start_offset()),
            MAX_TIMESTAMP => match log.max_timestamp_and_offset() {
                Some((ts, offset)) => base.with_timestamp(ts).with_offset(offset),
                None => base,
            },
            ts if ts < 0 => base.with_error_code(ResponseError::InvalidRequest.code()),
            ts => match log.offset_for_timestamp(ts) {
                Ok(Some((offset, found_ts))) => base.with_offset(offset).with_timestamp(found_ts),
                Ok(None) => base,
                Err(e) => base.with_error_code(e.kafka_error_code()),
            },
        }
    })
}

/// ListOffsets (API 2).
pub(super) struct ListOffsets;

impl Api for ListOffsets {
    const KEY: ApiKey = ApiKey::ListOffsets;
    type Request = ListOffsetsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 8;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: ListOffsetsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }

    /// v0: `max_num_offsets` and the old offsets array.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: Bytes,
    ) -> Result<Reply, ProtocolError> {
        let (_replica_id, topics) =
            legacy::list_offsets_v0(&body).map_err(|e| e.at(Self::KEY, call.version))?;
        let now = crate::util::now_ms();
        let answered: Vec<_> = topics
            .into_iter()
            .map(|(name, partitions)| {
                let allowed = broker.authorize(call.ctx, Check::ListOffsetsTopic, &name);
                let found = broker.replica_manager.topic(&name);
                let partitions = partitions
                    .into_iter()
                    .map(|(index, timestamp, max_offsets)| {
                        if !allowed {
                            let denied = ResponseError::TopicAuthorizationFailed.code();
                            return (index, denied, Vec::new());
                        }
                        match found.as_ref().and_then(|t| t.partition(index)) {
                            Some(p) => (
                                index,
                                0,
                                p.with_log(|log| {
                                    log.legacy_offsets_before(timestamp, max_offsets, now)
                                }),
                            ),
                            None => (
                                index,
                                ResponseError::UnknownTopicOrPartition.code(),
                                Vec::new(),
                            ),
                        }
                    })
                    .collect();
                (name, partitions)
            })
            .collect();
        Ok(Reply::Now(Some(legacy::list_offsets_v0_response(
            call.correlation_id,
            &answered,
        ))))
    }
}
