//! Record batches for the client, on `crate::records`: [`BatchBuilder`]
//! writes records straight into one buffer behind a reserved 61-byte header
//! (no per-record allocation) and hands the finished batch out without a
//! copy; [`batches`] and [`for_each_record`] walk fetched batches, reading
//! uncompressed records in place and decompressing within
//! [`MAX_DECOMPRESSED_BATCH_BYTES`].

use bytes::Bytes;

use super::ClientError;
use crate::records::{
    self, records, records_section, BatchHeader, Codec, Headers, MAX_DECOMPRESSED_BATCH_BYTES,
};

pub use crate::records::BATCH_HEADER_SIZE;

/// The codec named by a `compression.type` value (`""` is none).
pub fn parse_compression(name: &str) -> Option<Codec> {
    if name.is_empty() {
        return Some(Codec::None);
    }
    Codec::from_name(name)
}

fn decode_err(e: records::RecordsError) -> ClientError {
    ClientError::Decode(e.to_string())
}

/// Builds one v2 record batch, uncompressed in memory until [`finish`](Self::finish).
pub struct BatchBuilder {
    inner: records::BatchBuilder,
    codec: Codec,
}

impl BatchBuilder {
    /// An empty batch whose buffer starts with room for `capacity` bytes.
    pub fn new(capacity: usize, codec: Codec) -> Self {
        BatchBuilder {
            inner: records::BatchBuilder::with_capacity(codec, capacity),
            codec,
        }
    }

    /// Records appended so far.
    pub fn record_count(&self) -> i32 {
        self.inner.record_count()
    }

    /// Bytes of the batch so far, uncompressed.
    pub fn size(&self) -> usize {
        self.inner.size()
    }

    /// At most the size a record with these fields adds to the batch.
    pub fn record_size(key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
        records::BatchBuilder::record_size(key, value)
    }

    /// Appends one record with no headers.
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) {
        self.inner.append(timestamp, key, value, &[]);
    }

    /// Appends one record with `headers` (name, value).
    pub fn append_with_headers(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[crate::records::Header<'_>],
    ) {
        self.inner.append(timestamp, key, value, headers);
    }

    /// The finished batch (base offset 0, CreateTime, no producer id); the
    /// builder is empty afterwards, with room for `next_capacity` bytes.
    pub fn finish(&mut self, next_capacity: usize) -> Result<Bytes, ClientError> {
        let next = records::BatchBuilder::with_capacity(self.codec, next_capacity);
        let batch = std::mem::replace(&mut self.inner, next);
        batch
            .finish()
            .map(Bytes::from)
            .map_err(|e| ClientError::Encode(e.to_string()))
    }
}

/// One record as seen by [`for_each_record`].
pub struct RecordView<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The record's headers.
    pub headers: Headers<'a>,
}

/// The header fields of one batch needed to consume it.
#[derive(Debug, Clone, Copy)]
pub struct BatchInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    pub record_count: i32,
    pub control: bool,
    pub size: usize,
}

/// The whole batches at the front of `records` (a trailing partial batch,
/// which a fetch may return, is ignored): their header fields, in order.
pub fn batches(records: &[u8]) -> impl Iterator<Item = BatchInfo> + '_ {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let rest = records.get(pos..)?;
        let h = BatchHeader::parse(rest).ok()?;
        let size = h.total_size();
        if rest.len() < size {
            return None;
        }
        pos += size;
        Some(BatchInfo {
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            record_count: h.record_count,
            control: h.is_control(),
            size,
        })
    })
}

/// Calls `f` for each record of the whole batch `batch` (as returned by
/// [`batches`]) at or after `from_offset`; control batches are skipped.
pub fn for_each_record(
    batch: &Bytes,
    info: &BatchInfo,
    from_offset: i64,
    mut f: impl FnMut(RecordView<'_>),
) -> Result<(), ClientError> {
    if info.control || info.last_offset < from_offset {
        return Ok(());
    }
    let bytes = batch
        .get(..info.size)
        .ok_or_else(|| ClientError::Decode("truncated batch".into()))?;
    let h = BatchHeader::parse(bytes).map_err(decode_err)?;
    let section = records_section(bytes, &h).map_err(decode_err)?;
    let codec = Codec::from_attributes(h.attributes).map_err(decode_err)?;
    let decompressed;
    let section = if codec == Codec::None {
        section
    } else {
        decompressed = codec
            .decompress(section, MAX_DECOMPRESSED_BATCH_BYTES)
            .map_err(decode_err)?;
        &decompressed[..]
    };
    for r in records(section, h.record_count).map_err(decode_err)? {
        let r = r.map_err(decode_err)?;
        let offset = h.base_offset.saturating_add(i64::from(r.offset_delta));
        if offset >= from_offset {
            f(RecordView {
                offset,
                timestamp: h.record_timestamp(r.timestamp_delta),
                key: r.key,
                value: r.value,
                headers: r.headers(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::check_batch_integrity;

    #[test]
    fn built_batch_walks_back_for_every_codec() {
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let c = parse_compression(codec).unwrap();
            let mut b = BatchBuilder::new(1024, c);
            b.append(1000, None, Some(b"hello"));
            b.append(1005, Some(b"k"), Some(b""));
            b.append(999, None, None);
            let mut bytes = b.finish(1024).unwrap().to_vec();
            bytes[..8].copy_from_slice(&40i64.to_be_bytes());
            check_batch_integrity(&bytes).unwrap();
            let bytes = Bytes::from(bytes);
            assert_eq!(b.record_count(), 0);
            let infos: Vec<_> = batches(&bytes).collect();
            assert_eq!(infos.len(), 1, "{codec}");
            assert_eq!(infos[0].last_offset, 42);
            let mut seen = Vec::new();
            for_each_record(&bytes, &infos[0], 41, |r| {
                seen.push((
                    r.offset,
                    r.timestamp,
                    r.key.map(|k| k.to_vec()),
                    r.value.map(|v| v.to_vec()),
                ))
            })
            .unwrap();
            assert_eq!(
                seen,
                vec![
                    (41, 1005, Some(b"k".to_vec()), Some(vec![])),
                    (42, 999, None, None)
                ],
                "{codec}"
            );
        }
    }

    #[test]
    fn record_size_bounds_what_append_writes() {
        let mut b = BatchBuilder::new(0, Codec::None);
        let before = b.size();
        b.append(5, None, Some(&[7u8; 100]));
        let written = b.size() - before;
        let estimate = BatchBuilder::record_size(None, Some(&[7u8; 100]));
        assert!(
            written <= estimate && estimate <= written + 16,
            "{written} {estimate}"
        );
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut b = BatchBuilder::new(0, Codec::None);
        b.append(1, None, Some(b"abc"));
        let bytes = b.finish(0).unwrap();
        let info = batches(&bytes).next().unwrap();
        for cut in 0..bytes.len() {
            let part = bytes.slice(..cut);
            assert!(batches(&part).next().is_none());
            assert!(for_each_record(&part, &info, 0, |_| {}).is_err());
        }
    }
}
