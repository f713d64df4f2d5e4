//! The oldest request versions Kafka 3.5 still serves but kafka-protocol 0.18
//! no longer encodes or decodes (it follows Kafka 4.0, which dropped them,
//! KIP-896): ListOffsets v0, OffsetCommit v0–v1, OffsetFetch v0,
//! CreateTopics v0–v1, DeleteTopics v0, DescribeConfigs v0,
//! DescribeLogDirs v0, OffsetForLeaderEpoch v0–v1, DescribeAcls,
//! CreateAcls and DeleteAcls v0 (v1 without the pattern types), and the envelopes of
//! Produce v0–v2 and Fetch v0–v3.
//!
//! Each is read here into the newest form its handler takes (or a small
//! struct of its own where the old form carries a field the new one lacks),
//! and its answer written in the old layout. Where an old body equals a
//! newer one kafka-protocol still knows, it is decoded or encoded at that
//! version, with the bytes that differ supplied or removed.
//!
//! Invariant: every count and length read from the wire is checked against
//! the bytes present before anything is allocated ([`Reader`]).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    CreateAclsRequest, DeleteAclsRequest, DeleteAclsResponse, DescribeAclsRequest,
    DescribeAclsResponse, DescribeConfigsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::ProtocolError;

/// A bounded reader of the classic (non-flexible) encoding.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

/// A legacy body that did not parse.
#[derive(Debug)]
pub(super) struct Malformed(pub &'static str);

impl Malformed {
    /// The error that closes the connection, as an undecodable request does in Kafka.
    pub(super) fn at(self, key: kafka_protocol::messages::ApiKey, version: i16) -> ProtocolError {
        ProtocolError::Decode {
            key,
            version,
            reason: self.0.to_string(),
        }
    }
}

/// Decodes `body` as the newer `as_version` of the same layout.
pub(super) fn decode_as<T: kafka_protocol::protocol::Decodable>(
    key: kafka_protocol::messages::ApiKey,
    version: i16,
    as_version: i16,
    mut body: Bytes,
) -> Result<T, ProtocolError> {
    T::decode(&mut body, as_version).map_err(|e| ProtocolError::Decode {
        key,
        version,
        reason: e.to_string(),
    })
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.buf.len() < n {
            return Err(Malformed("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn i8(&mut self) -> Result<i8, Malformed> {
        Ok(i8::from_be_bytes(self.fixed()?))
    }
    pub(super) fn i16(&mut self) -> Result<i16, Malformed> {
        Ok(i16::from_be_bytes(self.fixed()?))
    }
    pub(super) fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_be_bytes(self.fixed()?))
    }
    pub(super) fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_be_bytes(self.fixed()?))
    }

    /// A nullable int16-length string.
    pub(super) fn nullable_string(&mut self) -> Result<Option<String>, Malformed> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(usize::from(len.unsigned_abs()))?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Malformed("string is not UTF-8"))
    }

    /// A non-null int16-length string.
    pub(super) fn string(&mut self) -> Result<String, Malformed> {
        self.nullable_string()?
            .ok_or(Malformed("null where a string is required"))
    }

    /// An int32 array count (-1, null, reads as 0), checked against the bytes
    /// left given the smallest size of one element.
    pub(super) fn count(&mut self, min_element: usize) -> Result<usize, Malformed> {
        let n = self.i32()?;
        let n = usize::try_from(n.max(0)).map_err(|_| Malformed("bad count"))?;
        if n.saturating_mul(min_element.max(1)) > self.buf.len() {
            return Err(Malformed("array count exceeds the bytes present"));
        }
        Ok(n)
    }

    /// An array of `read` elements, each at least `min_element` bytes.
    pub(super) fn array<T>(
        &mut self,
        min_element: usize,
        mut read: impl FnMut(&mut Self) -> Result<T, Malformed>,
    ) -> Result<Vec<T>, Malformed> {
        let n = self.count(min_element)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(read(self)?);
        }
        Ok(out)
    }
}

/// Writes the classic encoding.
pub(super) struct Writer(pub BytesMut);

