//! The Fetch v4–15 response with its records as ranges of segment files (a
//! zero-copy fetch, Kafka's `FileRecords.writeTo`): the header and every
//! field are encoded into memory exactly as kafka-protocol encodes them
//! (a unit test compares the two byte for byte for every version), and each
//! partition's records become [`ResponsePart::File`] ranges in between, which
//! the connection sends with `sendfile`.
//!
//! It encodes the fields `fetch` sets; a response carrying anything else
//! (diverging epochs, leader or snapshot tags, unknown tagged fields) is
//! refused with an encode error rather than encoded wrongly.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{ApiKey, FetchResponse};

use super::{ProtocolError, ResponseParts};
use crate::records::file::FileRecords;

/// Fetch responses are flexible (compact lengths, tagged fields) from this version on.
const FLEXIBLE_VERSION: i16 = 12;

/// Records of at most this size are copied into the encoded bytes rather
/// than sent as parts of their own.
const INLINE_RECORDS_BYTES: usize = 4096;

/// Encodes `response` (version 4 to 15) for `correlation_id`; partition
/// `j` of topic `i` sends `files[i][j]` as its records when that is `Some`,
/// else its own `records`.
pub(super) fn encode(
    correlation_id: i32,
    version: i16,
    response: &FetchResponse,
    files: Vec<Vec<Option<FileRecords>>>,
) -> Result<ResponseParts, ProtocolError> {
    let unsupported = |what: &str| ProtocolError::Encode {
        key: ApiKey::Fetch,
        version,
        reason: format!("zero-copy Fetch response cannot carry {what}"),
    };
    if !(4..=15).contains(&version) {
        return Err(unsupported("this version"));
    }
    let flexible = version >= FLEXIBLE_VERSION;
    let mut w = Writer {
        parts: ResponseParts::default(),
        cur: BytesMut::with_capacity(256),
        flexible,
    };
    // Response header: v1 (a tagged-field section) for flexible versions.
    w.cur.put_i32(correlation_id);
    w.tags();
    w.cur.put_i32(response.throttle_time_ms);
    if version >= 7 {
        w.cur.put_i16(response.error_code);
        w.cur.put_i32(response.session_id);
    } else if response.session_id != 0 {
        return Err(unsupported("a session id before v7"));
    }
    if !response.unknown_tagged_fields.is_empty() || !response.node_endpoints.is_empty() {
        return Err(unsupported("tagged fields"));
    }
    w.count(Some(response.responses.len()));
    let mut files = files.into_iter();
    for topic in &response.responses {
        let mut topic_files = files.next().unwrap_or_default().into_iter();
        if version <= FLEXIBLE_VERSION {
            let name = topic.topic.0.as_str();
            w.string(name);
        }
        if version >= 13 {
            w.cur.put_slice(topic.topic_id.as_bytes());
        }
        if !topic.unknown_tagged_fields.is_empty() {
            return Err(unsupported("tagged fields"));
        }
        w.count(Some(topic.partitions.len()));
        for p in &topic.partitions {
            let file = topic_files.next().flatten();
            w.partition(p, version, file)
                .map_err(|()| unsupported("tagged fields or a preferred read replica"))?;
        }
        w.tags();
    }
    w.tags();
    let Writer { mut parts, cur, .. } = w;
    parts.push_bytes(cur.freeze());
    Ok(parts)
}

struct Writer {
    parts: ResponseParts,
    /// Bytes encoded since the last part.
    cur: BytesMut,
    flexible: bool,
}

impl Writer {
    /// An empty tagged-field section (flexible versions only).
    fn tags(&mut self) {
        if self.flexible {
            self.uvarint(0);
        }
    }

