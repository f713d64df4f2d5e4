//! Record-level validation of produced batches (Kafka's `LogValidator`) and
//! the four compression codecs.
//!
//! [`batch::validate_batches`] checks what the header and CRC say; this module
//! checks what only the records can tell, and converts a batch when the
//! topic's `compression.type` asks for another codec:
//! - every batch: no control batch from a client (INVALID_RECORD), a producer
//!   id comes with a sequence (INVALID_RECORD), no client-set LogAppendTime
//!   (INVALID_TIMESTAMP);
//! - a compressed batch is decompressed once (at most
//!   [`MAX_DECOMPRESSED_BATCH_BYTES`]) and its records parsed: record count vs
//!   header, lengths and varints, headers; anything that does not parse is
//!   CORRUPT_MESSAGE. Inner offset deltas other than 0..n-1 are rewritten, as
//!   Kafka does for old clients, by re-encoding the batch;
//! - CreateTime timestamps are checked against
//!   `message.timestamp.difference.max.ms` (INVALID_TIMESTAMP), per record.
//!
//! Invariants: an uncompressed batch on a `producer`/`uncompressed` topic with
//! the timestamp difference unchecked (the default) is not looked at past its
//! header — no per-record work on the hot path. A batch whose codec already
//! matches and whose records are valid is kept byte for byte (never
//! re-encoded). A converted batch keeps every header field except the codec
//! bits, the length and the CRC; its records are the producer's records.

use std::borrow::Cow;
use std::io::{Read, Write};

use bytes::BytesMut;

use super::batch::{
    self, BatchHeader, BatchInfo, ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET,
    COMPRESSION_CODEC_MASK, CRC_OFFSET, LOG_OVERHEAD,
};
use super::config::{CompressionType, LogConfig, TimestampType};
use super::LogError;

/// Largest decompressed size of one batch's records. Kafka streams records
/// out of the decompressor; strom decompresses a batch whole, so a bound keeps
/// a small "compression bomb" from exhausting memory. Beyond it: CORRUPT_MESSAGE.
/// 64 MiB is 64 times the default `max.message.bytes`, and every decompression
/// in the broker (produce validation, the cleaner, the offsets loader) uses it.
pub const MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 << 20;

/// xerial snappy-java's stream header: magic, version 1, compatible version 1.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
/// snappy-java's default block size, which Kafka's producer and broker use.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// Kafka's default zstd level (ZSTD_CLEVEL_DEFAULT).
const ZSTD_LEVEL: i32 = 3;

