//! `strom perf produce|consume|e2e`: a load tool shaped like Kafka's
//! `kafka-producer-perf-test` / `kafka-consumer-perf-test`, on strom's own
//! client (only standard Kafka APIs, so it measures any Kafka broker).
//!
//! Every record's value is `[record index: u64 BE][send time: µs since the
//! Unix epoch, u64 BE][filler 'A'..'Z' repeating]` (truncated when
//! `--record-size` is below 16), so a consumer can check the data and
//! measure end-to-end latency; the record timestamp is the send time in ms.
//!
//! The producer keeps one batch per partition (sticky partitioning like
//! Kafka's default for keyless records: fill one partition's batch, then move
//! on), seals a batch at `batch.size` or when it is `linger.ms` old, and
//! pipelines up to `max.in.flight.requests.per.connection` requests per
//! leader; a task per leader awaits the acknowledgements in order and records
//! each record's send → ack latency. Records are written straight into the
//! batch buffer: nothing is allocated per record.

mod histogram;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{BrokerId, FetchRequest, ProduceRequest, ProduceResponse};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::client::records::{batches, for_each_record, parse_compression, BatchBuilder};
use crate::client::{
    fetch_version, produce_version, topic_name, Client, ClientError, Connection, PendingResponse,
    TopicInfo, TOPIC_ID_VERSION,
};
pub use histogram::Histogram;

/// Errors of the perf tool.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("bad property {0}: {1}")]
    Property(String, String),
    #[error("topic {0} does not exist (give --partitions to create it)")]
    NoTopic(String),
    #[error("{0} record(s) failed; first error: {1}")]
    ProduceFailed(u64, String),
    #[error("cannot read the broker's CPU time: {0}")]
    BrokerCpu(String),
    #[error("timed out: consumed {got} of {want} records with no new data for {timeout_ms} ms")]
    ConsumeTimeout {
        got: u64,
        want: u64,
        timeout_ms: u64,
    },
}

/// `strom perf`'s modes.
#[derive(Debug, clap::Subcommand)]
pub enum PerfCommand {
    /// Produce records as fast as allowed; report throughput and send → ack latency.
    Produce(PerfArgs),
    /// Consume records from the beginning; report throughput.
    Consume(PerfArgs),
    /// Produce and consume at once; report produce → consume latency.
    E2e(PerfArgs),
}

/// Options shared by every mode (Kafka's perf tools' names).
#[derive(Debug, Clone, clap::Args)]
pub struct PerfArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// The topic to produce to or consume from.
    #[arg(long)]
    pub topic: String,
    /// Records to produce or consume.
    #[arg(long)]
    pub num_records: u64,
    /// Bytes per record value.
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Records per second to produce at most; -1 for no limit.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    pub throughput: f64,
    /// Producer properties `k=v`: acks, linger.ms, batch.size,
    /// compression.type, max.in.flight.requests.per.connection,
    /// max.request.size, request.timeout.ms, client.id.
    #[arg(long, num_args = 1.., value_name = "K=V")]
    pub producer_props: Vec<String>,
    /// Consumer properties `k=v`: fetch.min.bytes, fetch.max.bytes,
    /// fetch.max.wait.ms, max.partition.fetch.bytes, isolation.level,
    /// auto.offset.reset (earliest|latest), client.id.
    #[arg(long, num_args = 1.., value_name = "K=V")]
    pub consumer_props: Vec<String>,
    /// Create the topic with this many partitions if it does not exist.
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replication factor for a created topic (-1: the broker's default).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub replication_factor: i16,
    /// Consumer: give up after this long without new records.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// The broker's process id (same machine): report its CPU time over the
    /// run, from `/proc/PID/stat`, and its CPU per GB moved.
    #[arg(long, conflicts_with = "broker_metrics")]
    pub broker_pid: Option<u32>,
    /// The broker's metrics endpoint `host:port` (`metrics.listener`): the
    /// same figures from its `process_cpu_seconds_total`, and the broker's
    /// own Produce and Fetch request times over the run, from its
    /// `strom_request_duration_seconds` histogram.
    #[arg(long)]
    pub broker_metrics: Option<String>,
    /// produce, e2e: this many producers, each on its own connection(s),
    /// sharing `--num-records` and `--throughput` evenly; their sends are
    /// spread evenly over each producer's send interval (many small clients).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub producers: u32,
    /// consume, e2e: this many independent consumers, each on its own
    /// connection(s) reading every partition (from the beginning in consume
    /// mode) until it has `--num-records`: fan-out, as separate consumer
    /// groups would. The report counts all consumers' records and bytes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub consumers: u32,
}

/// Where the broker's CPU time is read (`--broker-pid`, `--broker-metrics`).
enum BrokerCpu {
    Pid(u32),
    Metrics(String),
}

impl BrokerCpu {
    fn of(args: &PerfArgs) -> Option<Self> {
        match (&args.broker_pid, &args.broker_metrics) {
            (Some(pid), _) => Some(BrokerCpu::Pid(*pid)),
            (None, Some(addr)) => Some(BrokerCpu::Metrics(addr.clone())),
            (None, None) => None,
        }
    }

