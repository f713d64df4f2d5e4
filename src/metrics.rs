//! Prometheus metrics and the HTTP endpoint serving them (`metrics.listener`,
//! default `0.0.0.0:9308`, kafka_exporter's port): `/metrics`, `/health`
//! (the process is alive: always 200) and `/ready` (200 once the logs are
//! recovered, the listeners bound, the broker registered in ZooKeeper when
//! `zookeeper.connect` is set, and the group coordinator loaded; else 503
//! naming what is missing).
//!
//! Two kinds of metrics:
//! - **Computed at scrape time** from the replica manager and the group
//!   coordinator, under kafka_exporter's names and labels so its Grafana
//!   dashboards work unchanged: `kafka_brokers`, `kafka_topic_partitions`,
//!   `kafka_topic_partition_{current,oldest}_offset`, `…_leader`,
//!   `…_replicas`, `…_in_sync_replica`, `…_leader_is_preferred`,
//!   `…_under_replicated_partition`, `kafka_consumergroup_current_offset(_sum)`,
//!   `kafka_consumergroup_lag(_sum)`, `kafka_consumergroup_members`; plus
//!   `strom_log_size_bytes`. Nothing on the request path maintains them.
//! - **Counted as things happen** (`strom_*`): requests, errors and latency
//!   by API, bytes and messages in and bytes out by topic, open connections
//!   by listener, log flush latency, retention and cleaner work, the
//!   ZooKeeper session state. These live in one process-wide registry
//!   ([`metrics`]); the per-API handles are resolved once, in an array
//!   indexed by API key, so counting a request allocates nothing.
//!
//! Invariant: metrics never fail the broker. If the registry cannot be built
//! the hooks do nothing and `/metrics` answers 500; the HTTP endpoint serves
//! only GET/HEAD of its three paths, with bounded connections and header
//! read time.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::BrokerConfig;
use crate::coordinator::GroupCoordinator;
use crate::replica_manager::ReplicaManager;

/// Most HTTP connections served at once (Prometheus keeps one or two open).
const MAX_HTTP_CONNECTIONS: usize = 64;
/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Request latency buckets, seconds (Fetch long polls reach `fetch.max.wait.ms`).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// fsync latency buckets, seconds.
const FLUSH_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The ZooKeeper session as `strom_zookeeper_session_state` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZooKeeperState {
    /// Connected, session alive.
    Connected,
    /// Connection lost; the session may still be alive.
    Disconnected,
    /// The session expired (a new one is being established).
    Expired,
}

impl ZooKeeperState {
    const ALL: [ZooKeeperState; 3] = [
        ZooKeeperState::Connected,
        ZooKeeperState::Disconnected,
        ZooKeeperState::Expired,
    ];

    fn label(self) -> &'static str {
        match self {
            ZooKeeperState::Connected => "connected",
            ZooKeeperState::Disconnected => "disconnected",
            ZooKeeperState::Expired => "expired",
        }
    }
}

/// The last state given to [`set_zookeeper_state`] (0: none yet).
static ZOOKEEPER_STATE: AtomicU8 = AtomicU8::new(0);

/// One API's pre-resolved handles.
struct ApiMetrics {
    requests: IntCounter,
    errors: IntCounter,
    latency: Histogram,
}

/// The broker's own metrics (`strom_*`), counted as things happen.
pub struct BrokerMetrics {
    registry: Registry,
    /// Indexed by API key; `None` for keys the broker does not implement.
    apis: Vec<Option<ApiMetrics>>,
    bytes_in: IntCounterVec,
    messages_in: IntCounterVec,
    bytes_out: IntCounterVec,
    connections: IntGaugeVec,
    connections_refused: IntCounterVec,
    acceptor_blocked: IntCounterVec,
    connections_closed_idle: IntCounter,
    request_pool_in_use: IntGauge,
    request_pool_capacity: IntGauge,
    flush_latency: Histogram,
    retention_segments_deleted: IntCounter,
    cleaner_bytes_cleaned: IntCounter,
    zookeeper_state: IntGaugeVec,
}

static METRICS: LazyLock<Option<BrokerMetrics>> = LazyLock::new(|| match BrokerMetrics::new() {
    Ok(m) => Some(m),
    Err(e) => {
        tracing::error!(error = %e, "cannot build the metrics registry; metrics are off");
        None
    }
});

