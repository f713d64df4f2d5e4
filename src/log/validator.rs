//! Record-level validation of produced batches (Kafka's `LogValidator`), on
//! `crate::records` (records, codecs, builder).
//!
//! [`batch::validate_batches`] checks what the header and CRC say; this module
//! checks what only the records can tell, and converts a batch when the
//! topic's `compression.type` asks for another codec:
//! - every batch: no control batch from a client (INVALID_RECORD), a producer
//!   id comes with a sequence (INVALID_RECORD), no client-set LogAppendTime
//!   (INVALID_TIMESTAMP); on a compacted topic every record has a key
//!   (INVALID_RECORD with the indexes of the keyless ones);
//! - a compressed batch is decompressed once (at most
//!   [`MAX_DECOMPRESSED_BATCH_BYTES`]) and its records parsed: record count vs
//!   header, lengths and varints, headers; anything that does not parse is
//!   CORRUPT_MESSAGE. Inner offset deltas other than 0..n-1 are rewritten, as
//!   Kafka does for old clients, by re-encoding the batch;
//! - CreateTime timestamps are checked against
//!   `message.timestamp.difference.max.ms` (INVALID_TIMESTAMP), per record.
//!
//! Invariants: an uncompressed batch on a non-compacted `producer`/
//! `uncompressed` topic with the timestamp difference unchecked (the default)
//! is not looked at past its header — no per-record work on the hot path.
//! Each batch is decompressed at most once per append, here. A batch whose
//! codec already matches and whose records are valid is kept byte for byte
//! (never re-encoded). A converted batch keeps the header's base offset,
//! epoch, attributes other than the codec, base timestamp and producer
//! fields; its records are the producer's, with offset deltas 0..n-1, and
//! length, lastOffsetDelta, maxTimestamp and CRC are recomputed.

use bytes::BytesMut;

use super::batch::{BatchHeader, BatchInfo};
use super::config::{CompressionType, LogConfig, TimestampType};
use super::LogError;
use crate::records::{records, records_section, BatchBuilder, Codec, MAX_DECOMPRESSED_BATCH_BYTES};

/// The codec a batch produced with `producer` is stored with on a topic with
/// `compression.type` `topic`.
pub fn stored_codec(topic: CompressionType, producer: Codec) -> Codec {
    match topic {
        CompressionType::Producer => producer,
        CompressionType::Uncompressed => Codec::None,
        CompressionType::Gzip => Codec::Gzip,
        CompressionType::Snappy => Codec::Snappy,
        CompressionType::Lz4 => Codec::Lz4,
        CompressionType::Zstd => Codec::Zstd,
    }
}

/// What parsing a batch's records found.
struct Scan {
    /// Offset deltas are exactly 0..n-1.
    offsets_in_order: bool,
    /// Indexes of the records without a key (collected only when asked).
    keyless: Vec<i32>,
}

/// Parses exactly `header.record_count` records filling `section`; checks
/// timestamps against `ts_window` (now, max difference) when given.
fn scan_records(
    section: &[u8],
    header: &BatchHeader,
    ts_window: Option<(i64, i64)>,
    require_keys: bool,
) -> Result<Scan, LogError> {
    let mut iter = records(section, header.record_count)?;
    let mut offsets_in_order = true;
    let mut keyless = Vec::new();
    for (i, record) in iter.by_ref().enumerate() {
        let record = record?;
        if i64::from(record.offset_delta) != i as i64 {
            offsets_in_order = false;
        }
        if require_keys && record.key.is_none() {
            keyless.push(i32::try_from(i).unwrap_or(i32::MAX));
        }
        if let Some((now, max_diff)) = ts_window {
            let ts = header.base_timestamp.saturating_add(record.timestamp_delta);
            if ts != -1 && ts.saturating_sub(now).saturating_abs() > max_diff {
                return Err(LogError::InvalidTimestamp(format!(
                    "timestamp {ts} of the record at offset delta {} is out of range: it must be within [{}, {}]",
                    record.offset_delta,
                    now.saturating_sub(max_diff),
                    now.saturating_add(max_diff)
                )));
            }
        }
    }
    iter.finish()?;
    Ok(Scan {
        offsets_in_order,
        keyless,
    })
}