    /// The broker's user + system CPU time so far, seconds.
    async fn seconds(&self) -> Result<f64, PerfError> {
        match self {
            BrokerCpu::Pid(pid) => {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map_err(|e| PerfError::BrokerCpu(format!("/proc/{pid}/stat: {e}")))?;
                proc_stat_cpu_seconds(&stat)
                    .ok_or_else(|| PerfError::BrokerCpu(format!("/proc/{pid}/stat: unreadable")))
            }
            BrokerCpu::Metrics(addr) => {
                let body = http_get_metrics(addr)
                    .await
                    .map_err(|e| PerfError::BrokerCpu(format!("{addr}/metrics: {e}")))?;
                metric_value(&body, "process_cpu_seconds_total").ok_or_else(|| {
                    PerfError::BrokerCpu(format!("{addr}/metrics: no process_cpu_seconds_total"))
                })
            }
        }
    }
}

/// utime + stime of a `/proc/PID/stat` line, seconds.
fn proc_stat_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // proc(5) fields 14 and 15; field 3 (the state) is the first after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
    Some((utime + stime) as f64 / ticks)
}

/// The value of an unlabelled metric in a Prometheus text exposition.
fn metric_value(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// `GET /metrics` over HTTP/1.0; the body.
async fn http_get_metrics(addr: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 10 s"))??;
    let text = String::from_utf8_lossy(&out);
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.to_string())
        }
        _ => Err(std::io::Error::other("not an HTTP 200 answer")),
    }
}

/// Cumulative `(le, count)` buckets, ascending, `+Inf` last.
type Buckets = Vec<(f64, u64)>;

/// The broker's `strom_request_duration_seconds` buckets by API label.
async fn request_histograms(addr: &str) -> Result<HashMap<String, Buckets>, PerfError> {
    let body = http_get_metrics(addr)
        .await
        .map_err(|e| PerfError::BrokerCpu(format!("{addr}/metrics: {e}")))?;
    Ok(parse_request_histograms(&body))
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let len = labels.get(start..)?.find('"')?;
    labels.get(start..start + len)
}

fn parse_request_histograms(body: &str) -> HashMap<String, Buckets> {
    let mut out: HashMap<String, Buckets> = HashMap::new();
    for line in body.lines() {
        let Some(rest) = line.strip_prefix("strom_request_duration_seconds_bucket{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let (Some(api), Some(le), Ok(count)) = (
            label(labels, "api"),
            label(labels, "le"),
            value.trim().parse::<f64>(),
        ) else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            match le.parse() {
                Ok(v) => v,
                Err(_) => continue,
            }
        };
        out.entry(api.to_string())
            .or_default()
            .push((le, count as u64));
    }
    for b in out.values_mut() {
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
    }
    out
}

/// `after - before`, bucket by bucket (a missing `before` counts zero).
fn diff_buckets(after: &Buckets, before: &Buckets) -> Buckets {
    after
        .iter()
        .map(|&(le, n)| {
            let was = before.iter().find(|(l, _)| *l == le).map_or(0, |&(_, c)| c);
            (le, n.saturating_sub(was))
        })
        .collect()
}

/// The quantile `q` of cumulative buckets (seconds) in ms, interpolated;
/// and the upper bound of its bucket in ms. `None` for no samples.
fn bucket_quantile(b: &Buckets, q: f64) -> Option<(f64, f64)> {
    let total = b.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut lower = (0.0, 0u64);
    for &(le, n) in b {
        if n as f64 >= rank {
            if le.is_infinite() {
                // Beyond the last finite bucket: its bound is all we know.
                return Some((lower.0 * 1e3, f64::INFINITY));
            }
            let in_bucket = (n - lower.1) as f64;
            let frac = if in_bucket > 0.0 {
                (rank - lower.1 as f64) / in_bucket
            } else {
                1.0
            };
            return Some(((lower.0 + (le - lower.0) * frac) * 1e3, le * 1e3));
        }
        lower = (le, n);
    }
    None
}

fn bucket_latency(b: &Buckets) -> Option<BucketLatency> {
    let (p50, _) = bucket_quantile(b, 0.5)?;
    let (p99, p99_le) = bucket_quantile(b, 0.99)?;
    let (p99_9, p99_9_le) = bucket_quantile(b, 0.999)?;
    Some(BucketLatency {
        count: b.last()?.1,
        p50,
        p99,
        p99_9,
        p99_le,
        p99_9_le,
    })
}

fn props(list: &[String]) -> Result<HashMap<String, String>, PerfError> {
    list.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| PerfError::Property(kv.clone(), "expected k=v".into()))
        })
        .collect()
}

fn prop<T: std::str::FromStr>(
    p: &HashMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, PerfError> {
    match p.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| PerfError::Property(key.to_string(), format!("cannot parse {v:?}"))),
    }
}

/// Wall-clock microseconds, monotonic within the process (one
/// `SystemTime` read at start, `Instant` after that).
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    start_us: u64,
}

impl Clock {
    fn new() -> Self {
        let start_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        Clock {
            start: Instant::now(),
            start_us,
        }
    }
    fn now_us(&self) -> u64 {
        self.start_us + self.start.elapsed().as_micros() as u64
    }
}