/// The process-wide metrics (`None` only if the registry could not be built).
pub fn metrics() -> Option<&'static BrokerMetrics> {
    METRICS.as_ref()
}

fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    c: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl BrokerMetrics {
    fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = register(
            &registry,
            IntCounterVec::new(
                Opts::new("strom_requests_total", "Requests served, by API."),
                &["api"],
            )?,
        )?;
        let errors = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "strom_request_errors_total",
                    "Requests that could not be served (undecodable, unsupported version; the connection is closed), by API.",
                ),
                &["api"],
            )?,
        )?;
        let latency = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "strom_request_duration_seconds",
                    "Time from a request read to its response ready, by API (Fetch includes its long-poll wait).",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["api"],
            )?,
        )?;
        let max_key = crate::protocol::APIS
            .iter()
            .map(|a| a.key as i16)
            .max()
            .unwrap_or(0);
        let mut apis: Vec<Option<ApiMetrics>> = (0..=max_key).map(|_| None).collect();
        for api in crate::protocol::APIS {
            let name = format!("{:?}", api.key);
            let handles = ApiMetrics {
                requests: requests.get_metric_with_label_values(&[&name])?,
                errors: errors.get_metric_with_label_values(&[&name])?,
                latency: latency.get_metric_with_label_values(&[&name])?,
            };
            if let Some(slot) = usize::try_from(api.key as i16)
                .ok()
                .and_then(|i| apis.get_mut(i))
            {
                *slot = Some(handles);
            }
        }
        let topic_counter = |name: &str, help: &str| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), &["topic"])?,
            )
        };
        Ok(BrokerMetrics {
            apis,
            bytes_in: topic_counter(
                "strom_topic_bytes_in_total",
                "Record batch bytes appended by Produce, by topic.",
            )?,
            messages_in: topic_counter(
                "strom_topic_messages_in_total",
                "Records appended by Produce, by topic.",
            )?,
            bytes_out: topic_counter(
                "strom_topic_bytes_out_total",
                "Record batch bytes returned by Fetch, by topic.",
            )?,
            connections: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new("strom_connections", "Open client connections, by listener."),
                    &["listener"],
                )?,
            )?,
            connections_refused: register(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "strom_connections_refused_total",
                        "Connections closed as soon as accepted, by reason (max_connections_per_ip).",
                    ),
                    &["reason"],
                )?,
            )?,
            acceptor_blocked: register(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "strom_acceptor_blocked_total",
                        "Connections accepted while max.connections were open, which waited for one to close (the acceptor stops accepting meanwhile), by listener.",
                    ),
                    &["listener"],
                )?,
            )?,
            connections_closed_idle: register(
                &registry,
                IntCounter::new(
                    "strom_connections_closed_idle_total",
                    "Connections closed after connections.max.idle.ms without traffic (a stalled partial request included).",
                )?,
            )?,
            request_pool_in_use: register(
                &registry,
                IntGauge::new(
                    "strom_request_pool_bytes_in_use",
                    "Bytes of queued.max.request.bytes credit held by request frames being read or served.",
                )?,
            )?,
            request_pool_capacity: register(
                &registry,
                IntGauge::new(
                    "strom_request_pool_capacity_bytes",
                    "queued.max.request.bytes in effect (-1: unbounded).",
                )?,
            )?,
            flush_latency: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "strom_log_flush_duration_seconds",
                        "Time to fsync a log (segments, indexes, directory).",
                    )
                    .buckets(FLUSH_BUCKETS.to_vec()),
                )?,
            )?,
            retention_segments_deleted: register(
                &registry,
                IntCounter::new(
                    "strom_log_retention_segments_deleted_total",
                    "Segments deleted by the retention task (retention.ms, retention.bytes, log start offset).",
                )?,
            )?,
            cleaner_bytes_cleaned: register(
                &registry,
                IntCounter::new(
                    "strom_log_cleaner_bytes_cleaned_total",
                    "Log bytes read and compacted by the log cleaner.",
                )?,
            )?,
            zookeeper_state: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new(
                        "strom_zookeeper_session_state",
                        "1 for the current ZooKeeper session state (only with zookeeper.connect).",
                    ),
                    &["state"],
                )?,
            )?,
            registry,
        })
    }
}

