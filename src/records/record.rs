//! The records of a v2 batch (Kafka's `DefaultRecord`), read in place: a
//! borrowed iterator over an (uncompressed) records section.
//!
//! A record is `length varint | attributes i8 | timestampDelta varlong |
//! offsetDelta varint | key (varint length, -1 null) | value (same) |
//! header count varint | headers (key: varint length ≥ 0, value: -1 null)`.
//!
//! Invariants: nothing is allocated per record; every length and count is
//! checked against the bytes present (a record's fields must fill exactly its
//! length, a declared record count must fit the section at 7 bytes a record);
//! the iterator stops at the first error, which it yields.

use super::varint::{read_varint, read_varlong};
use super::RecordsError;

/// The smallest record: a one-byte length and six one-byte fields.
pub const MIN_RECORD_SIZE: usize = 7;

/// One record, borrowed from its records section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Record attributes (unused by Kafka, kept as sent).
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// Number of headers.
    pub header_count: i32,
    /// The headers, undecoded (after the count); see [`Record::headers`].
    pub headers_raw: &'a [u8],
    /// The whole record as stored, its length varint included.
    pub raw: &'a [u8],
}

impl<'a> Record<'a> {
    /// The record's headers as (key, value) pairs (already checked).
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            data: self.headers_raw,
            pos: 0,
            left: self.header_count.max(0),
        }
    }
}

/// Iterator over a record's headers (the default: none).
#[derive(Clone, Debug, Default)]
pub struct Headers<'a> {
    data: &'a [u8],
    pos: usize,
    left: i32,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left <= 0 {
            return None;
        }
        self.left -= 1;
        let end = self.data.len();
        let key = read_field(self.data, &mut self.pos, end, "header key").ok()??;
        let value = read_field(self.data, &mut self.pos, end, "header value").ok()?;
        Some((key, value))
    }
}

/// A varint-length-prefixed byte field ending by `end`; -1 is null.
fn read_field<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    end: usize,
    what: &str,
) -> Result<Option<&'a [u8]>, RecordsError> {
    let len = read_varint(buf, pos)?;
    if len < 0 {
        if len == -1 {
            return Ok(None);
        }
        return Err(RecordsError::corrupt(format!(
            "invalid {what} length {len}"
        )));
    }
    let start = *pos;
    let stop = start.saturating_add(len as usize);
    if stop > end {
        return Err(RecordsError::corrupt(format!(
            "{what} of {len} bytes runs past its record"
        )));
    }
    *pos = stop;
    Ok(buf.get(start..stop))
}

/// Iterator over the records of a records section; see [`records`].
#[derive(Clone, Debug)]
pub struct RecordIter<'a> {
    data: &'a [u8],
    pos: usize,
    index: usize,
    count: usize,
    failed: bool,
}

/// The `count` records declared by a batch header in `section` (its records
/// section, decompressed). A count that is negative or could not fit in the
/// section is an error before anything is read.
pub fn records(section: &[u8], count: i32) -> Result<RecordIter<'_>, RecordsError> {
    let count = usize::try_from(count)
        .map_err(|_| RecordsError::corrupt(format!("negative record count {count}")))?;
    if count > section.len() / MIN_RECORD_SIZE {
        return Err(RecordsError::corrupt(format!(
            "batch declares {count} records but its {} bytes cannot hold them",
            section.len()
        )));
    }
    Ok(RecordIter {
        data: section,
        pos: 0,
        index: 0,
        count,
        failed: false,
    })
}

impl<'a> RecordIter<'a> {
    /// Bytes after the records read so far (after the last record: trailing
    /// bytes the batch should not have).
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// Checks that the section held exactly the declared records and
    /// nothing after them (call once the iterator is exhausted).
    pub fn finish(&self) -> Result<(), RecordsError> {
        if self.index < self.count {
            return Err(RecordsError::corrupt(format!(
                "batch declares {} records but only {} were read",
                self.count, self.index
            )));
        }
        if !self.rest().is_empty() {
            return Err(RecordsError::corrupt(format!(
                "{} bytes after the batch's {} declared records",
                self.rest().len(),
                self.count
            )));
        }
        Ok(())
    }

