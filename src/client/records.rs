//! Record batches (magic v2) for the client: [`BatchBuilder`] writes records
//! straight into one buffer behind a reserved 61-byte header (no per-record
//! allocation), then fills in the header and CRC-32C, compressing the
//! records section when asked; [`for_each_record`] walks a fetched batch's
//! records without copying uncompressed ones.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::records::Compression;

use super::ClientError;

/// Size of the v2 batch header, up to and including the record count.
pub const BATCH_HEADER_SIZE: usize = 61;
/// Offset and length fields before `partitionLeaderEpoch`.
const LOG_OVERHEAD: usize = 12;
/// The CRC covers everything from the attributes on.
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const RECORD_COUNT_OFFSET: usize = 57;

/// The codec named by a `compression.type` value.
pub fn parse_compression(name: &str) -> Option<Compression> {
    match name {
        "none" | "" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

fn varint_len(v: i64) -> usize {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.put_u8((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.put_u8(z as u8);
}

#[inline]
fn get_varint(buf: &mut &[u8]) -> Result<i64, ClientError> {
    let mut z: u64 = 0;
    let mut shift = 0u32;
    let mut i = 0usize;
    loop {
        let Some(&b) = buf.get(i) else {
            return Err(ClientError::Decode("truncated varint".into()));
        };
        i += 1;
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            *buf = buf.get(i..).unwrap_or_default();
            return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
        shift += 7;
        if shift > 63 {
            return Err(ClientError::Decode("varint too long".into()));
        }
    }
}

/// Builds one v2 record batch, uncompressed in memory until [`finish`](Self::finish).
pub struct BatchBuilder {
    buf: BytesMut,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    compression: Compression,
}

impl BatchBuilder {
    /// An empty batch whose buffer starts with room for `capacity` bytes.
    pub fn new(capacity: usize, compression: Compression) -> Self {
        let mut b = BatchBuilder {
            buf: BytesMut::new(),
            count: 0,
            base_timestamp: -1,
            max_timestamp: -1,
            compression,
        };
        b.reset(capacity);
        b
    }

    fn reset(&mut self, capacity: usize) {
        self.buf.reserve(capacity.max(BATCH_HEADER_SIZE));
        self.buf.put_bytes(0, BATCH_HEADER_SIZE);
        self.count = 0;
        self.base_timestamp = -1;
        self.max_timestamp = -1;
    }

    /// Records appended so far.
    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// Bytes of the batch so far, uncompressed.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// The size a record with these fields adds to the batch.
    pub fn record_size(key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
        let body = Self::body_size(0, 0, key, value);
        body + varint_len(body as i64) + 10
    }

    fn body_size(
        ts_delta: i64,
        offset_delta: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> usize {
        let field = |f: Option<&[u8]>| match f {
            Some(b) => varint_len(b.len() as i64) + b.len(),
            None => 1,
        };
        1 + varint_len(ts_delta) + varint_len(offset_delta) + field(key) + field(value) + 1
    }

    /// Appends one record with no headers.
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) {
        if self.count == 0 {
            self.base_timestamp = timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let ts_delta = timestamp - self.base_timestamp;
        let offset_delta = i64::from(self.count);
        let body = Self::body_size(ts_delta, offset_delta, key, value);
        self.buf.reserve(body + 5);
        put_varint(&mut self.buf, body as i64);
        self.buf.put_u8(0); // attributes
        put_varint(&mut self.buf, ts_delta);
        put_varint(&mut self.buf, offset_delta);
        for field in [key, value] {
            match field {
                Some(b) => {
                    put_varint(&mut self.buf, b.len() as i64);
                    self.buf.put_slice(b);
                }
                None => put_varint(&mut self.buf, -1),
            }
        }
        put_varint(&mut self.buf, 0); // headers
        self.count += 1;
    }

    /// The finished batch (base offset 0, CreateTime, no producer id); the
    /// builder is empty afterwards, with room for `next_capacity` bytes.
    pub fn finish(&mut self, next_capacity: usize) -> Result<Bytes, ClientError> {
        let mut batch = self.buf.split();
        if self.compression != Compression::None {
            let records = batch.split_off(BATCH_HEADER_SIZE).freeze();
            compress(self.compression, records, &mut batch)?;
        }
        let attributes = self.compression as i16;
        let batch_length = i32::try_from(batch.len() - LOG_OVERHEAD)
            .map_err(|_| ClientError::Encode("batch over 2 GiB".into()))?;
        {
            let mut h = &mut batch[..BATCH_HEADER_SIZE];
            h.put_i64(0); // base offset
            h.put_i32(batch_length);
            h.put_i32(-1); // partition leader epoch
            h.put_i8(2); // magic
            h.put_u32(0); // crc, below
            h.put_i16(attributes);
            h.put_i32(self.count - 1); // last offset delta
            h.put_i64(self.base_timestamp);
            h.put_i64(self.max_timestamp);
            h.put_i64(-1); // producer id
            h.put_i16(-1); // producer epoch
            h.put_i32(-1); // base sequence
            h.put_i32(self.count);
        }
        let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
        batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        self.reset(next_capacity);
        Ok(batch.freeze())
    }
}

fn compress(codec: Compression, records: Bytes, out: &mut BytesMut) -> Result<(), ClientError> {
    let fill = |b: &mut BytesMut| {
        b.put_slice(&records);
        Ok(())
    };
    let r = match codec {
        Compression::None => {
            out.put_slice(&records);
            Ok(())
        }
        Compression::Gzip => Gzip::compress(out, fill),
        Compression::Snappy => Snappy::compress(out, fill),
        Compression::Lz4 => Lz4::compress(out, fill),
        Compression::Zstd => Zstd::compress(out, fill),
    };
    r.map_err(|e| ClientError::Encode(format!("compression: {e}")))
}

fn decompress(codec: i16, mut data: Bytes) -> Result<Bytes, ClientError> {
    let take = |b: &mut Bytes| Ok(b.split_off(0));
    let r = match codec {
        0 => Ok(data),
        1 => Gzip::decompress(&mut data, take),
        2 => Snappy::decompress(&mut data, take),
        3 => Lz4::decompress(&mut data, take),
        4 => Zstd::decompress(&mut data, take),
        c => {
            return Err(ClientError::Decode(format!(
                "unknown compression codec {c}"
            )))
        }
    };
    r.map_err(|e| ClientError::Decode(format!("decompression: {e}")))
}

/// A varint-length-prefixed key or value (length -1: null).
fn take_field<'a>(rec: &mut &'a [u8]) -> Result<Option<&'a [u8]>, ClientError> {
    let n = get_varint(rec)?;
    if n < 0 {
        return Ok(None);
    }
    let bad = || ClientError::Decode("truncated record".into());
    let n = usize::try_from(n).map_err(|_| bad())?;
    let whole: &'a [u8] = rec;
    let v = whole.get(..n).ok_or_else(bad)?;
    *rec = whole.get(n..).ok_or_else(bad)?;
    Ok(Some(v))
}

/// One record as seen by [`for_each_record`].
pub struct RecordView<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The record's headers section, undecoded (varint count, then headers).
    pub headers: &'a [u8],
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
        if rest.len() < BATCH_HEADER_SIZE {
            return None;
        }
        let mut h = rest;
        let base_offset = h.get_i64();
        let len = usize::try_from(h.get_i32()).ok()?;
        let size = LOG_OVERHEAD + len;
        if rest.len() < size || size < BATCH_HEADER_SIZE {
            return None;
        }
        let attributes = (&rest[ATTRIBUTES_OFFSET..]).get_i16();
        let last_delta = (&rest[ATTRIBUTES_OFFSET + 2..]).get_i32();
        let record_count = (&rest[RECORD_COUNT_OFFSET..]).get_i32();
        pos += size;
        Some(BatchInfo {
            base_offset,
            last_offset: base_offset + i64::from(last_delta),
            record_count,
            control: attributes & 0x20 != 0,
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
    if batch.len() < info.size || info.size < BATCH_HEADER_SIZE {
        return Err(ClientError::Decode("truncated batch".into()));
    }
    let attributes = (&batch[ATTRIBUTES_OFFSET..]).get_i16();
    let base_timestamp = (&batch[27..]).get_i64();
    let body = decompress(attributes & 0x7, batch.slice(BATCH_HEADER_SIZE..info.size))?;
    let mut buf: &[u8] = &body;
    let bad = || ClientError::Decode("truncated record".into());
    for _ in 0..info.record_count {
        let len = usize::try_from(get_varint(&mut buf)?).map_err(|_| bad())?;
        let mut rec = buf.get(..len).ok_or_else(bad)?;
        buf = &buf[len..];
        rec = rec.get(1..).ok_or_else(bad)?; // attributes
        let ts_delta = get_varint(&mut rec)?;
        let offset_delta = get_varint(&mut rec)?;
        let key = take_field(&mut rec)?;
        let value = take_field(&mut rec)?;
        let offset = info.base_offset + offset_delta;
        if offset >= from_offset {
            f(RecordView {
                offset,
                timestamp: base_timestamp + ts_delta,
                key,
                value,
                headers: rec,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_batch_walks_back_for_every_codec() {
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let c = parse_compression(codec).unwrap();
            let mut b = BatchBuilder::new(1024, c);
            b.append(1000, None, Some(b"hello"));
            b.append(1005, Some(b"k"), Some(b""));
            b.append(999, None, None);
            let mut bytes = BytesMut::from(&b.finish(1024).unwrap()[..]);
            bytes[..8].copy_from_slice(&40i64.to_be_bytes());
            let bytes = bytes.freeze();
            assert_eq!(b.record_count(), 0);
            let infos: Vec<_> = batches(&bytes).collect();
            assert_eq!(infos.len(), 1, "{codec}");
            assert_eq!(infos[0].last_offset, 42);
            let crc = crc32c::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
            assert_eq!(&bytes[CRC_OFFSET..CRC_OFFSET + 4], &crc.to_be_bytes());
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
    fn record_size_matches_what_append_writes() {
        let mut b = BatchBuilder::new(0, Compression::None);
        let before = b.size();
        b.append(5, None, Some(&[7u8; 100]));
        let written = b.size() - before;
        let estimate = BatchBuilder::record_size(None, Some(&[7u8; 100]));
        assert!(
            written <= estimate && estimate <= written + 10,
            "{written} {estimate}"
        );
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut b = BatchBuilder::new(0, Compression::None);
        b.append(1, None, Some(b"abc"));
        let bytes = b.finish(0).unwrap();
        let info = batches(&bytes).next().unwrap();
        for cut in 0..bytes.len() {
            let part = bytes.slice(..cut);
            assert!(batches(&part).next().is_none());
            let short = BatchInfo {
                size: cut.max(BATCH_HEADER_SIZE).min(bytes.len()),
                ..info
            };
            if cut >= BATCH_HEADER_SIZE {
                let _ = for_each_record(&bytes.slice(..short.size), &short, 0, |_| {});
            }
        }
    }
}
