//! The walker against kafka-protocol: every table row round-trips, the
//! versions kafka-protocol dropped walk exactly, hostile frames are refused.

use super::*;
use bytes::BytesMut;
use kafka_protocol::protocol::Encodable;

/// What the schema-driven generator puts in a request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fill {
    /// Two elements in every array, non-null strings and bytes, every
    /// known tagged field and an unknown one in every flexible struct.
    Populated,
    /// Null wherever nullable, empty arrays and strings, no tagged fields.
    Minimal,
}

/// Writes a request body from the table, for the round trip through
/// kafka-protocol (which is the judge of whether the table is right).
struct Gen {
    out: Vec<u8>,
    version: i16,
    flexible: bool,
    fill: Fill,
}

impl Gen {
    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn len(&mut self, n: Option<usize>, int16: bool) {
        match (self.flexible, n) {
            (true, n) => self.uvarint(n.map_or(0, |n| n as u32 + 1)),
            (false, None) if int16 => self.out.extend_from_slice(&(-1i16).to_be_bytes()),
            (false, None) => self.out.extend_from_slice(&(-1i32).to_be_bytes()),
            (false, Some(n)) if int16 => self.out.extend_from_slice(&(n as i16).to_be_bytes()),
            (false, Some(n)) => self.out.extend_from_slice(&(n as i32).to_be_bytes()),
        }
    }

    fn strukt(&mut self, s: &Schema) {
        for f in s.fields {
            if f.tag.is_none() && f.present(self.version) {
                self.field(f);
            }
        }
        if self.flexible {
            self.tags(s);
        }
    }

    fn tags(&mut self, s: &Schema) {
        if self.fill == Fill::Minimal {
            self.uvarint(0);
            return;
        }
        let mut known: Vec<&Field> = s
            .fields
            .iter()
            .filter(|f| f.tag.is_some() && f.present(self.version))
            .collect();
        known.sort_by_key(|f| f.tag);
        self.uvarint(known.len() as u32 + 1);
        for f in known {
            let mut inner = Gen {
                out: Vec::new(),
                ..*self
            };
            inner.field(f);
            self.uvarint(f.tag.unwrap_or(0));
            self.uvarint(inner.out.len() as u32);
            self.out.extend_from_slice(&inner.out);
        }
        self.uvarint(99);
        self.uvarint(2);
        self.out.extend_from_slice(&[0xab, 0xcd]);
    }

    fn field(&mut self, f: &Field) {
        let null = self.fill == Fill::Minimal && f.nullable(self.version);
        let populated = self.fill == Fill::Populated;
        match f.ty {
            Ty::Bool => self.out.push(1),
            Ty::I8 => self.out.push(3),
            Ty::I16 => self.out.extend_from_slice(&3i16.to_be_bytes()),
            Ty::I32 => self.out.extend_from_slice(&7i32.to_be_bytes()),
            Ty::I64 => self.out.extend_from_slice(&9i64.to_be_bytes()),
            Ty::F64 => self.out.extend_from_slice(&1.5f64.to_be_bytes()),
            Ty::Uuid => self.out.extend_from_slice(&[0x11; 16]),
            Ty::Str | Ty::Bytes | Ty::Records => {
                let int16 = matches!(f.ty, Ty::Str);
                if null {
                    self.len(None, int16);
                } else {
                    let data: &[u8] = if populated { b"ab" } else { b"" };
                    self.len(Some(data.len()), int16);
                    self.out.extend_from_slice(data);
                }
            }
            Ty::Struct(s) => self.strukt(s),
            Ty::Array(elem) => {
                if null {
                    self.len(None, false);
                    return;
                }
                let n = if populated { 2 } else { 0 };
                self.len(Some(n), false);
                for i in 0..n {
                    match elem {
                        Elem::I32 => self.out.extend_from_slice(&(i as i32).to_be_bytes()),
                        Elem::Str => {
                            self.len(Some(2), true);
                            self.out.extend_from_slice(b"xy");
                        }
                        Elem::Struct(s) => self.strukt(s),
                    }
                }
            }
        }
    }
}

