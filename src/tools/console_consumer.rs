//! `strom console-consumer` / `kafka-console-consumer`: prints records as
//! Kafka's `DefaultMessageFormatter` does (`print.timestamp`,
//! `print.partition`, `print.offset`, `print.headers`, `print.key`, then the
//! value; fields joined by `key.separator`, default tab; null as `null`).
//!
//! Partitions are assigned, not subscribed: all of the topic's (or
//! `--partition`). With `--group` the start offsets are the group's committed
//! ones (else earliest with `--from-beginning`, latest otherwise) and the
//! positions reached are committed for the group as a simple consumer
//! (OffsetCommit with generation -1 and no member id), every few seconds and
//! on exit — so the group must not have active members. Stops after
//! `--max-messages`, after `--timeout-ms` without a record, or on Ctrl-C,
//! printing `Processed a total of N messages` to stderr; all exit 0.
//!
//! `--topic` names one topic, `--include` is Kafka's topic regex (every
//! matching non-internal topic, as found at start). N counts the records
//! written to stdout: a reader that goes away (`| head -1`) ends the
//! consumer quietly, exit 0, and N is what reached the pipe. `--formatter`
//! takes Kafka's `DefaultMessageFormatter` (the default) or
//! `NoOpMessageFormatter` (prints nothing, counts).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};
use uuid::Uuid;

use super::{connect, deadline, num_prop, output_error, parse_props, ToolError, TopicFilter};
use crate::client::records::{batches, for_each_record, RecordView};
use crate::client::{fetch_version, topic_name, Client, TopicInfo, TOPIC_ID_VERSION};
use crate::records::Header;

/// kafka-console-consumer's flags.
#[derive(Debug, clap::Args)]
pub struct ConsumerArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// The topic to consume.
    #[arg(long, required_unless_present = "include", conflicts_with = "include")]
    pub topic: Option<String>,
    /// A regular expression of topics to consume (Kafka's; `--whitelist` is its old name).
    #[arg(long, alias = "whitelist")]
    pub include: Option<String>,
    /// The message formatter: `kafka.tools.DefaultMessageFormatter` (default) or
    /// `kafka.tools.NoOpMessageFormatter`.
    #[arg(long)]
    pub formatter: Option<String>,
    /// Start at the earliest offset when there is no committed offset.
    #[arg(long)]
    pub from_beginning: bool,
    /// Exit after this many records.
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Exit when no record arrives for this long (ms).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Consumer group: start from its committed offsets and commit the positions.
    #[arg(long)]
    pub group: Option<String>,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// With --partition: `earliest`, `latest` or an offset.
    #[arg(long)]
    pub offset: Option<String>,
    /// Formatter properties: print.key, key.separator, print.timestamp,
    /// print.headers, print.partition, print.offset, print.value, null.literal.
    #[arg(long = "property")]
    pub properties: Vec<String>,
    /// Consumer properties: group.id, fetch.max.wait.ms, max.partition.fetch.bytes, isolation.level.
    #[arg(long = "consumer-property")]
    pub consumer_properties: Vec<String>,
}

/// How records are printed (Kafka's `DefaultMessageFormatter`).
#[derive(Debug, Clone)]
struct Format {
    /// `NoOpMessageFormatter`: nothing is printed.
    noop: bool,
    key: bool,
    value: bool,
    timestamp: bool,
    headers: bool,
    partition: bool,
    offset: bool,
    separator: Vec<u8>,
    line_separator: Vec<u8>,
    null_literal: Vec<u8>,
}

impl Format {
    fn from_props(p: &BTreeMap<String, String>) -> Self {
        let flag = |k: &str, d: bool| p.get(k).map_or(d, |v| v.eq_ignore_ascii_case("true"));
        let s = |k: &str, d: &str| p.get(k).map_or(d, String::as_str).as_bytes().to_vec();
        Format {
            noop: false,
            key: flag("print.key", false),
            value: flag("print.value", true),
            timestamp: flag("print.timestamp", false),
            headers: flag("print.headers", false),
            partition: flag("print.partition", false),
            offset: flag("print.offset", false),
            separator: s("key.separator", "\t"),
            line_separator: s("line.separator", "\n"),
            null_literal: s("null.literal", "null"),
        }
    }

