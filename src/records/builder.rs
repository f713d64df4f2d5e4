//! Writing v2 record batches (Kafka's `MemoryRecordsBuilder`): records are
//! encoded once, straight after a reserved 61-byte header, so an
//! uncompressed batch is finished in place (header and CRC filled in) and a
//! compressed one costs exactly one compression.

use super::batch::{
    put, update_crc, BatchHeader, ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_SEQUENCE_OFFSET,
    BASE_TIMESTAMP_OFFSET, BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, COMPRESSION_CODEC_MASK,
    LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, MAGIC_OFFSET, MAGIC_V2, MAX_TIMESTAMP_OFFSET,
    PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORD_COUNT_OFFSET,
    TIMESTAMP_TYPE_MASK,
};
use super::codec::Codec;
use super::record::Record;
use super::varint::{varint_len, varlong_len, write_varint, write_varlong};
use super::RecordsError;

/// A record header to write: key and value (`None`: null).
pub type Header<'a> = (&'a [u8], Option<&'a [u8]>);

/// Builds one v2 record batch. Defaults: base offset 0, no producer id
/// (-1/-1/-1), partition leader epoch -1, CreateTime, base timestamp the
/// first record's.
#[derive(Clone, Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    codec: Codec,
    base_offset: i64,
    partition_leader_epoch: i32,
    /// Attributes other than the codec bits.
    flags: i16,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    count: i32,
    last_offset_delta: i32,
}

fn field_len(f: Option<&[u8]>) -> usize {
    match f {
        Some(b) => varint_len(b.len() as i32) + b.len(),
        None => 1,
    }
}

