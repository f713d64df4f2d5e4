//! Browsing a topic's messages: one or all partitions, from the oldest, the
//! newest, an offset or a timestamp, paging forward and back with a cursor
//! (`partition:offset,…`); a text search over key and value and a filter on
//! one JSON field (`repo_name = mundus-editor-application`); the live tail.
//!
//! Bounded: one request reads at most [`SCAN_BUDGET`] bytes of batches (in
//! reads of at most [`READ_CHUNK`]) and shows at most [`MAX_LIMIT`] records;
//! a search that runs out of budget says where each partition stopped, and
//! its next cursor continues there. Reads go through the replica manager on
//! the blocking pool, each holding the partition's log lock only for that
//! read.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::ConsoleError;
use crate::records::{records, records_section, BatchHeader, Codec, MAX_DECOMPRESSED_BATCH_BYTES};
use crate::replica_manager::{Partition, ReplicaManager};

/// Bytes of batches one request reads at most.
pub const SCAN_BUDGET: usize = 8 << 20;
/// Bytes one read asks the log for.
pub const READ_CHUNK: usize = 1 << 20;
/// Records one page shows by default.
pub const DEFAULT_LIMIT: usize = 100;
/// Records one page shows at most.
pub const MAX_LIMIT: usize = 500;

/// Where a page starts.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum From {
    /// Each partition's log start.
    #[default]
    Oldest,
    /// The last `limit` records.
    Newest,
    /// `offset` in each partition.
    Offset,
    /// The first record at or after `timestamp` (ms) in each partition.
    Timestamp,
}

/// What to show; the query string of the messages page and API.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct BrowseQuery {
    /// One partition, or all when absent.
    pub partition: Option<i32>,
    /// Where to start (ignored with `cursor`).
    #[serde(default)]
    pub from: From,
    /// With `from=offset`.
    pub offset: Option<i64>,
    /// With `from=timestamp`, ms since the epoch.
    pub timestamp: Option<i64>,
    /// `partition:offset,…` from a previous page's `next_cursor`/`prev_cursor`.
    pub cursor: Option<String>,
    /// Records per page (default 100, at most 500).
    pub limit: Option<usize>,
    /// Text searched in key and value (case-insensitive).
    pub q: Option<String>,
    /// `field = value` on the JSON value (a dotted path for nested fields).
    pub filter: Option<String>,
}

/// A header of a shown record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HeaderView {
    /// Header key.
    pub key: String,
    /// Its value as text, or base64 when binary; null when null.
    pub value: Option<String>,
    /// `text` or `base64`.
    pub encoding: &'static str,
}

/// One shown record.
#[derive(Clone, Debug, Serialize)]
pub struct RecordView {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp, ms since the epoch.
    pub timestamp: i64,
    /// `CreateTime` or `LogAppendTime`.
    pub timestamp_type: &'static str,
    /// Key as text, or base64 when binary; null when null.
    pub key: Option<String>,
    /// `text` or `base64`.
    pub key_encoding: &'static str,
    /// Value as text, or base64 when binary; null when null.
    pub value: Option<String>,
    /// `json`, `text` or `base64`.
    pub value_encoding: &'static str,
    /// Headers in order.
    pub headers: Vec<HeaderView>,
    /// Value size in bytes.
    pub value_size: usize,
}

/// One page of records.
#[derive(Debug, Serialize)]
pub struct Page {
    /// The records, ordered by timestamp, then partition and offset.
    pub records: Vec<RecordView>,
    /// The cursor of the next page (forward).
    pub next_cursor: String,
    /// The cursor of the previous page; absent at the start of every partition.
    pub prev_cursor: Option<String>,
    /// Batch bytes read for this page.
    pub scanned_bytes: usize,
    /// Where each partition's scan stopped (the next offset to read).
    pub stopped_at: BTreeMap<i32, i64>,
    /// Whether the scan reached the end of every partition.
    pub end_reached: bool,
    /// Whether the byte budget ran out before the page was full.
    pub budget_exhausted: bool,
}

/// A parsed `field = value` filter.
#[derive(Clone, Debug)]
struct FieldFilter {
    path: Vec<String>,
    value: String,
}

fn parse_filter(f: &str) -> Result<FieldFilter, ConsoleError> {
    let (field, value) = f
        .split_once('=')
        .ok_or_else(|| ConsoleError::BadRequest(format!("filter {f:?}: expected field = value")))?;
    let field = field.trim();
    if field.is_empty() {
        return Err(ConsoleError::BadRequest(format!(
            "filter {f:?}: the field is empty"
        )));
    }
    Ok(FieldFilter {
        path: field.split('.').map(str::to_string).collect(),
        value: value.trim().trim_matches('"').to_string(),
    })
}