    /// The formatter `--formatter` names (Kafka's class names, with or
    /// without the package).
    fn with_formatter(mut self, name: Option<&str>) -> Result<Self, ToolError> {
        let Some(name) = name else { return Ok(self) };
        match name.rsplit('.').next().unwrap_or(name) {
            "DefaultMessageFormatter" => {}
            "NoOpMessageFormatter" => self.noop = true,
            _ => {
                return Err(ToolError::Usage(format!(
                    "--formatter {name}: strom has kafka.tools.DefaultMessageFormatter and kafka.tools.NoOpMessageFormatter"
                )))
            }
        }
        Ok(self)
    }

    fn write(&self, out: &mut Vec<u8>, partition: i32, log_append_time: bool, r: &RecordView<'_>) {
        if self.noop {
            return;
        }
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if self.timestamp {
            let kind = if log_append_time {
                "LogAppendTime"
            } else {
                "CreateTime"
            };
            fields.push(if r.timestamp < 0 {
                b"NO_TIMESTAMP".to_vec()
            } else {
                format!("{kind}:{}", r.timestamp).into_bytes()
            });
        }
        if self.partition {
            fields.push(format!("Partition:{partition}").into_bytes());
        }
        if self.offset {
            fields.push(format!("Offset:{}", r.offset).into_bytes());
        }
        if self.headers {
            fields.push(self.headers_text(r.headers.clone()));
        }
        let or_null =
            |f: Option<&[u8]>| f.map_or_else(|| self.null_literal.clone(), <[u8]>::to_vec);
        if self.key {
            fields.push(or_null(r.key));
        }
        if self.value {
            fields.push(or_null(r.value));
        }
        out.extend_from_slice(&fields.join(&self.separator[..]));
        if self.value {
            out.extend_from_slice(&self.line_separator);
        }
    }

    /// `k1:v1,k2:v2`, or `NO_HEADERS`.
    fn headers_text<'a>(&self, headers: impl Iterator<Item = Header<'a>>) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (k, v)) in headers.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(k);
            out.push(b':');
            out.extend_from_slice(v.unwrap_or(&self.null_literal));
        }
        if out.is_empty() {
            return b"NO_HEADERS".to_vec();
        }
        out
    }
}

pub async fn run(args: ConsumerArgs) -> Result<(), ToolError> {
    let props = parse_props(&args.properties, "--property")?;
    let cprops = parse_props(&args.consumer_properties, "--consumer-property")?;
    let format = Format::from_props(&props).with_formatter(args.formatter.as_deref())?;
    let group = args
        .group
        .clone()
        .or_else(|| cprops.get("group.id").cloned());
    let idle = args.timeout_ms.map(Duration::from_millis);
    let connect_timeout = idle
        .unwrap_or(super::DEFAULT_TIMEOUT)
        .min(super::DEFAULT_TIMEOUT);
    let max_wait: i32 = num_prop(&cprops, "fetch.max.wait.ms", 500)?;
    let partition_max_bytes: i32 = num_prop(&cprops, "max.partition.fetch.bytes", 1_048_576)?;
    let isolation_level: i8 = match cprops.get("isolation.level").map(String::as_str) {
        Some("read_committed") => 1,
        _ => 0,
    };

    let include = match &args.include {
        Some(p) => Some(TopicFilter::new(p, "--include")?),
        None => None,
    };
    if include.is_some() && (args.partition.is_some() || args.offset.is_some()) {
        return Err(ToolError::Usage(
            "--partition and --offset need --topic, not --include".into(),
        ));
    }
    let mut client = connect(&args.bootstrap_server, "console-consumer", connect_timeout).await?;
    let topics = match (&include, &args.topic) {
        (Some(f), _) => matching_topics(&mut client, f, connect_timeout).await?,
        (None, Some(t)) => vec![
            deadline(connect_timeout, "looking up the topic", client.topic(t))
                .await?
                .ok_or_else(|| ToolError::UnknownTopic(t.clone()))?,
        ],
        (None, None) => return Err(ToolError::Usage("--topic or --include is required".into())),
    };
    let mut positions = BTreeMap::new();
    for (ti, topic) in topics.iter().enumerate() {
        let mut partitions: Vec<i32> = (0..topic.leaders.len() as i32).collect();
        if let Some(p) = args.partition {
            if !partitions.contains(&p) {
                return Err(ToolError::Failed(format!(
                    "partition {p} of topic '{}' does not exist",
                    topic.name
                )));
            }
            partitions = vec![p];
        } else if args.offset.is_some() {
            return Err(ToolError::Usage("--offset needs --partition".into()));
        }
        let start = start_positions(
            &mut client,
            topic,
            &partitions,
            &args,
            group.as_deref(),
            connect_timeout,
        )
        .await?;
        positions.extend(start.into_iter().map(|(p, o)| ((ti, p), o)));
    }

    let mut consumer = Consumer {
        topics,
        positions,
        committed: HashMap::new(),
        format,
        printed: 0,
        written: 0,
        max: args.max_messages,
        max_wait,
        partition_max_bytes,
        isolation_level,
    };
    let result = tokio::select! {
        r = consumer.consume(&mut client, idle, group.as_deref()) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    let commit = match &group {
        Some(g) => consumer.commit(&mut client, g).await,
        None => Ok(()),
    };
    eprintln!("Processed a total of {} messages", consumer.written);
    match result.and(commit) {
        // The reader went away: what it took is all there was to do.
        Err(ToolError::OutputClosed) => Ok(()),
        r => r,
    }
}

/// The non-internal topics `filter` matches, in name order.
async fn matching_topics(
    client: &mut Client,
    filter: &TopicFilter,
    timeout: Duration,
) -> Result<Vec<TopicInfo>, ToolError> {
    let meta = deadline(timeout, "listing topics", client.metadata(&[])).await?;
    let mut names: Vec<String> = meta
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !t.is_internal)
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .filter(|n| filter.matches(n))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        if let Some(t) = deadline(timeout, "looking up the topic", client.topic(&n)).await? {
            out.push(t);
        }
    }
    Ok(out)
}

