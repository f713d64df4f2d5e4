//! `strom console-producer` / `kafka-console-producer`: one record per stdin
//! line until EOF. `parse.key=true` splits each line at the first
//! `key.separator` (default tab); keyed records go to Kafka's murmur2
//! partition, keyless ones rotate over the partitions per request. Lines
//! already read are sent together (up to `batch.size` bytes per partition);
//! each request is acknowledged (`acks`, default -1) before the next is sent,
//! so the topic keeps stdin's order per partition.
//!
//! As Kafka 3.5's `LineMessageReader`: `parse.headers=true` reads headers
//! first, up to `headers.delimiter` (tab), as `k:v` pairs separated by
//! `headers.separator` (`,`; `headers.key.separator` `:`); a key, value or
//! header value equal to `null.marker` is null. The headers field
//! `NO_HEADERS` (what the console consumer prints for none) is no headers,
//! so a backup made with `print.headers=true` reads back.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Duration;

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::ProduceRequest;
use tokio::sync::mpsc;

use super::{connect, deadline, num_prop, parse_props, partition_for_key, ToolError};
use crate::client::records::{parse_compression, BatchBuilder};
use crate::client::{produce_version, topic_name, TopicInfo, TOPIC_ID_VERSION};

/// kafka-console-producer's flags.
#[derive(Debug, clap::Args)]
pub struct ProducerArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, alias = "broker-list", default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// The topic to produce to.
    #[arg(long)]
    pub topic: String,
    /// Reader properties: parse.key, key.separator, parse.headers,
    /// headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker.
    #[arg(long = "property")]
    pub properties: Vec<String>,
    /// Producer properties: acks, compression.type, batch.size, request.timeout.ms.
    #[arg(long = "producer-property")]
    pub producer_properties: Vec<String>,
    /// Deadline for connecting, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

struct Line {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<OwnedHeader>,
}

/// A header as read from a line: name, value (`None`: null).
type OwnedHeader = (Vec<u8>, Option<Vec<u8>>);

/// How a line's headers are read (`parse.headers` and its separators).
struct HeaderFormat {
    delimiter: Vec<u8>,
    separator: Vec<u8>,
    key_separator: Vec<u8>,
}

/// What the console consumer prints for a record without headers.
const NO_HEADERS: &[u8] = b"NO_HEADERS";

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits off the headers field of `line` (before `delimiter`) and parses it.
fn split_headers(
    line: Vec<u8>,
    number: u64,
    f: &HeaderFormat,
    null_marker: Option<&[u8]>,
) -> Result<(Vec<OwnedHeader>, Vec<u8>), ToolError> {
    let Some(at) = find(&line, &f.delimiter) else {
        return Err(ToolError::Failed(format!(
            "No headers delimiter found on line number {number}: '{}'",
            String::from_utf8_lossy(&line)
        )));
    };
    let field = &line[..at];
    let rest = line[at + f.delimiter.len()..].to_vec();
    if field == NO_HEADERS || Some(field) == null_marker || field.is_empty() {
        return Ok((Vec::new(), rest));
    }
    let mut headers = Vec::new();
    let mut remaining = field;
    loop {
        let (pair, next) = match find(remaining, &f.separator) {
            Some(i) => (&remaining[..i], Some(&remaining[i + f.separator.len()..])),
            None => (remaining, None),
        };
        let Some(k) = find(pair, &f.key_separator) else {
            return Err(ToolError::Failed(format!(
                "No header key separator found in pair '{}' on line number {number}",
                String::from_utf8_lossy(pair)
            )));
        };
        let (key, value) = (&pair[..k], &pair[k + f.key_separator.len()..]);
        if Some(key) == null_marker {
            return Err(ToolError::Failed(format!(
                "Header keys should not be equal to the null marker on line number {number}"
            )));
        }
        let value = (Some(value) != null_marker).then(|| value.to_vec());
        headers.push((key.to_vec(), value));
        match next {
            Some(n) => remaining = n,
            None => break,
        }
    }
    Ok((headers, rest))
}