/// Results of one run, printed as text or JSON.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub records: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    /// Send → ack (produce), produce → consume (e2e); absent for consume.
    pub latency_ms: Option<Latency>,
    pub errors: u64,
    /// The first error, when there were errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// The broker's CPU time (user + system) over the run, seconds, with
    /// `--broker-pid` or `--broker-metrics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_cpu_s: Option<f64>,
    /// `broker_cpu_s` per GB (10^9 bytes) of `bytes`: core-seconds per GB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_cpu_s_per_gb: Option<f64>,
    /// `broker_cpu_s` over the wall time between the two CPU samples: the
    /// broker's mean load in cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_cores: Option<f64>,
    /// With `--broker-metrics`: the broker's own time per request over the
    /// run (read → response ready), by API, from the difference of its
    /// `strom_request_duration_seconds` histogram before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_request_ms: Option<std::collections::BTreeMap<String, BucketLatency>>,
    /// Producers (`--producers`) and consumers (`--consumers`) of the run.
    pub producers: u32,
    pub consumers: u32,
}

/// Request-time quantiles from a bucketed histogram, milliseconds,
/// interpolated linearly within a bucket as Prometheus'
/// `histogram_quantile` does; `*_le` is the upper bound of the bucket the
/// quantile falls in (the figure is at most that).
#[derive(Debug, serde::Serialize)]
pub struct BucketLatency {
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_le: f64,
    pub p99_9_le: f64,
}

