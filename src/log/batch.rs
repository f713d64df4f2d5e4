//! Record batch v2: a cheap view of the 61-byte header, validation of produced
//! batches, and the in-place patches the log applies when it assigns offsets.
//!
//! Invariants: nothing here decodes records on the append or read path (the
//! only record-level parsing is [`find_record_at_or_after`], used by
//! ListOffsets by timestamp); every access to input bytes is bounds-checked
//! and failures are [`LogError`]s, never panics.

use super::LogError;

/// Size of the v2 batch header, from baseOffset through recordCount.
pub const BATCH_HEADER_SIZE: usize = 61;
/// baseOffset (8) + batchLength (4): the bytes not counted by batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// The only record batch format strom stores.
pub const MAGIC_V2: i8 = 2;

/// Byte offsets of the header fields.
pub const BASE_OFFSET_OFFSET: usize = 0;
pub const BATCH_LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
/// The CRC-32C covers everything from here (attributes) to the end of the batch.
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PRODUCER_ID_OFFSET: usize = 43;
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
pub const BASE_SEQUENCE_OFFSET: usize = 53;
pub const RECORD_COUNT_OFFSET: usize = 57;

/// Attribute bits.
pub const COMPRESSION_CODEC_MASK: i16 = 0x07;
pub const TIMESTAMP_TYPE_MASK: i16 = 0x08;
pub const TRANSACTIONAL_FLAG_MASK: i16 = 0x10;
pub const CONTROL_FLAG_MASK: i16 = 0x20;

/// Smallest legal batchLength: a header with no records.
const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32;

fn get_array<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], LogError> {
    buf.get(at..at + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| {
            LogError::CorruptMessage(format!(
                "record batch truncated: need {} bytes at {at}, have {}",
                N,
                buf.len()
            ))
        })
}

pub(crate) fn get_i64(buf: &[u8], at: usize) -> Result<i64, LogError> {
    get_array::<8>(buf, at).map(i64::from_be_bytes)
}
pub(crate) fn get_i32(buf: &[u8], at: usize) -> Result<i32, LogError> {
    get_array::<4>(buf, at).map(i32::from_be_bytes)
}
pub(crate) fn get_u32(buf: &[u8], at: usize) -> Result<u32, LogError> {
    get_array::<4>(buf, at).map(u32::from_be_bytes)
}
pub(crate) fn get_i16(buf: &[u8], at: usize) -> Result<i16, LogError> {
    get_array::<2>(buf, at).map(i16::from_be_bytes)
}
fn get_i8(buf: &[u8], at: usize) -> Result<i8, LogError> {
    get_array::<1>(buf, at).map(i8::from_be_bytes)
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), LogError> {
    match buf.get_mut(at..at + bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(LogError::CorruptMessage(format!(
            "record batch truncated: cannot write {} bytes at {at}",
            bytes.len()
        ))),
    }
}

/// The header of a v2 record batch, decoded from its first 61 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Decodes the header at the start of `buf` (which may hold more). Checks
    /// only what decoding needs: enough bytes, magic 2 (else `UnsupportedMagic`)
    /// and a batchLength at least the header size. See [`validate_batch`] for
    /// the full check including the CRC.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, LogError> {
        if buf.len() <= MAGIC_OFFSET {
            return Err(LogError::CorruptMessage(format!(
                "record batch truncated: {} bytes, header needs {BATCH_HEADER_SIZE}",
                buf.len()
            )));
        }
        let magic = get_i8(buf, MAGIC_OFFSET)?;
        if magic != MAGIC_V2 {
            return Err(LogError::UnsupportedMagic(magic));
        }
        if buf.len() < BATCH_HEADER_SIZE {
            return Err(LogError::CorruptMessage(format!(
                "record batch truncated: {} bytes, header needs {BATCH_HEADER_SIZE}",
                buf.len()
            )));
        }
        let batch_length = get_i32(buf, BATCH_LENGTH_OFFSET)?;
        if batch_length < MIN_BATCH_LENGTH {
            return Err(LogError::CorruptMessage(format!(
                "record batch length {batch_length} is below the minimum {MIN_BATCH_LENGTH}"
            )));
        }
        Ok(BatchHeader {
            base_offset: get_i64(buf, BASE_OFFSET_OFFSET)?,
            batch_length,
            partition_leader_epoch: get_i32(buf, PARTITION_LEADER_EPOCH_OFFSET)?,
            magic,
            crc: get_u32(buf, CRC_OFFSET)?,
            attributes: get_i16(buf, ATTRIBUTES_OFFSET)?,
            last_offset_delta: get_i32(buf, LAST_OFFSET_DELTA_OFFSET)?,
            base_timestamp: get_i64(buf, BASE_TIMESTAMP_OFFSET)?,
            max_timestamp: get_i64(buf, MAX_TIMESTAMP_OFFSET)?,
            producer_id: get_i64(buf, PRODUCER_ID_OFFSET)?,
            producer_epoch: get_i16(buf, PRODUCER_EPOCH_OFFSET)?,
            base_sequence: get_i32(buf, BASE_SEQUENCE_OFFSET)?,
            record_count: get_i32(buf, RECORD_COUNT_OFFSET)?,
        })
    }

    /// Bytes the whole batch occupies, overhead included.
    pub fn total_size(&self) -> usize {
        self.batch_length.max(0) as usize + LOG_OVERHEAD
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }
    /// Compression codec, attribute bits 0–2 (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_CODEC_MASK
    }
    pub fn is_compressed(&self) -> bool {
        self.compression() != 0
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_MASK != 0
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG_MASK != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG_MASK != 0
    }
}

