//! The bounded pre-check in front of kafka-protocol's request decoders.
//!
//! kafka-protocol 0.18 reserves `Vec::with_capacity(count)` for an array count
//! read from the wire before it looks at the bytes left, so one 15-byte
//! Metadata v9 frame announcing 2^32−2 topics aborts the process. Every
//! request frame therefore passes [`check_request`] first: a walker over our
//! own compact schema table (one [`MessageSchema`] per API, following Kafka
//! 3.5's message JSON: field versions, flexible versions, nullable versions,
//! tagged fields) that steps through the request header and body without
//! allocating anything.
//!
//! Invariants:
//! - Every string/bytes length, array count (int32 or compact varint),
//!   tagged-field count and size, and Produce's `records` is checked against
//!   the bytes left. An array whose `count × minimum element wire size`
//!   exceeds them fails at once, before a single element is looked at;
//!   elements are then walked one by one, so the walk is O(frame bytes).
//! - The walk estimates what kafka-protocol's decode will hold in memory:
//!   the root struct, `size_of` of the kafka-protocol element type for every
//!   array element (kafka-protocol reserves exactly `count` of them), and the
//!   `BTreeMap` that holds unknown tagged fields. Strings and bytes decode as
//!   slices of the frame and cost nothing more. A frame whose estimate exceeds
//!   **16 × frame length + 64 KiB, and at most 2 × + 64 MiB** ([`decoded_bound`]) is refused.
//! - A refused frame is a [`BoundedError`]; the router turns it into
//!   `ProtocolError::Unbounded`, which closes the connection as an
//!   undecodable frame does. An accepted one yields [`Checked`], whose
//!   `decoded_bytes` the network layer may account for.
//! - The guard stays when kafka-protocol bounds its own reservations: it is
//!   defence in depth, and it is the only place that knows Kafka 3.5's old
//!   versions kafka-protocol no longer decodes (Produce v0–2, Fetch v0–3, …).
//! - Nothing here panics on any input; arithmetic on wire values saturates.

use std::mem::size_of;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use kafka_protocol::messages as m;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, StrBytes};

mod table;

use table::HEADER_SCHEMA;
pub use table::MESSAGES;

/// "No upper bound" in a version range (Kafka's `N+`).
const UP: i16 = i16::MAX;
/// "Never" for nullable and flexible versions.
const NONE: i16 = -1;

/// A field's wire type, as Kafka's message JSON names it.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// `bool`: one byte.
    Bool,
    /// `int8`.
    I8,
    /// `int16`.
    I16,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `float64`.
    F64,
    /// `uuid`: 16 bytes.
    Uuid,
    /// `string`: int16 length (compact: unsigned varint length + 1).
    Str,
    /// `bytes`: int32 length (compact: unsigned varint length + 1).
    Bytes,
    /// `records`: on the wire exactly `bytes`; kafka-protocol keeps them as a
    /// slice of the frame (their batches are validated later, by the log).
    Records,
    /// A nested struct that is not an array (kafka-protocol embeds it).
    Struct(&'static Schema),
    /// `[]T`: int32 count (compact: unsigned varint count + 1).
    Array(Elem),
}

/// The element of an array field.
#[derive(Clone, Copy, Debug)]
pub enum Elem {
    /// `[]int32`.
    I32,
    /// `[]string`.
    Str,
    /// `[]SomeStruct`.
    Struct(&'static Schema),
}

/// One field of a struct.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Kafka's field name (for error messages).
    pub name: &'static str,
    /// Its wire type.
    pub ty: Ty,
    /// First version the field is present in.
    pub lo: i16,
    /// Last version the field is present in ([`UP`]: all later ones).
    pub hi: i16,
    /// First version in which it may be null ([`NONE`]: never).
    pub null_lo: i16,
    /// Last version in which it may be null.
    pub null_hi: i16,
    /// `Some(tag)` for a tagged field (present in flexible versions only).
    pub tag: Option<u32>,
}

const fn f(name: &'static str, ty: Ty, lo: i16, hi: i16) -> Field {
    Field {
        name,
        ty,
        lo,
        hi,
        null_lo: NONE,
        null_hi: NONE,
        tag: None,
    }
}

impl Field {
    /// Nullable in versions `lo..=hi`.
    const fn null(mut self, lo: i16, hi: i16) -> Field {
        self.null_lo = lo;
        self.null_hi = hi;
        self
    }