/// Counts one request of API `api_key` that took `elapsed`; `failed` when it
/// could not be served. Unknown keys are not counted.
pub fn request_done(api_key: i16, elapsed: Duration, failed: bool) {
    let Some(m) = metrics() else { return };
    let Some(Some(api)) = usize::try_from(api_key).ok().and_then(|i| m.apis.get(i)) else {
        return;
    };
    api.requests.inc();
    if failed {
        api.errors.inc();
    }
    api.latency.observe(elapsed.as_secs_f64());
}

/// Counts an append by Produce to `topic`.
pub fn produced(topic: &str, bytes: u64, messages: u64) {
    let Some(m) = metrics() else { return };
    if let Ok(c) = m.bytes_in.get_metric_with_label_values(&[topic]) {
        c.inc_by(bytes);
    }
    if let Ok(c) = m.messages_in.get_metric_with_label_values(&[topic]) {
        c.inc_by(messages);
    }
}

/// Counts bytes returned by Fetch from `topic`.
pub fn fetched(topic: &str, bytes: u64) {
    if bytes == 0 {
        return;
    }
    let Some(m) = metrics() else { return };
    if let Ok(c) = m.bytes_out.get_metric_with_label_values(&[topic]) {
        c.inc_by(bytes);
    }
}

/// Forgets a deleted topic's counters so its series disappear.
pub fn topic_deleted(topic: &str) {
    let Some(m) = metrics() else { return };
    for v in [&m.bytes_in, &m.messages_in, &m.bytes_out] {
        let _ = v.remove_label_values(&[topic]);
    }
}

/// Records one log flush.
pub fn log_flushed(elapsed: Duration) {
    if let Some(m) = metrics() {
        m.flush_latency.observe(elapsed.as_secs_f64());
    }
}

/// Counts segments deleted by retention.
pub fn retention_deleted(segments: u64) {
    if let Some(m) = metrics() {
        m.retention_segments_deleted.inc_by(segments);
    }
}

/// Counts bytes cleaned (compacted) by the log cleaner.
pub fn cleaner_cleaned(bytes: u64) {
    if let Some(m) = metrics() {
        m.cleaner_bytes_cleaned.inc_by(bytes);
    }
}

/// Sets the ZooKeeper session state (an expired session makes `/ready` 503
/// until the next one).
pub fn set_zookeeper_state(state: ZooKeeperState) {
    ZOOKEEPER_STATE.store(state as u8 + 1, Ordering::Release);
    let Some(m) = metrics() else { return };
    for s in ZooKeeperState::ALL {
        if let Ok(g) = m.zookeeper_state.get_metric_with_label_values(&[s.label()]) {
            g.set(i64::from(s == state));
        }
    }
}

/// Counts a connection refused at once (`reason`: `max_connections_per_ip`).
pub fn connection_refused(reason: &str) {
    let Some(m) = metrics() else { return };
    if let Ok(c) = m
        .connections_refused
        .get_metric_with_label_values(&[reason])
    {
        c.inc();
    }
}

/// Counts a connection accepted on `listener` that had to wait for a slot.
pub fn acceptor_blocked(listener: &str) {
    let Some(m) = metrics() else { return };
    if let Ok(c) = m.acceptor_blocked.get_metric_with_label_values(&[listener]) {
        c.inc();
    }
}

/// Counts a connection closed for idleness.
pub fn connection_closed_idle() {
    if let Some(m) = metrics() {
        m.connections_closed_idle.inc();
    }
}

/// Sets the request pool's credit in use.
pub fn request_pool_in_use(bytes: usize) {
    if let Some(m) = metrics() {
        m.request_pool_in_use
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}

/// Sets the request pool's size (`None`: unbounded).
pub fn request_pool_capacity(bytes: Option<usize>) {
    if let Some(m) = metrics() {
        m.request_pool_capacity
            .set(bytes.map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)));
    }
}

/// The open-connections gauge of one listener, resolved once per acceptor.
#[derive(Clone)]
pub struct ConnectionGauge(Option<IntGauge>);

impl ConnectionGauge {
    /// The gauge of `listener`.
    pub fn for_listener(listener: &str) -> Self {
        ConnectionGauge(
            metrics().and_then(|m| m.connections.get_metric_with_label_values(&[listener]).ok()),
        )
    }