/// Where each partition starts: `--offset`, the group's committed offset,
/// or earliest/latest.
async fn start_positions(
    client: &mut Client,
    topic: &TopicInfo,
    partitions: &[i32],
    args: &ConsumerArgs,
    group: Option<&str>,
    timeout: Duration,
) -> Result<BTreeMap<i32, i64>, ToolError> {
    let earliest = deadline(timeout, "listing offsets", client.list_offsets(topic, -2)).await?;
    let latest = deadline(timeout, "listing offsets", client.list_offsets(topic, -1)).await?;
    let at = |v: &[i64], p: i32| v.get(p as usize).copied().unwrap_or(0);
    let mut out = BTreeMap::new();
    let committed = match group {
        Some(g) => {
            deadline(timeout, "fetching committed offsets", async {
                committed_offsets(client, g, &topic.name).await
            })
            .await?
        }
        None => HashMap::new(),
    };
    for &p in partitions {
        let start = match (args.offset.as_deref(), committed.get(&p)) {
            (Some("earliest"), _) => at(&earliest, p),
            (Some("latest"), _) => at(&latest, p),
            (Some(n), _) => {
                let n: i64 = n.parse().map_err(|_| {
                    ToolError::Usage(format!(
                        "--offset: '{n}' is not earliest, latest or a number"
                    ))
                })?;
                if n < 0 {
                    (at(&latest, p) + n).max(at(&earliest, p))
                } else {
                    n
                }
            }
            (None, Some(&c)) if c >= 0 => c,
            (None, _) if args.from_beginning => at(&earliest, p),
            (None, _) => at(&latest, p),
        };
        out.insert(p, start);
    }
    Ok(out)
}

/// The group's committed offsets for `topic` by partition.
pub(crate) async fn committed_offsets(
    client: &mut Client,
    group: &str,
    topic: &str,
) -> Result<HashMap<i32, i64>, ToolError> {
    let all = super::consumer_groups::fetch_offsets(client, group).await?;
    Ok(all
        .into_iter()
        .filter(|((t, _), _)| t == topic)
        .map(|((_, p), o)| (p, o))
        .collect())
}

/// A partition: the index of its topic in `Consumer::topics`, and its own.
type Tp = (usize, i32);

struct Consumer {
    topics: Vec<TopicInfo>,
    /// Next offset to print, per partition.
    positions: BTreeMap<Tp, i64>,
    committed: HashMap<Tp, i64>,
    format: Format,
    /// Records formatted (for `--max-messages`).
    printed: u64,
    /// Records written to stdout whole.
    written: u64,
    max: Option<u64>,
    max_wait: i32,
    partition_max_bytes: i32,
    isolation_level: i8,
}

impl Consumer {
    fn done(&self) -> bool {
        self.max.is_some_and(|m| self.printed >= m)
    }