    /// A tagged field with this tag.
    const fn tag(mut self, tag: u32) -> Field {
        self.tag = Some(tag);
        self
    }

    fn present(&self, version: i16) -> bool {
        self.lo <= version && version <= self.hi
    }

    fn nullable(&self, version: i16) -> bool {
        self.null_lo != NONE && self.null_lo <= version && version <= self.null_hi
    }
}

/// A struct: its fields in wire order and the in-memory size of the
/// kafka-protocol type it decodes into.
#[derive(Debug)]
pub struct Schema {
    /// kafka-protocol's type name.
    pub name: &'static str,
    /// `size_of` that type.
    pub mem: usize,
    /// The fields, tagged ones included.
    pub fields: &'static [Field],
}

/// One API's request: its versions and body.
#[derive(Debug)]
pub struct MessageSchema {
    /// The API.
    pub key: ApiKey,
    /// Lowest version Kafka 3.5 defines.
    pub min: i16,
    /// Highest version covered.
    pub max: i16,
    /// First flexible version ([`NONE`]: none).
    pub flexible: i16,
    /// The request body.
    pub body: &'static Schema,
}

/// What an accepted frame costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Estimated bytes kafka-protocol's decode will allocate or embed.
    pub decoded_bytes: usize,
    /// Bytes of the input the walk consumed (header included for
    /// [`check_request`]); Kafka ignores trailing bytes, and so do we.
    pub consumed: usize,
}

/// Why a frame was refused before decoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundedError {
    /// No schema for this API and version.
    #[error("no request schema for {key:?} v{version}")]
    NoSchema {
        /// The API.
        key: ApiKey,
        /// The version.
        version: i16,
    },
    /// A field runs past the end of the frame.
    #[error("{field}: {needed} bytes needed at offset {at}, {left} left")]
    Truncated {
        /// The field.
        field: &'static str,
        /// Offset in the walked input.
        at: usize,
        /// Bytes the field announced or needs.
        needed: u64,
        /// Bytes left.
        left: usize,
    },
    /// An array count whose elements cannot fit in the bytes left.
    #[error("{field}: {count} elements of at least {min_size} bytes cannot fit in the {left} bytes left")]
    Count {
        /// The array field.
        field: &'static str,
        /// The count announced.
        count: u64,
        /// Minimum wire size of one element.
        min_size: usize,
        /// Bytes left.
        left: usize,
    },
    /// Null (or a negative length) where the version does not allow it.
    #[error("{field}: length {len} is not allowed in v{version}")]
    BadLength {
        /// The field.
        field: &'static str,
        /// The length read.
        len: i64,
        /// The version.
        version: i16,
    },
    /// An unsigned varint longer than 5 bytes or past u32.
    #[error("malformed varint at offset {at}")]
    Varint {
        /// Offset in the walked input.
        at: usize,
    },
    /// A known tagged field whose content does not fill its announced size.
    #[error("tagged field {tag} ({field}): announced {size} bytes, content is {used}")]
    TaggedSize {
        /// The field.
        field: &'static str,
        /// Its tag.
        tag: u32,
        /// The size announced.
        size: usize,
        /// The bytes its content took.
        used: usize,
    },
    /// The decoded form would exceed [`decoded_bound`].
    #[error("decoding would take about {estimate} bytes, over the bound of {bound} (the lesser of 16 × frame + 64 KiB and 2 × frame + 64 MiB)")]
    TooLarge {
        /// The estimate so far.
        estimate: usize,
        /// The bound for this frame.
        bound: usize,
    },
}

/// The most memory a frame of `frame_len` bytes may decode into: 16 × its
/// size + 64 KiB, and for large frames no more than 2 × + 64 MiB (a 100 MB
/// frame of empty strings must not decode into 1.6 GB; real large requests —
/// produce, whose records stay a slice of the frame — are near 1 ×).
pub fn decoded_bound(frame_len: usize) -> usize {
    let small = frame_len.saturating_mul(16).saturating_add(64 * 1024);
    let large = frame_len.saturating_mul(2).saturating_add(64 * 1024 * 1024);
    small.min(large)
}

/// Cost of one B-tree leaf of `BTreeMap<i32, Bytes>` (11 slots), charged for a
/// struct's first unknown tagged field.
const TAG_MAP_NODE: usize = 16 + 11 * (size_of::<i32>() + size_of::<Bytes>());
/// Cost charged per unknown tagged field (nodes are at least half full, plus
/// internal nodes).
const TAG_MAP_ENTRY: usize = 2 * TAG_MAP_NODE / 11 + 8;