/// A record batch compression codec (attribute bits 0–2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    /// The codec of a batch's attributes; ids 5–7 are CORRUPT_MESSAGE.
    pub fn from_attributes(attributes: i16) -> Result<Codec, LogError> {
        Ok(match attributes & COMPRESSION_CODEC_MASK {
            0 => Codec::None,
            1 => Codec::Gzip,
            2 => Codec::Snappy,
            3 => Codec::Lz4,
            4 => Codec::Zstd,
            other => {
                return Err(LogError::CorruptMessage(format!(
                    "unknown compression codec id {other}"
                )))
            }
        })
    }

    /// The attribute bits of this codec.
    pub fn id(self) -> i16 {
        match self {
            Codec::None => 0,
            Codec::Gzip => 1,
            Codec::Snappy => 2,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }

    /// The codec a batch produced with `producer` is stored with on a topic
    /// with `compression.type` `topic`.
    pub fn for_topic(topic: CompressionType, producer: Codec) -> Codec {
        match topic {
            CompressionType::Producer => producer,
            CompressionType::Uncompressed => Codec::None,
            CompressionType::Gzip => Codec::Gzip,
            CompressionType::Snappy => Codec::Snappy,
            CompressionType::Lz4 => Codec::Lz4,
            CompressionType::Zstd => Codec::Zstd,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

fn corrupt(codec: Codec, e: impl std::fmt::Display) -> LogError {
    LogError::CorruptMessage(format!("cannot decompress {} records: {e}", codec.name()))
}

fn too_large(codec: Codec, limit: usize) -> LogError {
    LogError::CorruptMessage(format!(
        "{} records decompress to more than {limit} bytes",
        codec.name()
    ))
}

fn read_limited(codec: Codec, reader: impl Read, limit: usize) -> Result<Vec<u8>, LogError> {
    let mut out = Vec::new();
    reader
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit {
        return Err(too_large(codec, limit));
    }
    Ok(out)
}

fn snappy_block(
    codec: Codec,
    block: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), LogError> {
    let n = snap::raw::decompress_len(block).map_err(|e| corrupt(codec, e))?;
    let start = out.len();
    if start.saturating_add(n) > limit {
        return Err(too_large(codec, limit));
    }
    out.resize(start + n, 0);
    let dst = out.get_mut(start..).unwrap_or(&mut []);
    let written = snap::raw::Decoder::new()
        .decompress(block, dst)
        .map_err(|e| corrupt(codec, e))?;
    out.truncate(start + written);
    Ok(())
}

/// Decompresses a batch's records (everything after the 61-byte header).
/// Snappy accepts both raw blocks (librdkafka) and xerial framing (Java).
pub fn decompress(codec: Codec, data: &[u8], limit: usize) -> Result<Vec<u8>, LogError> {
    match codec {
        Codec::None => {
            if data.len() > limit {
                return Err(too_large(codec, limit));
            }
            Ok(data.to_vec())
        }
        Codec::Gzip => read_limited(codec, flate2::read::MultiGzDecoder::new(data), limit),
        Codec::Snappy => {
            let mut out = Vec::new();
            if data.len() >= XERIAL_HEADER.len() && data.starts_with(XERIAL_MAGIC) {
                let mut pos = XERIAL_HEADER.len();
                while pos < data.len() {
                    let len = batch::get_u32(data, pos)
                        .map_err(|_| corrupt(codec, "truncated xerial block length"))?
                        as usize;
                    pos += 4;
                    let block = data
                        .get(pos..pos.saturating_add(len))
                        .ok_or_else(|| corrupt(codec, "truncated xerial block"))?;
                    snappy_block(codec, block, &mut out, limit)?;
                    pos += len;
                }
            } else {
                snappy_block(codec, data, &mut out, limit)?;
            }
            Ok(out)
        }
        Codec::Lz4 => {
            let decoder = lz4::Decoder::new(data).map_err(|e| corrupt(codec, e))?;
            read_limited(codec, decoder, limit)
        }
        Codec::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt(codec, e))?;
            read_limited(codec, decoder, limit)
        }
    }
}

fn compress_err(codec: Codec, e: impl std::fmt::Display) -> LogError {
    LogError::InvalidRecord(format!(
        "cannot compress records with {}: {e}",
        codec.name()
    ))
}

/// Compresses records the way Kafka's broker does: gzip at the default
/// level, xerial-framed snappy in 32 KiB blocks, an LZ4 frame of independent
/// 64 KiB blocks without content checksum, zstd level 3.
pub fn compress(codec: Codec, data: &[u8]) -> Result<Vec<u8>, LogError> {
    match codec {
        Codec::None => Ok(data.to_vec()),
        Codec::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::default(),
            );
            enc.write_all(data).map_err(|e| compress_err(codec, e))?;
            enc.finish().map_err(|e| compress_err(codec, e))
        }
        Codec::Snappy => {
            let mut out = Vec::with_capacity(data.len() / 2 + 64);
            out.extend_from_slice(XERIAL_HEADER);
            let mut enc = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK_SIZE) {
                let block = enc
                    .compress_vec(chunk)
                    .map_err(|e| compress_err(codec, e))?;
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Codec::Lz4 => {
            let mut enc = lz4::EncoderBuilder::new()
                .block_size(lz4::BlockSize::Max64KB)
                .block_mode(lz4::BlockMode::Independent)
                .checksum(lz4::ContentChecksum::NoChecksum)
                .build(Vec::with_capacity(data.len() / 2 + 64))
                .map_err(|e| compress_err(codec, e))?;
            enc.write_all(data).map_err(|e| compress_err(codec, e))?;
            let (out, res) = enc.finish();
            res.map_err(|e| compress_err(codec, e))?;
            Ok(out)
        }
        Codec::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL).map_err(|e| compress_err(codec, e)),
    }
}

/// Reads a zigzag varint (up to 64 bits).
fn read_varlong(buf: &[u8], pos: &mut usize) -> Result<i64, LogError> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| LogError::CorruptMessage("record varint truncated".into()))?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err(LogError::CorruptMessage("record varint too long".into()));
        }
    }
    Ok(((value >> 1) as i64) ^ -((value & 1) as i64))
}

