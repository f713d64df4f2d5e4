//! Kafka's `__consumer_offsets` record layouts (the `GroupMetadataManager`
//! schemas) and the record batches that carry them.
//!
//! - Offset commit: key version 1 (`group`, `topic`, `partition`), value
//!   version 3 (`offset`, `leader_epoch`, `metadata`, `commit_timestamp`).
//! - Group metadata: key version 2 (`group`), value version 3 (protocol type,
//!   generation, protocol, leader, state timestamp, members).
//! - A record with a null value is a tombstone of its key.
//!
//! Decoding reads every older value version Kafka wrote (offset value 0–3,
//! group value 0–3), so a log written by Kafka replays here. Nothing panics
//! on malformed input: decoding errors are [`RecordError`]s.

use bytes::Bytes;

use crate::records::{
    records, records_section, BatchBuilder, BatchHeader, Codec, RecordsError,
    MAX_DECOMPRESSED_BATCH_BYTES,
};

/// A record of `__consumer_offsets` that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Shorter than its schema says.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A schema version this broker does not know.
    #[error("unknown {what} version {version}")]
    UnknownVersion {
        /// Key or value kind.
        what: &'static str,
        /// The version read.
        version: i16,
    },
    /// A string that is not UTF-8.
    #[error("string is not UTF-8")]
    Utf8,
    /// The batch is malformed.
    #[error("bad batch: {0}")]
    Batch(String),
}

/// The key of a `__consumer_offsets` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordKey {
    /// Committed offset of one partition for one group.
    Offset {
        /// Group id.
        group: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// Group metadata.
    Group {
        /// Group id.
        group: String,
    },
}

/// A committed offset as stored (offset commit value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetValue {
    /// The committed offset.
    pub offset: i64,
    /// Leader epoch of the committed offset, -1 if unknown.
    pub leader_epoch: i32,
    /// The client's metadata string ("" when the client sent null).
    pub metadata: String,
    /// When it was committed (ms).
    pub commit_timestamp: i64,
}

/// One member in a group metadata value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberValue {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Client id of its last join.
    pub client_id: String,
    /// Client host of its last join.
    pub client_host: String,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Protocol metadata of the selected protocol.
    pub subscription: Bytes,
    /// Assignment from the leader.
    pub assignment: Bytes,
}

/// Group metadata as stored (group metadata value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupValue {
    /// Protocol type (`consumer`, `connect`, …).
    pub protocol_type: String,
    /// Generation.
    pub generation: i32,
    /// Selected protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the group entered its current state (ms), -1 unknown.
    pub current_state_timestamp: i64,
    /// Members.
    pub members: Vec<MemberValue>,
}

/// A decoded record value; `None` in [`Record::value`] is a tombstone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordValue {
    /// Offset commit value.
    Offset(OffsetValue),
    /// Group metadata value.
    Group(GroupValue),
}

/// One `__consumer_offsets` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The key.
    pub key: RecordKey,
    /// The value; `None` is a tombstone.
    pub value: Option<RecordValue>,
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = i16::try_from(s.len()).unwrap_or(i16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes().get(..len as usize).unwrap_or_default());
}

fn put_nullable_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.extend_from_slice(&(-1i16).to_be_bytes()),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as i32).to_be_bytes());
    out.extend_from_slice(b);
}

impl RecordKey {
    /// The key bytes (offset key v1, group key v2).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            RecordKey::Offset {
                group,
                topic,
                partition,
            } => {
                out.extend_from_slice(&1i16.to_be_bytes());
                put_str(&mut out, group);
                put_str(&mut out, topic);
                out.extend_from_slice(&partition.to_be_bytes());
            }
            RecordKey::Group { group } => {
                out.extend_from_slice(&2i16.to_be_bytes());
                put_str(&mut out, group);
            }
        }
        out
    }

    /// The group this key belongs to.
    pub fn group(&self) -> &str {
        match self {
            RecordKey::Offset { group, .. } | RecordKey::Group { group } => group,
        }
    }
}

