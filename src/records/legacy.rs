//! Kafka's legacy message sets, magic 0 and 1 (Kafka's `LegacyRecord` and
//! `AbstractLegacyRecordBatch`): the record format of Produce v0–2 and
//! Fetch v0–3. strom stores only record batches v2, so legacy sets are
//! converted at the protocol edge, as Kafka 3.5 converts them:
//! - [`up_convert`] (Produce v0–2, Kafka's `LogValidator`): a produced set
//!   becomes ONE record batch v2, which then takes the ordinary v2 append
//!   path (validation, offsets, `compression.type`);
//! - [`down_convert`] (Fetch v0–3, Kafka's `RecordsUtil.downConvert`): stored
//!   v2 batches become uncompressed messages of the magic the fetch version
//!   reads.
//!
//! One message: offset i64 | message size i32 | crc u32 | magic i8 |
//! attributes i8 | timestamp i64 (magic 1 only) | key (i32 length, -1 null) |
//! value (i32 length, -1 null). The CRC-32 (IEEE) covers magic to the end.
//! Attributes: bits 0–2 codec (gzip 1, snappy 2, lz4 3), bit 3 LogAppendTime
//! (magic 1). A compressed message (a "wrapper") holds a whole message set in
//! its value; the inner offsets are absolute in magic 0, and relative in
//! magic 1, where the wrapper's offset is the last inner message's absolute
//! offset.
//!
//! Invariants: every size read from the input is checked against the bytes
//! present before anything is allocated or sliced; the decompressed size of a
//! whole set is bounded ([`MAX_DECOMPRESSED_BATCH_BYTES`] altogether); a
//! wrapper inside a wrapper is refused (INVALID_RECORD), as Kafka refuses it;
//! every CRC, outer and inner, is checked. Nothing here panics on any input.
//!
//! Everything of the v2 side is `records/`'s own: [`BatchBuilder`] writes
//! the up-converted batch, [`records`] walks the stored ones, and every
//! decompression is [`Codec::decompress`] with its limit. What only legacy
//! sets need stays here: their CRC-32 (IEEE, `crc32fast`; v2 batches use
//! CRC-32C) and the XXH32 of magic 0's LZ4 frame descriptor
//! ([`lz4_fix_descriptor_checksum`]), which no other format needs.

use std::borrow::Cow;

use bytes::Bytes;

use super::batch::{COMPRESSION_CODEC_MASK, TIMESTAMP_TYPE_MASK};
use super::{
    records, records_section, BatchBuilder, BatchHeader, Codec, RecordsError, BATCH_HEADER_SIZE,
    LOG_OVERHEAD, MAX_DECOMPRESSED_BATCH_BYTES,
};

/// Magic of the Kafka 0.8–0.9 message format: no timestamps.
pub const MAGIC_V0: i8 = 0;
/// Magic of the Kafka 0.10 message format: a timestamp per message.
pub const MAGIC_V1: i8 = 1;
/// Where the magic byte of a set's first message (or batch) is: after
/// [`LOG_OVERHEAD`] (offset, size) and the CRC.
const MAGIC_POSITION: usize = LOG_OVERHEAD + 4;
/// A legacy message's attribute bits are v2's low byte: codec bits 0–2,
/// timestamp type bit 3 (magic 1).
const CODEC_MASK: u8 = COMPRESSION_CODEC_MASK as u8;
const LEGACY_TIMESTAMP_TYPE_MASK: u8 = TIMESTAMP_TYPE_MASK as u8;

/// The smallest message of `magic` (crc, magic, attributes, [timestamp],
/// key length, value length): Kafka's `RECORD_OVERHEAD_V0`/`_V1`.
pub const fn record_overhead(magic: i8) -> usize {
    if magic == MAGIC_V0 {
        14
    } else {
        22
    }
}

/// Why a legacy message set was refused or could not be converted; each
/// variant is one Kafka error code ([`LegacyError::kafka_error_code`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LegacyError {
    /// CORRUPT_MESSAGE (2): sizes, CRCs, truncation, undecompressable data.
    #[error("corrupt message set: {0}")]
    CorruptMessage(String),
    /// INVALID_RECORD (87): well-formed but not allowed (nested wrappers,
    /// mixed magics, empty wrappers).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// INVALID_TIMESTAMP (32): a producer set LogAppendTime.
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// UNSUPPORTED_COMPRESSION_TYPE (76): zstd, which magic 0 and 1 cannot carry.
    #[error("unsupported compression: {0}")]
    UnsupportedCompression(String),
}