/// Latency figures in milliseconds.
#[derive(Debug, serde::Serialize)]
pub struct Latency {
    pub avg: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

impl Latency {
    fn of(h: &Histogram) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            avg: h.mean() / 1000.0,
            p50: ms(h.quantile(0.5)),
            p95: ms(h.quantile(0.95)),
            p99: ms(h.quantile(0.99)),
            p99_9: ms(h.quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

impl Report {
    fn new(mode: &'static str, records: u64, bytes: u64, elapsed: Duration) -> Self {
        let s = elapsed.as_secs_f64().max(1e-9);
        Report {
            mode,
            records,
            bytes,
            elapsed_s: s,
            records_per_sec: records as f64 / s,
            mb_per_sec: bytes as f64 / s / (1024.0 * 1024.0),
            latency_ms: None,
            errors: 0,
            first_error: None,
            broker_cpu_s: None,
            broker_cpu_s_per_gb: None,
            broker_cores: None,
            broker_request_ms: None,
            producers: 1,
            consumers: 1,
        }
    }

    fn set_broker_cpu(&mut self, seconds: f64, wall: Duration) {
        self.broker_cpu_s = Some(seconds);
        self.broker_cpu_s_per_gb = Some(seconds / (self.bytes.max(1) as f64 / 1e9));
        self.broker_cores = Some(seconds / wall.as_secs_f64().max(1e-9));
    }

    fn text(&self) -> String {
        let mut s = format!(
            "{}: {} records, {} bytes in {:.3} s: {:.1} records/sec ({:.2} MB/sec)",
            self.mode,
            self.records,
            self.bytes,
            self.elapsed_s,
            self.records_per_sec,
            self.mb_per_sec
        );
        if let Some(l) = &self.latency_ms {
            s.push_str(&format!(
                "; latency ms: avg {:.3}, p50 {:.3}, p95 {:.3}, p99 {:.3}, p99.9 {:.3}, max {:.3}",
                l.avg, l.p50, l.p95, l.p99, l.p99_9, l.max
            ));
        }
        if let (Some(cpu), Some(per_gb)) = (self.broker_cpu_s, self.broker_cpu_s_per_gb) {
            s.push_str(&format!("; broker CPU {cpu:.2} s ({per_gb:.3} core-s/GB"));
            if let Some(cores) = self.broker_cores {
                s.push_str(&format!(", {cores:.3} cores"));
            }
            s.push(')');
        }
        if let Some(apis) = &self.broker_request_ms {
            for (api, l) in apis {
                s.push_str(&format!(
                    "; broker {api} ms: {} requests, p50 {:.3}, p99 {:.3} (≤ {}), p99.9 {:.3} (≤ {})",
                    l.count, l.p50, l.p99, l.p99_le, l.p99_9, l.p99_9_le
                ));
            }
        }
        if self.producers > 1 {
            s.push_str(&format!("; {} producers", self.producers));
        }
        if self.consumers > 1 {
            s.push_str(&format!("; {} consumers", self.consumers));
        }
        if self.errors > 0 {
            s.push_str(&format!("; {} errors", self.errors));
        }
        s
    }
}

/// Runs one `strom perf` command and prints its report.
pub async fn run(cmd: PerfCommand) -> Result<(), PerfError> {
    let args = match &cmd {
        PerfCommand::Produce(a) | PerfCommand::Consume(a) | PerfCommand::E2e(a) => a.clone(),
    };
    let broker_cpu = BrokerCpu::of(&args);
    let cpu_before = match &broker_cpu {
        Some(b) => Some(b.seconds().await?),
        None => None,
    };
    let wall = Instant::now();
    let hist_before = match &args.broker_metrics {
        Some(addr) => Some(request_histograms(addr).await?),
        None => None,
    };
    let mut report = match &cmd {
        PerfCommand::Produce(args) => produce(args, None).await?.0,
        PerfCommand::Consume(args) => consume_cmd(args).await?,
        PerfCommand::E2e(args) => e2e(args).await?,
    };
    if let (Some(addr), Some(before)) = (&args.broker_metrics, hist_before) {
        let after = request_histograms(addr).await?;
        report.broker_request_ms = Some(
            ["Produce", "Fetch"]
                .iter()
                .filter_map(|api| {
                    let a = after.get(*api)?;
                    let empty = Vec::new();
                    let b = before.get(*api).unwrap_or(&empty);
                    Some((api.to_string(), bucket_latency(&diff_buckets(a, b))?))
                })
                .collect(),
        );
    }
    if let (Some(b), Some(before)) = (&broker_cpu, cpu_before) {
        report.set_broker_cpu(b.seconds().await? - before, wall.elapsed());
    }
    report.producers = args.producers;
    report.consumers = args.consumers;
    let json = args.json;
    if json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!("{}", report.text());
    }
    if report.errors > 0 {
        return Err(PerfError::ProduceFailed(
            report.errors,
            report.first_error.unwrap_or_default(),
        ));
    }
    Ok(())
}

async fn topic_for(client: &mut Client, args: &PerfArgs) -> Result<TopicInfo, PerfError> {
    if let Some(t) = client.topic(&args.topic).await? {
        if t.leaders.iter().all(|&l| l >= 0) && !t.leaders.is_empty() {
            return Ok(t);
        }
    }
    let Some(n) = args.partitions else {
        return Err(PerfError::NoTopic(args.topic.clone()));
    };
    client
        .create_topic(&args.topic, n, args.replication_factor)
        .await?;
    // Leaders may take a moment to be elected on a real cluster.
    for _ in 0..100 {
        if let Some(t) = client.topic(&args.topic).await? {
            if t.leaders.len() == n as usize && t.leaders.iter().all(|&l| l >= 0) {
                return Ok(t);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(PerfError::NoTopic(args.topic.clone()))
}

/// The value of record `index`, written in place into `value`.
fn fill_value(value: &mut [u8], index: u64, send_us: u64) {
    let head = [index.to_be_bytes(), send_us.to_be_bytes()].concat_fixed();
    let n = value.len().min(16);
    value[..n].copy_from_slice(&head[..n]);
}

trait ConcatFixed {
    fn concat_fixed(&self) -> [u8; 16];
}
impl ConcatFixed for [[u8; 8]; 2] {
    fn concat_fixed(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self[0]);
        out[8..].copy_from_slice(&self[1]);
        out
    }
}

/// A value's filler byte at position `j` (≥ 16).
pub fn filler(j: usize) -> u8 {
    b'A' + (j % 26) as u8
}

struct ProducerConfig {
    acks: i16,
    linger: Duration,
    batch_size: usize,
    compression: crate::records::Codec,
    max_in_flight: usize,
    max_request_size: usize,
    timeout_ms: i32,
    client_id: String,
}

impl ProducerConfig {
    fn from(args: &PerfArgs) -> Result<Self, PerfError> {
        let p = props(&args.producer_props)?;
        let acks = match p.get("acks").map(String::as_str).unwrap_or("all") {
            "all" | "-1" => -1,
            "1" => 1,
            "0" => 0,
            other => return Err(PerfError::Property("acks".into(), other.into())),
        };
        let codec = p
            .get("compression.type")
            .map(String::as_str)
            .unwrap_or("none");
        Ok(ProducerConfig {
            acks,
            linger: Duration::from_millis(prop(&p, "linger.ms", 5u64)?),
            batch_size: prop(&p, "batch.size", 16384usize)?.max(1),
            compression: parse_compression(codec)
                .ok_or_else(|| PerfError::Property("compression.type".into(), codec.into()))?,
            max_in_flight: prop(&p, "max.in.flight.requests.per.connection", 5usize)?.max(1),
            max_request_size: prop(&p, "max.request.size", 1_048_576usize)?,
            timeout_ms: prop(&p, "request.timeout.ms", 30_000i32)?,
            client_id: p
                .get("client.id")
                .cloned()
                .unwrap_or_else(|| "strom-perf-producer".into()),
        })
    }
}

/// A batch being filled for one partition.
struct OpenBatch {
    builder: BatchBuilder,
    /// Send time (µs) of each record in the batch.
    sent_us: Vec<u64>,
    opened: Instant,
}

/// Sealed batches in one produce request, awaiting their acknowledgement.
struct InFlight {
    pending: Option<PendingResponse<ProduceResponse>>,
    /// (partition, send times of its records, value bytes)
    batches: Vec<(i32, Vec<u64>, u64)>,
}

/// One leader: its connection, its sealed batches, its ack task.
struct Leader {
    conn: Connection,
    version: i16,
    ready: VecDeque<(i32, Bytes, Vec<u64>, u64)>,
    acks: mpsc::Sender<InFlight>,
    task: tokio::task::JoinHandle<AckStats>,
}

#[derive(Default)]
struct AckStats {
    latency: Histogram,
    records: u64,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
}

impl AckStats {
    /// Adds another producer's (or leader's) figures to these.
    fn absorb(&mut self, other: AckStats) {
        self.latency.merge(&other.latency);
        self.records += other.records;
        self.bytes += other.bytes;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn ack_task(mut rx: mpsc::Receiver<InFlight>, clock: Clock) -> AckStats {
    let mut s = AckStats::default();
    while let Some(req) = rx.recv().await {
        let result = match req.pending {
            Some(p) => p.wait().await.map(Some),
            None => Ok(None),
        };
        let now = clock.now_us();
        let mut failed: HashMap<i32, String> = HashMap::new();
        match result {
            Ok(Some(resp)) => {
                for t in &resp.responses {
                    for p in &t.partition_responses {
                        if p.error_code != 0 {
                            let name = kafka_protocol::ResponseError::try_from_code(p.error_code)
                                .map(|e| format!("{e:?}"))
                                .unwrap_or_default();
                            failed.insert(p.index, format!("error code {} {name}", p.error_code));
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                for (p, _, _) in &req.batches {
                    failed.insert(*p, e.to_string());
                }
            }
        }
        for (partition, sent, bytes) in req.batches {
            if let Some(err) = failed.get(&partition) {
                s.errors += sent.len() as u64;
                s.first_error.get_or_insert_with(|| err.clone());
                continue;
            }
            s.records += sent.len() as u64;
            s.bytes += bytes;
            for t in sent {
                s.latency.record(now.saturating_sub(t));
            }
        }
    }
    s
}

impl Leader {
    /// Sends the sealed batches as produce requests (one batch per
    /// partition per request, up to max.request.size).
    async fn send_ready(
        &mut self,
        topic: &TopicInfo,
        cfg: &ProducerConfig,
    ) -> Result<(), PerfError> {
        while !self.ready.is_empty() {
            let mut partitions = Vec::new();
            let mut meta = Vec::new();
            let mut size = 0usize;
            let mut deferred = VecDeque::new();
            while let Some((p, batch, sent, bytes)) = self.ready.pop_front() {
                let dup = meta.iter().any(|(q, _, _)| *q == p);
                if dup || (size > 0 && size + batch.len() > cfg.max_request_size) {
                    deferred.push_back((p, batch, sent, bytes));
                    continue;
                }
                size += batch.len();
                partitions.push(
                    PartitionProduceData::default()
                        .with_index(p)
                        .with_records(Some(batch)),
                );
                meta.push((p, sent, bytes));
            }
            self.ready = deferred;
            let mut td = TopicProduceData::default().with_partition_data(partitions);
            if self.version >= TOPIC_ID_VERSION {
                td.topic_id = topic.id;
            } else {
                td.name = topic_name(&topic.name);
            }
            let req = ProduceRequest::default()
                .with_acks(cfg.acks)
                .with_timeout_ms(cfg.timeout_ms)
                .with_topic_data(vec![td]);
            let pending = if cfg.acks == 0 {
                self.conn.send_oneway(req, self.version).await?;
                None
            } else {
                Some(self.conn.start(req, self.version).await?)
            };
            self.acks
                .send(InFlight {
                    pending,
                    batches: meta,
                })
                .await
                .map_err(|_| ClientError::Disconnected)?;
        }
        Ok(())
    }
}

/// Produces `args.num_records` with `args.producers` producers; returns the
/// report and the number of records acknowledged. `e2e` gives its clock.
async fn produce(args: &PerfArgs, clock: Option<Clock>) -> Result<(Report, u64), PerfError> {
    let cfg = Arc::new(ProducerConfig::from(args)?);
    let client = Client::connect(&args.bootstrap_server, &cfg.client_id, cfg.max_in_flight).await;
    let mut client = client?;
    let topic = Arc::new(topic_for(&mut client, args).await?);
    let clock = clock.unwrap_or_else(Clock::new);
    let n = u64::from(args.producers.max(1));
    // Every producer's connections are open before the clock starts.
    let mut jobs = Vec::new();
    for k in 0..n {
        let count = args.num_records / n + u64::from(k < args.num_records % n);
        let first = k * (args.num_records / n) + k.min(args.num_records % n);
        let leaders = open_leaders(&client, &topic, &cfg, clock).await?;
        jobs.push(ProduceJob {
            first,
            count,
            // The k-th producer sends k/n of an interval after the first.
            phase: k as f64 / n as f64,
            first_partition: k as usize,
            leaders,
        });
    }
    let throttle = (args.throughput > 0.0).then_some(args.throughput / n as f64);
    let start = Instant::now();
    let tasks: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let (topic, cfg) = (topic.clone(), cfg.clone());
            let record_size = args.record_size;
            tokio::spawn(async move {
                produce_one(job, &topic, &cfg, record_size, throttle, start, clock).await
            })
        })
        .collect();
    let mut stats = AckStats::default();
    for t in tasks {
        stats.absorb(t.await.map_err(|_| ClientError::Disconnected)??);
    }
    let mut report = Report::new("produce", stats.records, stats.bytes, start.elapsed());
    report.latency_ms = Some(Latency::of(&stats.latency));
    report.errors = stats.errors;
    report.first_error = stats.first_error;
    Ok((report, stats.records))
}

/// One producer's share: record indexes `first..first + count`.
struct ProduceJob {
    first: u64,
    count: u64,
    /// Offset of this producer's sends, in send intervals (0..1).
    phase: f64,
    first_partition: usize,
    leaders: HashMap<i32, Leader>,
}

/// A connection (and ack task) to each leader of `topic`.
async fn open_leaders(
    client: &Client,
    topic: &TopicInfo,
    cfg: &ProducerConfig,
    clock: Clock,
) -> Result<HashMap<i32, Leader>, PerfError> {
    let mut leaders: HashMap<i32, Leader> = HashMap::new();
    for &l in &topic.leaders {
        if leaders.contains_key(&l) {
            continue;
        }
        let conn = client.open(l).await?;
        let mut version = produce_version(&conn)?;
        if topic.id == Uuid::nil() {
            version = version.min(TOPIC_ID_VERSION - 1);
        }
        let (tx, rx) = mpsc::channel(cfg.max_in_flight * 2);
        let task = tokio::spawn(ack_task(rx, clock));
        leaders.insert(
            l,
            Leader {
                conn,
                version,
                ready: VecDeque::new(),
                acks: tx,
                task,
            },
        );
    }
    Ok(leaders)
}

/// Runs one producer at `throttle` records/s (None: unlimited).
async fn produce_one(
    job: ProduceJob,
    topic: &TopicInfo,
    cfg: &ProducerConfig,
    record_size: usize,
    throttle: Option<f64>,
    start: Instant,
    clock: Clock,
) -> Result<AckStats, PerfError> {
    let ProduceJob {
        first,
        count,
        phase,
        first_partition,
        mut leaders,
    } = job;
    let n_partitions = topic.leaders.len().max(1);
    let capacity = cfg.batch_size.min(4 << 20) + 1024;
    let mut open: Vec<OpenBatch> = (0..n_partitions)
        .map(|_| OpenBatch {
            builder: BatchBuilder::new(capacity, cfg.compression),
            sent_us: Vec::new(),
            opened: Instant::now(),
        })
        .collect();
    let mut value: Vec<u8> = (0..record_size).map(filler).collect();
    let record_bytes = BatchBuilder::record_size(None, Some(&value));
    let mut sticky = first_partition % n_partitions;

    let seal = |p: usize,
                open: &mut Vec<OpenBatch>,
                leaders: &mut HashMap<i32, Leader>|
     -> Result<(), PerfError> {
        let Some(b) = open.get_mut(p) else {
            return Ok(());
        };
        if b.builder.record_count() == 0 {
            return Ok(());
        }
        let bytes = b.sent_us.len() as u64 * record_size as u64;
        let batch = b.builder.finish(capacity)?;
        let cap = b.sent_us.capacity();
        let sent = std::mem::replace(&mut b.sent_us, Vec::with_capacity(cap));
        let leader = topic.leaders.get(p).copied().unwrap_or(-1);
        if let Some(l) = leaders.get_mut(&leader) {
            l.ready.push_back((p as i32, batch, sent, bytes));
        }
        Ok(())
    };

    for i in 0..count {
        if let Some(rate) = throttle {
            let due = start + Duration::from_secs_f64((i as f64 + phase) / rate);
            let now = Instant::now();
            if due > now + Duration::from_micros(500) {
                // Caught up: seal what has lingered, send, then sleep until
                // the next record is due (or the oldest batch's linger ends).
                let mut wake = due;
                for p in 0..n_partitions {
                    let b = &open[p];
                    if b.builder.record_count() > 0 {
                        if now >= b.opened + cfg.linger {
                            seal(p, &mut open, &mut leaders)?;
                        } else {
                            wake = wake.min(b.opened + cfg.linger);
                        }
                    }
                }
                for l in leaders.values_mut() {
                    l.send_ready(topic, cfg).await?;
                }
                tokio::time::sleep_until(wake.into()).await;
            }
        }
        let now_us = clock.now_us();
        fill_value(&mut value, first + i, now_us);
        let b = &mut open[sticky];
        if b.builder.record_count() == 0 {
            b.opened = Instant::now();
        }
        b.builder.append((now_us / 1000) as i64, None, Some(&value));
        b.sent_us.push(now_us);
        // Full, or (throttled) lingered long enough: with linger.ms=0 each
        // record goes out as it is produced, as Kafka's producer sends at
        // once when nothing asks it to wait.
        let lingered = throttle.is_some() && b.opened.elapsed() >= cfg.linger;
        if b.builder.size() + record_bytes > cfg.batch_size || lingered {
            seal(sticky, &mut open, &mut leaders)?;
            let leader = topic.leaders.get(sticky).copied().unwrap_or(-1);
            sticky = (sticky + 1) % n_partitions;
            if let Some(l) = leaders.get_mut(&leader) {
                l.send_ready(topic, cfg).await?;
            }
        }
    }
    for p in 0..n_partitions {
        seal(p, &mut open, &mut leaders)?;
    }
    let mut stats = AckStats::default();
    for (_, mut l) in leaders {
        l.send_ready(topic, cfg).await?;
        drop(l.acks);
        stats.absorb(l.task.await.unwrap_or_default());
    }
    Ok(stats)
}

#[derive(Clone)]
struct ConsumerConfig {
    min_bytes: i32,
    max_bytes: i32,
    max_wait_ms: i32,
    partition_max_bytes: i32,
    isolation_level: i8,
    from_latest: bool,
    client_id: String,
}

impl ConsumerConfig {
    fn from(args: &PerfArgs) -> Result<Self, PerfError> {
        let p = props(&args.consumer_props)?;
        let isolation = p
            .get("isolation.level")
            .map(String::as_str)
            .unwrap_or("read_uncommitted");
        let reset = p
            .get("auto.offset.reset")
            .map(String::as_str)
            .unwrap_or("earliest");
        Ok(ConsumerConfig {
            min_bytes: prop(&p, "fetch.min.bytes", 1)?,
            max_bytes: prop(&p, "fetch.max.bytes", 52_428_800)?,
            max_wait_ms: prop(&p, "fetch.max.wait.ms", 500)?,
            partition_max_bytes: prop(&p, "max.partition.fetch.bytes", 1_048_576)?,
            isolation_level: i8::from(isolation == "read_committed"),
            from_latest: reset == "latest",
            client_id: p
                .get("client.id")
                .cloned()
                .unwrap_or_else(|| "strom-perf-consumer".into()),
        })
    }
}

#[derive(Default)]
struct ConsumeStats {
    records: u64,
    bytes: u64,
    latency: Histogram,
}

/// Fetches from one leader's partitions until `total` reaches `want` or
/// nothing new arrives for `timeout`. Keeps the next fetch in flight while
/// it walks the records of the previous response.
/// What one leader's fetch loop shares with the others.
struct Shared {
    topic: Arc<TopicInfo>,
    cfg: Arc<ConsumerConfig>,
    /// Records consumed by all loops together.
    total: Arc<AtomicU64>,
    want: u64,
    timeout: Duration,
    /// Set in e2e mode: measure produce -> consume latency.
    clock: Option<Clock>,
}

async fn consume_leader(
    mut conn: Connection,
    mut offsets: Vec<(i32, i64)>,
    shared: Shared,
) -> Result<ConsumeStats, PerfError> {
    let Shared {
        topic,
        cfg,
        total,
        want,
        timeout,
        clock,
    } = shared;
    let mut version = fetch_version(&conn)?;
    if topic.id == Uuid::nil() {
        version = version.min(TOPIC_ID_VERSION - 1);
    }
    let request = |offsets: &[(i32, i64)]| {
        let mut ft = FetchTopic::default().with_partitions(
            offsets
                .iter()
                .map(|&(p, o)| {
                    FetchPartition::default()
                        .with_partition(p)
                        .with_fetch_offset(o)
                        .with_current_leader_epoch(-1)
                        .with_last_fetched_epoch(-1)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(cfg.partition_max_bytes)
                })
                .collect(),
        );
        if version >= TOPIC_ID_VERSION {
            ft.topic_id = topic.id;
        } else {
            ft.topic = topic_name(&topic.name);
        }
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(cfg.max_wait_ms)
            .with_min_bytes(cfg.min_bytes)
            .with_max_bytes(cfg.max_bytes)
            .with_isolation_level(cfg.isolation_level)
            .with_session_epoch(-1)
            .with_topics(vec![ft])
    };
    let mut stats = ConsumeStats::default();
    let mut last_progress = Instant::now();
    let mut pending = Some(conn.start(request(&offsets), version).await?);
    while let Some(p) = pending.take() {
        let resp = p.wait().await?;
        if resp.error_code != 0 {
            return Err(ClientError::Broker {
                api: "Fetch",
                code: resp.error_code,
                message: String::new(),
            }
            .into());
        }
        // Work out the next offsets from the batch headers alone, and send
        // the next fetch before walking the records.
        let mut work = Vec::new();
        for t in resp.responses {
            for pd in t.partitions {
                if pd.error_code != 0 {
                    return Err(ClientError::Broker {
                        api: "Fetch",
                        code: pd.error_code,
                        message: format!(" for {}-{}", topic.name, pd.partition_index),
                    }
                    .into());
                }
                let Some(slot) = offsets.iter_mut().find(|(q, _)| *q == pd.partition_index) else {
                    continue;
                };
                let records = pd.records.unwrap_or_default();
                let from = slot.1;
                if let Some(last) = batches(&records).map(|b| b.last_offset).last() {
                    slot.1 = slot.1.max(last + 1);
                }
                if !records.is_empty() {
                    work.push((from, records));
                }
            }
        }
        if total.load(Ordering::Relaxed) < want {
            pending = Some(conn.start(request(&offsets), version).await?);
        }
        let mut got = 0u64;
        for (from, records) in work {
            let mut pos = 0usize;
            for info in batches(&records).collect::<Vec<_>>() {
                let batch = records.slice(pos..pos + info.size);
                pos += info.size;
                for_each_record(&batch, &info, from, |r| {
                    got += 1;
                    let len = r.value.map_or(0, |v| v.len());
                    stats.bytes += len as u64 + r.key.map_or(0, |k| k.len() as u64);
                    if let (Some(clock), Some(v)) = (clock, r.value) {
                        if let Some(ts) = v.get(8..16) {
                            let mut b = [0u8; 8];
                            b.copy_from_slice(ts);
                            stats
                                .latency
                                .record(clock.now_us().saturating_sub(u64::from_be_bytes(b)));
                        }
                    }
                })?;
            }
        }
        stats.records += got;
        if got > 0 {
            last_progress = Instant::now();
        }
        let sum = total.fetch_add(got, Ordering::Relaxed) + got;
        if sum >= want {
            break;
        }
        if last_progress.elapsed() > timeout {
            return Err(PerfError::ConsumeTimeout {
                got: sum,
                want,
                timeout_ms: timeout.as_millis() as u64,
            });
        }
    }
    Ok(stats)
}

/// Starts one consumer task per leader; returns their handles and the start time.
async fn start_consumers(
    args: &PerfArgs,
    cfg: ConsumerConfig,
    clock: Option<Clock>,
) -> Result<Vec<tokio::task::JoinHandle<Result<ConsumeStats, PerfError>>>, PerfError> {
    let mut client = Client::connect(&args.bootstrap_server, &cfg.client_id, 2).await?;
    let topic = topic_for(&mut client, args).await?;
    let offsets = client
        .list_offsets(&topic, if cfg.from_latest { -1 } else { -2 })
        .await?;
    let mut by_leader: HashMap<i32, Vec<(i32, i64)>> = HashMap::new();
    for (p, (&leader, &offset)) in topic.leaders.iter().zip(&offsets).enumerate() {
        by_leader
            .entry(leader)
            .or_default()
            .push((p as i32, offset));
    }
    let topic = Arc::new(topic);
    let cfg = Arc::new(cfg);
    let total = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (leader, offsets) in by_leader {
        let conn = client.open(leader).await?;
        let shared = Shared {
            topic: topic.clone(),
            cfg: cfg.clone(),
            total: total.clone(),
            want: args.num_records,
            timeout: Duration::from_millis(args.timeout_ms),
            clock,
        };
        tasks.push(tokio::spawn(consume_leader(conn, offsets, shared)));
    }
    Ok(tasks)
}

async fn join_consumers(
    tasks: Vec<tokio::task::JoinHandle<Result<ConsumeStats, PerfError>>>,
) -> Result<ConsumeStats, PerfError> {
    let mut all = ConsumeStats::default();
    for t in tasks {
        let s = t.await.map_err(|_| ClientError::Disconnected)??;
        all.records += s.records;
        all.bytes += s.bytes;
        all.latency.merge(&s.latency);
    }
    Ok(all)
}

/// Starts `args.consumers` independent consumers, each wanting
/// `args.num_records`.
async fn start_all_consumers(
    args: &PerfArgs,
    cfg: ConsumerConfig,
    clock: Option<Clock>,
) -> Result<Vec<tokio::task::JoinHandle<Result<ConsumeStats, PerfError>>>, PerfError> {
    let mut tasks = Vec::new();
    for _ in 0..args.consumers.max(1) {
        tasks.extend(start_consumers(args, cfg.clone(), clock).await?);
    }
    Ok(tasks)
}

async fn consume_cmd(args: &PerfArgs) -> Result<Report, PerfError> {
    let cfg = ConsumerConfig::from(args)?;
    let start = Instant::now();
    let tasks = start_all_consumers(args, cfg, None).await?;
    let s = join_consumers(tasks).await?;
    Ok(Report::new("consume", s.records, s.bytes, start.elapsed()))
}

async fn e2e(args: &PerfArgs) -> Result<Report, PerfError> {
    let mut cfg = ConsumerConfig::from(args)?;
    cfg.from_latest = true;
    let clock = Clock::new();
    // Create the topic first (the producer would), then start consuming from its end.
    {
        let mut client = Client::connect(&args.bootstrap_server, "strom-perf-e2e", 1).await?;
        topic_for(&mut client, args).await?;
    }
    let tasks = start_all_consumers(args, cfg, Some(clock)).await?;
    let start = Instant::now();
    let (produced, acked) = produce(args, Some(clock)).await?;
    let s = join_consumers(tasks).await?;
    let mut report = Report::new("e2e", s.records, s.bytes, start.elapsed());
    report.latency_ms = Some(Latency::of(&s.latency));
    let want = acked * u64::from(args.consumers.max(1));
    report.errors = produced.errors + want.saturating_sub(s.records);
    report.first_error = produced.first_error;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_cpu_is_read_from_proc_stat_and_metrics() {
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        // A command name with spaces and a parenthesis.
        let stat = "4242 (strom (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 150 0 0 20 0 9 0";
        assert_eq!(proc_stat_cpu_seconds(stat), Some(400.0 / ticks));
        assert_eq!(proc_stat_cpu_seconds("4242 (strom) S 1"), None);
        let own = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        assert!(proc_stat_cpu_seconds(&own).is_some_and(|s| s >= 0.0));
        let body =
            "# HELP process_cpu_seconds_total Total\n# TYPE process_cpu_seconds_total counter\n\
                    process_cpu_seconds_total_x 9\nprocess_cpu_seconds_total 12.34\n";
        assert_eq!(metric_value(body, "process_cpu_seconds_total"), Some(12.34));
        assert_eq!(metric_value("x 1\n", "process_cpu_seconds_total"), None);
    }

    #[test]
    fn broker_request_quantiles_come_from_the_bucket_difference() {
        let before = "strom_request_duration_seconds_bucket{api=\"Produce\",le=\"0.001\"} 10\n\
            strom_request_duration_seconds_bucket{api=\"Produce\",le=\"0.002\"} 10\n\
            strom_request_duration_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 10\n";
        let after = "# TYPE strom_request_duration_seconds histogram\n\
            strom_request_duration_seconds_bucket{api=\"Produce\",le=\"0.001\"} 910\n\
            strom_request_duration_seconds_bucket{api=\"Produce\",le=\"0.002\"} 1010\n\
            strom_request_duration_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 1010\n\
            strom_request_duration_seconds_bucket{api=\"Fetch\",le=\"0.001\"} 0\n\
            strom_request_duration_seconds_bucket{api=\"Fetch\",le=\"+Inf\"} 0\n\
            strom_request_duration_seconds_sum{api=\"Produce\"} 1.5\n";
        let (b, a) = (
            parse_request_histograms(before),
            parse_request_histograms(after),
        );
        let d = diff_buckets(&a["Produce"], &b["Produce"]);
        assert_eq!(d, vec![(0.001, 900), (0.002, 1000), (f64::INFINITY, 1000)]);
        let l = bucket_latency(&d).expect("samples");
        assert_eq!(l.count, 1000);
        // Rank 500 of 900 in [0, 1 ms]; rank 990 is 90 of 100 into [1, 2 ms].
        assert!((l.p50 - 500.0 / 900.0).abs() < 1e-9);
        assert!((l.p99 - 1.9).abs() < 1e-9 && l.p99_le == 2.0);
        assert!(bucket_latency(&a["Fetch"]).is_none());
    }
}