fn generate(msg: &MessageSchema, version: i16, fill: Fill) -> Vec<u8> {
    let mut g = Gen {
        out: Vec::new(),
        version,
        flexible: msg.flexible != NONE && version >= msg.flexible,
        fill,
    };
    g.strukt(msg.body);
    g.out
}

/// Decodes `body` with kafka-protocol, requires it to take every byte,
/// and encodes the request again.
fn kafka_protocol_round_trip(key: ApiKey, version: i16, body: &[u8]) -> Result<Vec<u8>, String> {
    with_request_type!(key, T => {
        let mut buf = Bytes::copy_from_slice(body);
        let request = T::decode(&mut buf, version).map_err(|e| format!("decode: {e}"))?;
        if !buf.is_empty() {
            return Err(format!("decode left {} of {} bytes", buf.len(), body.len()));
        }
        let mut out = BytesMut::new();
        request.encode(&mut out, version).map_err(|e| format!("encode: {e}"))?;
        Ok(out.to_vec())
    }, Err(format!("no kafka-protocol type for {key:?}")))
}

/// For every API and version in the table: a populated request (and a
/// minimal one) that kafka-protocol decodes completely and encodes back
/// to the same bytes, and that the walker accepts consuming every byte.
/// A wrong row (missing or extra field, wrong version range, type,
/// nullability or flexible version) breaks the round trip.
#[test]
fn every_table_version_matches_kafka_protocol() {
    let mut failures = Vec::new();
    let mut round_trips = 0;
    for msg in MESSAGES {
        let kp_min = msg.key.valid_versions().min;
        for version in msg.min..=msg.max {
            for fill in [Fill::Populated, Fill::Minimal] {
                let body = generate(msg, version, fill);
                let what = format!("{:?} v{version} {fill:?}", msg.key);
                match check_body(msg.key, version, &body) {
                    Ok(c) if c.consumed == body.len() => {}
                    Ok(c) => failures.push(format!(
                        "{what}: walker consumed {} of {}",
                        c.consumed,
                        body.len()
                    )),
                    Err(e) => failures.push(format!("{what}: walker refused: {e}")),
                }
                if version < kp_min {
                    continue; // kafka-protocol no longer decodes it: see old_versions_walk
                }
                match kafka_protocol_round_trip(msg.key, version, &body) {
                    Ok(again) if again == body => round_trips += 1,
                    Ok(again) => failures.push(format!(
                        "{what}: kafka-protocol re-encoded {} bytes differently from {}:\n  ours {body:02x?}\n  kp   {again:02x?}",
                        again.len(),
                        body.len()
                    )),
                    Err(e) => failures.push(format!("{what}: kafka-protocol: {e}\n  ours {body:02x?}")),
                }
                let d = differential(msg.key, version, &body);
                if !matches!(d, Differential::Decoded { .. }) || !d.is_consistent() {
                    failures.push(format!("{what}: differential {d:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(round_trips > 300, "only {round_trips} round trips");
}

/// Requests built with kafka-protocol's own types (not from the table).
#[test]
fn kafka_protocol_built_requests_are_walked_exactly() {
    use kafka_protocol::messages::{GroupId, TopicName};
    let name = |s: &'static str| TopicName(StrBytes::from_static_str(s));
    let produce = m::ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(-1)
        .with_topic_data(vec![m::produce_request::TopicProduceData::default()
            .with_name(name("t"))
            .with_partition_data(vec![
                m::produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from_static(b"0123456789"))),
                m::produce_request::PartitionProduceData::default().with_index(1),
            ])]);
    let fetch = m::FetchRequest::default()
        .with_max_wait_ms(500)
        .with_topics(vec![m::fetch_request::FetchTopic::default()
            .with_topic(name("t"))
            .with_partitions(vec![
                m::fetch_request::FetchPartition::default();
                3
            ])]);
    let metadata = m::MetadataRequest::default().with_topics(Some(vec![
        m::metadata_request::MetadataRequestTopic::default().with_name(Some(name("a"))),
        m::metadata_request::MetadataRequestTopic::default().with_name(Some(name("bb"))),
    ]));
    let join = m::JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![
            m::join_group_request::JoinGroupRequestProtocol::default()
                .with_name(StrBytes::from_static_str("range"))
                .with_metadata(Bytes::from_static(b"\x00\x01")),
        ]);
    let commit = m::OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_topics(vec![
            m::offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![
                    m::offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_committed_offset(42)
                        .with_committed_metadata(Some(StrBytes::from_static_str("m"))),
                ]),
        ]);
    fn walk<T: Encodable>(key: ApiKey, versions: std::ops::RangeInclusive<i16>, request: &T) {
        for version in versions {
            let mut out = BytesMut::new();
            request.encode(&mut out, version).expect("encode");
            let checked = check_body(key, version, &out)
                .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
            assert_eq!(checked.consumed, out.len(), "{key:?} v{version}");
            assert!(
                checked.decoded_bytes >= size_of::<T>(),
                "{key:?} v{version}"
            );
        }
    }
    walk(ApiKey::Produce, 3..=9, &produce);
    walk(ApiKey::Fetch, 4..=15, &fetch);
    walk(ApiKey::Metadata, 1..=12, &metadata);
    walk(ApiKey::JoinGroup, 0..=9, &join);
    walk(ApiKey::OffsetCommit, 2..=8, &commit);
}

/// Big-endian request bytes, written by hand from Kafka 3.5's JSON.
#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn i8(mut self, v: i8) -> Self {
        self.0.push(v as u8);
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn s(self, v: &str) -> Self {
        let mut w = self.i16(v.len() as i16);
        w.0.extend_from_slice(v.as_bytes());
        w
    }
    fn b(self, v: &[u8]) -> Self {
        let mut w = self.i32(v.len() as i32);
        w.0.extend_from_slice(v);
        w
    }
    fn uv(mut self, mut v: u32) -> Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }
    fn cs(self, v: &str) -> Self {
        let mut w = self.uv(v.len() as u32 + 1);
        w.0.extend_from_slice(v.as_bytes());
        w
    }
    /// A request header v1 or v2 (null client id) for `key` v`version`.
    fn header(key: ApiKey, version: i16) -> Self {
        let w = W::default().i16(key as i16).i16(version).i32(1).i16(-1);
        if key.request_header_version(version) >= 2 {
            w.uv(0)
        } else {
            w
        }
    }
}