    /// Counts a connection as open until the returned guard is dropped.
    pub fn open(&self) -> OpenConnection {
        if let Some(g) = &self.0 {
            g.inc();
        }
        OpenConnection(self.0.clone())
    }
}

/// One open connection; decrements its listener's gauge when dropped.
pub struct OpenConnection(Option<IntGauge>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(g) = &self.0 {
            g.dec();
        }
    }
}

/// What the scrape-time metrics are computed from.
pub struct Sources {
    /// The broker configuration (broker id).
    pub config: Arc<BrokerConfig>,
    /// Partitions and their offsets.
    pub replica_manager: Arc<ReplicaManager>,
    /// Groups, members and committed offsets.
    pub coordinator: Arc<GroupCoordinator>,
}

/// What the endpoint knows of the broker: the sources once the logs are
/// loaded, and the readiness conditions.
pub struct EndpointState {
    sources: OnceLock<Sources>,
    listeners_bound: AtomicBool,
    /// `None`: no ZooKeeper configured.
    zookeeper_registered: Option<AtomicBool>,
}

impl EndpointState {
    /// A state with nothing ready; `zookeeper` when `zookeeper.connect` is set.
    pub fn new(zookeeper: bool) -> Self {
        EndpointState {
            sources: OnceLock::new(),
            listeners_bound: AtomicBool::new(false),
            zookeeper_registered: zookeeper.then(|| AtomicBool::new(false)),
        }
    }

    /// The logs are recovered and the topics loaded: scrape from `sources`.
    pub fn logs_recovered(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }

    /// Every client listener is bound.
    pub fn listeners_bound(&self) {
        self.listeners_bound.store(true, Ordering::Release);
    }

    /// The broker is registered in ZooKeeper.
    pub fn zookeeper_registered(&self, registered: bool) {
        if let Some(z) = &self.zookeeper_registered {
            z.store(registered, Ordering::Release);
        }
    }