/// The batch of `header` with `section` (its decompressed records) stored
/// with `codec`, inner offset deltas 0..n-1 (as Kafka assigns them when it
/// re-encodes); header fields kept, length, lastOffsetDelta, maxTimestamp
/// and CRC recomputed.
fn rebuild(header: &BatchHeader, section: &[u8], codec: Codec) -> Result<Vec<u8>, LogError> {
    let mut b = BatchBuilder::like(header).with_codec(codec);
    for (i, record) in records(section, header.record_count)?.enumerate() {
        b.push_record(&record?, i32::try_from(i).unwrap_or(i32::MAX));
    }
    Ok(b.finish()?)
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
    let target = stored_codec(config.compression_type, source);
    let ts_window = (config.message_timestamp_type == TimestampType::CreateTime
        && config.message_timestamp_difference_max_ms < i64::MAX)
        .then_some((now_ms, config.message_timestamp_difference_max_ms));
    // Kafka's LogValidator: a compacted topic refuses records without a key.
    let require_keys = config.cleanup_compact;
    if source == Codec::None && target == Codec::None && ts_window.is_none() && !require_keys {
        return Ok(None);
    }
    let body = records_section(batch, &header)?;
    let decompressed;
    let section: &[u8] = if source == Codec::None {
        body
    } else {
        decompressed = source.decompress(body, MAX_DECOMPRESSED_BATCH_BYTES)?;
        &decompressed
    };
    let scan = scan_records(section, &header, ts_window, require_keys)?;
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
    rebuild(&header, section, target).map(Some)
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

    /// `records::testing::build_batch`'s batch with its records compressed by `codec`.
    pub fn compress_batch(uncompressed: &[u8], codec: Codec) -> Vec<u8> {
        let Ok(header) = BatchHeader::parse(uncompressed) else {
            return Vec::new();
        };
        let section = records_section(uncompressed, &header).unwrap_or(&[]);
        rebuild(&header, section, codec).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::compress_batch;
    use super::*;
    use crate::log::batch::{self, validate_batches, ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE};
    use crate::records::testing::{build_batch, simple_batch};
    use crate::records::varint::{read_varint, read_varlong};

    /// `original`'s header with codec `codec` and `payload` as its records
    /// section (compressed or not); length and CRC recomputed.
    fn with_payload(original: &[u8], codec: Codec, payload: &[u8]) -> Vec<u8> {
        let mut out = original[..BATCH_HEADER_SIZE].to_vec();
        out.extend_from_slice(payload);
        let attributes = (batch::get_i16(&out, ATTRIBUTES_OFFSET).unwrap() & !7) | codec.id();
        batch::put(&mut out, ATTRIBUTES_OFFSET, &attributes.to_be_bytes()).unwrap();
        let len = (out.len() - batch::LOG_OVERHEAD) as i32;
        batch::put(&mut out, batch::BATCH_LENGTH_OFFSET, &len.to_be_bytes()).unwrap();
        batch::update_crc(&mut out).unwrap();
        out
    }

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
        codec
            .decompress(&batch[BATCH_HEADER_SIZE..], usize::MAX)
            .unwrap()
    }

    #[test]
    fn compacted_topics_need_keys_in_one_pass() {
        let plain = build_batch(0, &[(1, Some(b"k"), Some(b"v")), (1, None, Some(b"v"))]);
        let cfg = LogConfig {
            cleanup_compact: true,
            ..LogConfig::default()
        };
        for b in [plain.clone(), compress_batch(&plain, Codec::Zstd)] {
            match validate_batch(&b, &cfg, 0) {
                Err(LogError::InvalidRecords { indexes, .. }) => assert_eq!(indexes, vec![1]),
                other => panic!("expected InvalidRecords, got {other:?}"),
            }
        }
        let keyed = build_batch(0, &[(1, Some(b"k"), None)]);
        assert!(validate_batch(&keyed, &cfg, 0).unwrap().is_none());
        // A bomb is refused at the cap before any key is looked at.
        let zeros = vec![0u8; MAX_DECOMPRESSED_BATCH_BYTES + 1];
        let bomb = with_payload(&keyed, Codec::Zstd, &Codec::Zstd.compress(&zeros).unwrap());
        assert!(matches!(
            validate_batch(&bomb, &cfg, 0),
            Err(LogError::CorruptMessage(_))
        ));
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
            let bad = with_payload(&good, codec, &payload[..payload.len() / 2]);
            assert!(validate_batches(&bad, i32::MAX).is_ok());
            let r = validate_batch(&bad, &config(CompressionType::Producer), 0);
            assert!(
                matches!(r, Err(LogError::CorruptMessage(_))),
                "{codec:?}: {r:?}"
            );
            // Garbage that is not the codec's format at all.
            let junk = with_payload(&good, codec, b"definitely not compressed data");
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
        let payload = Codec::Zstd.compress(&records).unwrap();
        let trailing = with_payload(&plain, Codec::Zstd, &payload);
        assert!(matches!(
            validate_batch(&trailing, &config(CompressionType::Producer), 0),
            Err(LogError::CorruptMessage(_))
        ));
        // Every truncation of the records fails cleanly.
        for cut in 0..records.len() - 3 {
            let payload = Codec::Lz4.compress(&records[..cut]).unwrap();
            let b = with_payload(&plain, Codec::Lz4, &payload);
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
        let payload = Codec::Gzip.compress(&records).unwrap();
        let b = with_payload(&plain, Codec::Gzip, &payload);
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