fn put_field(out: &mut Vec<u8>, f: Option<&[u8]>) {
    match f {
        Some(b) => {
            write_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
        None => write_varint(out, -1),
    }
}

impl BatchBuilder {
    /// An empty batch whose records will be compressed with `codec`.
    pub fn new(codec: Codec) -> Self {
        Self::with_capacity(codec, 0)
    }

    /// Like [`BatchBuilder::new`], with room for `capacity` bytes of records.
    pub fn with_capacity(codec: Codec, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(BATCH_HEADER_SIZE + capacity);
        buf.resize(BATCH_HEADER_SIZE, 0);
        BatchBuilder {
            buf,
            codec,
            base_offset: 0,
            partition_leader_epoch: -1,
            flags: 0,
            base_timestamp: None,
            max_timestamp: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            count: 0,
            last_offset_delta: -1,
        }
    }

    /// An empty batch with the header fields of `header` (base offset,
    /// leader epoch, attributes, codec, base timestamp, producer fields):
    /// for rewriting a batch's records. Under LogAppendTime its max
    /// timestamp is kept; otherwise it is recomputed from the records.
    pub fn like(header: &BatchHeader) -> Self {
        let mut b = Self::new(Codec::from_attributes(header.attributes).unwrap_or(Codec::None));
        b.base_offset = header.base_offset;
        b.partition_leader_epoch = header.partition_leader_epoch;
        b.flags = header.attributes & !COMPRESSION_CODEC_MASK;
        b.base_timestamp = Some(header.base_timestamp);
        if header.is_log_append_time() {
            b.max_timestamp = header.max_timestamp;
        }
        b.producer_id = header.producer_id;
        b.producer_epoch = header.producer_epoch;
        b.base_sequence = header.base_sequence;
        b
    }

    /// Sets the codec the records are compressed with.
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }
    pub fn with_base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }
    pub fn with_partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }
    /// Producer id, epoch and base sequence of an idempotent producer.
    pub fn with_producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }
    /// Attribute bits besides the codec (timestamp type, transactional,
    /// control, delete horizon); the codec bits of `flags` are ignored.
    pub fn with_attributes(mut self, flags: i16) -> Self {
        self.flags = flags & !COMPRESSION_CODEC_MASK;
        self
    }
    /// The base timestamp (otherwise the first record's timestamp).
    pub fn with_base_timestamp(mut self, timestamp: i64) -> Self {
        self.base_timestamp = Some(timestamp);
        self
    }

    /// Records so far.
    pub fn record_count(&self) -> i32 {
        self.count
    }
    /// Bytes of the batch so far, header included, uncompressed.
    pub fn size(&self) -> usize {
        self.buf.len()
    }
    /// Upper bound of the bytes one record with `key`, `value` and no
    /// headers adds (timestamp and offset deltas counted at their widest).
    pub fn record_size(key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
        let body = 1 + 10 + 5 + field_len(key) + field_len(value) + 1;
        body + varint_len(body as i32)
    }

    fn note(&mut self, offset_delta: i32, timestamp: i64) {
        self.count += 1;
        self.last_offset_delta = offset_delta;
        if self.flags & TIMESTAMP_TYPE_MASK == 0 {
            self.max_timestamp = self.max_timestamp.max(timestamp);
        }
    }

    fn timestamp_delta(&mut self, timestamp: i64) -> i64 {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        timestamp.wrapping_sub(base)
    }

    /// Appends a record at the next offset delta (0, 1, …).
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) {
        self.append_with_offset_delta(self.count, timestamp, key, value, headers);
    }

    /// Appends a record with an explicit offset delta.
    pub fn append_with_offset_delta(
        &mut self,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) {
        let ts_delta = self.timestamp_delta(timestamp);
        let headers_len: usize = headers
            .iter()
            .map(|(k, v)| field_len(Some(k)) + field_len(*v))
            .sum();
        let header_count = headers.len() as i32;
        self.encode(
            0,
            ts_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers_len,
            |out| {
                for (k, v) in headers {
                    put_field(out, Some(k));
                    put_field(out, *v);
                }
            },
        );
        self.note(offset_delta, timestamp);
    }

    /// Appends a record read from another batch with the same base
    /// timestamp (see [`BatchBuilder::like`]), at `offset_delta`. Its bytes
    /// are copied as they are when the offset delta is unchanged.
    pub fn push_record(&mut self, record: &Record<'_>, offset_delta: i32) {
        let base = self.base_timestamp.unwrap_or(0);
        let timestamp = base.wrapping_add(record.timestamp_delta);
        if self.base_timestamp.is_none() {
            self.base_timestamp = Some(base);
        }
        if offset_delta == record.offset_delta {
            self.buf.extend_from_slice(record.raw);
        } else {
            let headers = record.headers_raw;
            self.encode(
                record.attributes,
                record.timestamp_delta,
                offset_delta,
                record.key,
                record.value,
                record.header_count,
                headers.len(),
                |out| out.extend_from_slice(headers),
            );
        }
        self.note(offset_delta, timestamp);
    }

    #[allow(clippy::too_many_arguments)]
    fn encode(
        &mut self,
        attributes: i8,
        ts_delta: i64,
        offset_delta: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        header_count: i32,
        headers_len: usize,
        headers: impl FnOnce(&mut Vec<u8>),
    ) {
        let body = 1
            + varlong_len(ts_delta)
            + varint_len(offset_delta)
            + field_len(key)
            + field_len(value)
            + varint_len(header_count)
            + headers_len;
        let out = &mut self.buf;
        write_varint(out, body as i32);
        out.push(attributes as u8);
        write_varlong(out, ts_delta);
        write_varint(out, offset_delta);
        put_field(out, key);
        put_field(out, value);
        write_varint(out, header_count);
        headers(out);
    }

    /// The finished batch: records compressed with the codec, header and
    /// CRC-32C filled in.
    pub fn finish(self) -> Result<Vec<u8>, RecordsError> {
        let mut buf = self.buf;
        let codec = if self.codec != Codec::None && self.count > 0 {
            let compressed = self
                .codec
                .compress(buf.get(BATCH_HEADER_SIZE..).unwrap_or(&[]))?;
            buf.truncate(BATCH_HEADER_SIZE);
            buf.extend_from_slice(&compressed);
            self.codec
        } else {
            Codec::None
        };
        let batch_length = i32::try_from(buf.len() - LOG_OVERHEAD)
            .map_err(|_| RecordsError::Oversized(buf.len()))?;
        let base_timestamp = self.base_timestamp.unwrap_or(-1);
        let max_timestamp = if self.count == 0 && self.flags & TIMESTAMP_TYPE_MASK == 0 {
            base_timestamp
        } else {
            self.max_timestamp
        };
        let h = &mut buf;
        put(h, BASE_OFFSET_OFFSET, &self.base_offset.to_be_bytes())?;
        put(h, BATCH_LENGTH_OFFSET, &batch_length.to_be_bytes())?;
        put(
            h,
            PARTITION_LEADER_EPOCH_OFFSET,
            &self.partition_leader_epoch.to_be_bytes(),
        )?;
        put(h, MAGIC_OFFSET, &[MAGIC_V2 as u8])?;
        put(
            h,
            ATTRIBUTES_OFFSET,
            &(self.flags | codec.id()).to_be_bytes(),
        )?;
        put(
            h,
            LAST_OFFSET_DELTA_OFFSET,
            &self.last_offset_delta.max(0).to_be_bytes(),
        )?;
        put(h, BASE_TIMESTAMP_OFFSET, &base_timestamp.to_be_bytes())?;
        put(h, MAX_TIMESTAMP_OFFSET, &max_timestamp.to_be_bytes())?;
        put(h, PRODUCER_ID_OFFSET, &self.producer_id.to_be_bytes())?;
        put(h, PRODUCER_EPOCH_OFFSET, &self.producer_epoch.to_be_bytes())?;
        put(h, BASE_SEQUENCE_OFFSET, &self.base_sequence.to_be_bytes())?;
        put(h, RECORD_COUNT_OFFSET, &self.count.to_be_bytes())?;
        update_crc(h)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::batch::{check_batch_integrity, records_section};
    use crate::records::{records, MAX_DECOMPRESSED_BATCH_BYTES};

    #[test]
    fn every_codec_builds_a_valid_batch_that_reads_back() {
        for codec in Codec::ALL {
            let mut b = BatchBuilder::new(codec)
                .with_base_offset(7)
                .with_producer(3, 1, 10);
            for i in 0..50 {
                let v = format!("value-{i}");
                b.append(1_000 + i, Some(b"key"), Some(v.as_bytes()), &[(b"h", None)]);
            }
            let batch = b.finish().unwrap();
            let h = check_batch_integrity(&batch).unwrap();
            assert_eq!(Codec::from_attributes(h.attributes).unwrap(), codec);
            assert_eq!(
                (h.base_offset, h.record_count, h.last_offset_delta),
                (7, 50, 49)
            );
            assert_eq!((h.base_timestamp, h.max_timestamp), (1_000, 1_049));
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (3, 1, 10)
            );
            let section = codec
                .decompress(
                    records_section(&batch, &h).unwrap(),
                    MAX_DECOMPRESSED_BATCH_BYTES,
                )
                .unwrap();
            let mut it = records(&section, h.record_count).unwrap();
            for (i, r) in it.by_ref().enumerate() {
                let r = r.unwrap();
                assert_eq!(r.offset_delta, i as i32);
                assert_eq!(r.value, Some(format!("value-{i}").as_bytes()));
                assert_eq!(r.headers().count(), 1);
            }
            it.finish().unwrap();
        }
    }

    #[test]
    fn like_and_push_record_rewrite_a_batch() {
        let mut b = BatchBuilder::new(Codec::None).with_base_timestamp(500);
        for i in 0..4 {
            b.append_with_offset_delta(i * 2, 500 + i64::from(i), Some(b"k"), Some(b"v"), &[]);
        }
        let batch = b.finish().unwrap();
        let h = check_batch_integrity(&batch).unwrap();
        assert_eq!(h.last_offset_delta, 6);
        let section = records_section(&batch, &h).unwrap();
        // Renumbered and gzip'd; then the same records kept byte for byte.
        let mut r = BatchBuilder::like(&h).with_codec(Codec::Gzip);
        let mut same = BatchBuilder::like(&h);
        for (i, rec) in records(section, h.record_count).unwrap().enumerate() {
            let rec = rec.unwrap();
            r.push_record(&rec, i as i32);
            same.push_record(&rec, rec.offset_delta);
        }
        let same = same.finish().unwrap();
        assert_eq!(same, batch);
        let out = r.finish().unwrap();
        let h2 = check_batch_integrity(&out).unwrap();
        assert_eq!(
            (h2.last_offset_delta, h2.record_count, h2.max_timestamp),
            (3, 4, 503)
        );
        let plain = Codec::Gzip
            .decompress(records_section(&out, &h2).unwrap(), 1 << 20)
            .unwrap();
        let deltas: Vec<i32> = records(&plain, 4)
            .unwrap()
            .map(|r| r.unwrap().offset_delta)
            .collect();
        assert_eq!(deltas, vec![0, 1, 2, 3]);
        // An empty builder makes a valid empty batch.
        let empty = BatchBuilder::new(Codec::Zstd).finish().unwrap();
        assert_eq!(check_batch_integrity(&empty).unwrap().record_count, 0);
    }
}