/// The schema of `key`'s request, if covered.
pub fn schema(key: ApiKey) -> Option<&'static MessageSchema> {
    MESSAGES.iter().find(|s| s.key == key)
}

/// Whether `key` v`version` has a schema.
pub fn has_schema(key: ApiKey, version: i16) -> bool {
    schema(key).is_some_and(|s| s.min <= version && version <= s.max)
}

/// Checks a whole request frame (header and body, without the size prefix)
/// of `key` v`version`.
pub fn check_request(key: ApiKey, version: i16, frame: &[u8]) -> Result<Checked, BoundedError> {
    let msg = message(key, version)?;
    let mut w = Walker::new(frame, version, msg.flexible);
    w.mem = size_of::<m::RequestHeader>();
    w.header(key.request_header_version(version))?;
    w.body(msg)?;
    w.finish(frame.len())
}

/// Checks a request body alone (what follows the header).
pub fn check_body(key: ApiKey, version: i16, body: &[u8]) -> Result<Checked, BoundedError> {
    let msg = message(key, version)?;
    let mut w = Walker::new(body, version, msg.flexible);
    w.body(msg)?;
    w.finish(body.len())
}

/// Runs `$body` with `$T` bound to kafka-protocol's request type for `$key`
/// (`$other` for an API the table does not cover).
macro_rules! with_request_type {
    ($key:expr, $T:ident => $body:expr, $other:expr) => {
        match $key {
            ApiKey::Produce => {
                type $T = m::ProduceRequest;
                $body
            }
            ApiKey::Fetch => {
                type $T = m::FetchRequest;
                $body
            }
            ApiKey::ListOffsets => {
                type $T = m::ListOffsetsRequest;
                $body
            }
            ApiKey::Metadata => {
                type $T = m::MetadataRequest;
                $body
            }
            ApiKey::OffsetCommit => {
                type $T = m::OffsetCommitRequest;
                $body
            }
            ApiKey::OffsetFetch => {
                type $T = m::OffsetFetchRequest;
                $body
            }
            ApiKey::FindCoordinator => {
                type $T = m::FindCoordinatorRequest;
                $body
            }
            ApiKey::JoinGroup => {
                type $T = m::JoinGroupRequest;
                $body
            }
            ApiKey::Heartbeat => {
                type $T = m::HeartbeatRequest;
                $body
            }
            ApiKey::LeaveGroup => {
                type $T = m::LeaveGroupRequest;
                $body
            }
            ApiKey::SyncGroup => {
                type $T = m::SyncGroupRequest;
                $body
            }
            ApiKey::DescribeGroups => {
                type $T = m::DescribeGroupsRequest;
                $body
            }
            ApiKey::ListGroups => {
                type $T = m::ListGroupsRequest;
                $body
            }
            ApiKey::SaslHandshake => {
                type $T = m::SaslHandshakeRequest;
                $body
            }
            ApiKey::ApiVersions => {
                type $T = m::ApiVersionsRequest;
                $body
            }
            ApiKey::CreateTopics => {
                type $T = m::CreateTopicsRequest;
                $body
            }
            ApiKey::DeleteTopics => {
                type $T = m::DeleteTopicsRequest;
                $body
            }
            ApiKey::DeleteRecords => {
                type $T = m::DeleteRecordsRequest;
                $body
            }
            ApiKey::InitProducerId => {
                type $T = m::InitProducerIdRequest;
                $body
            }
            ApiKey::OffsetForLeaderEpoch => {
                type $T = m::OffsetForLeaderEpochRequest;
                $body
            }
            ApiKey::DescribeAcls => {
                type $T = m::DescribeAclsRequest;
                $body
            }
            ApiKey::CreateAcls => {
                type $T = m::CreateAclsRequest;
                $body
            }
            ApiKey::DeleteAcls => {
                type $T = m::DeleteAclsRequest;
                $body
            }
            ApiKey::DescribeConfigs => {
                type $T = m::DescribeConfigsRequest;
                $body
            }
            ApiKey::AlterConfigs => {
                type $T = m::AlterConfigsRequest;
                $body
            }
            ApiKey::DescribeLogDirs => {
                type $T = m::DescribeLogDirsRequest;
                $body
            }
            ApiKey::SaslAuthenticate => {
                type $T = m::SaslAuthenticateRequest;
                $body
            }
            ApiKey::CreatePartitions => {
                type $T = m::CreatePartitionsRequest;
                $body
            }
            ApiKey::DeleteGroups => {
                type $T = m::DeleteGroupsRequest;
                $body
            }
            ApiKey::ElectLeaders => {
                type $T = m::ElectLeadersRequest;
                $body
            }
            ApiKey::IncrementalAlterConfigs => {
                type $T = m::IncrementalAlterConfigsRequest;
                $body
            }
            ApiKey::AlterPartitionReassignments => {
                type $T = m::AlterPartitionReassignmentsRequest;
                $body
            }
            ApiKey::ListPartitionReassignments => {
                type $T = m::ListPartitionReassignmentsRequest;
                $body
            }
            ApiKey::OffsetDelete => {
                type $T = m::OffsetDeleteRequest;
                $body
            }
            ApiKey::DescribeClientQuotas => {
                type $T = m::DescribeClientQuotasRequest;
                $body
            }
            ApiKey::AlterClientQuotas => {
                type $T = m::AlterClientQuotasRequest;
                $body
            }
            ApiKey::DescribeUserScramCredentials => {
                type $T = m::DescribeUserScramCredentialsRequest;
                $body
            }
            ApiKey::AlterUserScramCredentials => {
                type $T = m::AlterUserScramCredentialsRequest;
                $body
            }
            ApiKey::DescribeCluster => {
                type $T = m::DescribeClusterRequest;
                $body
            }
            ApiKey::DescribeProducers => {
                type $T = m::DescribeProducersRequest;
                $body
            }
            _ => $other,
        }
    };
}