/// CRC-32C of a batch as stored in its header: over attributes to the end.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES_OFFSET..).unwrap_or(&[]))
}

/// Checks one whole stored batch (`batch` is exactly the batch's bytes):
/// header, magic, length and CRC. What recovery checks.
pub fn check_batch_integrity(batch: &[u8]) -> Result<BatchHeader, LogError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_size() != batch.len() {
        return Err(LogError::CorruptMessage(format!(
            "record batch length {} does not match the {} bytes given",
            header.batch_length,
            batch.len()
        )));
    }
    let crc = compute_crc(batch);
    if crc != header.crc {
        return Err(LogError::CorruptMessage(format!(
            "record batch CRC mismatch: stored {:#010x}, computed {crc:#010x}",
            header.crc
        )));
    }
    Ok(header)
}

/// Validates one whole produced batch (`batch` is exactly the batch's bytes):
/// header, magic, CRC and offset-range consistency.
pub fn validate_batch(batch: &[u8]) -> Result<BatchHeader, LogError> {
    let header = check_batch_integrity(batch)?;
    if header.last_offset_delta < 0 {
        return Err(LogError::InvalidRecord(format!(
            "record batch has an invalid offset range (lastOffsetDelta {})",
            header.last_offset_delta
        )));
    }
    if i64::from(header.record_count) != i64::from(header.last_offset_delta) + 1 {
        return Err(LogError::InvalidRecord(format!(
            "inconsistent batch offset range: lastOffsetDelta {} but recordCount {}",
            header.last_offset_delta, header.record_count
        )));
    }
    Ok(header)
}

/// Where one validated batch sits in a produce buffer, and what the log needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    /// Position of the batch in the buffer.
    pub position: usize,
    /// Total size of the batch in bytes.
    pub size: usize,
    pub last_offset_delta: i32,
    pub max_timestamp: i64,
    pub attributes: i16,
}

/// Validates every batch of a produce buffer (v2 batches back to back). Checks
/// magic (`UnsupportedMagic`), length fields vs the buffer and CRC
/// (`CorruptMessage`), size vs `max_message_bytes` (`MessageTooLarge`) and the
/// offset range (`InvalidRecord`). Returns the batches' positions and metadata.
pub fn validate_batches(buf: &[u8], max_message_bytes: i32) -> Result<Vec<BatchInfo>, LogError> {
    let mut infos = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let rest = buf.get(pos..).unwrap_or(&[]);
        if rest.len() < LOG_OVERHEAD {
            return Err(LogError::CorruptMessage(format!(
                "{} trailing bytes at position {pos} are too short for a record batch",
                rest.len()
            )));
        }
        if rest.len() > MAGIC_OFFSET {
            let magic = get_i8(rest, MAGIC_OFFSET)?;
            if magic != MAGIC_V2 {
                return Err(LogError::UnsupportedMagic(magic));
            }
        }
        let batch_length = get_i32(rest, BATCH_LENGTH_OFFSET)?;
        if batch_length < MIN_BATCH_LENGTH {
            return Err(LogError::CorruptMessage(format!(
                "record batch at position {pos} has length {batch_length}, below the minimum {MIN_BATCH_LENGTH}"
            )));
        }
        let size = batch_length as usize + LOG_OVERHEAD;
        if size > rest.len() {
            return Err(LogError::CorruptMessage(format!(
                "record batch at position {pos} claims {size} bytes but only {} remain",
                rest.len()
            )));
        }
        if size > max_message_bytes.max(0) as usize {
            return Err(LogError::MessageTooLarge {
                size,
                max: max_message_bytes,
            });
        }
        let header = validate_batch(rest.get(..size).unwrap_or(&[]))?;
        // Smallest record: length, attributes, timestamp delta, offset delta,
        // key length, value length, header count: one byte each.
        if !header.is_compressed()
            && i64::from(header.record_count) > ((size - BATCH_HEADER_SIZE) / 7) as i64
        {
            return Err(LogError::InvalidRecord(format!(
                "uncompressed record batch of {size} bytes cannot hold {} records",
                header.record_count
            )));
        }
        infos.push(BatchInfo {
            position: pos,
            size,
            last_offset_delta: header.last_offset_delta,
            max_timestamp: header.max_timestamp,
            attributes: header.attributes,
        });
        pos += size;
    }
    Ok(infos)
}