pub async fn run(args: ProducerArgs) -> Result<(), ToolError> {
    let props = parse_props(&args.properties, "--property")?;
    let pprops = parse_props(&args.producer_properties, "--producer-property")?;
    let parse_key = props.get("parse.key").is_some_and(|v| v == "true");
    let separator = props
        .get("key.separator")
        .cloned()
        .unwrap_or_else(|| "\t".into());
    let ignore_error = props.get("ignore.error").is_some_and(|v| v == "true");
    let null_marker = props.get("null.marker").cloned();
    let prop = |k: &str, d: &str| props.get(k).map_or(d, String::as_str).as_bytes().to_vec();
    let header_format = props
        .get("parse.headers")
        .is_some_and(|v| v == "true")
        .then(|| HeaderFormat {
            delimiter: prop("headers.delimiter", "\t"),
            separator: prop("headers.separator", ","),
            key_separator: prop("headers.key.separator", ":"),
        });
    let acks: i16 = match pprops.get("acks").map(String::as_str) {
        None | Some("all") => -1,
        Some(v) => v
            .parse()
            .map_err(|_| ToolError::Usage(format!("invalid value '{v}' for acks")))?,
    };
    let compression = match pprops.get("compression.type") {
        None => parse_compression("none"),
        Some(c) => parse_compression(c),
    }
    .ok_or_else(|| ToolError::Usage("invalid compression.type".into()))?;
    let batch_size: usize = num_prop(&pprops, "batch.size", 16_384)?;
    let request_timeout = Duration::from_millis(num_prop(&pprops, "request.timeout.ms", 30_000)?);
    let timeout = Duration::from_millis(args.timeout_ms);

    let mut client = connect(&args.bootstrap_server, "console-producer", timeout).await?;
    let topic = deadline(timeout, "looking up the topic", client.topic(&args.topic))
        .await?
        .ok_or_else(|| ToolError::UnknownTopic(args.topic.clone()))?;
    if topic.leaders.is_empty() {
        return Err(ToolError::Failed(format!(
            "topic '{}' has no partitions",
            args.topic
        )));
    }

    // A thread reads stdin (blocking) and hands lines over.
    let (tx, mut rx) = mpsc::channel::<Result<Line, ToolError>>(1024);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for (i, line) in stdin.lock().split(b'\n').enumerate() {
            let number = i as u64 + 1;
            let msg = match line {
                Err(e) => Err(ToolError::Io("cannot read stdin".into(), e)),
                Ok(mut l) => {
                    if l.last() == Some(&b'\r') {
                        l.pop();
                    }
                    let marker = null_marker.as_deref().map(str::as_bytes);
                    let headers = match &header_format {
                        Some(f) => split_headers(l, number, f, marker),
                        None => Ok((Vec::new(), l)),
                    };
                    headers.and_then(|(headers, l)| {
                        split_line(l, number, parse_key, separator.as_bytes(), ignore_error).map(
                            |(key, value)| {
                                let marker =
                                    |f: Option<Vec<u8>>| f.filter(|b| marker != Some(&b[..]));
                                Line {
                                    key: marker(key),
                                    value: marker(value),
                                    headers,
                                }
                            },
                        )
                    })
                }
            };
            let failed = msg.is_err();
            if tx.blocking_send(msg).is_err() || failed {
                return;
            }
        }
    });

    let mut next_keyless = 0usize;
    let mut pending: BTreeMap<usize, BatchBuilder> = BTreeMap::new();
    loop {
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut lines = vec![first?];
        while let Ok(more) = rx.try_recv() {
            lines.push(more?);
            if lines.len() >= 10_000 {
                break;
            }
        }
        let now = crate::util::now_ms();
        for line in lines {
            let p = match &line.key {
                Some(k) => partition_for_key(k, topic.leaders.len()),
                None => next_keyless % topic.leaders.len(),
            };
            let b = pending
                .entry(p)
                .or_insert_with(|| BatchBuilder::new(batch_size, compression));
            let headers: Vec<crate::records::Header<'_>> = line
                .headers
                .iter()
                .map(|(k, v)| (&k[..], v.as_deref()))
                .collect();
            b.append_with_headers(now, line.key.as_deref(), line.value.as_deref(), &headers);
            if b.size() >= batch_size {
                let batch = b.finish(batch_size)?;
                send(&mut client, &topic, vec![(p, batch)], acks, request_timeout).await?;
            }
        }
        next_keyless = next_keyless.wrapping_add(1);
        let mut ready = Vec::new();
        for (&p, b) in pending.iter_mut() {
            if b.record_count() > 0 {
                ready.push((p, b.finish(batch_size)?));
            }
        }
        if !ready.is_empty() {
            send(&mut client, &topic, ready, acks, request_timeout).await?;
        }
    }
    Ok(())
}