impl FieldFilter {
    fn matches(&self, value: &serde_json::Value) -> bool {
        let mut v = value;
        for p in &self.path {
            match v.get(p) {
                Some(next) => v = next,
                None => return false,
            }
        }
        match v {
            serde_json::Value::String(s) => *s == self.value,
            other => serde_json::to_string(other).is_ok_and(|s| s == self.value),
        }
    }
}

/// Parses `p:o,p:o`.
pub fn parse_cursor(c: &str) -> Result<BTreeMap<i32, i64>, ConsoleError> {
    let bad = || ConsoleError::BadRequest(format!("cursor {c:?}: expected partition:offset,…"));
    c.split(',')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (p, o) = pair.split_once(':').ok_or_else(bad)?;
            Ok((
                p.trim().parse().map_err(|_| bad())?,
                o.trim().parse().map_err(|_| bad())?,
            ))
        })
        .collect()
}

/// Formats `p:o,p:o`.
pub fn format_cursor(c: &BTreeMap<i32, i64>) -> String {
    c.iter()
        .map(|(p, o)| format!("{p}:{o}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn encode_bytes(b: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            (s.to_string(), "text")
        }
        _ => (
            base64::engine::general_purpose::STANDARD.encode(b),
            "base64",
        ),
    }
}

/// A stored record as shown.
fn view(
    partition: i32,
    offset: i64,
    timestamp: i64,
    log_append: bool,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: crate::records::Headers<'_>,
) -> RecordView {
    let (key, key_encoding) = match key.map(encode_bytes) {
        Some((k, e)) => (Some(k), e),
        None => (None, "text"),
    };
    let value_size = value.map_or(0, <[u8]>::len);
    let (value, value_encoding) = match value {
        None => (None, "text"),
        Some(v) => {
            let (text, enc) = encode_bytes(v);
            let json = enc == "text"
                && matches!(text.trim_start().chars().next(), Some('{' | '['))
                && serde_json::from_str::<serde_json::Value>(&text).is_ok();
            (Some(text), if json { "json" } else { enc })
        }
    };
    let headers = headers
        .map(|(k, v)| {
            let (key, _) = encode_bytes(k);
            let (value, encoding) = match v.map(encode_bytes) {
                Some((v, e)) => (Some(v), e),
                None => (None, "text"),
            };
            HeaderView {
                key,
                value,
                encoding,
            }
        })
        .collect();
    RecordView {
        partition,
        offset,
        timestamp,
        timestamp_type: if log_append {
            "LogAppendTime"
        } else {
            "CreateTime"
        },
        key,
        key_encoding,
        value,
        value_encoding,
        headers,
        value_size,
    }
}

/// What one partition's scan found.
struct Scan {
    found: Vec<RecordView>,
    /// The next offset to read after the scan.
    next: i64,
    bytes: usize,
}

/// The filters of a query.
struct Filters {
    text: Option<String>,
    field: Option<FieldFilter>,
}

impl Filters {
    fn any(&self) -> bool {
        self.text.is_some() || self.field.is_some()
    }

    fn keep(&self, key: Option<&[u8]>, value: Option<&[u8]>) -> bool {
        if let Some(q) = &self.text {
            let has = |b: Option<&[u8]>| {
                b.is_some_and(|b| String::from_utf8_lossy(b).to_lowercase().contains(q))
            };
            if !has(key) && !has(value) {
                return false;
            }
        }
        if let Some(f) = &self.field {
            let Some(v) = value.and_then(|v| serde_json::from_slice(v).ok()) else {
                return false;
            };
            if !f.matches(&v) {
                return false;
            }
        }
        true
    }
}