    async fn consume(
        &mut self,
        client: &mut Client,
        idle: Option<Duration>,
        group: Option<&str>,
    ) -> Result<(), ToolError> {
        let mut last_record = Instant::now();
        let mut last_commit = Instant::now();
        let mut by_leader: BTreeMap<i32, Vec<Tp>> = BTreeMap::new();
        for &(ti, p) in self.positions.keys() {
            let topic = &self.topics[ti];
            let leader = topic.leaders.get(p as usize).copied().unwrap_or(-1);
            if leader < 0 {
                return Err(ToolError::Failed(format!(
                    "partition {}-{p} has no leader",
                    topic.name
                )));
            }
            by_leader.entry(leader).or_default().push((ti, p));
        }
        if by_leader.is_empty() {
            return Ok(());
        }
        while !self.done() {
            for (&leader, parts) in &by_leader {
                let mut wait = self.max_wait;
                if let Some(idle) = idle {
                    let left = idle.saturating_sub(last_record.elapsed());
                    wait = wait.min(left.as_millis() as i32);
                }
                let records = self.fetch(client, leader, parts, wait.max(0)).await?;
                let mut out = Vec::new();
                // Where each formatted record ends in `out`.
                let mut ends = Vec::new();
                let before = self.printed;
                for (tp, data, from) in records {
                    self.print_partition(&mut out, &mut ends, tp, &data, from)?;
                    if self.done() {
                        break;
                    }
                }
                if self.printed > before {
                    last_record = Instant::now();
                }
                self.write_out(&out, &ends)?;
                if self.done() {
                    return Ok(());
                }
            }
            if idle.is_some_and(|i| last_record.elapsed() >= i) {
                return Ok(());
            }
            if let Some(g) = group {
                if last_commit.elapsed() >= Duration::from_secs(5) {
                    self.commit(client, g).await?;
                    last_commit = Instant::now();
                }
            }
        }
        Ok(())
    }