fn walks_exactly(key: ApiKey, version: i16, body: W) {
    let checked =
        check_body(key, version, &body.0).unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
    assert_eq!(checked.consumed, body.0.len(), "{key:?} v{version}");
}

/// The versions Kafka 3.5 has and kafka-protocol 0.18 no longer decodes.
#[test]
fn old_versions_walk() {
    for v in 0..=2 {
        // Produce v0-2: no TransactionalId.
        let body = W::default()
            .i16(1)
            .i32(1000)
            .i32(1)
            .s("t")
            .i32(1)
            .i32(0)
            .b(b"records");
        walks_exactly(ApiKey::Produce, v, body);
    }
    for v in 0..=3 {
        // Fetch v0-2: no MaxBytes; v3 adds it.
        let w = W::default().i32(-1).i32(500).i32(1);
        let w = if v == 3 { w.i32(1 << 20) } else { w };
        let body = w
            .i32(1)
            .s("t")
            .i32(2)
            .i32(0)
            .i64(5)
            .i32(1024)
            .i32(1)
            .i64(6)
            .i32(1024);
        walks_exactly(ApiKey::Fetch, v, body);
    }
    // ListOffsets v0: MaxNumOffsets.
    walks_exactly(
        ApiKey::ListOffsets,
        0,
        W::default()
            .i32(-1)
            .i32(1)
            .s("t")
            .i32(1)
            .i32(0)
            .i64(-1)
            .i32(1),
    );
    // OffsetCommit v0: no generation or member; v1 adds them and CommitTimestamp.
    walks_exactly(
        ApiKey::OffsetCommit,
        0,
        W::default()
            .s("g")
            .i32(1)
            .s("t")
            .i32(1)
            .i32(0)
            .i64(5)
            .s("meta"),
    );
    walks_exactly(
        ApiKey::OffsetCommit,
        1,
        W::default()
            .s("g")
            .i32(3)
            .s("m")
            .i32(1)
            .s("t")
            .i32(1)
            .i32(0)
            .i64(5)
            .i64(1_700_000_000_000)
            .s("meta"),
    );
    // OffsetFetch v0.
    walks_exactly(
        ApiKey::OffsetFetch,
        0,
        W::default().s("g").i32(1).s("t").i32(2).i32(0).i32(1),
    );
    // CreateTopics v0: no ValidateOnly; v1 adds it.
    // Built without a closure: a by-value builder chain inside a closure here was
    // miscompiled by rustc 1.95.0 at opt-level >= 2 (heap corruption under valgrind).
    let topic = W::default()
        .i32(1)
        .s("t")
        .i32(-1)
        .i16(-1)
        .i32(1)
        .i32(0)
        .i32(1)
        .i32(1);
    let topic = topic.i32(1).s("k").s("v");
    walks_exactly(ApiKey::CreateTopics, 0, W(topic.0.clone()).i32(1000));
    walks_exactly(ApiKey::CreateTopics, 1, W(topic.0).i32(1000).i8(1));
    // DeleteTopics v0.
    walks_exactly(
        ApiKey::DeleteTopics,
        0,
        W::default().i32(2).s("a").s("b").i32(1000),
    );
    // OffsetForLeaderEpoch v0-1: no CurrentLeaderEpoch.
    for v in 0..=1 {
        walks_exactly(
            ApiKey::OffsetForLeaderEpoch,
            v,
            W::default().i32(1).s("t").i32(1).i32(0).i32(4),
        );
    }
    // DescribeAcls v0: no PatternTypeFilter.
    walks_exactly(
        ApiKey::DescribeAcls,
        0,
        W::default().i8(2).s("t").s("User:a").i16(-1).i8(1).i8(3),
    );
    // CreateAcls v0: no ResourcePatternType.
    walks_exactly(
        ApiKey::CreateAcls,
        0,
        W::default()
            .i32(1)
            .i8(2)
            .s("t")
            .s("User:a")
            .s("*")
            .i8(2)
            .i8(3),
    );
    // DeleteAcls v0.
    walks_exactly(
        ApiKey::DeleteAcls,
        0,
        W::default()
            .i32(1)
            .i8(2)
            .i16(-1)
            .i16(-1)
            .i16(-1)
            .i8(1)
            .i8(3),
    );
    // DescribeConfigs v0: no IncludeSynonyms.
    walks_exactly(
        ApiKey::DescribeConfigs,
        0,
        W::default().i32(1).i8(2).s("t").i32(1).s("retention.ms"),
    );
    // DescribeLogDirs v0: null topics.
    walks_exactly(ApiKey::DescribeLogDirs, 0, W::default().i32(-1));
    walks_exactly(
        ApiKey::DescribeLogDirs,
        0,
        W::default().i32(1).s("t").i32(1).i32(0),
    );
}

