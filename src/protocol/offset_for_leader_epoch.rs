//! OffsetForLeaderEpoch (v0–v4): the end offset of a leader epoch, from the
//! partition log's leader-epoch cache (`log::leader_epoch`), with Kafka's
//! `Partition.lastOffsetForLeaderEpoch` semantics:
//! - a `current_leader_epoch` (v2+; -1 = none) older than the partition's is
//!   FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH;
//! - the latest epoch ends at the log end offset; an older one at the next
//!   epoch's start; an unknown epoch gets UNDEFINED_EPOCH (-1) and
//!   UNDEFINED_EPOCH_OFFSET (-1) with no error;
//! - an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION.
//!
//! kafka-protocol codes v2+; v0 and v1 (no `replica_id`, no
//! `current_leader_epoch`, no throttle time; v1 adds the response's leader
//! epoch) are served by [`Api::serve_legacy`] with the codec in `legacy.rs`.

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{ApiKey, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::router::{Answer, Api, Call, Response};
use super::{legacy, Broker, ProtocolError, Reply, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};
use crate::log::leader_epoch::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
use crate::replica_manager::LEADER_EPOCH;

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    // CLUSTER_ACTION allows every topic; else DESCRIBE on each (KIP-320).
    let cluster_action =
        broker.authorize_filter(ctx, Check::OffsetForLeaderEpochFollower, CLUSTER_NAME);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let allowed = cluster_action
                || broker.authorize(
                    ctx,
                    Check::OffsetForLeaderEpochTopic,
                    topic.topic.0.as_str(),
                );
            let found = broker.replica_manager.topic(topic.topic.0.as_str());
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let result = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(UNDEFINED_EPOCH)
                        .with_end_offset(UNDEFINED_EPOCH_OFFSET);
                    if !allowed {
                        return result
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    let Some(partition) = found.as_ref().and_then(|t| t.partition(p.partition))
                    else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    if let Some(error) = check_current_epoch(p.current_leader_epoch, LEADER_EPOCH) {
                        return result.with_error_code(error.code());
                    }
                    match partition.with_log(|log| log.end_offset_for_epoch(p.leader_epoch)) {
                        Some((epoch, offset)) => {
                            result.with_leader_epoch(epoch).with_end_offset(offset)
                        }
                        None => result,
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// Kafka's `Partition.checkCurrentLeaderEpoch`: the client's current leader
/// epoch (-1: none given) against the partition's.
fn check_current_epoch(current: i32, local: i32) -> Option<ResponseError> {
    if current < 0 {
        None
    } else if current < local {
        Some(ResponseError::FencedLeaderEpoch)
    } else if current > local {
        Some(ResponseError::UnknownLeaderEpoch)
    } else {
        None
    }
}

/// OffsetForLeaderEpoch (API 23).
pub(super) struct OffsetForLeaderEpoch;

impl Api for OffsetForLeaderEpoch {
    const KEY: ApiKey = ApiKey::OffsetForLeaderEpoch;
    type Request = OffsetForLeaderEpochRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: OffsetForLeaderEpochRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }

    /// v0–v1: read as v2 without a replica id or current leader epoch; the
    /// answer in the old layout.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: Bytes,
    ) -> Result<Reply, ProtocolError> {
        let version = call.version;
        let request =
            legacy::offset_for_leader_epoch_v0(&body).map_err(|e| e.at(Self::KEY, version))?;
        let response = handle(broker, call.ctx, version, request).await;
        Ok(Reply::Now(Some(
            legacy::offset_for_leader_epoch_v0_response(call.correlation_id, version, &response),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_leader_epoch_fences_as_kafka() {
        assert_eq!(check_current_epoch(-1, 3), None);
        assert_eq!(check_current_epoch(3, 3), None);
        assert_eq!(
            check_current_epoch(2, 3),
            Some(ResponseError::FencedLeaderEpoch)
        );
        assert_eq!(
            check_current_epoch(4, 3),
            Some(ResponseError::UnknownLeaderEpoch)
        );
    }
}