impl LegacyError {
    /// The Kafka protocol error code of this error.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            LegacyError::CorruptMessage(_) => 2,
            LegacyError::InvalidRecord(_) => 87,
            LegacyError::InvalidTimestamp(_) => 32,
            LegacyError::UnsupportedCompression(_) => 76,
        }
    }
}

fn corrupt(what: impl Into<String>) -> LegacyError {
    LegacyError::CorruptMessage(what.into())
}

/// A v2 batch or codec error while converting: CORRUPT_MESSAGE.
fn corrupt_records(e: RecordsError) -> LegacyError {
    corrupt(e.to_string())
}

/// One message of a legacy set; inner messages of a wrapper carry their
/// absolute offsets and (LogAppendTime wrappers) the wrapper's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyMessage<'a> {
    /// Absolute offset, as the producer (or the log) wrote it.
    pub offset: i64,
    /// 0 or 1.
    pub magic: i8,
    /// The attributes byte (codec bits, timestamp type).
    pub attributes: u8,
    /// The timestamp (magic 1); -1 (Kafka's NO_TIMESTAMP) in magic 0.
    pub timestamp: i64,
    /// Key, or `None` for null.
    pub key: Option<&'a [u8]>,
    /// Value, or `None` for null.
    pub value: Option<&'a [u8]>,
}

impl LegacyMessage<'_> {
    fn codec_bits(&self) -> u8 {
        self.attributes & CODEC_MASK
    }

    /// Whether the timestamp is LogAppendTime (magic 1 only).
    pub fn is_log_append_time(&self) -> bool {
        self.magic == MAGIC_V1 && self.attributes & LEGACY_TIMESTAMP_TYPE_MASK != 0
    }
}

fn be_i32(buf: &[u8], pos: usize) -> Option<i32> {
    buf.get(pos..pos.checked_add(4)?)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_be_bytes)
}

fn be_i64(buf: &[u8], pos: usize) -> Option<i64> {
    buf.get(pos..pos.checked_add(8)?)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
}

/// A length-prefixed key or value at `pos` inside one message ending at `end`.
fn bytes_field<'a>(
    msg: &'a [u8],
    pos: &mut usize,
    end: usize,
) -> Result<Option<&'a [u8]>, LegacyError> {
    let len = be_i32(msg, *pos).ok_or_else(|| corrupt("truncated key or value length"))?;
    *pos += 4;
    if len == -1 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| corrupt(format!("invalid length {len}")))?;
    let field = pos
        .checked_add(len)
        .filter(|&e| e <= end)
        .and_then(|e| msg.get(*pos..e))
        .ok_or_else(|| corrupt(format!("key or value of {len} bytes overruns its message")))?;
    *pos += len;
    Ok(Some(field))
}

/// Parses the message at the front of `buf` (shallow: a wrapper's value is
/// not looked into); returns it and its size including [`LOG_OVERHEAD`].
pub fn parse_message(buf: &[u8]) -> Result<(LegacyMessage<'_>, usize), LegacyError> {
    let offset = be_i64(buf, 0).ok_or_else(|| corrupt("truncated message offset"))?;
    let size = be_i32(buf, 8).ok_or_else(|| corrupt("truncated message size"))?;
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s >= record_overhead(MAGIC_V0))
        .ok_or_else(|| {
            corrupt(format!(
                "message size {size} is less than the minimum record overhead ({})",
                record_overhead(MAGIC_V0)
            ))
        })?;
    let end = LOG_OVERHEAD + size;
    let msg = buf.get(..end).ok_or_else(|| {
        corrupt(format!(
            "message of {size} bytes at offset {offset} is truncated ({} bytes left)",
            buf.len().saturating_sub(LOG_OVERHEAD)
        ))
    })?;
    let magic = msg.get(MAGIC_POSITION).map_or(-1, |&m| m as i8);
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(corrupt(format!("message magic {magic} is not 0 or 1")));
    }
    if size < record_overhead(magic) {
        return Err(corrupt(format!(
            "message size {size} is less than the minimum record overhead ({}) of magic {magic}",
            record_overhead(magic)
        )));
    }
    let stored_crc = be_i32(msg, LOG_OVERHEAD).map_or(0, |c| c as u32);
    let crc = message_crc(msg);
    if crc != stored_crc {
        return Err(corrupt(format!(
            "message at offset {offset} is corrupt (stored crc = {stored_crc}, computed crc = {crc})"
        )));
    }
    let attributes = msg.get(MAGIC_POSITION + 1).copied().unwrap_or(0);
    let mut pos = MAGIC_POSITION + 2;
    let timestamp = if magic == MAGIC_V1 {
        let ts = be_i64(msg, pos).unwrap_or(-1);
        pos += 8;
        ts
    } else {
        -1
    };
    let key = bytes_field(msg, &mut pos, end)?;
    let value = bytes_field(msg, &mut pos, end)?;
    if pos != end {
        return Err(corrupt(format!(
            "message at offset {offset} has {} bytes after its value",
            end - pos
        )));
    }
    Ok((
        LegacyMessage {
            offset,
            magic,
            attributes,
            timestamp,
            key,
            value,
        },
        end,
    ))
}