fn refused_before_decoding(key: ApiKey, version: i16, frame: &W) -> BoundedError {
    let err = check_request(key, version, &frame.0).expect_err("accepted a hostile frame");
    // The body alone is refused as well, so kafka-protocol is never reached.
    let header_len = W::header(key, version).0.len();
    assert!(matches!(
        differential(key, version, &frame.0[header_len..]),
        Differential::Refused(_)
    ));
    err
}

#[test]
fn metadata_with_impossible_topic_counts_is_refused() {
    // v9 (flexible): compact count 2^32-2 in a 16-byte frame.
    let frame = W::header(ApiKey::Metadata, 9).uv(u32::MAX - 1);
    assert!(frame.0.len() <= 16);
    let err = refused_before_decoding(ApiKey::Metadata, 9, &frame);
    assert!(
        matches!(
            err,
            BoundedError::Count {
                field: "Topics",
                ..
            }
        ),
        "{err}"
    );
    // v1 (int32 count): 2^31-1.
    let frame = W::header(ApiKey::Metadata, 1).i32(i32::MAX);
    let err = refused_before_decoding(ApiKey::Metadata, 1, &frame);
    assert!(
        matches!(
            err,
            BoundedError::Count {
                count: 0x7fff_ffff,
                ..
            }
        ),
        "{err}"
    );
    // A negative count other than null.
    let frame = W::header(ApiKey::Metadata, 1).i32(-2);
    assert!(matches!(
        refused_before_decoding(ApiKey::Metadata, 1, &frame),
        BoundedError::BadLength { .. }
    ));
    // Null topics are not allowed in v0.
    let frame = W::header(ApiKey::Metadata, 0).i32(-1);
    assert!(matches!(
        refused_before_decoding(ApiKey::Metadata, 0, &frame),
        BoundedError::BadLength { .. }
    ));
}