    /// Writes the formatted records to stdout, counting those written
    /// whole (`ends`: where each ends in `out`); a closed stdout counts
    /// what got through and is [`ToolError::OutputClosed`].
    fn write_out(&mut self, out: &[u8], ends: &[usize]) -> Result<(), ToolError> {
        let mut lock = std::io::stdout().lock();
        let mut at = 0;
        let mut counted = 0;
        let result = loop {
            if at >= out.len() {
                break lock.flush();
            }
            match lock.write(&out[at..]) {
                Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
            let whole = ends.iter().skip(counted).take_while(|&&e| e <= at).count();
            counted += whole;
            self.written += whole as u64;
        };
        // Records that print nothing (NoOpMessageFormatter, empty fields).
        let rest = ends.len() - counted;
        match result {
            Ok(()) => {
                self.written += rest as u64;
                Ok(())
            }
            Err(e) => Err(output_error(e)),
        }
    }

    /// One Fetch to `leader` for `parts` at their positions.
    async fn fetch(
        &self,
        client: &mut Client,
        leader: i32,
        parts: &[Tp],
        wait: i32,
    ) -> Result<Vec<(Tp, Bytes, i64)>, ToolError> {
        let conn = client.broker(leader).await?;
        let mut version = fetch_version(conn)?;
        if self.topics.iter().any(|t| t.id == Uuid::nil()) {
            version = version.min(TOPIC_ID_VERSION - 1);
        }
        let mut by_topic: BTreeMap<usize, Vec<FetchPartition>> = BTreeMap::new();
        for &(ti, p) in parts {
            by_topic.entry(ti).or_default().push(
                FetchPartition::default()
                    .with_partition(p)
                    .with_fetch_offset(self.positions.get(&(ti, p)).copied().unwrap_or(0))
                    .with_current_leader_epoch(-1)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(self.partition_max_bytes),
            );
        }
        let mut fetch_topics = Vec::new();
        for (ti, partitions) in by_topic {
            let mut ft = FetchTopic::default().with_partitions(partitions);
            if version >= TOPIC_ID_VERSION {
                ft.topic_id = self.topics[ti].id;
            } else {
                ft.topic = topic_name(&self.topics[ti].name);
            }
            fetch_topics.push(ft);
        }
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(wait)
            .with_min_bytes(1)
            .with_max_bytes(52_428_800)
            .with_isolation_level(self.isolation_level)
            .with_session_epoch(-1)
            .with_topics(fetch_topics);
        let timeout = Duration::from_millis(wait.max(0) as u64) + super::DEFAULT_TIMEOUT;
        let resp = deadline(timeout, "fetching", conn.send(req, version)).await?;
        if resp.error_code != 0 {
            return Err(ToolError::broker("Fetch", resp.error_code, None));
        }
        let mut out = Vec::new();
        for t in resp.responses {
            let ti = self.topics.iter().position(|info| {
                if version >= TOPIC_ID_VERSION {
                    info.id == t.topic_id
                } else {
                    info.name == t.topic.as_str()
                }
            });
            let Some(ti) = ti else { continue };
            for pd in t.partitions {
                if pd.error_code != 0 {
                    return Err(ToolError::broker("Fetch", pd.error_code, None));
                }
                let tp = (ti, pd.partition_index);
                let from = self.positions.get(&tp).copied().unwrap_or(0);
                if let Some(r) = pd.records.filter(|r| !r.is_empty()) {
                    out.push((tp, r, from));
                }
            }
        }
        Ok(out)
    }

    fn print_partition(
        &mut self,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        tp: Tp,
        records: &Bytes,
        from: i64,
    ) -> Result<(), ToolError> {
        let p = tp.1;
        let mut pos = 0usize;
        for info in batches(records).collect::<Vec<_>>() {
            let batch = records.slice(pos..pos + info.size);
            pos += info.size;
            let log_append_time = batch.get(21..23).is_some_and(|a| a[1] & 0x08 != 0);
            let mut next = self.positions.get(&tp).copied().unwrap_or(from);
            let mut printed = self.printed;
            let max = self.max;
            for_each_record(&batch, &info, from.max(next), |r| {
                if max.is_some_and(|m| printed >= m) {
                    return;
                }
                self.format.write(out, p, log_append_time, &r);
                ends.push(out.len());
                printed += 1;
                next = r.offset + 1;
            })?;
            self.printed = printed;
            // Skip control batches and compacted-away offsets too, unless we
            // stopped inside this batch.
            if !self.done() {
                next = next.max(info.last_offset + 1);
            }
            self.positions.insert(tp, next);
            if self.done() {
                break;
            }
        }
        Ok(())
    }

    /// Commits the positions that moved since the last commit.
    async fn commit(&mut self, client: &mut Client, group: &str) -> Result<(), ToolError> {
        let moved: Vec<(Tp, i64)> = self
            .positions
            .iter()
            .filter(|(tp, o)| self.committed.get(tp) != Some(o))
            .map(|(&tp, &o)| (tp, o))
            .collect();
        if moved.is_empty() {
            return Ok(());
        }
        let mut by_topic: BTreeMap<usize, Vec<(i32, i64)>> = BTreeMap::new();
        for &((ti, p), o) in &moved {
            by_topic.entry(ti).or_default().push((p, o));
        }
        let offsets: Vec<(String, Vec<(i32, i64)>)> = by_topic
            .into_iter()
            .map(|(ti, ps)| (self.topics[ti].name.clone(), ps))
            .collect();
        deadline(super::DEFAULT_TIMEOUT, "committing offsets", async {
            super::consumer_groups::commit_offsets(client, group, &offsets).await
        })
        .await?;
        self.committed.extend(moved);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatter_matches_kafka_order() {
        let mut p = BTreeMap::new();
        for k in [
            "print.key",
            "print.partition",
            "print.offset",
            "print.timestamp",
        ] {
            p.insert(k.to_string(), "true".to_string());
        }
        p.insert("key.separator".into(), ":".into());
        let f = Format::from_props(&p);
        let mut out = Vec::new();
        let r = RecordView {
            offset: 7,
            timestamp: 42,
            key: None,
            value: Some(b"v"),
            headers: Default::default(),
        };
        f.write(&mut out, 2, false, &r);
        assert_eq!(out, b"CreateTime:42:Partition:2:Offset:7:null:v\n");
    }

    #[test]
    fn headers_print_as_kafka_does() {
        let headers = [(&b"a"[..], Some(&b"1"[..])), (&b"b"[..], None)];
        let f = Format::from_props(&BTreeMap::new());
        assert_eq!(f.headers_text(headers.into_iter()), b"a:1,b:null");
        assert_eq!(f.headers_text(std::iter::empty()), b"NO_HEADERS");
    }
}