/// Reads a zigzag varint that must fit an int32.
fn read_varint(buf: &[u8], pos: &mut usize) -> Result<i32, LogError> {
    let v = read_varlong(buf, pos)?;
    i32::try_from(v)
        .map_err(|_| LogError::CorruptMessage(format!("record varint {v} overflows int32")))
}

fn write_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Skips a length-prefixed byte field (`-1` = null when `nullable`).
fn skip_bytes(
    buf: &[u8],
    pos: &mut usize,
    end: usize,
    nullable: bool,
    what: &str,
) -> Result<(), LogError> {
    let len = read_varint(buf, pos)?;
    if len < 0 {
        if nullable && len == -1 {
            return Ok(());
        }
        return Err(LogError::CorruptMessage(format!(
            "invalid {what} length {len}"
        )));
    }
    let next = pos.saturating_add(len as usize);
    if next > end {
        return Err(LogError::CorruptMessage(format!(
            "{what} of {len} bytes runs past its record"
        )));
    }
    *pos = next;
    Ok(())
}

/// A record's position: `body` starts after the length varint, `tail` after
/// the offset delta, `end` is one past its last byte.
#[derive(Clone, Copy, Debug)]
struct RecordSpan {
    body: usize,
    tail: usize,
    end: usize,
}

/// What parsing a batch's records found.
struct Scan {
    /// Offset deltas are exactly 0..n-1.
    offsets_in_order: bool,
    /// Indexes of the records without a key (collected only when asked).
    keyless: Vec<i32>,
    /// Kept only when asked (for re-encoding).
    spans: Vec<RecordSpan>,
}

/// Parses exactly `header.record_count` records filling `records`; checks
/// timestamps against `ts_window` (now, max difference) when given.
fn scan_records(
    records: &[u8],
    header: &BatchHeader,
    ts_window: Option<(i64, i64)>,
    keep_spans: bool,
    require_keys: bool,
) -> Result<Scan, LogError> {
    let count = header.record_count.max(0) as usize;
    let mut spans = Vec::with_capacity(if keep_spans { count.min(1 << 16) } else { 0 });
    let mut offsets_in_order = true;
    let mut keyless = Vec::new();
    let mut pos = 0usize;
    for i in 0..count {
        if pos >= records.len() {
            return Err(LogError::CorruptMessage(format!(
                "batch declares {count} records but its data ends after {i}"
            )));
        }
        let len = read_varint(records, &mut pos)?;
        if len < 0 {
            return Err(LogError::CorruptMessage(format!(
                "negative record length {len}"
            )));
        }
        let body = pos;
        let end = body.saturating_add(len as usize);
        if end > records.len() {
            return Err(LogError::CorruptMessage(format!(
                "record {i} of {len} bytes runs past the end of the batch"
            )));
        }
        let rec = records.get(..end).unwrap_or(&[]);
        pos += 1; // attributes
        let ts_delta = read_varlong(rec, &mut pos)?;
        let offset_delta = read_varint(rec, &mut pos)?;
        let tail = pos;
        if require_keys {
            let mut p = tail;
            if read_varint(rec, &mut p)? < 0 {
                keyless.push(i32::try_from(i).unwrap_or(i32::MAX));
            }
        }
        skip_bytes(rec, &mut pos, end, true, "key")?;
        skip_bytes(rec, &mut pos, end, true, "value")?;
        let headers = read_varint(rec, &mut pos)?;
        if headers < 0 {
            return Err(LogError::CorruptMessage(format!(
                "invalid number of record headers {headers}"
            )));
        }
        for _ in 0..headers {
            skip_bytes(rec, &mut pos, end, false, "header key")?;
            skip_bytes(rec, &mut pos, end, true, "header value")?;
        }
        if pos != end {
            return Err(LogError::CorruptMessage(format!(
                "record {i}: expected to read {len} bytes, read {}",
                pos.saturating_sub(body)
            )));
        }
        if i64::from(offset_delta) != i as i64 {
            offsets_in_order = false;
        }
        if let Some((now, max_diff)) = ts_window {
            let ts = header.base_timestamp.saturating_add(ts_delta);
            if ts != -1 && ts.saturating_sub(now).saturating_abs() > max_diff {
                return Err(LogError::InvalidTimestamp(format!(
                    "timestamp {ts} of the record at offset delta {offset_delta} is out of range: it must be within [{}, {}]",
                    now.saturating_sub(max_diff),
                    now.saturating_add(max_diff)
                )));
            }
        }
        if keep_spans {
            spans.push(RecordSpan { body, tail, end });
        }
    }
    if pos != records.len() {
        return Err(LogError::CorruptMessage(format!(
            "{} bytes after the batch's {count} declared records",
            records.len() - pos
        )));
    }
    Ok(Scan {
        offsets_in_order,
        keyless,
        spans,
    })
}