#[test]
fn impossible_counts_at_depth_are_refused() {
    let big = i32::MAX;
    let cases: Vec<(ApiKey, i16, W, &str)> = vec![
        (
            ApiKey::Produce,
            3,
            W::header(ApiKey::Produce, 3)
                .i16(-1)
                .i16(1)
                .i32(1000)
                .i32(1)
                .s("t")
                .i32(big),
            "PartitionData",
        ),
        (
            ApiKey::Produce,
            9,
            W::header(ApiKey::Produce, 9)
                .uv(0)
                .i16(1)
                .i32(1000)
                .uv(2)
                .cs("t")
                .uv(u32::MAX),
            "PartitionData",
        ),
        (
            ApiKey::OffsetCommit,
            2,
            W::header(ApiKey::OffsetCommit, 2)
                .s("g")
                .i32(1)
                .s("m")
                .i64(-1)
                .i32(1)
                .s("t")
                .i32(big),
            "Partitions",
        ),
        (
            ApiKey::OffsetCommit,
            8,
            W::header(ApiKey::OffsetCommit, 8)
                .cs("g")
                .i32(1)
                .cs("m")
                .uv(0)
                .uv(2)
                .cs("t")
                .uv(u32::MAX - 1),
            "Partitions",
        ),
        (
            ApiKey::JoinGroup,
            5,
            W::header(ApiKey::JoinGroup, 5)
                .s("g")
                .i32(10000)
                .i32(10000)
                .s("")
                .i16(-1)
                .s("consumer")
                .i32(big),
            "Protocols",
        ),
        (
            ApiKey::JoinGroup,
            6,
            W::header(ApiKey::JoinGroup, 6)
                .cs("g")
                .i32(10000)
                .i32(10000)
                .cs("")
                .uv(0)
                .cs("consumer")
                .uv(u32::MAX),
            "Protocols",
        ),
        (
            ApiKey::Fetch,
            11,
            W::header(ApiKey::Fetch, 11)
                .i32(-1)
                .i32(500)
                .i32(1)
                .i32(1 << 20)
                .i8(0)
                .i32(0)
                .i32(-1)
                .i32(1)
                .s("t")
                .i32(big),
            "Partitions",
        ),
        (
            ApiKey::Fetch,
            12,
            W::header(ApiKey::Fetch, 12)
                .i32(-1)
                .i32(500)
                .i32(1)
                .i32(1 << 20)
                .i8(0)
                .i32(0)
                .i32(-1)
                .uv(2)
                .cs("t")
                .uv(u32::MAX),
            "Partitions",
        ),
        (
            ApiKey::CreateTopics,
            5,
            W::header(ApiKey::CreateTopics, 5)
                .uv(2)
                .cs("t")
                .i32(1)
                .i16(1)
                .uv(2)
                .i32(0)
                .uv(u32::MAX),
            "BrokerIds",
        ),
    ];
    for (key, version, frame, field) in cases {
        let err = refused_before_decoding(key, version, &frame);
        assert!(
            matches!(err, BoundedError::Count { field: f, .. } if f == field),
            "{key:?} v{version}: {err}"
        );
    }
}

