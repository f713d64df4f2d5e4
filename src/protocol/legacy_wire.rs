//! The request and response bodies of Produce v0–2 and Fetch v0–3, which
//! kafka-protocol 0.18 no longer encodes (its schemas are Kafka 4.0's, where
//! KIP-896 removed them). They are decoded into, and encoded from, the same
//! kafka-protocol structs as the later versions, so the handlers serve every
//! version with one code path; only these versions touch this module.
//!
//! All four are non-flexible: big-endian integers, i16-length strings,
//! i32-length bytes (-1 null), i32-count arrays. Every count and length is
//! checked against the bytes present; nothing is preallocated from a count.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::legacy::{put_count, put_string};

/// Highest Produce version with a legacy body.
#[cfg(test)]
pub(super) const PRODUCE_MAX: i16 = 2;
/// Highest Fetch version with a legacy body.
#[cfg(test)]
pub(super) const FETCH_MAX: i16 = 3;

type Decoded<T> = Result<T, String>;

fn need(buf: &Bytes, n: usize, what: &str) -> Decoded<()> {
    if buf.remaining() < n {
        return Err(format!(
            "truncated {what}: {n} bytes needed, {} left",
            buf.remaining()
        ));
    }
    Ok(())
}

fn get_i16(buf: &mut Bytes, what: &str) -> Decoded<i16> {
    need(buf, 2, what)?;
    Ok(buf.get_i16())
}

fn get_i32(buf: &mut Bytes, what: &str) -> Decoded<i32> {
    need(buf, 4, what)?;
    Ok(buf.get_i32())
}

fn get_i64(buf: &mut Bytes, what: &str) -> Decoded<i64> {
    need(buf, 8, what)?;
    Ok(buf.get_i64())
}

/// A non-null i16-length string.
fn get_string(buf: &mut Bytes, what: &str) -> Decoded<StrBytes> {
    let len = get_i16(buf, what)?;
    let len = usize::try_from(len).map_err(|_| format!("{what} has length {len}"))?;
    need(buf, len, what)?;
    let bytes = buf.split_to(len);
    String::from_utf8(bytes.to_vec())
        .map(StrBytes::from_string)
        .map_err(|_| format!("{what} is not UTF-8"))
}

/// Nullable i32-length bytes, sliced out of the frame without copying.
fn get_bytes(buf: &mut Bytes, what: &str) -> Decoded<Option<Bytes>> {
    let len = get_i32(buf, what)?;
    if len < 0 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| format!("{what} has length {len}"))?;
    need(buf, len, what)?;
    Ok(Some(buf.split_to(len)))
}