/// Records with offset deltas rewritten to 0..n-1 (everything else kept).
fn renumber(records: &[u8], spans: &[RecordSpan]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() + spans.len() * 2);
    let mut body = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        body.clear();
        // attributes and timestamp delta are kept as they were.
        let mut p = s.body + 1;
        let _ = read_varlong(records, &mut p);
        body.extend_from_slice(records.get(s.body..p).unwrap_or(&[]));
        write_varlong(&mut body, i as i64);
        body.extend_from_slice(records.get(s.tail..s.end).unwrap_or(&[]));
        write_varlong(&mut out, body.len() as i64);
        out.extend_from_slice(&body);
    }
    out
}

/// A batch with `original`'s header, codec `codec` and `payload` as its
/// (already compressed) records; length and CRC recomputed.
fn rebuild_batch(original: &[u8], codec: Codec, payload: &[u8]) -> Result<Vec<u8>, LogError> {
    let header = original
        .get(..BATCH_HEADER_SIZE)
        .ok_or_else(|| LogError::CorruptMessage("record batch header truncated".into()))?;
    let batch_length = i32::try_from(BATCH_HEADER_SIZE - LOG_OVERHEAD + payload.len())
        .map_err(|_| LogError::InvalidRecord("converted record batch exceeds 2 GiB".into()))?;
    let mut out = Vec::with_capacity(BATCH_HEADER_SIZE + payload.len());
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    let attributes = batch::get_i16(&out, ATTRIBUTES_OFFSET)?;
    let attributes = (attributes & !COMPRESSION_CODEC_MASK) | codec.id();
    if let Some(dst) = out.get_mut(ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2) {
        dst.copy_from_slice(&attributes.to_be_bytes());
    }
    if let Some(dst) = out.get_mut(BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4) {
        dst.copy_from_slice(&batch_length.to_be_bytes());
    }
    let crc = batch::compute_crc(&out);
    if let Some(dst) = out.get_mut(CRC_OFFSET..CRC_OFFSET + 4) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(out)
}

/// Validates one whole batch (already checked by [`batch::validate_batches`]);
/// `Some(bytes)` when it has to be stored converted.
pub fn validate_batch(
    batch: &[u8],
    config: &LogConfig,
    now_ms: i64,
) -> Result<Option<Vec<u8>>, LogError> {
    let header = BatchHeader::parse(batch)?;
    if header.is_control() {
        return Err(LogError::InvalidRecord(
            "clients are not allowed to write control records".into(),
        ));
    }
    if header.producer_id >= 0 && header.base_sequence < 0 {
        return Err(LogError::InvalidRecord(format!(
            "invalid sequence number {} for producer {}",
            header.base_sequence, header.producer_id
        )));
    }
    if header.is_log_append_time() && header.record_count > 0 {
        return Err(LogError::InvalidTimestamp(
            "invalid timestamp type: producers must not set LogAppendTime".into(),
        ));
    }
    let source = Codec::from_attributes(header.attributes)?;
    let target = Codec::for_topic(config.compression_type, source);
    let ts_window = (config.message_timestamp_type == TimestampType::CreateTime
        && config.message_timestamp_difference_max_ms < i64::MAX)
        .then_some((now_ms, config.message_timestamp_difference_max_ms));
    // Kafka's LogValidator: a compacted topic refuses records without a key.
    let require_keys = config.cleanup_compact;
    if source == Codec::None && target == Codec::None && ts_window.is_none() && !require_keys {
        return Ok(None);
    }
    let body = batch.get(BATCH_HEADER_SIZE..).unwrap_or(&[]);
    let decompressed;
    let records: &[u8] = if source == Codec::None {
        body
    } else {
        decompressed = decompress(source, body, MAX_DECOMPRESSED_BATCH_BYTES)?;
        &decompressed
    };
    let scan = scan_records(records, &header, ts_window, true, require_keys)?;
    if !scan.keyless.is_empty() {
        return Err(LogError::InvalidRecords {
            message: "Compacted topic cannot accept message without key.".into(),
            indexes: scan.keyless,
        });
    }
    // Kafka keeps an uncompressed batch's inner offset deltas as they are and
    // re-assigns them only when it re-encodes a compressed batch.
    let renumber_needed = source != Codec::None && !scan.offsets_in_order;
    if source == target && !renumber_needed {
        return Ok(None);
    }
    let records: Cow<'_, [u8]> = if renumber_needed {
        Cow::Owned(renumber(records, &scan.spans))
    } else {
        Cow::Borrowed(records)
    };
    let payload = compress(target, &records)?;
    rebuild_batch(batch, target, &payload).map(Some)
}