    /// An unsigned varint (the protocol's compact lengths and counts).
    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.cur.put_u8((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.cur.put_u8(v as u8);
    }

    /// An array count or bytes length; `None` is null.
    fn count(&mut self, n: Option<usize>) {
        match (self.flexible, n) {
            (true, None) => self.uvarint(0),
            (true, Some(n)) => self.uvarint(u32::try_from(n + 1).unwrap_or(u32::MAX)),
            (false, None) => self.cur.put_i32(-1),
            (false, Some(n)) => self.cur.put_i32(i32::try_from(n).unwrap_or(i32::MAX)),
        }
    }

    fn string(&mut self, s: &str) {
        if self.flexible {
            self.count(Some(s.len()));
        } else {
            self.cur.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
        }
        self.cur.put_slice(s.as_bytes());
    }

    fn partition(
        &mut self,
        p: &PartitionData,
        version: i16,
        file: Option<FileRecords>,
    ) -> Result<(), ()> {
        let untagged = p.diverging_epoch == Default::default()
            && p.current_leader == Default::default()
            && p.snapshot_id == Default::default()
            && p.unknown_tagged_fields.is_empty();
        if !untagged || (version < 11 && p.preferred_read_replica.0 != -1) {
            return Err(());
        }
        self.cur.put_i32(p.partition_index);
        self.cur.put_i16(p.error_code);
        self.cur.put_i64(p.high_watermark);
        self.cur.put_i64(p.last_stable_offset);
        if version >= 5 {
            self.cur.put_i64(p.log_start_offset);
        }
        self.count(p.aborted_transactions.as_ref().map(Vec::len));
        for t in p.aborted_transactions.iter().flatten() {
            if !t.unknown_tagged_fields.is_empty() {
                return Err(());
            }
            self.cur.put_i64(t.producer_id.0);
            self.cur.put_i64(t.first_offset);
            self.tags();
        }
        if version >= 11 {
            self.cur.put_i32(p.preferred_read_replica.0);
        }
        match (file, &p.records) {
            (Some(file), _) => {
                self.count(Some(file.len()));
                let cur = std::mem::replace(&mut self.cur, BytesMut::with_capacity(256));
                self.parts.push_bytes(cur.freeze());
                for slice in file.slices() {
                    self.parts.push_file(slice.clone());
                }
            }
            (None, None) => self.count(None),
            (None, Some(records)) => {
                self.count(Some(records.len()));
                self.records(records);
            }
        }
        self.tags();
        Ok(())
    }

    /// In-memory records: copied when small, a part of their own when not.
    fn records(&mut self, records: &Bytes) {
        if records.len() <= INLINE_RECORDS_BYTES {
            self.cur.put_slice(records);
        } else {
            let cur = std::mem::replace(&mut self.cur, BytesMut::with_capacity(256));
            self.parts.push_bytes(cur.freeze());
            self.parts.push_bytes(records.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse};
    use kafka_protocol::messages::{BrokerId, ProducerId, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use uuid::Uuid;

    use super::*;
    use crate::records::file::FileSlice;

    fn partition(index: i32, records: Option<Bytes>, aborted: Option<usize>) -> PartitionData {
        PartitionData::default()
            .with_partition_index(index)
            .with_error_code(if records.is_none() { 1 } else { 0 })
            .with_high_watermark(1_000 + i64::from(index))
            .with_last_stable_offset(900)
            .with_log_start_offset(7)
            .with_preferred_read_replica(BrokerId(-1))
            .with_aborted_transactions(aborted.map(|n| {
                (0..n)
                    .map(|i| {
                        AbortedTransaction::default()
                            .with_producer_id(ProducerId(i as i64))
                            .with_first_offset(3)
                    })
                    .collect()
            }))
            .with_records(records)
    }

    fn response(version: i16, big: &Bytes) -> FetchResponse {
        let topic = |name: &str, parts: Vec<PartitionData>| {
            let mut t = FetchableTopicResponse::default()
                .with_topic_id(Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788))
                .with_partitions(parts);
            if version < 13 {
                t.topic = TopicName(StrBytes::from_string(name.to_string()));
            }
            t
        };
        FetchResponse::default()
            .with_throttle_time_ms(17)
            .with_session_id(0)
            .with_responses(vec![
                topic(
                    "zero-copy",
                    vec![
                        partition(0, Some(big.clone()), Some(0)),
                        partition(1, Some(Bytes::from_static(b"small")), None),
                        partition(2, None, Some(2)),
                    ],
                ),
                topic("second", vec![partition(5, Some(Bytes::new()), Some(0))]),
            ])
    }

    fn kafka_protocol_bytes(version: i16, response: &FetchResponse) -> BytesMut {
        super::super::encode_response(ApiKey::Fetch, 42, version, response).unwrap()
    }

    #[test]
    fn encodes_as_kafka_protocol_does_for_every_version() {
        let big = Bytes::from((0..10_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        for version in 4..=15 {
            let r = response(version, &big);
            let ours = encode(42, version, &r, Vec::new()).unwrap();
            assert_eq!(
                ours.into_bytes().unwrap(),
                kafka_protocol_bytes(version, &r),
                "v{version}"
            );
        }
    }

    #[test]
    fn file_ranges_stand_in_for_records() {
        let big = Bytes::from((0..10_000u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>());
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(b"0123456789").unwrap();
        tmp.write_all(&big).unwrap();
        let file = Arc::new(tmp);
        for version in 4..=15 {
            let mut r = response(version, &big);
            // The first partition's records come from the file, in two slices.
            r.responses[0].partitions[0].records = None;
            let mut records = FileRecords::default();
            records.push(FileSlice::new(file.clone(), 10, 4_000));
            records.push(FileSlice::new(file.clone(), 4_010, 6_000));
            let files = vec![vec![Some(records)]];
            let ours = encode(42, version, &r, files).unwrap();
            assert_eq!(ours.len(), {
                let mut want = response(version, &big);
                want.responses[0].partitions[0].records = Some(big.clone());
                kafka_protocol_bytes(version, &want).len()
            });
            let file_parts = ours
                .parts
                .iter()
                .filter(|p| matches!(p, super::super::ResponsePart::File(_)))
                .count();
            assert_eq!(file_parts, 2, "v{version}");
            r.responses[0].partitions[0].records = Some(big.clone());
            assert_eq!(
                ours.into_bytes().unwrap(),
                kafka_protocol_bytes(version, &r),
                "v{version}"
            );
        }
    }

    #[test]
    fn fields_it_does_not_encode_are_refused() {
        let big = Bytes::from_static(b"x");
        let mut r = response(12, &big);
        r.responses[0].partitions[0].diverging_epoch.epoch = 3;
        assert!(encode(1, 12, &r, Vec::new()).is_err());
        assert!(encode(1, 3, &response(3, &big), Vec::new()).is_err());
    }
}