impl Writer {
    pub(super) fn i8(&mut self, v: i8) {
        self.0.put_i8(v);
    }
    pub(super) fn i16(&mut self, v: i16) {
        self.0.put_i16(v);
    }
    pub(super) fn i32(&mut self, v: i32) {
        self.0.put_i32(v);
    }
    pub(super) fn i64(&mut self, v: i64) {
        self.0.put_i64(v);
    }
    pub(super) fn bool(&mut self, v: bool) {
        self.0.put_u8(u8::from(v));
    }
    pub(super) fn nullable_string(&mut self, v: Option<&str>) {
        match v {
            None => self.0.put_i16(-1),
            Some(s) => put_string(&mut self.0, s),
        }
    }
    pub(super) fn string(&mut self, v: &str) {
        put_string(&mut self.0, v);
    }
    pub(super) fn count(&mut self, n: usize) {
        put_count(&mut self.0, n);
    }
}

/// A non-null int16-length string (strings here come from our own state and
/// Kafka's names, far below 32 KiB; a longer one is cut at `i16::MAX`).
pub(super) fn put_string(out: &mut BytesMut, s: &str) {
    let bytes = s.as_bytes();
    let len = bytes.len().min(i16::MAX as usize);
    out.put_i16(len as i16);
    out.put_slice(bytes.get(..len).unwrap_or_default());
}

/// An int32 array count.
pub(super) fn put_count(out: &mut BytesMut, n: usize) {
    out.put_i32(i32::try_from(n).unwrap_or(i32::MAX));
}

/// A response frame (header v0, then `body`) in a [`Writer`].
pub(super) fn response(correlation_id: i32, body: impl FnOnce(&mut Writer)) -> BytesMut {
    let mut w = Writer(BytesMut::with_capacity(256));
    w.i32(correlation_id);
    body(&mut w);
    w.0
}

/// `body` with `prefix` before it and `suffix` after it: an old body made
/// into a newer one kafka-protocol decodes (a field the old version lacks,
/// at its default).
pub(super) fn widened(prefix: &[u8], body: &[u8], suffix: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(prefix.len() + body.len() + suffix.len());
    out.put_slice(prefix);
    out.put_slice(body);
    out.put_slice(suffix);
    out.freeze()
}

/// Encodes `body` at the newer `as_version` whose layout equals the old
/// one's after its first `strip` bytes (a leading throttle time the old
/// version lacks), under a header v0.
pub(super) fn encode_as<T: Encodable>(
    key: kafka_protocol::messages::ApiKey,
    correlation_id: i32,
    version: i16,
    as_version: i16,
    strip: usize,
    body: &T,
) -> Result<BytesMut, ProtocolError> {
    let encode_err = |e: anyhow::Error| ProtocolError::Encode {
        key,
        version,
        reason: e.to_string(),
    };
    let mut out = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, 0)
        .map_err(encode_err)?;
    let mut encoded = BytesMut::new();
    body.encode(&mut encoded, as_version).map_err(encode_err)?;
    out.put_slice(encoded.get(strip..).unwrap_or_default());
    Ok(out)
}

/// ListOffsets v0: (replica id, topics of (name, partitions of (partition,
/// timestamp, max_num_offsets))).
pub(super) type ListOffsetsV0 = (i32, Vec<(String, Vec<(i32, i64, i32)>)>);

pub(super) fn list_offsets_v0(body: &[u8]) -> Result<ListOffsetsV0, Malformed> {
    let mut r = Reader::new(body);
    let replica_id = r.i32()?;
    let topics = r.array(6, |r| {
        let name = r.string()?;
        let partitions = r.array(16, |r| Ok((r.i32()?, r.i64()?, r.i32()?)))?;
        Ok((name, partitions))
    })?;
    Ok((replica_id, topics))
}

/// One partition's ListOffsets v0 answer: (partition, error code, offsets).
pub(super) type ListedOffsetsV0 = (i32, i16, Vec<i64>);