/// Scans one partition from `from` until `limit` records matched, `end`,
/// or `budget` bytes were read. Blocking (log reads).
fn scan(
    rm: &ReplicaManager,
    partition: &Partition,
    from: i64,
    end: i64,
    limit: usize,
    budget: usize,
    filters: &Filters,
) -> Scan {
    let mut scan = Scan {
        found: Vec::new(),
        next: from,
        bytes: 0,
    };
    while scan.next < end && scan.found.len() < limit && scan.bytes < budget {
        let want = READ_CHUNK.min(budget - scan.bytes);
        let (_, data) = rm.read(partition, scan.next, want, true);
        let Ok(data) = data else { break };
        if data.is_empty() {
            break;
        }
        scan.bytes += data.len();
        let mut pos = 0;
        let before = scan.next;
        while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
            let Ok(h) = BatchHeader::parse(rest) else {
                break;
            };
            let size = h.total_size();
            let Some(batch) = rest.get(..size) else { break };
            pos += size;
            if h.last_offset() < scan.next {
                continue;
            }
            if h.is_control() {
                scan.next = h.last_offset() + 1;
                continue;
            }
            let Ok(raw) = records_section(batch, &h) else {
                scan.next = h.last_offset() + 1;
                continue;
            };
            let section = match Codec::from_attributes(h.attributes) {
                Ok(Codec::None) => std::borrow::Cow::Borrowed(raw),
                Ok(codec) => match codec.decompress(raw, MAX_DECOMPRESSED_BATCH_BYTES) {
                    Ok(v) => std::borrow::Cow::Owned(v),
                    Err(_) => {
                        scan.next = h.last_offset() + 1;
                        continue;
                    }
                },
                Err(_) => {
                    scan.next = h.last_offset() + 1;
                    continue;
                }
            };
            let Ok(iter) = records(&section, h.record_count) else {
                scan.next = h.last_offset() + 1;
                continue;
            };
            let mut full = false;
            for r in iter {
                let Ok(r) = r else { break };
                let offset = h.base_offset + i64::from(r.offset_delta);
                if offset < scan.next {
                    continue;
                }
                if scan.found.len() >= limit {
                    full = true;
                    break;
                }
                scan.next = offset + 1;
                if filters.keep(r.key, r.value) {
                    scan.found.push(view(
                        partition.index,
                        offset,
                        h.record_timestamp(r.timestamp_delta),
                        h.is_log_append_time(),
                        r.key,
                        r.value,
                        r.headers(),
                    ));
                }
            }
            if full {
                break;
            }
            if scan.found.len() < limit {
                scan.next = scan.next.max(h.last_offset() + 1);
            }
        }
        if scan.next == before {
            // Nothing readable here (a gap left by compaction or retention).
            scan.next += 1;
        }
    }
    scan.next = scan.next.min(end);
    scan
}

/// The partitions a query covers, each with (start, end) offsets.
fn partitions(
    rm: &ReplicaManager,
    topic: &str,
    partition: Option<i32>,
) -> Result<Vec<(Arc<Partition>, i64, i64)>, ConsoleError> {
    let t = rm
        .topic(topic)
        .ok_or_else(|| ConsoleError::NotFound(format!("no topic {topic}")))?;
    let list: Vec<Arc<Partition>> = match partition {
        Some(p) => vec![t.partition(p).cloned().ok_or_else(|| {
            ConsoleError::NotFound(format!("topic {topic} has no partition {p}"))
        })?],
        None => t.partitions.clone(),
    };
    Ok(list
        .into_iter()
        .map(|p| {
            let o = p.offsets();
            (p, o.log_start_offset, o.high_watermark)
        })
        .collect())
}

/// One page of a topic's records (blocking: run it on the blocking pool).
pub fn browse(rm: &ReplicaManager, topic: &str, q: &BrowseQuery) -> Result<Page, ConsoleError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let filters = Filters {
        text: q
            .q
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase),
        field: q
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_filter)
            .transpose()?,
    };
    let parts = partitions(rm, topic, q.partition)?;
    let cursor = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let newest = cursor.is_none() && q.from == From::Newest && !filters.any();
    let mut starts = BTreeMap::new();
    for (p, start, end) in &parts {
        let at = match (&cursor, q.from) {
            (Some(c), _) => c.get(&p.index).copied().unwrap_or(*start),
            (None, From::Oldest) => *start,
            (None, From::Newest) => end.saturating_sub(limit as i64),
            (None, From::Offset) => q
                .offset
                .ok_or_else(|| ConsoleError::BadRequest("from=offset needs an offset".into()))?,
            (None, From::Timestamp) => {
                let ts = q.timestamp.ok_or_else(|| {
                    ConsoleError::BadRequest("from=timestamp needs a timestamp (ms)".into())
                })?;
                p.with_log(|l| l.offset_for_timestamp(ts))
                    .ok()
                    .flatten()
                    .map_or(*end, |(o, _)| o)
            }
        };
        starts.insert(p.index, at.clamp(*start, *end));
    }
    let mut found = Vec::new();
    let mut stopped = BTreeMap::new();
    let mut scanned = 0usize;
    let mut exhausted = false;
    for (p, _, end) in &parts {
        let from = starts.get(&p.index).copied().unwrap_or(0);
        let left = SCAN_BUDGET.saturating_sub(scanned);
        if left == 0 {
            exhausted = true;
            stopped.insert(p.index, from);
            continue;
        }
        let s = scan(rm, p, from, *end, limit, left, &filters);
        scanned += s.bytes;
        if s.next < *end && s.found.len() < limit {
            exhausted = true;
        }
        stopped.insert(p.index, s.next);
        found.extend(s.found);
    }
    found.sort_by_key(|r| (r.timestamp, r.partition, r.offset));
    if newest {
        let drop = found.len().saturating_sub(limit);
        found.drain(..drop);
    } else {
        found.truncate(limit);
    }
    // Next: after the last record shown from each partition; a partition
    // none of whose records were shown continues where it was (forward
    // pages drop the newest) or where its scan stopped (`newest` drops the
    // oldest).
    let mut next = BTreeMap::new();
    let mut prev = BTreeMap::new();
    for (p, start, _) in &parts {
        let shown: Vec<i64> = found
            .iter()
            .filter(|r| r.partition == p.index)
            .map(|r| r.offset)
            .collect();
        let begin = starts.get(&p.index).copied().unwrap_or(*start);
        let n = match shown.last() {
            Some(last) => last + 1,
            None if newest => stopped.get(&p.index).copied().unwrap_or(begin),
            None if found.len() >= limit => begin,
            None => stopped.get(&p.index).copied().unwrap_or(begin),
        };
        next.insert(p.index, n);
        let first = shown.first().copied().unwrap_or(begin);
        prev.insert(p.index, first.saturating_sub(limit as i64).max(*start));
    }
    let at_start = parts
        .iter()
        .all(|(p, start, _)| starts.get(&p.index).is_none_or(|s| s <= start));
    let end_reached = parts
        .iter()
        .all(|(p, _, end)| next.get(&p.index).is_some_and(|n| n >= end));
    Ok(Page {
        records: found,
        next_cursor: format_cursor(&next),
        prev_cursor: (!at_start).then(|| format_cursor(&prev)),
        scanned_bytes: scanned,
        stopped_at: stopped,
        end_reached,
        budget_exhausted: exhausted,
    })
}