/// Validates the records of every batch of a produce buffer (see the module
/// docs). `Some(buffer)` replaces the whole buffer when a batch was converted.
pub fn validate_records(
    buf: &[u8],
    infos: &[BatchInfo],
    config: &LogConfig,
    now_ms: i64,
) -> Result<Option<BytesMut>, LogError> {
    let mut converted: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, info) in infos.iter().enumerate() {
        let bytes = buf
            .get(info.position..info.position + info.size)
            .ok_or_else(|| LogError::CorruptMessage("record batch truncated".into()))?;
        if let Some(new) = validate_batch(bytes, config, now_ms)? {
            converted.push((i, new));
        }
    }
    if converted.is_empty() {
        return Ok(None);
    }
    let size: usize = infos.iter().map(|b| b.size).sum::<usize>()
        + converted.iter().map(|(_, b)| b.len()).sum::<usize>();
    let mut out = BytesMut::with_capacity(size);
    let mut next = converted.iter().peekable();
    for (i, info) in infos.iter().enumerate() {
        match next.peek() {
            Some((j, new)) if *j == i => {
                out.extend_from_slice(new);
                next.next();
            }
            _ => out.extend_from_slice(
                buf.get(info.position..info.position + info.size)
                    .unwrap_or(&[]),
            ),
        }
    }
    Ok(Some(out))
}