    fn read_one(&mut self) -> Result<Record<'a>, RecordsError> {
        let data = self.data;
        let i = self.index;
        let start = self.pos;
        let mut pos = start;
        let len = read_varint(data, &mut pos)?;
        if len < 0 {
            return Err(RecordsError::corrupt(format!(
                "negative record length {len}"
            )));
        }
        let body = pos;
        let end = body.saturating_add(len as usize);
        if end > data.len() {
            return Err(RecordsError::corrupt(format!(
                "record {i} of {len} bytes runs past the end of the batch"
            )));
        }
        let rec = data.get(..end).unwrap_or(&[]);
        let attributes = *rec
            .get(pos)
            .ok_or_else(|| RecordsError::corrupt(format!("record {i} is empty")))?
            as i8;
        pos += 1;
        let timestamp_delta = read_varlong(rec, &mut pos)?;
        let offset_delta = read_varint(rec, &mut pos)?;
        let key = read_field(rec, &mut pos, end, "key")?;
        let value = read_field(rec, &mut pos, end, "value")?;
        let header_count = read_varint(rec, &mut pos)?;
        if header_count < 0 {
            return Err(RecordsError::corrupt(format!(
                "invalid number of record headers {header_count}"
            )));
        }
        let headers_start = pos;
        for _ in 0..header_count {
            if read_field(rec, &mut pos, end, "header key")?.is_none() {
                return Err(RecordsError::corrupt("null header key"));
            }
            read_field(rec, &mut pos, end, "header value")?;
        }
        if pos != end {
            return Err(RecordsError::corrupt(format!(
                "record {i}: expected to read {len} bytes, read {}",
                pos.saturating_sub(body)
            )));
        }
        self.pos = end;
        Ok(Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers_raw: rec.get(headers_start..end).unwrap_or(&[]),
            raw: rec.get(start..end).unwrap_or(&[]),
        })
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<Record<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.index >= self.count {
            return None;
        }
        let r = self.read_one();
        match &r {
            Ok(_) => self.index += 1,
            Err(_) => self.failed = true,
        }
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count.saturating_sub(self.index);
        (0, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::batch::{BatchHeader, BATCH_HEADER_SIZE};
    use crate::records::testing::build_batch;
    use crate::records::BatchBuilder;
    use crate::records::Codec;

    fn section(batch: &[u8]) -> &[u8] {
        &batch[BATCH_HEADER_SIZE..]
    }

    #[test]
    fn reads_keys_values_and_headers() {
        let mut b = BatchBuilder::new(Codec::None);
        b.append(
            10,
            Some(b"k"),
            Some(b"v"),
            &[(b"h1", Some(b"x")), (b"h2", None)],
        );
        b.append(12, None, None, &[]);
        let batch = b.finish().unwrap();
        let h = BatchHeader::parse(&batch).unwrap();
        let mut it = records(section(&batch), h.record_count).unwrap();
        let r0 = it.next().unwrap().unwrap();
        assert_eq!(
            (r0.key, r0.value, r0.offset_delta),
            (Some(&b"k"[..]), Some(&b"v"[..]), 0)
        );
        let hs: Vec<_> = r0.headers().collect();
        assert_eq!(hs, vec![(&b"h1"[..], Some(&b"x"[..])), (&b"h2"[..], None)]);
        let r1 = it.next().unwrap().unwrap();
        assert_eq!(
            (r1.key, r1.value, r1.offset_delta, r1.timestamp_delta),
            (None, None, 1, 2)
        );
        assert!(it.next().is_none());
        it.finish().unwrap();
        assert_eq!(r0.raw.len() + r1.raw.len(), section(&batch).len());
    }

    #[test]
    fn truncated_and_hostile_input_is_an_error() {
        let batch = build_batch(
            0,
            &[(1, Some(b"key"), Some(b"value")), (2, None, Some(b"v"))],
        );
        let s = section(&batch);
        // Every truncation: an error (from the iterator or from finish).
        for cut in 0..s.len() {
            let res: Result<Vec<_>, _> = match records(&s[..cut], 2) {
                Ok(mut it) => it
                    .by_ref()
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(|v| it.finish().map(|_| v)),
                Err(e) => Err(e),
            };
            assert!(res.is_err(), "cut {cut}");
        }
        // A count that cannot fit is refused before reading.
        assert!(records(s, i32::MAX).is_err());
        assert!(records(s, -1).is_err());
        // Trailing bytes.
        let mut long = s.to_vec();
        long.push(0);
        let mut it = records(&long, 2).unwrap();
        assert!(it.by_ref().all(|r| r.is_ok()));
        assert!(it.finish().is_err());
        // A record length pointing past the end, a negative length, a key
        // longer than its record, an overlong varint: errors, no panic.
        for hostile in [
            vec![0x7e, 0, 0, 0, 0, 0, 0],
            vec![0x01, 0, 0, 0, 0, 0, 0],
            vec![0x0c, 0, 0, 0, 0x7e, 0, 0],
            vec![
                0x0c, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0,
            ],
            vec![0x0c, 0, 0, 0, 0, 0, 0x7f],
        ] {
            let r = records(&hostile, 1).unwrap().next().unwrap();
            assert!(r.is_err(), "{hostile:?}");
        }
        // The iterator stops after an error.
        let mut it = records(&[0x7e; 14], 2).unwrap();
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }
}
