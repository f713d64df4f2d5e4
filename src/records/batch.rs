//! The record batch v2 header (61 bytes, Kafka's `DefaultRecordBatch`): field
//! positions, a decoded view, CRC-32C, integrity checks, and the in-place
//! patches a log applies (base offset and leader epoch, outside the CRC;
//! timestamp type and max timestamp, CRC recomputed).
//!
//! Invariant: every access to the input is bounds-checked; failures are
//! [`RecordsError`]s, never panics.

use super::RecordsError;

/// Size of the v2 batch header, from baseOffset through recordCount.
pub const BATCH_HEADER_SIZE: usize = 61;
/// baseOffset (8) + batchLength (4): the bytes not counted by batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// The record batch format this module reads and writes.
pub const MAGIC_V2: i8 = 2;

/// Byte offsets of the header fields.
pub const BASE_OFFSET_OFFSET: usize = 0;
pub const BATCH_LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
/// baseOffset, batchLength and partitionLeaderEpoch: the header bytes before
/// magic, outside the CRC, the only ones [`set_base_offset_and_epoch`] changes.
pub const PATCHED_PREFIX_SIZE: usize = MAGIC_OFFSET;
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
pub const DELETE_HORIZON_FLAG_MASK: i16 = 0x40;

/// Smallest legal batchLength: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32;