#[test]
fn lengths_tags_and_varints_are_checked() {
    // A string announcing more bytes than the frame has.
    let frame = W::header(ApiKey::Produce, 3).i16(i16::MAX);
    assert!(matches!(
        refused_before_decoding(ApiKey::Produce, 3, &frame),
        BoundedError::Truncated { .. }
    ));
    // Records announcing 2 GiB.
    let frame = W::header(ApiKey::Produce, 3)
        .i16(-1)
        .i16(1)
        .i32(1000)
        .i32(1)
        .s("t")
        .i32(1)
        .i32(0)
        .i32(big_len());
    assert!(matches!(
        refused_before_decoding(ApiKey::Produce, 3, &frame),
        BoundedError::Truncated { .. }
    ));
    // A tagged-field count that cannot fit.
    let frame = W::header(ApiKey::Metadata, 9)
        .uv(1)
        .i8(1)
        .i8(0)
        .uv(u32::MAX);
    let err = refused_before_decoding(ApiKey::Metadata, 9, &frame);
    assert!(
        matches!(
            err,
            BoundedError::Count {
                field: "TaggedFields",
                ..
            }
        ),
        "{err}"
    );
    // A tagged field announcing more than is left.
    let frame = W::header(ApiKey::Metadata, 9)
        .uv(1)
        .i8(1)
        .i8(0)
        .i8(0)
        .uv(1)
        .uv(5)
        .uv(1000);
    assert!(matches!(
        refused_before_decoding(ApiKey::Metadata, 9, &frame),
        BoundedError::Truncated { .. }
    ));
    // A known tagged field (Fetch's ClusterId) whose content does not fill
    // its size, and one whose content overruns it.
    let fetch12 = || {
        W::default()
            .i32(-1)
            .i32(500)
            .i32(1)
            .i32(1)
            .i8(0)
            .i32(0)
            .i32(-1)
            .uv(1)
            .uv(1)
            .cs("")
    };
    let mut body = fetch12().uv(1).uv(0).uv(7).0;
    body.extend_from_slice(b"\x02abcdef");
    assert!(matches!(
        check_body(ApiKey::Fetch, 12, &body),
        Err(BoundedError::TaggedSize {
            used: 2,
            size: 7,
            ..
        })
    ));
    let mut body = fetch12().uv(1).uv(0).uv(1).0;
    body.extend_from_slice(b"\x06abcde");
    assert!(matches!(
        check_body(ApiKey::Fetch, 12, &body),
        Err(BoundedError::Truncated {
            field: "ClusterId",
            ..
        })
    ));
    let mut body = fetch12().uv(1).uv(0).uv(3).0;
    body.extend_from_slice(b"\x03ab");
    assert_eq!(
        check_body(ApiKey::Fetch, 12, &body).map(|c| c.consumed),
        Ok(body.len())
    );
    // A varint of six bytes.
    let mut frame = W::header(ApiKey::Metadata, 9).0;
    frame.extend_from_slice(&[0xff; 6]);
    assert!(matches!(
        check_request(ApiKey::Metadata, 9, &frame),
        Err(BoundedError::Varint { .. })
    ));
    // Versions outside the table.
    assert!(matches!(
        check_body(ApiKey::Metadata, 13, &[]),
        Err(BoundedError::NoSchema { .. })
    ));
    assert!(matches!(
        check_body(ApiKey::ApiVersions, 4, &[]),
        Err(BoundedError::NoSchema { .. })
    ));
}