/// The CRC-32 (IEEE) of the message at the front of `msg` (offset and size
/// first), as its crc field holds it: over magic to the end.
fn message_crc(msg: &[u8]) -> u32 {
    crc32fast::hash(msg.get(MAGIC_POSITION..).unwrap_or_default())
}

/// The codec of a wrapper's (non-zero) codec bits: zstd is
/// UNSUPPORTED_COMPRESSION_TYPE below magic 2, ids 5–7 CORRUPT_MESSAGE.
fn wrapper_codec(bits: u8) -> Result<Codec, LegacyError> {
    match Codec::from_id(i16::from(bits)).map_err(corrupt_records)? {
        Codec::Zstd => Err(LegacyError::UnsupportedCompression(
            "zstd needs message format v2 (magic 2)".into(),
        )),
        codec => Ok(codec),
    }
}

/// Kafka's `KafkaLZ4BlockOutputStream` before 0.10 computed the LZ4 frame
/// descriptor checksum over the frame magic too (KAFKA-3160), and Kafka
/// ignores that checksum in magic 0 (`ignoreFlagDescriptorChecksum`). The lz4
/// decoder checks it, so a magic-0 frame gets the correct one, on a copy.
fn lz4_fix_descriptor_checksum(data: &[u8]) -> Cow<'_, [u8]> {
    const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
    let Some(&flg) = data.get(4).filter(|_| data.starts_with(&LZ4_MAGIC)) else {
        return Cow::Borrowed(data);
    };
    // FLG, BD, then content size (FLG bit 3) and dictionary id (FLG bit 0).
    let descriptor = 2 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 };
    let hc_pos = 4 + descriptor;
    let (Some(desc), Some(&hc)) = (data.get(4..hc_pos), data.get(hc_pos)) else {
        return Cow::Borrowed(data);
    };
    let correct = (xxh32(desc, 0) >> 8) as u8;
    if hc == correct {
        return Cow::Borrowed(data);
    }
    let mut fixed = data.to_vec();
    if let Some(b) = fixed.get_mut(hc_pos) {
        *b = correct;
    }
    Cow::Owned(fixed)
}