    /// `Ok` when ready, else what is not.
    pub fn readiness(&self) -> Result<(), Vec<&'static str>> {
        let mut missing = Vec::new();
        match self.sources.get() {
            None => missing.push("logs not recovered"),
            Some(s) if !s.coordinator.is_loaded() => missing.push("group coordinator loading"),
            Some(_) => {}
        }
        if !self.listeners_bound.load(Ordering::Acquire) {
            missing.push("listeners not bound");
        }
        if let Some(z) = &self.zookeeper_registered {
            let expired =
                ZOOKEEPER_STATE.load(Ordering::Acquire) == ZooKeeperState::Expired as u8 + 1;
            if !z.load(Ordering::Acquire) || expired {
                missing.push("not registered in ZooKeeper");
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing)
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut families = match metrics() {
            Some(m) => m.registry.gather(),
            None => {
                return Err(prometheus::Error::Msg(
                    "the metrics registry could not be built".into(),
                ))
            }
        };
        if let Some(sources) = self.sources.get() {
            families.extend(scrape(sources)?.gather());
        }
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new().encode(&families, &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Builds the scrape-time metrics in a registry of their own.
fn scrape(s: &Sources) -> Result<Registry, prometheus::Error> {
    let r = Registry::new();
    let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
        register(&r, IntGauge::new(name, help)?)
    };
    let vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, prometheus::Error> {
        register(&r, IntGaugeVec::new(Opts::new(name, help), labels)?)
    };
    const TP: &[&str] = &["topic", "partition"];
    const GTP: &[&str] = &["consumergroup", "topic", "partition"];
    const GT: &[&str] = &["consumergroup", "topic"];

    gauge("kafka_brokers", "Number of Brokers in the Kafka Cluster.")?.set(1);
    let partitions = vec(
        "kafka_topic_partitions",
        "Number of partitions for this Topic",
        &["topic"],
    )?;
    let current = vec(
        "kafka_topic_partition_current_offset",
        "Current Offset of a Broker at Topic/Partition",
        TP,
    )?;
    let oldest = vec(
        "kafka_topic_partition_oldest_offset",
        "Oldest Offset of a Broker at Topic/Partition",
        TP,
    )?;
    let leader = vec(
        "kafka_topic_partition_leader",
        "Leader Broker ID of this Topic/Partition",
        TP,
    )?;
    let replicas = vec(
        "kafka_topic_partition_replicas",
        "Number of Replicas for this Topic/Partition",
        TP,
    )?;
    let isr = vec(
        "kafka_topic_partition_in_sync_replica",
        "Number of In-Sync Replicas for this Topic/Partition",
        TP,
    )?;
    let preferred = vec(
        "kafka_topic_partition_leader_is_preferred",
        "1 if Topic/Partition is using the Preferred Broker",
        TP,
    )?;
    let under = vec(
        "kafka_topic_partition_under_replicated_partition",
        "1 if Topic/Partition is under Replicated",
        TP,
    )?;
    let size = vec(
        "strom_log_size_bytes",
        "Size of a partition's log segments on disk.",
        TP,
    )?;

    let topics = s.replica_manager.topics();
    let mut high_watermarks: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for (name, topic) in topics.iter() {
        partitions
            .with_label_values(&[name.as_str()])
            .set(i64::from(topic.metadata.partitions));
        for p in &topic.partitions {
            let index = p.index.to_string();
            let labels = [name.as_str(), index.as_str()];
            let offsets = p.offsets();
            high_watermarks.insert((name.as_str(), p.index), offsets.high_watermark);
            current
                .with_label_values(&labels)
                .set(offsets.high_watermark);
            oldest
                .with_label_values(&labels)
                .set(offsets.log_start_offset);
            leader
                .with_label_values(&labels)
                .set(i64::from(s.config.broker_id));
            replicas.with_label_values(&labels).set(1);
            isr.with_label_values(&labels).set(1);
            preferred.with_label_values(&labels).set(1);
            under.with_label_values(&labels).set(0);
            let bytes = p.with_log(|l| l.size_bytes());
            size.with_label_values(&labels)
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }

    let group_offset = vec(
        "kafka_consumergroup_current_offset",
        "Current Offset of a ConsumerGroup at Topic/Partition",
        GTP,
    )?;
    let group_offset_sum = vec(
        "kafka_consumergroup_current_offset_sum",
        "Current Offset of a ConsumerGroup at Topic for all partitions",
        GT,
    )?;
    let lag = vec(
        "kafka_consumergroup_lag",
        "Current Approximate Lag of a ConsumerGroup at Topic/Partition",
        GTP,
    )?;
    let lag_sum = vec(
        "kafka_consumergroup_lag_sum",
        "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
        GT,
    )?;
    let members = vec(
        "kafka_consumergroup_members",
        "Amount of members in a consumer group",
        &["consumergroup"],
    )?;
    // Until the coordinator has loaded, the group metrics are left out.
    let groups = s.coordinator.list_groups(&[]).unwrap_or_default();
    for (group, _, _) in groups {
        if let Ok(summary) = s.coordinator.describe_group(&group) {
            members
                .with_label_values(&[group.as_str()])
                .set(i64::try_from(summary.members.len()).unwrap_or(i64::MAX));
        }
        let Ok(committed) = s.coordinator.fetch_offsets(&group, None) else {
            continue;
        };
        for (topic, parts) in committed {
            let (mut offset_sum, mut lag_total) = (0i64, 0i64);
            for (partition, value) in parts {
                let Some(value) = value else { continue };
                let index = partition.to_string();
                let labels = [group.as_str(), topic.as_str(), index.as_str()];
                group_offset.with_label_values(&labels).set(value.offset);
                offset_sum = offset_sum.saturating_add(value.offset);
                // As kafka_exporter: lag against the high watermark, for
                // partitions that still exist.
                if let Some(hw) = high_watermarks.get(&(topic.as_str(), partition)) {
                    let l = hw.saturating_sub(value.offset);
                    lag.with_label_values(&labels).set(l);
                    lag_total = lag_total.saturating_add(l);
                }
            }
            let labels = [group.as_str(), topic.as_str()];
            group_offset_sum.with_label_values(&labels).set(offset_sum);
            lag_sum.with_label_values(&labels).set(lag_total);
        }
    }
    Ok(r)
}

/// The bound metrics endpoint.
pub struct MetricsServer {
    listener: TcpListener,
    state: Arc<EndpointState>,
}

impl MetricsServer {
    /// Binds `addr` (`host:port`).
    pub async fn bind(addr: &str, state: Arc<EndpointState>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(MetricsServer { listener, state })
    }

    /// The local address actually bound.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves HTTP until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.changed() => break,
            };
            while connections.try_join_next().is_some() {}
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics accept failed; backing off");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if connections.len() >= MAX_HTTP_CONNECTIONS {
                tracing::debug!(%peer, "too many metrics connections; closing");
                continue;
            }
            let state = self.state.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(respond(&state, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "metrics connection ended");
                }
            });
        }
        connections.shutdown().await;
    }
}