/// A record's key and value.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Splits a line into key and value as Kafka's `LineMessageReader` does.
fn split_line(
    line: Vec<u8>,
    number: u64,
    parse_key: bool,
    separator: &[u8],
    ignore_error: bool,
) -> Result<KeyValue, ToolError> {
    if !parse_key {
        return Ok((None, Some(line)));
    }
    let at = (!separator.is_empty())
        .then(|| line.windows(separator.len()).position(|w| w == separator))
        .flatten();
    match at {
        Some(i) => Ok((
            Some(line[..i].to_vec()),
            Some(line[i + separator.len()..].to_vec()),
        )),
        None if ignore_error => Ok((None, Some(line))),
        None => Err(ToolError::Failed(format!(
            "No key separator found on line number {number}: '{}'",
            String::from_utf8_lossy(&line)
        ))),
    }
}

/// One Produce request to the leaders of `batches`' partitions, awaiting
/// the acknowledgement (unless acks=0).
async fn send(
    client: &mut crate::client::Client,
    topic: &TopicInfo,
    batches: Vec<(usize, bytes::Bytes)>,
    acks: i16,
    timeout: Duration,
) -> Result<(), ToolError> {
    let mut by_leader: BTreeMap<i32, Vec<PartitionProduceData>> = BTreeMap::new();
    for (p, batch) in batches {
        let leader = topic.leaders.get(p).copied().unwrap_or(-1);
        if leader < 0 {
            return Err(ToolError::Failed(format!(
                "partition {}-{p} has no leader",
                topic.name
            )));
        }
        by_leader.entry(leader).or_default().push(
            PartitionProduceData::default()
                .with_index(p as i32)
                .with_records(Some(batch)),
        );
    }
    for (leader, partitions) in by_leader {
        let conn = client.broker(leader).await?;
        let version = produce_version(conn)?;
        let mut td = TopicProduceData::default().with_partition_data(partitions);
        if version >= TOPIC_ID_VERSION {
            td.topic_id = topic.id;
        } else {
            td.name = topic_name(&topic.name);
        }
        let req = ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(timeout.as_millis().min(i32::MAX as u128) as i32)
            .with_topic_data(vec![td]);
        if acks == 0 {
            conn.send_oneway(req, version).await?;
            continue;
        }
        let resp = deadline(timeout, "waiting for the produce acknowledgement", async {
            conn.send(req, version).await
        })
        .await?;
        for t in resp.responses {
            for p in t.partition_responses {
                if p.error_code != 0 {
                    return Err(ToolError::broker(
                        "Produce",
                        p.error_code,
                        p.error_message.as_ref(),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_as_kafka_reads_them() {
        let f = HeaderFormat {
            delimiter: b"\t".to_vec(),
            separator: b",".to_vec(),
            key_separator: b":".to_vec(),
        };
        let (h, rest) =
            split_headers(b"a:1,b:<null>\tk\tv".to_vec(), 1, &f, Some(b"<null>")).unwrap();
        assert_eq!(
            h,
            [(b"a".to_vec(), Some(b"1".to_vec())), (b"b".to_vec(), None)]
        );
        assert_eq!(rest, b"k\tv");
        let (h, rest) = split_headers(b"NO_HEADERS\tv".to_vec(), 1, &f, None).unwrap();
        assert!(h.is_empty());
        assert_eq!(rest, b"v");
        assert!(split_headers(b"nokv\tv".to_vec(), 2, &f, None).is_err());
        assert!(split_headers(b"no delimiter".to_vec(), 3, &f, None).is_err());
    }

    #[test]
    fn lines_split_at_the_first_separator() {
        let (k, v) = split_line(b"k1:a:b".to_vec(), 1, true, b":", false).unwrap();
        assert_eq!((k.unwrap(), v.unwrap()), (b"k1".to_vec(), b"a:b".to_vec()));
        assert!(split_line(b"nokey".to_vec(), 3, true, b":", false).is_err());
        let (k, v) = split_line(b"x".to_vec(), 1, false, b":", false).unwrap();
        assert_eq!((k, v.unwrap()), (None, b"x".to_vec()));
    }
}