/// The end offsets of a topic's partitions (where a live tail starts).
pub fn end_cursor(
    rm: &ReplicaManager,
    topic: &str,
    partition: Option<i32>,
) -> Result<BTreeMap<i32, i64>, ConsoleError> {
    Ok(partitions(rm, topic, partition)?
        .into_iter()
        .map(|(p, _, end)| (p.index, end))
        .collect())
}

/// The records appended since `cursor` (at most `MAX_LIMIT`); advances it.
pub fn tail(
    rm: &ReplicaManager,
    topic: &str,
    cursor: &mut BTreeMap<i32, i64>,
) -> Result<Vec<RecordView>, ConsoleError> {
    let parts = partitions(rm, topic, None)?;
    let none = Filters {
        text: None,
        field: None,
    };
    let mut out = Vec::new();
    for (p, start, end) in parts {
        let Some(at) = cursor.get_mut(&p.index) else {
            continue;
        };
        if *at >= end {
            continue;
        }
        let s = scan(rm, &p, (*at).max(start), end, MAX_LIMIT, SCAN_BUDGET, &none);
        *at = s.next;
        out.extend(s.found);
    }
    out.sort_by_key(|r| (r.timestamp, r.partition, r.offset));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = parse_cursor("0:12,2:40").unwrap();
        assert_eq!(c.get(&2), Some(&40));
        assert_eq!(format_cursor(&c), "0:12,2:40");
        assert!(parse_cursor("0-12").is_err());
        assert!(parse_cursor("a:1").is_err());
    }

    #[test]
    fn field_filter_and_text_search() {
        let f = Filters {
            text: None,
            field: Some(parse_filter("repo_name = mundus-editor-application").unwrap()),
        };
        assert!(f.keep(None, Some(br#"{"repo_name":"mundus-editor-application"}"#)));
        assert!(!f.keep(None, Some(br#"{"repo_name":"other"}"#)));
        assert!(!f.keep(None, Some(b"not json")));
        let nested = parse_filter("a.b = 3").unwrap();
        assert!(nested.matches(&serde_json::json!({"a": {"b": 3}})));
        let t = Filters {
            text: Some("hello".into()),
            field: None,
        };
        assert!(t.keep(Some(b"xHELLOx"), None));
        assert!(!t.keep(Some(b"k"), Some(b"v")));
        assert!(parse_filter("no equals").is_err());
    }

    #[test]
    fn binary_is_base64_and_json_is_recognised() {
        assert_eq!(encode_bytes(b"abc"), ("abc".to_string(), "text"));
        assert_eq!(encode_bytes(&[0, 159, 146]).1, "base64");
        let v = view(
            0,
            1,
            2,
            false,
            None,
            Some(br#"{"a":1}"#),
            crate::records::Headers::default(),
        );
        assert_eq!(v.value_encoding, "json");
    }
}