/// XXH32 (xxHash's 32-bit hash), for [`lz4_fix_descriptor_checksum`] only:
/// the lz4 crate keeps its own private, `records/` has no other use for it,
/// so it is this small function rather than a dependency. Checked against
/// xxHash's reference values in the tests.
fn xxh32(input: &[u8], seed: u32) -> u32 {
    const P1: u32 = 2_654_435_761;
    const P2: u32 = 2_246_822_519;
    const P3: u32 = 3_266_489_917;
    const P4: u32 = 668_265_263;
    const P5: u32 = 374_761_393;
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let mut stripes = input.chunks_exact(16);
    let mut h = if input.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        for stripe in &mut stripes {
            for (lane, w) in v.iter_mut().zip(stripe.chunks_exact(4)) {
                *lane = lane
                    .wrapping_add(word(w).wrapping_mul(P2))
                    .rotate_left(13)
                    .wrapping_mul(P1);
            }
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(input.len() as u32);
    let mut words = stripes.remainder().chunks_exact(4);
    for w in &mut words {
        h = h
            .wrapping_add(word(w).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

/// Calls `f` for every message of the set `set` of magic `magic`, inner
/// messages of compressed wrappers in place of their wrapper; `budget` is the
/// number of decompressed bytes still allowed and shrinks as wrappers are
/// opened. Kafka's deep iteration, with its checks: every message has the
/// set's magic, an inner message is never compressed, a wrapper has a value
/// and at least one inner message.
pub fn for_each_message(
    set: &[u8],
    magic: i8,
    budget: &mut usize,
    mut f: impl FnMut(LegacyMessage<'_>) -> Result<(), LegacyError>,
) -> Result<(), LegacyError> {
    let mut pos = 0usize;
    while let Some(rest) = set.get(pos..).filter(|r| !r.is_empty()) {
        let (outer, size) = parse_message(rest)?;
        pos += size;
        if outer.magic != magic {
            return Err(LegacyError::InvalidRecord(format!(
                "message magic {} does not match the set's magic {magic}",
                outer.magic
            )));
        }
        if outer.codec_bits() == 0 {
            f(outer)?;
            continue;
        }
        let codec = wrapper_codec(outer.codec_bits())?;
        let value = outer.value.ok_or_else(|| {
            LegacyError::InvalidRecord("compressed wrapper message with a null value".into())
        })?;
        let value = if codec == Codec::Lz4 && magic == MAGIC_V0 {
            lz4_fix_descriptor_checksum(value)
        } else {
            Cow::Borrowed(value)
        };
        let inner = codec.decompress(&value, *budget).map_err(corrupt_records)?;
        *budget = budget.saturating_sub(inner.len());
        // Shallow-parse the inner set first: magic 1 needs the last inner
        // offset to make the others absolute. At most one entry per minimal
        // message, so the vector is bounded by the decompressed size.
        let mut messages =
            Vec::with_capacity(inner.len() / (LOG_OVERHEAD + record_overhead(magic)));
        let mut ipos = 0usize;
        while let Some(irest) = inner.get(ipos..).filter(|r| !r.is_empty()) {
            let (m, isize) = parse_message(irest)?;
            ipos += isize;
            if m.magic != magic {
                return Err(LegacyError::InvalidRecord(format!(
                    "compressed message magic {} does not match its wrapper's magic {magic}",
                    m.magic
                )));
            }
            if m.codec_bits() != 0 {
                return Err(LegacyError::InvalidRecord(
                    "Compressed outer record should not have an inner record with a compression attribute set".into(),
                ));
            }
            messages.push(m);
        }
        let Some(last) = messages.last().map(|m| m.offset) else {
            return Err(LegacyError::InvalidRecord(
                "compressed wrapper message with no inner messages".into(),
            ));
        };
        for mut m in messages {
            if magic == MAGIC_V1 {
                m.offset = outer.offset.saturating_sub(last).saturating_add(m.offset);
                if outer.is_log_append_time() {
                    m.timestamp = outer.timestamp;
                    m.attributes |= LEGACY_TIMESTAMP_TYPE_MASK;
                }
            }
            f(m)?;
        }
    }
    Ok(())
}

/// The codec of the last compressed message of the set (Kafka's source
/// codec for the whole set), from the headers only; errors are left to the
/// full parse.
fn source_codec(set: &[u8]) -> Codec {
    let mut codec = Codec::None;
    let mut pos = 0usize;
    while let (Some(size), Some(&attributes)) =
        (be_i32(set, pos + 8), set.get(pos + MAGIC_POSITION + 1))
    {
        if let Some(c) = Some(attributes & CODEC_MASK)
            .filter(|&bits| bits != 0)
            .and_then(|bits| wrapper_codec(bits).ok())
        {
            codec = c;
        }
        match usize::try_from(size)
            .ok()
            .and_then(|s| pos.checked_add(LOG_OVERHEAD + s))
        {
            Some(next) => pos = next,
            None => break,
        }
    }
    codec
}

/// Up-converts the legacy message set `set` of magic `magic` to one record
/// batch v2 (base offset 0, for the log to assign), as Kafka's
/// `LogValidator` does for a v0/v1 set: keys and values kept, timestamps
/// CreateTime (-1, NO_TIMESTAMP, for magic 0), compressed with the set's
/// codec (the last wrapper's; the topic's `compression.type` is applied
/// afterwards by the v2 path), no producer id. A producer's LogAppendTime is
/// INVALID_TIMESTAMP, as Kafka answers it.
///
/// A pure function of its input, never panicking: the entry point for a
/// fuzz target (arbitrary bytes, either magic).
pub fn convert(set: &[u8], magic: i8) -> Result<Bytes, LegacyError> {
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(corrupt(format!("message magic {magic} is not 0 or 1")));
    }
    if set.is_empty() {
        return Err(LegacyError::InvalidRecord("empty message set".into()));
    }
    let mut builder = BatchBuilder::with_capacity(source_codec(set), set.len());
    let mut budget = MAX_DECOMPRESSED_BATCH_BYTES;
    for_each_message(set, magic, &mut budget, |m| {
        if m.is_log_append_time() {
            return Err(LegacyError::InvalidTimestamp(
                "invalid timestamp type: producers must not set LogAppendTime".into(),
            ));
        }
        builder.append(m.timestamp, m.key, m.value, &[]);
        Ok(())
    })?;
    builder
        .finish()
        .map(Bytes::from)
        .map_err(|e| LegacyError::InvalidRecord(e.to_string()))
}

/// A Produce v0–2 partition's records as the v2 path takes them: a legacy
/// set (magic of its first message) up-converted by [`convert`]; `None` when
/// the records are already record batches v2 (Kafka does not check the
/// magic against the Produce version below v3) or empty.
pub fn up_convert(records: &[u8]) -> Result<Option<Bytes>, LegacyError> {
    if records.is_empty() {
        return Ok(None);
    }
    let magic = records
        .get(MAGIC_POSITION)
        .map(|&m| m as i8)
        .ok_or_else(|| {
            corrupt(format!(
                "message set of {} bytes is truncated",
                records.len()
            ))
        })?;
    if magic > MAGIC_V1 {
        return Ok(None);
    }
    convert(records, magic).map(Some)
}

/// Appends one uncompressed-or-wrapper message to `out` (CRC computed).
pub fn write_message(
    out: &mut Vec<u8>,
    magic: i8,
    offset: i64,
    attributes: u8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    let size = record_overhead(magic) + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
    out.reserve(LOG_OVERHEAD + size);
    let start = out.len();
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(size as i32).to_be_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(magic as u8);
    out.push(attributes);
    if magic == MAGIC_V1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let crc = out.get(start..).map_or(0, message_crc);
    if let Some(c) = out.get_mut(crc_at..crc_at + 4) {
        c.copy_from_slice(&crc.to_be_bytes());
    }
}

/// Down-converts stored record batches v2 (whole batches, as `Log::read`
/// returns them) to an uncompressed message set of `magic`, as Kafka's
/// `RecordsUtil.downConvert` does for Fetch v0–3: only records at or after
/// `fetch_offset`; control batches skipped; headers dropped (legacy messages
/// have none); LogAppendTime batches give their records the batch's max
/// timestamp (magic 1 marks it in the attributes). Whole messages only, at
/// most `max_bytes` of them, except that with `min_one` the first message is
/// returned whatever its size. A zstd batch is UNSUPPORTED_COMPRESSION_TYPE.
pub fn down_convert(
    stored: &[u8],
    magic: i8,
    fetch_offset: i64,
    max_bytes: usize,
    min_one: bool,
) -> Result<Bytes, LegacyError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    // A trailing partial batch (shorter than its header or its length) ends
    // the set, as it ends a v2 fetch; a malformed whole one is corrupt.
    while let Some(rest) = stored.get(pos..).filter(|r| r.len() >= BATCH_HEADER_SIZE) {
        let header = BatchHeader::parse(rest).map_err(corrupt_records)?;
        let Some(batch) = rest.get(..header.total_size()) else {
            break;
        };
        pos += batch.len();
        if header.is_control() || header.last_offset() < fetch_offset {
            continue;
        }
        if Codec::from_attributes(header.attributes).ok() == Some(Codec::Zstd) {
            return Err(LegacyError::UnsupportedCompression(format!(
                "zstd batch at offset {} cannot be read with message format v{magic}",
                header.base_offset
            )));
        }
        let attributes = if magic == MAGIC_V1 && header.is_log_append_time() {
            LEGACY_TIMESTAMP_TYPE_MASK
        } else {
            0
        };
        let section = records_of(batch, &header)?;
        for r in records(&section, header.record_count).map_err(corrupt_records)? {
            let r = r.map_err(corrupt_records)?;
            let offset = header.base_offset.saturating_add(i64::from(r.offset_delta));
            if offset < fetch_offset {
                continue;
            }
            let size = LOG_OVERHEAD
                + record_overhead(magic)
                + r.key.map_or(0, <[u8]>::len)
                + r.value.map_or(0, <[u8]>::len);
            if out.len() + size > max_bytes && !(min_one && out.is_empty()) {
                return Ok(Bytes::from(out));
            }
            let timestamp = header.record_timestamp(r.timestamp_delta);
            write_message(
                &mut out, magic, offset, attributes, timestamp, r.key, r.value,
            );
        }
    }
    Ok(Bytes::from(out))
}

/// The records section of the whole v2 batch `batch`, decompressed (within
/// [`MAX_DECOMPRESSED_BATCH_BYTES`]) when its codec is not none.
fn records_of<'a>(batch: &'a [u8], header: &BatchHeader) -> Result<Cow<'a, [u8]>, LegacyError> {
    let section = records_section(batch, header).map_err(corrupt_records)?;
    match Codec::from_attributes(header.attributes).map_err(corrupt_records)? {
        Codec::None => Ok(Cow::Borrowed(section)),
        codec => codec
            .decompress(section, MAX_DECOMPRESSED_BATCH_BYTES)
            .map(Cow::Owned)
            .map_err(corrupt_records),
    }
}

#[cfg(test)]
mod tests;