/// An array's element count (a null array is empty); elements are pushed as
/// they decode, each consuming bytes, so the count allocates nothing.
fn get_count(buf: &mut Bytes, what: &str) -> Decoded<usize> {
    let n = get_i32(buf, what)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Produce v0–2: acks, timeout, then topics of (partition, message set).
pub(super) fn decode_produce(buf: &mut Bytes) -> Decoded<ProduceRequest> {
    let acks = get_i16(buf, "acks")?;
    let timeout_ms = get_i32(buf, "timeout")?;
    let mut topic_data = Vec::new();
    for _ in 0..get_count(buf, "topic count")? {
        let name = get_string(buf, "topic name")?;
        let mut partition_data = Vec::new();
        for _ in 0..get_count(buf, "partition count")? {
            let index = get_i32(buf, "partition")?;
            let records = get_bytes(buf, "records")?;
            partition_data.push(
                PartitionProduceData::default()
                    .with_index(index)
                    .with_records(records),
            );
        }
        topic_data.push(
            TopicProduceData::default()
                .with_name(TopicName(name))
                .with_partition_data(partition_data),
        );
    }
    Ok(ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(topic_data))
}

/// Produce v0–2 response: per partition error, base offset and (v2) log
/// append time; throttle time from v1, at the end.
pub(super) fn encode_produce_response(
    correlation_id: i32,
    version: i16,
    response: &ProduceResponse,
) -> BytesMut {
    let mut out = BytesMut::with_capacity(64);
    out.put_i32(correlation_id);
    put_count(&mut out, response.responses.len());
    for topic in &response.responses {
        put_string(&mut out, &topic.name.0);
        put_count(&mut out, topic.partition_responses.len());
        for p in &topic.partition_responses {
            out.put_i32(p.index);
            out.put_i16(p.error_code);
            out.put_i64(p.base_offset);
            if version >= 2 {
                out.put_i64(p.log_append_time_ms);
            }
        }
    }
    if version >= 1 {
        out.put_i32(response.throttle_time_ms);
    }
    out
}

/// Fetch v0–3: replica id, max wait, min bytes, (v3) max bytes, then topics
/// of (partition, fetch offset, partition max bytes).
pub(super) fn decode_fetch(buf: &mut Bytes, version: i16) -> Decoded<FetchRequest> {
    let replica_id = get_i32(buf, "replica id")?;
    let max_wait_ms = get_i32(buf, "max wait")?;
    let min_bytes = get_i32(buf, "min bytes")?;
    let max_bytes = if version >= 3 {
        get_i32(buf, "max bytes")?
    } else {
        i32::MAX
    };
    let mut topics = Vec::new();
    for _ in 0..get_count(buf, "topic count")? {
        let name = get_string(buf, "topic name")?;
        let mut partitions = Vec::new();
        for _ in 0..get_count(buf, "partition count")? {
            let partition = get_i32(buf, "partition")?;
            let fetch_offset = get_i64(buf, "fetch offset")?;
            let partition_max_bytes = get_i32(buf, "partition max bytes")?;
            partitions.push(
                FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(fetch_offset)
                    .with_partition_max_bytes(partition_max_bytes),
            );
        }
        topics.push(
            FetchTopic::default()
                .with_topic(TopicName(name))
                .with_partitions(partitions),
        );
    }
    Ok(FetchRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(max_bytes)
        .with_topics(topics))
}

/// Fetch v0–3 response: (v1+) throttle time first, then per partition
/// error, high watermark and the message set.
pub(super) fn encode_fetch_response(
    correlation_id: i32,
    version: i16,
    response: &FetchResponse,
) -> BytesMut {
    let records: usize = response
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.records.as_ref().map_or(0, Bytes::len))
        .sum();
    let mut out = BytesMut::with_capacity(64 + records);
    out.put_i32(correlation_id);
    if version >= 1 {
        out.put_i32(response.throttle_time_ms);
    }
    put_count(&mut out, response.responses.len());
    for topic in &response.responses {
        put_string(&mut out, &topic.topic.0);
        put_count(&mut out, topic.partitions.len());
        for p in &topic.partitions {
            out.put_i32(p.partition_index);
            out.put_i16(p.error_code);
            out.put_i64(p.high_watermark);
            let set = p.records.as_ref().map_or(&[][..], |b| &b[..]);
            put_count(&mut out, set.len());
            out.put_slice(set);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produce_v2_decodes_and_truncations_fail() {
        let mut b = BytesMut::new();
        b.put_i16(-1);
        b.put_i32(1_000);
        b.put_i32(1);
        put_string(&mut b, "t");
        b.put_i32(2);
        b.put_i32(0);
        b.put_i32(3);
        b.put_slice(b"abc");
        b.put_i32(1);
        b.put_i32(-1);
        let frame = b.freeze();
        let r = decode_produce(&mut frame.clone()).unwrap();
        assert_eq!((r.acks, r.timeout_ms), (-1, 1_000));
        let parts = &r.topic_data[0].partition_data;
        assert_eq!(parts[0].records.as_deref(), Some(&b"abc"[..]));
        assert_eq!((parts[1].index, parts[1].records.is_none()), (1, true));
        for cut in 0..frame.len() {
            assert!(
                decode_produce(&mut frame.slice(..cut)).is_err(),
                "cut {cut}"
            );
        }
        // A hostile count allocates nothing and fails on the missing bytes.
        let mut h = BytesMut::new();
        h.put_i16(1);
        h.put_i32(0);
        h.put_i32(i32::MAX);
        assert!(decode_produce(&mut h.freeze()).is_err());
    }

    #[test]
    fn fetch_v0_and_v3_decode() {
        for version in [0, 3] {
            let mut b = BytesMut::new();
            b.put_i32(-1);
            b.put_i32(500);
            b.put_i32(1);
            if version == 3 {
                b.put_i32(1 << 20);
            }
            b.put_i32(1);
            put_string(&mut b, "topic");
            b.put_i32(1);
            b.put_i32(4);
            b.put_i64(42);
            b.put_i32(4096);
            let frame = b.freeze();
            let r = decode_fetch(&mut frame.clone(), version).unwrap();
            assert_eq!(r.max_bytes, if version == 3 { 1 << 20 } else { i32::MAX });
            let p = &r.topics[0].partitions[0];
            assert_eq!(
                (p.partition, p.fetch_offset, p.partition_max_bytes),
                (4, 42, 4096)
            );
            for cut in 0..frame.len() {
                assert!(decode_fetch(&mut frame.slice(..cut), version).is_err());
            }
        }
    }
}