/// ListOffsets response v0: per partition the error and the old offsets array.
pub(super) fn list_offsets_v0_response(
    correlation_id: i32,
    topics: &[(String, Vec<ListedOffsetsV0>)],
) -> BytesMut {
    response(correlation_id, |w| {
        w.count(topics.len());
        for (name, partitions) in topics {
            w.string(name);
            w.count(partitions.len());
            for (partition, error, offsets) in partitions {
                w.i32(*partition);
                w.i16(*error);
                w.count(offsets.len());
                for o in offsets {
                    w.i64(*o);
                }
            }
        }
    })
}

/// (partition, offset, commit timestamp or -1, metadata).
pub(super) type CommittedV0 = (i32, i64, i64, Option<String>);

/// OffsetCommit v0–v1: the group, (v1) generation and member id, and per
/// partition the offset, (v1) the commit timestamp and the metadata.
pub(super) struct OffsetCommitV0 {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    /// (topic, partitions of (partition, offset, commit timestamp or -1, metadata)).
    pub topics: Vec<(String, Vec<CommittedV0>)>,
}

pub(super) fn offset_commit_v0(version: i16, body: &[u8]) -> Result<OffsetCommitV0, Malformed> {
    let mut r = Reader::new(body);
    let group_id = r.string()?;
    let (generation_id, member_id) = if version >= 1 {
        (r.i32()?, r.string()?)
    } else {
        (-1, String::new())
    };
    let topics = r.array(6, |r| {
        let name = r.string()?;
        let partitions = r.array(14, |r| {
            let partition = r.i32()?;
            let offset = r.i64()?;
            let timestamp = if version >= 1 { r.i64()? } else { -1 };
            Ok((partition, offset, timestamp, r.nullable_string()?))
        })?;
        Ok((name, partitions))
    })?;
    Ok(OffsetCommitV0 {
        group_id,
        generation_id,
        member_id,
        topics,
    })
}

/// DescribeConfigs response v0: `is_default` where v1 has the config source,
/// and no synonyms.
pub(super) fn describe_configs_v0_response(
    correlation_id: i32,
    r: &DescribeConfigsResponse,
) -> BytesMut {
    /// ConfigSource DEFAULT_CONFIG.
    const DEFAULT_CONFIG: i8 = 5;
    response(correlation_id, |w| {
        w.i32(r.throttle_time_ms);
        w.count(r.results.len());
        for res in &r.results {
            w.i16(res.error_code);
            w.nullable_string(res.error_message.as_deref());
            w.i8(res.resource_type);
            w.string(res.resource_name.as_str());
            w.count(res.configs.len());
            for c in &res.configs {
                w.string(c.name.as_str());
                w.nullable_string(c.value.as_deref());
                w.bool(c.read_only);
                w.bool(c.config_source == DEFAULT_CONFIG);
                w.bool(c.is_sensitive);
            }
        }
    })
}

/// CreateTopics response v0: per topic the name and error.
pub(super) fn create_topics_v0_response(
    correlation_id: i32,
    r: &kafka_protocol::messages::CreateTopicsResponse,
) -> BytesMut {
    response(correlation_id, |w| {
        w.count(r.topics.len());
        for t in &r.topics {
            w.string(t.name.0.as_str());
            w.i16(t.error_code);
        }
    })
}

/// OffsetForLeaderEpoch v0–v1 (the same request): per topic the partitions
/// and the leader epochs asked about, read as v2's request with no replica
/// id and no current leader epoch (-1: none given).
pub(super) fn offset_for_leader_epoch_v0(
    body: &[u8],
) -> Result<OffsetForLeaderEpochRequest, Malformed> {
    let mut r = Reader::new(body);
    let topics = r.array(6, |r| {
        let name = r.string()?;
        let partitions = r.array(8, |r| {
            let partition = r.i32()?;
            let leader_epoch = r.i32()?;
            Ok(OffsetForLeaderPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(-1)
                .with_leader_epoch(leader_epoch))
        })?;
        Ok(OffsetForLeaderTopic::default()
            .with_topic(TopicName(StrBytes::from_string(name)))
            .with_partitions(partitions))
    })?;
    Ok(OffsetForLeaderEpochRequest::default()
        .with_replica_id((-1).into())
        .with_topics(topics))
}