impl OffsetValue {
    /// Offset commit value version 3.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.metadata.len());
        out.extend_from_slice(&3i16.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.leader_epoch.to_be_bytes());
        put_str(&mut out, &self.metadata);
        out.extend_from_slice(&self.commit_timestamp.to_be_bytes());
        out
    }
}

impl GroupValue {
    /// Group metadata value version 3.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&3i16.to_be_bytes());
        put_str(&mut out, &self.protocol_type);
        out.extend_from_slice(&self.generation.to_be_bytes());
        put_nullable_str(&mut out, self.protocol.as_deref());
        put_nullable_str(&mut out, self.leader.as_deref());
        out.extend_from_slice(&self.current_state_timestamp.to_be_bytes());
        out.extend_from_slice(&(self.members.len() as i32).to_be_bytes());
        for m in &self.members {
            put_str(&mut out, &m.member_id);
            put_nullable_str(&mut out, m.group_instance_id.as_deref());
            put_str(&mut out, &m.client_id);
            put_str(&mut out, &m.client_host);
            out.extend_from_slice(&m.rebalance_timeout_ms.to_be_bytes());
            out.extend_from_slice(&m.session_timeout_ms.to_be_bytes());
            put_bytes(&mut out, &m.subscription);
            put_bytes(&mut out, &m.assignment);
        }
        out
    }
}

impl Record {
    /// An offset commit.
    pub fn offset(group: &str, topic: &str, partition: i32, value: OffsetValue) -> Record {
        Record {
            key: RecordKey::Offset {
                group: group.to_string(),
                topic: topic.to_string(),
                partition,
            },
            value: Some(RecordValue::Offset(value)),
        }
    }

    /// A tombstone of one committed offset.
    pub fn offset_tombstone(group: &str, topic: &str, partition: i32) -> Record {
        Record {
            key: RecordKey::Offset {
                group: group.to_string(),
                topic: topic.to_string(),
                partition,
            },
            value: None,
        }
    }

    /// Group metadata, or its tombstone when `value` is `None`.
    pub fn group(group: &str, value: Option<GroupValue>) -> Record {
        Record {
            key: RecordKey::Group {
                group: group.to_string(),
            },
            value: value.map(RecordValue::Group),
        }
    }

    fn value_bytes(&self) -> Option<Vec<u8>> {
        match &self.value {
            None => None,
            Some(RecordValue::Offset(v)) => Some(v.encode()),
            Some(RecordValue::Group(v)) => Some(v.encode()),
        }
    }
}

/// A v2 record batch (CreateTime `now_ms`, no producer id) holding `records`
/// in order, its records compressed with `codec` (Kafka's
/// `offsets.topic.compression.codec`); the log assigns the offsets.
pub fn build_batch(records: &[Record], now_ms: i64, codec: Codec) -> Vec<u8> {
    let build = |codec: Codec| {
        let mut b = BatchBuilder::new(codec).with_base_timestamp(now_ms);
        for r in records {
            let key = r.key.encode();
            let value = r.value_bytes();
            b.append(now_ms, Some(&key), value.as_deref(), &[]);
        }
        b.finish()
    };
    // Compression failing (it does not, in memory) falls back to none.
    build(codec)
        .or_else(|_| build(Codec::None))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let s = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(RecordError::Truncated(self.what))?;
        self.pos += n;
        Ok(s)
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        let s = self.take(2)?;
        Ok(i16::from_be_bytes([s[0], s[1]]))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        let s = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(s);
        Ok(i32::from_be_bytes(a))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn nullable_str(&mut self) -> Result<Option<String>, RecordError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let s = self.take(len as usize)?;
        String::from_utf8(s.to_vec())
            .map(Some)
            .map_err(|_| RecordError::Utf8)
    }
    fn str(&mut self) -> Result<String, RecordError> {
        Ok(self.nullable_str()?.unwrap_or_default())
    }
    fn bytes(&mut self) -> Result<Bytes, RecordError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(Bytes::new());
        }
        Ok(Bytes::copy_from_slice(self.take(len as usize)?))
    }
}