#[inline]
fn get_array<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], RecordsError> {
    buf.get(at..at.saturating_add(N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| {
            RecordsError::corrupt(format!(
                "record batch truncated: need {N} bytes at {at}, have {}",
                buf.len()
            ))
        })
}

/// Big-endian field readers, bounds-checked.
#[inline]
pub fn get_i64(buf: &[u8], at: usize) -> Result<i64, RecordsError> {
    get_array::<8>(buf, at).map(i64::from_be_bytes)
}
#[inline]
pub fn get_i32(buf: &[u8], at: usize) -> Result<i32, RecordsError> {
    get_array::<4>(buf, at).map(i32::from_be_bytes)
}
#[inline]
pub fn get_u32(buf: &[u8], at: usize) -> Result<u32, RecordsError> {
    get_array::<4>(buf, at).map(u32::from_be_bytes)
}
#[inline]
pub fn get_i16(buf: &[u8], at: usize) -> Result<i16, RecordsError> {
    get_array::<2>(buf, at).map(i16::from_be_bytes)
}
#[inline]
pub fn get_i8(buf: &[u8], at: usize) -> Result<i8, RecordsError> {
    get_array::<1>(buf, at).map(i8::from_be_bytes)
}

/// Writes `bytes` at `at`, bounds-checked.
#[inline]
pub fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), RecordsError> {
    match buf.get_mut(at..at.saturating_add(bytes.len())) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(RecordsError::corrupt(format!(
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
    /// only what decoding needs: enough bytes, magic 2 (else
    /// [`RecordsError::UnsupportedMagic`]) and a batchLength of at least the
    /// header. [`check_batch_integrity`] adds length and CRC.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, RecordsError> {
        if buf.len() <= MAGIC_OFFSET {
            return Err(RecordsError::corrupt(format!(
                "record batch truncated: {} bytes, header needs {BATCH_HEADER_SIZE}",
                buf.len()
            )));
        }
        let magic = get_i8(buf, MAGIC_OFFSET)?;
        if magic != MAGIC_V2 {
            return Err(RecordsError::UnsupportedMagic(magic));
        }
        if buf.len() < BATCH_HEADER_SIZE {
            return Err(RecordsError::corrupt(format!(
                "record batch truncated: {} bytes, header needs {BATCH_HEADER_SIZE}",
                buf.len()
            )));
        }
        let batch_length = get_i32(buf, BATCH_LENGTH_OFFSET)?;
        if batch_length < MIN_BATCH_LENGTH {
            return Err(RecordsError::corrupt(format!(
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
    /// Compression codec id, attribute bits 0–2 (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
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
    /// The timestamp of a record with `timestamp_delta`: the batch's max
    /// timestamp under LogAppendTime, else base timestamp plus the delta.
    pub fn record_timestamp(&self, timestamp_delta: i64) -> i64 {
        if self.is_log_append_time() {
            self.max_timestamp
        } else {
            self.base_timestamp.saturating_add(timestamp_delta)
        }
    }
}

/// The records section of a whole batch: the bytes after the header, up to
/// its batchLength.
pub fn records_section<'a>(
    batch: &'a [u8],
    header: &BatchHeader,
) -> Result<&'a [u8], RecordsError> {
    batch
        .get(BATCH_HEADER_SIZE..header.total_size())
        .ok_or_else(|| RecordsError::corrupt("record batch shorter than its length"))
}

/// CRC-32C of a batch as stored in its header: over attributes to the end.
#[inline]
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES_OFFSET..).unwrap_or(&[]))
}

/// Recomputes and stores the CRC of the whole batch `batch`.
pub fn update_crc(batch: &mut [u8]) -> Result<(), RecordsError> {
    let crc = compute_crc(batch);
    put(batch, CRC_OFFSET, &crc.to_be_bytes())
}

/// Checks one whole stored batch (`batch` is exactly the batch's bytes):
/// header, magic, length and CRC.
pub fn check_batch_integrity(batch: &[u8]) -> Result<BatchHeader, RecordsError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_size() != batch.len() {
        return Err(RecordsError::corrupt(format!(
            "record batch length {} does not match the {} bytes given",
            header.batch_length,
            batch.len()
        )));
    }
    let crc = compute_crc(batch);
    if crc != header.crc {
        return Err(RecordsError::corrupt(format!(
            "record batch CRC mismatch: stored {:#010x}, computed {crc:#010x}",
            header.crc
        )));
    }
    Ok(header)
}

/// Stamps baseOffset and partitionLeaderEpoch (both outside the CRC) of the
/// batch at `position`.
pub fn set_base_offset_and_epoch(
    buf: &mut [u8],
    position: usize,
    base_offset: i64,
    leader_epoch: i32,
) -> Result<(), RecordsError> {
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
) -> Result<(), RecordsError> {
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
        .get_mut(position..position.saturating_add(size))
        .ok_or_else(|| RecordsError::corrupt(format!("record batch at {position} truncated")))?;
    update_crc(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::testing::{build_batch, simple_batch};

    #[test]
    fn parse_and_integrity() {
        let b = build_batch(5, &[(100, Some(b"k"), Some(b"v")), (120, None, Some(b"w"))]);
        let h = check_batch_integrity(&b).unwrap();
        assert_eq!((h.base_offset, h.last_offset(), h.record_count), (5, 6, 2));
        assert_eq!((h.base_timestamp, h.max_timestamp), (100, 120));
        assert_eq!(h.total_size(), b.len());
        // Kafka's CRC-32C (Castagnoli) of "123456789" is 0xe3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let mut bad = b.clone();
        bad[70] ^= 1;
        assert!(check_batch_integrity(&bad).is_err());
        let mut v1 = b.clone();
        v1[MAGIC_OFFSET] = 1;
        assert!(matches!(
            BatchHeader::parse(&v1),
            Err(RecordsError::UnsupportedMagic(1))
        ));
        for cut in 0..b.len() {
            assert!(check_batch_integrity(&b[..cut]).is_err());
        }
        let mut short = b.clone();
        put(
            &mut short,
            BATCH_LENGTH_OFFSET,
            &(MIN_BATCH_LENGTH - 1).to_be_bytes(),
        )
        .unwrap();
        assert!(BatchHeader::parse(&short).is_err());
    }

    #[test]
    fn patches_keep_the_crc_valid() {
        let mut b = simple_batch(2, 10);
        let len = b.len();
        let crc = BatchHeader::parse(&b).unwrap().crc;
        set_base_offset_and_epoch(&mut b, 0, 42, 7).unwrap();
        let h = check_batch_integrity(&b).unwrap();
        assert_eq!(
            (h.base_offset, h.partition_leader_epoch, h.crc),
            (42, 7, crc)
        );
        set_max_timestamp(&mut b, 0, len, true, 999).unwrap();
        let h = check_batch_integrity(&b).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 999);
        assert_eq!(h.record_timestamp(5), 999);
        assert!(set_base_offset_and_epoch(&mut b, len - 4, 1, 1).is_err());
    }
}