/// OffsetForLeaderEpoch response v0 (per partition the error, the partition
/// and the end offset) or v1 (plus the leader epoch); no throttle time.
pub(super) fn offset_for_leader_epoch_v0_response(
    correlation_id: i32,
    version: i16,
    r: &OffsetForLeaderEpochResponse,
) -> BytesMut {
    response(correlation_id, |w| {
        w.count(r.topics.len());
        for t in &r.topics {
            w.string(t.topic.0.as_str());
            w.count(t.partitions.len());
            for p in &t.partitions {
                w.i16(p.error_code);
                w.i32(p.partition);
                if version >= 1 {
                    w.i32(p.leader_epoch);
                }
                w.i64(p.end_offset);
            }
        }
    })
}

/// LITERAL: what v0 of the ACL APIs means (they have no pattern type).
const LITERAL: i8 = 3;

fn opt_str(v: Option<String>) -> Option<StrBytes> {
    v.map(StrBytes::from_string)
}

/// DescribeAcls v0: v1's filter without its pattern type (LITERAL).
pub(super) fn describe_acls_v0(body: &[u8]) -> Result<DescribeAclsRequest, Malformed> {
    let mut r = Reader::new(body);
    Ok(DescribeAclsRequest::default()
        .with_resource_type_filter(r.i8()?)
        .with_resource_name_filter(opt_str(r.nullable_string()?))
        .with_pattern_type_filter(LITERAL)
        .with_principal_filter(opt_str(r.nullable_string()?))
        .with_host_filter(opt_str(r.nullable_string()?))
        .with_operation(r.i8()?)
        .with_permission_type(r.i8()?))
}

/// DescribeAcls response v0: v1's without the pattern types.
pub(super) fn describe_acls_v0_response(correlation_id: i32, d: &DescribeAclsResponse) -> BytesMut {
    response(correlation_id, |w| {
        w.i32(d.throttle_time_ms);
        w.i16(d.error_code);
        w.nullable_string(d.error_message.as_deref());
        w.count(d.resources.len());
        for res in &d.resources {
            w.i8(res.resource_type);
            w.string(res.resource_name.as_str());
            w.count(res.acls.len());
            for a in &res.acls {
                w.string(a.principal.as_str());
                w.string(a.host.as_str());
                w.i8(a.operation);
                w.i8(a.permission_type);
            }
        }
    })
}

/// CreateAcls v0: v1's creations without the pattern type (LITERAL); the
/// response is v1's layout.
pub(super) fn create_acls_v0(body: &[u8]) -> Result<CreateAclsRequest, Malformed> {
    let mut r = Reader::new(body);
    let creations = r.array(9, |r| {
        Ok(AclCreation::default()
            .with_resource_type(r.i8()?)
            .with_resource_name(StrBytes::from_string(r.string()?))
            .with_resource_pattern_type(LITERAL)
            .with_principal(StrBytes::from_string(r.string()?))
            .with_host(StrBytes::from_string(r.string()?))
            .with_operation(r.i8()?)
            .with_permission_type(r.i8()?))
    })?;
    Ok(CreateAclsRequest::default().with_creations(creations))
}

/// DeleteAcls v0: v1's filters without the pattern type (LITERAL).
pub(super) fn delete_acls_v0(body: &[u8]) -> Result<DeleteAclsRequest, Malformed> {
    let mut r = Reader::new(body);
    let filters = r.array(9, |r| {
        Ok(DeleteAclsFilter::default()
            .with_resource_type_filter(r.i8()?)
            .with_resource_name_filter(opt_str(r.nullable_string()?))
            .with_pattern_type_filter(LITERAL)
            .with_principal_filter(opt_str(r.nullable_string()?))
            .with_host_filter(opt_str(r.nullable_string()?))
            .with_operation(r.i8()?)
            .with_permission_type(r.i8()?))
    })?;
    Ok(DeleteAclsRequest::default().with_filters(filters))
}

