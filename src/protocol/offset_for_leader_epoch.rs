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
//! epoch) are coded here, every count checked against the bytes present.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::{Broker, ProtocolError, RequestContext};
use crate::log::leader_epoch::{UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
use crate::replica_manager::LEADER_EPOCH;

/// The lowest version kafka-protocol codes.
const FIRST_CODED: i16 = 2;

pub(super) async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    _version: i16,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let found = broker.replica_manager.topic(topic.topic.0.as_str());
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let result = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(UNDEFINED_EPOCH)
                        .with_end_offset(UNDEFINED_EPOCH_OFFSET);
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

fn decode_err(version: i16, reason: &str) -> ProtocolError {
    ProtocolError::Decode {
        key: ApiKey::OffsetForLeaderEpoch,
        version,
        reason: reason.to_string(),
    }
}

/// Decodes the request body: v0–v1 here, v2+ by kafka-protocol.
pub(super) fn decode(
    version: i16,
    frame: &mut Bytes,
) -> Result<OffsetForLeaderEpochRequest, ProtocolError> {
    if version >= FIRST_CODED {
        return super::decode(ApiKey::OffsetForLeaderEpoch, version, frame);
    }
    let err = |reason: &str| decode_err(version, reason);
    let count = |frame: &mut Bytes, min_item: usize| -> Result<usize, ProtocolError> {
        if frame.remaining() < 4 {
            return Err(err("truncated array length"));
        }
        let n = frame.get_i32();
        let n = usize::try_from(n).map_err(|_| err("negative array length"))?;
        if n.saturating_mul(min_item) > frame.remaining() {
            return Err(err("array longer than the frame"));
        }
        Ok(n)
    };
    let mut topics = Vec::new();
    for _ in 0..count(frame, 2 + 4)? {
        if frame.remaining() < 2 {
            return Err(err("truncated topic name"));
        }
        let len = usize::try_from(frame.get_i16()).map_err(|_| err("null topic name"))?;
        if frame.remaining() < len {
            return Err(err("truncated topic name"));
        }
        let name = frame.split_to(len);
        let name = StrBytes::from_utf8(name).map_err(|_| err("topic name is not UTF-8"))?;
        let mut partitions = Vec::new();
        for _ in 0..count(frame, 8)? {
            let (partition, leader_epoch) = (frame.get_i32(), frame.get_i32());
            partitions.push(
                OffsetForLeaderPartition::default()
                    .with_partition(partition)
                    .with_current_leader_epoch(-1)
                    .with_leader_epoch(leader_epoch),
            );
        }
        topics.push(
            OffsetForLeaderTopic::default()
                .with_topic(TopicName(name))
                .with_partitions(partitions),
        );
    }
    if frame.has_remaining() {
        return Err(err("bytes after the request"));
    }
    Ok(OffsetForLeaderEpochRequest::default()
        .with_replica_id((-1).into())
        .with_topics(topics))
}

/// Encodes the response frame: v0–v1 here, v2+ by kafka-protocol.
pub(super) fn encode(
    correlation_id: i32,
    version: i16,
    response: &OffsetForLeaderEpochResponse,
) -> Result<BytesMut, ProtocolError> {
    if version >= FIRST_CODED {
        return super::encode_response(
            ApiKey::OffsetForLeaderEpoch,
            correlation_id,
            version,
            response,
        );
    }
    let encode_err = |reason: String| ProtocolError::Encode {
        key: ApiKey::OffsetForLeaderEpoch,
        version,
        reason,
    };
    let mut out = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, 0)
        .map_err(|e| encode_err(e.to_string()))?;
    let len_i32 = |n: usize| i32::try_from(n).map_err(|_| encode_err("too many entries".into()));
    out.put_i32(len_i32(response.topics.len())?);
    for topic in &response.topics {
        let name = topic.topic.0.as_bytes();
        let name_len =
            i16::try_from(name.len()).map_err(|_| encode_err("topic name too long".into()))?;
        out.put_i16(name_len);
        out.put_slice(name);
        out.put_i32(len_i32(topic.partitions.len())?);
        for p in &topic.partitions {
            out.put_i16(p.error_code);
            out.put_i32(p.partition);
            if version >= 1 {
                out.put_i32(p.leader_epoch);
            }
            out.put_i64(p.end_offset);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v0_request(topic: &str, partitions: &[(i32, i32)]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(1);
        b.put_i16(topic.len() as i16);
        b.put_slice(topic.as_bytes());
        b.put_i32(partitions.len() as i32);
        for &(p, e) in partitions {
            b.put_i32(p);
            b.put_i32(e);
        }
        b.freeze()
    }

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

    #[test]
    fn legacy_versions_decode_bounded() {
        let mut frame = v0_request("orders", &[(0, 0), (2, 5)]);
        let req = decode(1, &mut frame).unwrap();
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].topic.0.as_str(), "orders");
        let parts: Vec<_> = req.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition, p.leader_epoch, p.current_leader_epoch))
            .collect();
        assert_eq!(parts, [(0, 0, -1), (2, 5, -1)]);
        // A count beyond the bytes present, a truncated body, trailing bytes.
        let mut huge = BytesMut::new();
        huge.put_i32(i32::MAX);
        assert!(decode(0, &mut huge.freeze()).is_err());
        let full = v0_request("orders", &[(0, 0)]);
        assert!(decode(0, &mut full.slice(..full.len() - 2)).is_err());
        let mut extra = BytesMut::from(&full[..]);
        extra.put_u8(0);
        assert!(decode(0, &mut extra.freeze()).is_err());
    }

    #[test]
    fn legacy_versions_encode_kafkas_layout() {
        let response = OffsetForLeaderEpochResponse::default().with_topics(vec![
            OffsetForLeaderTopicResult::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![EpochEndOffset::default()
                    .with_partition(3)
                    .with_leader_epoch(0)
                    .with_end_offset(42)]),
        ]);
        let v0 = encode(7, 0, &response).unwrap();
        let mut want = vec![
            0, 0, 0, 7, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 3,
        ];
        want.extend_from_slice(&42i64.to_be_bytes());
        assert_eq!(&v0[..], &want[..]);
        let v1 = encode(7, 1, &response).unwrap();
        assert_eq!(v1.len(), v0.len() + 4);
        assert_eq!(&v1[21..25], &0i32.to_be_bytes());
    }
}