/// The outcome of [`differential`].
#[derive(Debug)]
pub enum Differential {
    /// The walker refused the body; kafka-protocol was not called.
    Refused(BoundedError),
    /// The walker accepted it and kafka-protocol decoded it, consuming
    /// `decoder_consumed` bytes.
    Decoded {
        /// The walker's verdict.
        checked: Checked,
        /// Bytes kafka-protocol consumed.
        decoder_consumed: usize,
    },
    /// The walker accepted it and kafka-protocol refused it.
    DecoderFailed {
        /// The walker's verdict.
        checked: Checked,
        /// What kafka-protocol said.
        reason: String,
    },
}

impl Differential {
    /// The walker and the decoder agree where a fuzzer can tell: when both
    /// accepted, they consumed the same bytes.
    pub fn is_consistent(&self) -> bool {
        match self {
            Differential::Decoded {
                checked,
                decoder_consumed,
            } => checked.consumed == *decoder_consumed,
            Differential::Refused(_) | Differential::DecoderFailed { .. } => true,
        }
    }
}

/// For a fuzz target: walks `body` of `key` v`version` and, only if the walk
/// accepts it, hands it to kafka-protocol's decoder.
pub fn differential(key: ApiKey, version: i16, body: &[u8]) -> Differential {
    let checked = match check_body(key, version, body) {
        Ok(c) => c,
        Err(e) => return Differential::Refused(e),
    };
    let mut buf = Bytes::copy_from_slice(body);
    let decoded = with_request_type!(key, T => T::decode(&mut buf, version).map(drop).map_err(|e| e.to_string()),
        Err(format!("no kafka-protocol request type for {key:?}")));
    match decoded {
        Ok(()) => Differential::Decoded {
            checked,
            decoder_consumed: body.len() - buf.len(),
        },
        Err(reason) => Differential::DecoderFailed { checked, reason },
    }
}

/// Last second (since the Unix epoch) a refusal was logged, and the
/// refusals not logged since.
static LAST_LOG: AtomicU64 = AtomicU64::new(0);
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Logs a refused frame, at most one line per second across the broker
/// (the line says how many refusals it stands for).
pub fn log_refused(peer: SocketAddr, key: ApiKey, version: i16, error: &BoundedError) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_LOG.load(Ordering::Relaxed);
    if now > last
        && LAST_LOG
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
        tracing::warn!(%peer, api = ?key, version, %error, suppressed, "refused request frame before decoding");
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

fn message(key: ApiKey, version: i16) -> Result<&'static MessageSchema, BoundedError> {
    schema(key)
        .filter(|s| s.min <= version && version <= s.max)
        .ok_or(BoundedError::NoSchema { key, version })
}

/// Steps through a buffer by schema; never allocates.
struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    version: i16,
    flexible: bool,
    mem: usize,
    bound: usize,
}

