//! `strom console-producer` / `kafka-console-producer`: one record per stdin
//! line until EOF. `parse.key=true` splits each line at the first
//! `key.separator` (default tab); keyed records go to Kafka's murmur2
//! partition, keyless ones rotate over the partitions per request. Lines
//! already read are sent together (up to `batch.size` bytes per partition);
//! each request is acknowledged (`acks`, default -1) before the next is sent,
//! so the topic keeps stdin's order per partition.

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
    /// Reader properties: parse.key, key.separator, ignore.error, null.marker.
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
                    split_line(l, number, parse_key, separator.as_bytes(), ignore_error).map(
                        |(key, value)| {
                            let marker = |f: Option<Vec<u8>>| {
                                f.filter(|b| null_marker.as_deref().map(str::as_bytes) != Some(b))
                            };
                            Line {
                                key: marker(key),
                                value: marker(value),
                            }
                        },
                    )
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
            b.append(now, line.key.as_deref(), line.value.as_deref());
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
    fn lines_split_at_the_first_separator() {
        let (k, v) = split_line(b"k1:a:b".to_vec(), 1, true, b":", false).unwrap();
        assert_eq!((k.unwrap(), v.unwrap()), (b"k1".to_vec(), b"a:b".to_vec()));
        assert!(split_line(b"nokey".to_vec(), 3, true, b":", false).is_err());
        let (k, v) = split_line(b"x".to_vec(), 1, false, b":", false).unwrap();
        assert_eq!((k, v.unwrap()), (None, b"x".to_vec()));
    }
}