impl RecordKey {
    /// Decodes a key (offset key v0/v1, group key v2).
    pub fn decode(buf: &[u8]) -> Result<RecordKey, RecordError> {
        let mut r = Reader::new(buf, "record key");
        match r.i16()? {
            0 | 1 => Ok(RecordKey::Offset {
                group: r.str()?,
                topic: r.str()?,
                partition: r.i32()?,
            }),
            2 => Ok(RecordKey::Group { group: r.str()? }),
            version => Err(RecordError::UnknownVersion {
                what: "record key",
                version,
            }),
        }
    }
}

impl OffsetValue {
    /// Decodes an offset commit value, versions 0–3.
    pub fn decode(buf: &[u8]) -> Result<OffsetValue, RecordError> {
        let mut r = Reader::new(buf, "offset commit value");
        let version = r.i16()?;
        if !(0..=3).contains(&version) {
            return Err(RecordError::UnknownVersion {
                what: "offset commit value",
                version,
            });
        }
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
        let metadata = r.str()?;
        let commit_timestamp = r.i64()?;
        Ok(OffsetValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
        })
    }
}

impl GroupValue {
    /// Decodes a group metadata value, versions 0–3.
    pub fn decode(buf: &[u8]) -> Result<GroupValue, RecordError> {
        let mut r = Reader::new(buf, "group metadata value");
        let version = r.i16()?;
        if !(0..=3).contains(&version) {
            return Err(RecordError::UnknownVersion {
                what: "group metadata value",
                version,
            });
        }
        let protocol_type = r.str()?;
        let generation = r.i32()?;
        let protocol = r.nullable_str()?;
        let leader = r.nullable_str()?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
        let count = r.i32()?.max(0);
        let mut members = Vec::new();
        for _ in 0..count {
            let member_id = r.str()?;
            let group_instance_id = if version >= 3 {
                r.nullable_str()?
            } else {
                None
            };
            let client_id = r.str()?;
            let client_host = r.str()?;
            let rebalance_timeout_ms = if version >= 1 { r.i32()? } else { -1 };
            let session_timeout_ms = r.i32()?;
            let subscription = r.bytes()?;
            let assignment = r.bytes()?;
            members.push(MemberValue {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout_ms: if rebalance_timeout_ms < 0 {
                    session_timeout_ms
                } else {
                    rebalance_timeout_ms
                },
                session_timeout_ms,
                subscription,
                assignment,
            });
        }
        Ok(GroupValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

/// One stored record's offset, key and value (`None`: a tombstone).
pub type StoredRecord = (i64, Vec<u8>, Option<Vec<u8>>);

/// The (key, value) pairs of the records of one batch of any codec (the
/// whole batch in `batch`), with their offsets. Control batches yield
/// nothing. A compressed batch is decompressed within
/// [`MAX_DECOMPRESSED_BATCH_BYTES`].
pub fn batch_records(batch: &[u8]) -> Result<Vec<StoredRecord>, RecordError> {
    let bad = |e: RecordsError| RecordError::Batch(e.to_string());
    let header = BatchHeader::parse(batch).map_err(bad)?;
    if header.is_control() {
        return Ok(Vec::new());
    }
    let section = records_section(batch, &header).map_err(bad)?;
    let decompressed;
    let section = match Codec::from_attributes(header.attributes).map_err(bad)? {
        Codec::None => section,
        codec => {
            decompressed = codec
                .decompress(section, MAX_DECOMPRESSED_BATCH_BYTES)
                .map_err(|e| {
                    RecordError::Batch(format!("batch at offset {}: {e}", header.base_offset))
                })?;
            &decompressed[..]
        }
    };
    let mut out = Vec::new();
    for r in records(section, header.record_count).map_err(bad)? {
        let r = r.map_err(bad)?;
        if let Some(key) = r.key {
            out.push((
                header.base_offset.saturating_add(i64::from(r.offset_delta)),
                key.to_vec(),
                r.value.map(<[u8]>::to_vec),
            ));
        }
    }
    Ok(out)
}

/// Decodes one `__consumer_offsets` record from its key and value bytes.
pub fn decode_record(key: &[u8], value: Option<&[u8]>) -> Result<Record, RecordError> {
    let key = RecordKey::decode(key)?;
    let value = match (&key, value) {
        (_, None) => None,
        (RecordKey::Offset { .. }, Some(v)) => Some(RecordValue::Offset(OffsetValue::decode(v)?)),
        (RecordKey::Group { .. }, Some(v)) => Some(RecordValue::Group(GroupValue::decode(v)?)),
    };
    Ok(Record { key, value })
}

/// Java's `String.hashCode` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The `__consumer_offsets` partition of a group: Kafka's
/// `Utils.abs(groupId.hashCode) % partitions`.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let h = java_string_hash(group);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_key_and_value_match_kafka_bytes() {
        let key = RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 2,
        };
        assert_eq!(
            key.encode(),
            vec![0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2],
            "offset key v1"
        );
        let v = OffsetValue {
            offset: 5,
            leader_epoch: 7,
            metadata: "m".into(),
            commit_timestamp: 9,
        };
        let bytes = v.encode();
        assert_eq!(
            bytes,
            vec![0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 7, 0, 1, b'm', 0, 0, 0, 0, 0, 0, 0, 9]
        );
        assert_eq!(OffsetValue::decode(&bytes).unwrap(), v);
        assert_eq!(RecordKey::decode(&key.encode()).unwrap(), key);
        // Version 1 (with expire timestamp) as older Kafka wrote it.
        let mut v1 = vec![0, 1];
        v1.extend_from_slice(&42i64.to_be_bytes());
        v1.extend_from_slice(&[0, 0]);
        v1.extend_from_slice(&100i64.to_be_bytes());
        v1.extend_from_slice(&200i64.to_be_bytes());
        let d = OffsetValue::decode(&v1).unwrap();
        assert_eq!(
            (d.offset, d.leader_epoch, d.commit_timestamp),
            (42, -1, 100)
        );
    }