impl<'a> Walker<'a> {
    fn new(buf: &'a [u8], version: i16, first_flexible: i16) -> Self {
        Walker {
            buf,
            pos: 0,
            version,
            flexible: first_flexible != NONE && version >= first_flexible,
            mem: 0,
            bound: decoded_bound(buf.len()),
        }
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn finish(self, frame_len: usize) -> Result<Checked, BoundedError> {
        let bound = decoded_bound(frame_len);
        if self.mem > bound {
            return Err(BoundedError::TooLarge {
                estimate: self.mem,
                bound,
            });
        }
        Ok(Checked {
            decoded_bytes: self.mem,
            consumed: self.pos,
        })
    }

    fn charge(&mut self, bytes: usize) -> Result<(), BoundedError> {
        self.mem = self.mem.saturating_add(bytes);
        if self.mem > self.bound {
            return Err(BoundedError::TooLarge {
                estimate: self.mem,
                bound: self.bound,
            });
        }
        Ok(())
    }

    fn take(&mut self, field: &'static str, n: u64) -> Result<&'a [u8], BoundedError> {
        let left = self.left();
        if n > left as u64 {
            return Err(BoundedError::Truncated {
                field,
                at: self.pos,
                needed: n,
                left,
            });
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, BoundedError> {
        let b = self.take(field, 2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, BoundedError> {
        let b = self.take(field, 4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Kafka's unsigned varint: at most 5 bytes, at most u32::MAX.
    fn uvarint(&mut self, field: &'static str) -> Result<u32, BoundedError> {
        let at = self.pos;
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = self.take(field, 1)?[0];
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| BoundedError::Varint { at });
            }
        }
        Err(BoundedError::Varint { at })
    }

    /// The length of a string/bytes/array: `None` for null.
    fn length(&mut self, f: &Field, int16: bool) -> Result<Option<u64>, BoundedError> {
        let len: i64 = if self.flexible {
            i64::from(self.uvarint(f.name)?) - 1
        } else if int16 {
            i64::from(self.i16(f.name)?)
        } else {
            i64::from(self.i32(f.name)?)
        };
        match len {
            -1 if f.nullable(self.version) => Ok(None),
            n if n >= 0 => Ok(Some(n as u64)),
            len => Err(BoundedError::BadLength {
                field: f.name,
                len,
                version: self.version,
            }),
        }
    }

    fn header(&mut self, header_version: i16) -> Result<(), BoundedError> {
        self.take("RequestHeader", 8)?;
        if header_version >= 1 {
            // ClientId: nullable, and never compact (flexibleVersions "none").
            let len = self.i16("ClientId")?;
            if len < -1 {
                return Err(BoundedError::BadLength {
                    field: "ClientId",
                    len: len.into(),
                    version: header_version,
                });
            }
            if len > 0 {
                self.take("ClientId", len as u64)?;
            }
        }
        if header_version >= 2 {
            self.tagged_fields(&HEADER_SCHEMA)?;
        }
        Ok(())
    }

    fn body(&mut self, msg: &MessageSchema) -> Result<(), BoundedError> {
        self.charge(msg.body.mem)?;
        self.walk_struct(msg.body)
    }

    fn walk_struct(&mut self, s: &Schema) -> Result<(), BoundedError> {
        for f in s.fields {
            if f.tag.is_none() && f.present(self.version) {
                self.walk_field(f)?;
            }
        }
        if self.flexible {
            self.tagged_fields(s)?;
        }
        Ok(())
    }

    fn walk_field(&mut self, f: &Field) -> Result<(), BoundedError> {
        match f.ty {
            Ty::Bool | Ty::I8 => self.take(f.name, 1).map(drop),
            Ty::I16 => self.take(f.name, 2).map(drop),
            Ty::I32 => self.take(f.name, 4).map(drop),
            Ty::I64 | Ty::F64 => self.take(f.name, 8).map(drop),
            Ty::Uuid => self.take(f.name, 16).map(drop),
            Ty::Str => {
                if let Some(n) = self.length(f, true)? {
                    self.take(f.name, n)?;
                }
                Ok(())
            }
            Ty::Bytes | Ty::Records => {
                if let Some(n) = self.length(f, false)? {
                    self.take(f.name, n)?;
                }
                Ok(())
            }
            Ty::Struct(s) => self.walk_struct(s),
            Ty::Array(elem) => {
                let Some(count) = self.length(f, false)? else {
                    return Ok(());
                };
                let min_size = elem_min_size(elem, self.version, self.flexible).max(1);
                let left = self.left();
                if count.saturating_mul(min_size as u64) > left as u64 {
                    return Err(BoundedError::Count {
                        field: f.name,
                        count,
                        min_size,
                        left,
                    });
                }
                // count ≤ left here, so it fits a usize.
                self.charge((count as usize).saturating_mul(elem_mem(elem)))?;
                for _ in 0..count {
                    match elem {
                        Elem::I32 => self.take(f.name, 4).map(drop)?,
                        Elem::Str => {
                            let one = Field { ty: Ty::Str, ..*f };
                            self.walk_field(&Field {
                                null_lo: NONE,
                                ..one
                            })?
                        }
                        Elem::Struct(s) => self.walk_struct(s)?,
                    }
                }
                Ok(())
            }
        }
    }

    fn tagged_fields(&mut self, s: &Schema) -> Result<(), BoundedError> {
        let count = self.uvarint("TaggedFields")?;
        let left = self.left();
        // Each entry takes at least a tag byte and a size byte.
        if u64::from(count) * 2 > left as u64 {
            return Err(BoundedError::Count {
                field: "TaggedFields",
                count: count.into(),
                min_size: 2,
                left,
            });
        }
        let mut unknown = 0usize;
        for _ in 0..count {
            let tag = self.uvarint("TaggedFields")?;
            let size = self.uvarint("TaggedFields")?;
            let data = self.take("TaggedFields", size.into())?;
            let known = s
                .fields
                .iter()
                .find(|f| f.tag == Some(tag) && f.present(self.version));
            match known {
                Some(f) => {
                    let mut inner = Walker {
                        buf: data,
                        pos: 0,
                        version: self.version,
                        flexible: self.flexible,
                        mem: self.mem,
                        bound: self.bound,
                    };
                    inner.walk_field(f)?;
                    if inner.pos != data.len() {
                        return Err(BoundedError::TaggedSize {
                            field: f.name,
                            tag,
                            size: data.len(),
                            used: inner.pos,
                        });
                    }
                    self.mem = inner.mem;
                }
                None => {
                    unknown += 1;
                    let cost = if unknown == 1 {
                        TAG_MAP_NODE
                    } else {
                        TAG_MAP_ENTRY
                    };
                    self.charge(cost)?;
                }
            }
        }
        Ok(())
    }
}

/// The fewest bytes one element can take on the wire.
fn elem_min_size(elem: Elem, version: i16, flexible: bool) -> usize {
    match elem {
        Elem::I32 => 4,
        Elem::Str => {
            if flexible {
                1
            } else {
                2
            }
        }
        Elem::Struct(s) => struct_min_size(s, version, flexible),
    }
}

fn struct_min_size(s: &Schema, version: i16, flexible: bool) -> usize {
    let fields: usize = s
        .fields
        .iter()
        .filter(|f| f.tag.is_none() && f.present(version))
        .map(|f| match f.ty {
            Ty::Bool | Ty::I8 => 1,
            Ty::I16 => 2,
            Ty::I32 => 4,
            Ty::I64 | Ty::F64 => 8,
            Ty::Uuid => 16,
            Ty::Str if !flexible => 2,
            Ty::Bytes | Ty::Records | Ty::Array(_) if !flexible => 4,
            Ty::Str | Ty::Bytes | Ty::Records | Ty::Array(_) => 1,
            Ty::Struct(inner) => struct_min_size(inner, version, flexible),
        })
        .sum();
    fields + usize::from(flexible)
}

/// What one decoded element of an array costs in memory.
fn elem_mem(elem: Elem) -> usize {
    match elem {
        Elem::I32 => size_of::<i32>(),
        Elem::Str => size_of::<StrBytes>(),
        Elem::Struct(s) => s.mem,
    }
}

/// The router's one call: checks `frame` (header and body) of `key`
/// v`version`, logging a refusal with the peer's address.
pub(crate) fn admit(
    peer: SocketAddr,
    key: ApiKey,
    version: i16,
    frame: &[u8],
) -> Result<Checked, super::ProtocolError> {
    check_request(key, version, frame).map_err(|reason| {
        log_refused(peer, key, version, &reason);
        super::ProtocolError::Unbounded {
            key,
            version,
            reason,
        }
    })
}

#[cfg(test)]
mod tests;