/// Stamps baseOffset and partitionLeaderEpoch (both outside the CRC) of the
/// batch at `position`.
pub fn set_base_offset_and_epoch(
    buf: &mut [u8],
    position: usize,
    base_offset: i64,
    leader_epoch: i32,
) -> Result<(), LogError> {
    put(
        buf,
        position + BASE_OFFSET_OFFSET,
        &base_offset.to_be_bytes(),
    )?;
    put(
        buf,
        position + PARTITION_LEADER_EPOCH_OFFSET,
        &leader_epoch.to_be_bytes(),
    )
}

/// Sets the timestamp type bit and maxTimestamp of the batch at
/// `position..position+size`, then recomputes its CRC.
pub fn set_max_timestamp(
    buf: &mut [u8],
    position: usize,
    size: usize,
    log_append_time: bool,
    max_timestamp: i64,
) -> Result<(), LogError> {
    let attributes = get_i16(buf, position + ATTRIBUTES_OFFSET)?;
    let attributes = if log_append_time {
        attributes | TIMESTAMP_TYPE_MASK
    } else {
        attributes & !TIMESTAMP_TYPE_MASK
    };
    put(buf, position + ATTRIBUTES_OFFSET, &attributes.to_be_bytes())?;
    put(
        buf,
        position + MAX_TIMESTAMP_OFFSET,
        &max_timestamp.to_be_bytes(),
    )?;
    let batch = buf
        .get(position..position + size)
        .ok_or_else(|| LogError::CorruptMessage(format!("record batch at {position} truncated")))?;
    let crc = compute_crc(batch);
    put(buf, position + CRC_OFFSET, &crc.to_be_bytes())
}

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

/// Walks the records of an uncompressed batch (the whole batch in `batch`)
/// and returns `(offset, timestamp)` of the first record with
/// `timestamp >= ts` and `offset >= min_offset`. Only the record length,
/// timestamp delta and offset delta are decoded.
pub fn find_record_at_or_after(
    batch: &[u8],
    ts: i64,
    min_offset: i64,
) -> Result<Option<(i64, i64)>, LogError> {
    let header = BatchHeader::parse(batch)?;
    if header.is_compressed() {
        return Err(LogError::CorruptMessage(
            "cannot walk the records of a compressed batch".into(),
        ));
    }
    let end = header.total_size().min(batch.len());
    let mut pos = BATCH_HEADER_SIZE;
    for _ in 0..header.record_count.max(0) {
        if pos >= end {
            break;
        }
        let len = read_varlong(batch, &mut pos)?;
        if len < 0 {
            return Err(LogError::CorruptMessage(format!(
                "negative record length {len}"
            )));
        }
        let next = pos.saturating_add(len as usize);
        let mut p = pos + 1; // attributes (int8)
        let ts_delta = read_varlong(batch, &mut p)?;
        let offset_delta = read_varlong(batch, &mut p)?;
        let record_ts = if header.is_log_append_time() {
            header.max_timestamp
        } else {
            header.base_timestamp.saturating_add(ts_delta)
        };
        let offset = header.base_offset.saturating_add(offset_delta);
        if record_ts >= ts && offset >= min_offset {
            return Ok(Some((offset, record_ts)));
        }
        pos = next;
    }
    Ok(None)
}

/// Builders of valid batches for tests of this crate and its integration tests.
#[doc(hidden)]
pub mod testing {
    fn put_varlong(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    /// One test record: (timestamp, key, value).
    pub type TestRecord<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>);