    #[test]
    fn group_value_round_trips() {
        let g = GroupValue {
            protocol_type: "consumer".into(),
            generation: 3,
            protocol: Some("range".into()),
            leader: Some("c-1".into()),
            current_state_timestamp: 1234,
            members: vec![MemberValue {
                member_id: "c-1".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300000,
                session_timeout_ms: 10000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        let bytes = g.encode();
        assert_eq!(&bytes[..2], &[0, 3]);
        assert_eq!(GroupValue::decode(&bytes).unwrap(), g);
        let key = RecordKey::Group {
            group: "grp".into(),
        };
        assert_eq!(key.encode(), vec![0, 2, 0, 3, b'g', b'r', b'p']);
        for cut in 0..bytes.len() {
            assert!(GroupValue::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn batches_round_trip_with_tombstones() {
        let records = vec![
            Record::offset(
                "g",
                "t",
                0,
                OffsetValue {
                    offset: 10,
                    leader_epoch: 0,
                    metadata: String::new(),
                    commit_timestamp: 1,
                },
            ),
            Record::offset_tombstone("g", "t", 1),
            Record::group("g", None),
        ];
        for codec in [
            Codec::None,
            Codec::Gzip,
            Codec::Snappy,
            Codec::Lz4,
            Codec::Zstd,
        ] {
            let b = build_batch(&records, 77, codec);
            let h = crate::records::check_batch_integrity(&b).unwrap();
            assert_eq!(h.compression(), codec.id(), "{codec:?}");
            let decoded: Vec<Record> = batch_records(&b)
                .unwrap()
                .into_iter()
                .map(|(_, k, v)| decode_record(&k, v.as_deref()).unwrap())
                .collect();
            assert_eq!(decoded, records, "{codec:?}");
            for cut in 0..b.len() {
                let _ = batch_records(&b[..cut]);
            }
        }
    }

    #[test]
    fn partition_follows_java_hash_code() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99162322);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE → 0
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("hello", 50), 99162322 % 50);
        // Negative hash: "deployment-worker" must land in range.
        let p = partition_for("deployment-worker", 50);
        assert!((0..50).contains(&p));
    }
}