/// DeleteAcls response v0: v1's without the pattern types.
pub(super) fn delete_acls_v0_response(correlation_id: i32, d: &DeleteAclsResponse) -> BytesMut {
    response(correlation_id, |w| {
        w.i32(d.throttle_time_ms);
        w.count(d.filter_results.len());
        for f in &d.filter_results {
            w.i16(f.error_code);
            w.nullable_string(f.error_message.as_deref());
            w.count(f.matching_acls.len());
            for m in &f.matching_acls {
                w.i16(m.error_code);
                w.nullable_string(m.error_message.as_deref());
                w.i8(m.resource_type);
                w.string(m.resource_name.as_str());
                w.string(m.principal.as_str());
                w.string(m.host.as_str());
                w.i8(m.operation);
                w.i8(m.permission_type);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_counts_beyond_the_bytes() {
        let mut body = Vec::new();
        body.extend_from_slice(&7i32.to_be_bytes());
        body.extend_from_slice(&i32::MAX.to_be_bytes()); // topics count
        assert!(list_offsets_v0(&body).is_err());
        assert!(list_offsets_v0(&[0, 0]).is_err());
    }

    #[test]
    fn list_offsets_v0_round_trip() {
        let mut body = Vec::new();
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.push(b't');
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&3i32.to_be_bytes());
        body.extend_from_slice(&(-2i64).to_be_bytes());
        body.extend_from_slice(&5i32.to_be_bytes());
        let (replica, topics) = list_offsets_v0(&body).unwrap();
        assert_eq!(replica, -1);
        assert_eq!(topics, vec![("t".to_string(), vec![(3, -2, 5)])]);
    }

    #[test]
    fn offset_commit_v1_reads_the_commit_timestamp() {
        let mut w = Writer(BytesMut::new());
        w.string("g");
        w.i32(4);
        w.string("m");
        w.count(1);
        w.string("t");
        w.count(1);
        w.i32(0);
        w.i64(42);
        w.i64(1_700_000_000_000);
        w.nullable_string(None);
        let c = offset_commit_v0(1, &w.0).unwrap();
        assert_eq!(
            (c.group_id.as_str(), c.generation_id, c.member_id.as_str()),
            ("g", 4, "m")
        );
        assert_eq!(
            c.topics,
            vec![("t".to_string(), vec![(0, 42, 1_700_000_000_000, None)])]
        );
    }

    #[test]
    fn offset_for_leader_epoch_v0_reads_bounded() {
        let mut w = Writer(BytesMut::new());
        w.count(1);
        w.string("orders");
        w.count(2);
        for (p, e) in [(0, 0), (2, 5)] {
            w.i32(p);
            w.i32(e);
        }
        let req = offset_for_leader_epoch_v0(&w.0).unwrap();
        assert_eq!(i32::from(req.replica_id), -1);
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].topic.0.as_str(), "orders");
        let parts: Vec<_> = req.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition, p.leader_epoch, p.current_leader_epoch))
            .collect();
        assert_eq!(parts, [(0, 0, -1), (2, 5, -1)]);
        // A count beyond the bytes present; a truncated body.
        assert!(offset_for_leader_epoch_v0(&i32::MAX.to_be_bytes()).is_err());
        assert!(offset_for_leader_epoch_v0(&w.0[..w.0.len() - 2]).is_err());
    }

    #[test]
    fn offset_for_leader_epoch_v0_v1_responses_are_kafkas_layout() {
        use kafka_protocol::messages::offset_for_leader_epoch_response::{
            EpochEndOffset, OffsetForLeaderTopicResult,
        };
        let response = OffsetForLeaderEpochResponse::default().with_topics(vec![
            OffsetForLeaderTopicResult::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![EpochEndOffset::default()
                    .with_partition(3)
                    .with_leader_epoch(0)
                    .with_end_offset(42)]),
        ]);
        let v0 = offset_for_leader_epoch_v0_response(7, 0, &response);
        let mut want = vec![
            0, 0, 0, 7, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 3,
        ];
        want.extend_from_slice(&42i64.to_be_bytes());
        assert_eq!(&v0[..], &want[..]);
        let v1 = offset_for_leader_epoch_v0_response(7, 1, &response);
        assert_eq!(v1.len(), v0.len() + 4);
        assert_eq!(&v1[21..25], &0i32.to_be_bytes());
    }
}