fn big_len() -> i32 {
    i32::MAX
}

#[test]
fn decoded_size_is_bounded_by_a_multiple_of_the_frame() {
    let elem = size_of::<m::metadata_request::MetadataRequestTopic>();
    assert!(
        elem > 32,
        "an empty topic must cost more than 16 × its 2 wire bytes ({elem})"
    );
    // 100,000 empty topic names: 2 bytes each on the wire, `elem` in memory.
    let mut frame = W::header(ApiKey::Metadata, 9).uv(100_001);
    for _ in 0..100_000 {
        frame.0.extend_from_slice(&[1, 0]);
    }
    frame = frame.i8(1).i8(0).i8(0).uv(0);
    let err = check_request(ApiKey::Metadata, 9, &frame.0).expect_err("accepted");
    assert!(matches!(err, BoundedError::TooLarge { .. }), "{err}");
    // Unknown tagged fields in every element cost a map node each.
    let mut frame = W::header(ApiKey::Metadata, 9).uv(5_001);
    for _ in 0..5_000 {
        frame.0.extend_from_slice(&[1, 1, 99, 0]);
    }
    frame = frame.i8(1).i8(0).i8(0).uv(0);
    assert!(matches!(
        check_request(ApiKey::Metadata, 9, &frame.0),
        Err(BoundedError::TooLarge { .. })
    ));
    // A thousand real topic names pass, and the estimate counts them.
    let mut frame = W::header(ApiKey::Metadata, 9).uv(1_001);
    for i in 0..1_000 {
        frame = frame.cs(&format!("topic-{i:05}")).uv(0);
    }
    frame = frame.i8(1).i8(0).i8(0).uv(0);
    let checked = check_request(ApiKey::Metadata, 9, &frame.0).expect("accepted");
    assert_eq!(checked.consumed, frame.0.len());
    assert!(checked.decoded_bytes >= 1_000 * elem);
    assert!(checked.decoded_bytes <= decoded_bound(frame.0.len()));
}

#[test]
fn request_headers_are_walked() {
    // v1: nullable client id; v2 adds tagged fields (the client id stays int16-sized).
    let body = W::default().i32(-1);
    let mut frame = W::default().i16(3).i16(1).i32(7).i16(-1).0;
    frame.extend_from_slice(&body.0);
    assert_eq!(
        check_request(ApiKey::Metadata, 1, &frame).map(|c| c.consumed),
        Ok(frame.len())
    );
    let frame = W::default()
        .i16(18)
        .i16(3)
        .i32(7)
        .s("rdkafka")
        .uv(1)
        .uv(99)
        .uv(1)
        .i8(0)
        .cs("librdkafka")
        .cs("2.3.0")
        .uv(0);
    assert_eq!(
        check_request(ApiKey::ApiVersions, 3, &frame.0).map(|c| c.consumed),
        Ok(frame.0.len())
    );
    let frame = W::default().i16(18).i16(3).i32(7).i16(100);
    assert!(matches!(
        check_request(ApiKey::ApiVersions, 3, &frame.0),
        Err(BoundedError::Truncated { .. })
    ));
}

/// Adding an API or version to the router without a schema fails here.
#[test]
fn every_advertised_version_has_a_schema() {
    for api in super::super::APIS {
        for version in api.min..=api.max {
            assert!(
                has_schema(api.key, version),
                "{:?} v{version} is advertised without a schema",
                api.key
            );
        }
    }
}

#[test]
fn table_is_well_formed() {
    for (i, msg) in MESSAGES.iter().enumerate() {
        assert!(
            MESSAGES[..i].iter().all(|o| o.key != msg.key),
            "{:?} twice",
            msg.key
        );
        assert!(msg.min <= msg.max);
        assert!(
            msg.max <= msg.key.valid_versions().max,
            "{:?}: kafka-protocol cannot decode v{}",
            msg.key,
            msg.max
        );
    }
}