/// Builders of compressed batches for tests.
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// `batch::testing::build_batch`'s batch with its records compressed by `codec`.
    pub fn compress_batch(uncompressed: &[u8], codec: Codec) -> Vec<u8> {
        let records = uncompressed.get(BATCH_HEADER_SIZE..).unwrap_or(&[]);
        let payload = compress(codec, records).unwrap_or_default();
        rebuild_batch(uncompressed, codec, &payload).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::compress_batch;
    use super::*;
    use crate::log::batch::testing::{build_batch, simple_batch};
    use crate::log::batch::validate_batches;

    const CODECS: [Codec; 4] = [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd];

    fn config(ct: CompressionType) -> LogConfig {
        LogConfig {
            compression_type: ct,
            ..LogConfig::default()
        }
    }

    fn records_of(batch: &[u8]) -> Vec<u8> {
        let h = BatchHeader::parse(batch).unwrap();
        let codec = Codec::from_attributes(h.attributes).unwrap();
        decompress(codec, &batch[BATCH_HEADER_SIZE..], usize::MAX).unwrap()
    }

    #[test]
    fn codecs_round_trip() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in CODECS {
            let c = compress(codec, &data).unwrap();
            assert!(c.len() < data.len(), "{codec:?}");
            assert_eq!(
                decompress(codec, &c, usize::MAX).unwrap(),
                data,
                "{codec:?}"
            );
            assert!(matches!(
                decompress(codec, &c, 1000),
                Err(LogError::CorruptMessage(_))
            ));
        }
    }

    #[test]
    fn raw_snappy_is_accepted() {
        let data =
            b"raw snappy as librdkafka sends it, raw snappy as librdkafka sends it".repeat(20);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Codec::Snappy, &raw, usize::MAX).unwrap(), data);
    }

    #[test]
    fn compressed_batches_are_kept_as_they_are() {
        let plain = simple_batch(10, 1_000);
        for codec in CODECS {
            let b = compress_batch(&plain, codec);
            assert_eq!(validate_batches(&b, i32::MAX).unwrap().len(), 1);
            let out = validate_batch(&b, &config(CompressionType::Producer), 0).unwrap();
            assert!(out.is_none(), "{codec:?} was re-encoded");
            let out = validate_batch(&b, &config(Codec::for_topic_type(codec)), 0).unwrap();
            assert!(out.is_none(), "{codec:?} was re-encoded for its own codec");
        }
        // Uncompressed on a producer topic: nothing looked at.
        assert!(
            validate_batch(&plain, &config(CompressionType::Producer), 0)
                .unwrap()
                .is_none()
        );
    }

    impl Codec {
        fn for_topic_type(self) -> CompressionType {
            match self {
                Codec::None => CompressionType::Uncompressed,
                Codec::Gzip => CompressionType::Gzip,
                Codec::Snappy => CompressionType::Snappy,
                Codec::Lz4 => CompressionType::Lz4,
                Codec::Zstd => CompressionType::Zstd,
            }
        }
    }

    #[test]
    fn topic_codec_converts_batches() {
        let plain = simple_batch(50, 1_000);
        let sources = [
            Codec::None,
            Codec::Gzip,
            Codec::Snappy,
            Codec::Lz4,
            Codec::Zstd,
        ];
        for source in sources {
            let b = if source == Codec::None {
                plain.clone()
            } else {
                compress_batch(&plain, source)
            };
            for target in sources {
                let out = validate_batch(&b, &config(target.for_topic_type()), 0).unwrap();
                let stored = match out {
                    Some(new) => {
                        assert_ne!(source, target);
                        new
                    }
                    None => {
                        assert_eq!(source, target);
                        b.clone()
                    }
                };
                let h = batch::validate_batch(&stored).unwrap();
                assert_eq!(Codec::from_attributes(h.attributes).unwrap(), target);
                assert_eq!(h.record_count, 50);
                assert_eq!(h.max_timestamp, 1_000);
                assert_eq!(records_of(&stored), &plain[BATCH_HEADER_SIZE..]);
            }
        }
    }

    #[test]
    fn corrupt_inner_data_with_valid_crc_is_corrupt_message() {
        let plain = simple_batch(20, 1_000);
        for codec in CODECS {
            let good = compress_batch(&plain, codec);
            // Cut the compressed data short, with a CRC matching the cut batch.
            let payload = &good[BATCH_HEADER_SIZE..];
            let bad = rebuild_batch(&good, codec, &payload[..payload.len() / 2]).unwrap();
            assert!(validate_batches(&bad, i32::MAX).is_ok());
            let r = validate_batch(&bad, &config(CompressionType::Producer), 0);
            assert!(
                matches!(r, Err(LogError::CorruptMessage(_))),
                "{codec:?}: {r:?}"
            );
            // Garbage that is not the codec's format at all.
            let junk = rebuild_batch(&good, codec, b"definitely not compressed data").unwrap();
            let r = validate_batch(&junk, &config(CompressionType::Producer), 0);
            assert!(
                matches!(r, Err(LogError::CorruptMessage(_))),
                "{codec:?}: {r:?}"
            );
        }
    }

    #[test]
    fn record_count_and_structure_are_checked() {
        let plain = simple_batch(5, 1_000);
        // Header claims 6 records (and lastOffsetDelta 5) but 5 are inside.
        let mut lie = plain.clone();
        lie[batch::RECORD_COUNT_OFFSET..batch::RECORD_COUNT_OFFSET + 4]
            .copy_from_slice(&6i32.to_be_bytes());
        lie[batch::LAST_OFFSET_DELTA_OFFSET..batch::LAST_OFFSET_DELTA_OFFSET + 4]
            .copy_from_slice(&5i32.to_be_bytes());
        let lie = compress_batch(&lie, Codec::Gzip);
        assert!(matches!(
            validate_batch(&lie, &config(CompressionType::Producer), 0),
            Err(LogError::CorruptMessage(_))
        ));
        // Trailing garbage after the records.
        let mut records = plain[BATCH_HEADER_SIZE..].to_vec();
        records.extend_from_slice(&[1, 2, 3]);
        let payload = compress(Codec::Zstd, &records).unwrap();
        let trailing = rebuild_batch(&plain, Codec::Zstd, &payload).unwrap();
        assert!(matches!(
            validate_batch(&trailing, &config(CompressionType::Producer), 0),
            Err(LogError::CorruptMessage(_))
        ));
        // Every truncation of the records fails cleanly.
        for cut in 0..records.len() - 3 {
            let payload = compress(Codec::Lz4, &records[..cut]).unwrap();
            let b = rebuild_batch(&plain, Codec::Lz4, &payload).unwrap();
            assert!(validate_batch(&b, &config(CompressionType::Producer), 0).is_err());
        }
    }

    #[test]
    fn wrong_inner_offsets_are_renumbered() {
        let recs: Vec<_> = (0..4)
            .map(|i| (1_000 + i, None, Some(&b"abc"[..])))
            .collect();
        let plain = build_batch(0, &recs);
        // Rewrite offset deltas to 0, 2, 4, 6 (all one-byte varints).
        let mut records = plain[BATCH_HEADER_SIZE..].to_vec();
        let mut pos = 0;
        let mut i = 0;
        while pos < records.len() {
            let mut p = pos;
            let len = read_varint(&records, &mut p).unwrap() as usize;
            let body = p;
            p += 1;
            read_varlong(&records, &mut p).unwrap();
            records[p] = ((2 * i as i64) << 1) as u8;
            i += 1;
            pos = body + len;
        }
        let payload = compress(Codec::Gzip, &records).unwrap();
        let b = rebuild_batch(&plain, Codec::Gzip, &payload).unwrap();
        let fixed = validate_batch(&b, &config(CompressionType::Producer), 0)
            .unwrap()
            .expect("renumbered");
        assert_eq!(records_of(&fixed), &plain[BATCH_HEADER_SIZE..]);
        assert_eq!(
            Codec::from_attributes(BatchHeader::parse(&fixed).unwrap().attributes).unwrap(),
            Codec::Gzip
        );
    }

    #[test]
    fn control_batches_sequences_and_log_append_time_are_refused() {
        let plain = simple_batch(2, 1_000);
        let set_attr = |b: &[u8], bits: i16| {
            let mut b = b.to_vec();
            let a = batch::get_i16(&b, ATTRIBUTES_OFFSET).unwrap() | bits;
            b[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&a.to_be_bytes());
            b
        };
        let cfg = config(CompressionType::Producer);
        assert!(matches!(
            validate_batch(&set_attr(&plain, batch::CONTROL_FLAG_MASK), &cfg, 0),
            Err(LogError::InvalidRecord(_))
        ));
        assert!(matches!(
            validate_batch(&set_attr(&plain, batch::TIMESTAMP_TYPE_MASK), &cfg, 0),
            Err(LogError::InvalidTimestamp(_))
        ));
        let mut pid = plain.clone();
        pid[batch::PRODUCER_ID_OFFSET..batch::PRODUCER_ID_OFFSET + 8]
            .copy_from_slice(&7i64.to_be_bytes());
        assert!(matches!(
            validate_batch(&pid, &cfg, 0),
            Err(LogError::InvalidRecord(_))
        ));
    }

    #[test]
    fn timestamp_difference_is_checked_per_record() {
        let recs = [
            (10_000, None, Some(&b"a"[..])),
            (2_000, None, Some(&b"b"[..])),
        ];
        let plain = build_batch(0, &recs);
        let mut cfg = config(CompressionType::Producer);
        cfg.message_timestamp_difference_max_ms = 5_000;
        // now = 10 000: the second record is 8 s off.
        for b in [plain.clone(), compress_batch(&plain, Codec::Zstd)] {
            assert!(matches!(
                validate_batch(&b, &cfg, 10_000),
                Err(LogError::InvalidTimestamp(_))
            ));
            assert!(validate_batch(&b, &cfg, 6_000).unwrap().is_none());
        }
        cfg.message_timestamp_type = TimestampType::LogAppendTime;
        assert!(validate_batch(&plain, &cfg, 100_000).unwrap().is_none());
    }

    #[test]
    fn validate_records_replaces_only_converted_batches() {
        let a = simple_batch(3, 1);
        let b = compress_batch(&simple_batch(4, 2), Codec::Snappy);
        let mut buf = a.clone();
        buf.extend_from_slice(&b);
        let infos = validate_batches(&buf, i32::MAX).unwrap();
        assert!(
            validate_records(&buf, &infos, &config(CompressionType::Producer), 0)
                .unwrap()
                .is_none()
        );
        let out = validate_records(&buf, &infos, &config(CompressionType::Zstd), 0)
            .unwrap()
            .unwrap();
        let infos = validate_batches(&out, i32::MAX).unwrap();
        assert_eq!(infos.len(), 2);
        for i in infos {
            let h = BatchHeader::parse(&out[i.position..]).unwrap();
            assert_eq!(Codec::from_attributes(h.attributes).unwrap(), Codec::Zstd);
        }
    }
}