    /// An uncompressed v2 batch at `base_offset` holding one record per
    /// `(timestamp, key, value)`, CreateTime, no producer id, correct CRC.
    pub fn build_batch(base_offset: i64, records: &[TestRecord<'_>]) -> Vec<u8> {
        let base_ts = records.first().map(|r| r.0).unwrap_or(-1);
        let max_ts = records.iter().map(|r| r.0).max().unwrap_or(-1);
        let mut body = Vec::new();
        for (i, (ts, key, value)) in records.iter().enumerate() {
            let mut rec = vec![0u8]; // attributes
            put_varlong(&mut rec, ts - base_ts);
            put_varlong(&mut rec, i as i64);
            match key {
                Some(k) => {
                    put_varlong(&mut rec, k.len() as i64);
                    rec.extend_from_slice(k);
                }
                None => put_varlong(&mut rec, -1),
            }
            match value {
                Some(v) => {
                    put_varlong(&mut rec, v.len() as i64);
                    rec.extend_from_slice(v);
                }
                None => put_varlong(&mut rec, -1),
            }
            put_varlong(&mut rec, 0); // headers
            put_varlong(&mut body, rec.len() as i64);
            body.extend_from_slice(&rec);
        }
        let mut b = Vec::with_capacity(super::BATCH_HEADER_SIZE + body.len());
        b.extend_from_slice(&base_offset.to_be_bytes());
        let batch_length = (super::BATCH_HEADER_SIZE - super::LOG_OVERHEAD + body.len()) as i32;
        b.extend_from_slice(&batch_length.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
        b.push(2); // magic
        b.extend_from_slice(&0u32.to_be_bytes()); // crc, below
        b.extend_from_slice(&0i16.to_be_bytes()); // attributes
        b.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes());
        b.extend_from_slice(&base_ts.to_be_bytes());
        b.extend_from_slice(&max_ts.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
        b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
        b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
        b.extend_from_slice(&(records.len() as i32).to_be_bytes());
        b.extend_from_slice(&body);
        let crc = super::compute_crc(&b);
        b[super::CRC_OFFSET..super::CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// A batch of `n` records with values `value-<i>`, all stamped `timestamp`.
    pub fn simple_batch(n: usize, timestamp: i64) -> Vec<u8> {
        let values: Vec<Vec<u8>> = (0..n).map(|i| format!("value-{i}").into_bytes()).collect();
        let recs: Vec<TestRecord<'_>> = values
            .iter()
            .map(|v| (timestamp, None, Some(v.as_slice())))
            .collect();
        build_batch(0, &recs)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn parse_and_validate_built_batch() {
        let b = build_batch(5, &[(100, Some(b"k"), Some(b"v")), (120, None, Some(b"w"))]);
        let h = validate_batch(&b).unwrap();
        assert_eq!(h.base_offset, 5);
        assert_eq!(h.last_offset(), 6);
        assert_eq!(h.record_count, 2);
        assert_eq!(h.max_timestamp, 120);
        assert_eq!(h.total_size(), b.len());
        assert_eq!(find_record_at_or_after(&b, 110, 0).unwrap(), Some((6, 120)));
        assert_eq!(find_record_at_or_after(&b, 50, 0).unwrap(), Some((5, 100)));
        assert_eq!(find_record_at_or_after(&b, 50, 6).unwrap(), Some((6, 120)));
        assert_eq!(find_record_at_or_after(&b, 121, 0).unwrap(), None);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        let b = simple_batch(3, 1);
        let mut bad = b.clone();
        bad[70] ^= 0xff;
        assert!(matches!(
            validate_batches(&bad, i32::MAX),
            Err(LogError::CorruptMessage(_))
        ));
        let mut v1 = b.clone();
        v1[MAGIC_OFFSET] = 1;
        assert!(matches!(
            validate_batches(&v1, i32::MAX),
            Err(LogError::UnsupportedMagic(1))
        ));
        assert!(matches!(
            validate_batches(&b, 10),
            Err(LogError::MessageTooLarge { .. })
        ));
        for cut in 0..b.len() {
            assert!(validate_batches(&b[..cut], i32::MAX).is_err() || cut == 0);
            let _ = BatchHeader::parse(&b[..cut]);
            let _ = find_record_at_or_after(&b[..cut], 0, 0);
        }
        let mut two = b.clone();
        two.extend_from_slice(&b);
        assert_eq!(validate_batches(&two, i32::MAX).unwrap().len(), 2);
    }

    #[test]
    fn log_append_time_patch_keeps_crc_valid() {
        let mut b = simple_batch(2, 10);
        let len = b.len();
        set_base_offset_and_epoch(&mut b, 0, 42, 0).unwrap();
        set_max_timestamp(&mut b, 0, len, true, 999).unwrap();
        let h = validate_batch(&b).unwrap();
        assert_eq!(h.base_offset, 42);
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 999);
        assert_eq!(h.partition_leader_epoch, 0);
    }
}