fn text(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn respond(state: &Arc<EndpointState>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n", PLAIN);
        r.headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => {
            let s = state.clone();
            // Walks every partition and group: off the reactor.
            match tokio::task::spawn_blocking(move || s.render()).await {
                Ok(Ok(body)) => text(
                    StatusCode::OK,
                    body,
                    "text/plain; version=0.0.4; charset=utf-8",
                ),
                Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN),
            }
        }
        "/health" => text(StatusCode::OK, "ok\n", PLAIN),
        "/ready" => match state.readiness() {
            Ok(()) => text(StatusCode::OK, "ready\n", PLAIN),
            Err(missing) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", missing.join(", ")),
                PLAIN,
            ),
        },
        "/" => text(
            StatusCode::OK,
            "strom metrics endpoint: /metrics /health /ready\n",
            PLAIN,
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /health or /ready\n",
            PLAIN,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiKey;

    #[test]
    fn request_counters_are_indexed_by_api_key() {
        let m = metrics().expect("registry");
        let produce = ApiKey::Produce as i16;
        let before = m.apis[produce as usize].as_ref().unwrap().requests.get();
        request_done(produce, Duration::from_millis(3), false);
        request_done(produce, Duration::from_millis(3), true);
        let api = m.apis[produce as usize].as_ref().unwrap();
        assert_eq!(api.requests.get(), before + 2);
        assert!(api.errors.get() >= 1);
        // Unknown and negative keys are ignored, not a panic.
        request_done(-1, Duration::ZERO, false);
        request_done(i16::MAX, Duration::ZERO, false);
    }

    #[test]
    fn connection_gauge_follows_guards() {
        let gauge = ConnectionGauge::for_listener("TEST_GAUGE");
        let value = || {
            metrics()
                .unwrap()
                .connections
                .with_label_values(&["TEST_GAUGE"])
                .get()
        };
        let a = gauge.open();
        let b = gauge.open();
        assert_eq!(value(), 2);
        drop(a);
        assert_eq!(value(), 1);
        drop(b);
        assert_eq!(value(), 0);
    }

    #[test]
    fn topic_counters_and_exposition() {
        produced("metrics-unit-topic", 100, 7);
        fetched("metrics-unit-topic", 40);
        set_zookeeper_state(ZooKeeperState::Disconnected);
        let text = EndpointState::new(false).render().unwrap();
        assert!(text.contains("strom_topic_messages_in_total{topic=\"metrics-unit-topic\"} 7"));
        assert!(text.contains("strom_topic_bytes_in_total{topic=\"metrics-unit-topic\"} 100"));
        assert!(text.contains("strom_topic_bytes_out_total{topic=\"metrics-unit-topic\"} 40"));
        assert!(text.contains("strom_zookeeper_session_state{state=\"disconnected\"} 1"));
        assert!(text.contains("strom_zookeeper_session_state{state=\"connected\"} 0"));
        assert!(text.contains("# TYPE strom_request_duration_seconds histogram"));
        topic_deleted("metrics-unit-topic");
        let text = EndpointState::new(false).render().unwrap();
        assert!(!text.contains("metrics-unit-topic"));
    }

    #[test]
    fn readiness_names_what_is_missing() {
        let s = EndpointState::new(true);
        let missing = s.readiness().unwrap_err();
        assert_eq!(
            missing,
            [
                "logs not recovered",
                "listeners not bound",
                "not registered in ZooKeeper"
            ]
        );
        s.listeners_bound();
        s.zookeeper_registered(true);
        assert_eq!(s.readiness().unwrap_err(), ["logs not recovered"]);
        assert_eq!(
            EndpointState::new(false).readiness().unwrap_err(),
            ["logs not recovered", "listeners not bound"]
        );
    }
}
