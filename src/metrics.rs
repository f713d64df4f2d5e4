//! Prometheus metrics: one process-wide registry of the broker's own
//! counters, histograms and gauges (`strom_*`), which anyone may update as
//! things happen: requests, errors and latency by API, bytes and messages in
//! and bytes out by topic, open connections by listener, log flush latency,
//! retention and cleaner work, the ZooKeeper session state. The per-API
//! handles are resolved once ([`register_apis`]), in an array indexed by API
//! key, so counting a request allocates nothing.
//!
//! Also the process and the disks, read at scrape time (nothing counts them
//! on a path): Prometheus' standard `process_*` metrics from `/proc/self`
//! (resident and virtual memory, CPU seconds, open and maximum descriptors,
//! start time), `strom_build_info{version}`, `strom_uptime_seconds`, and per
//! log dir (given once by [`set_log_dirs`]) its volume's
//! `strom_log_dir_bytes_{used,free}`, `strom_log_dir_size_bytes` and `strom_log_dir_offline`.
//! [`process_stats`] and [`log_dir_usage`] hand the same figures to anyone
//! (the web console) in-process.
//!
//! **A leaf**: this module imports nothing from the rest of strom. Reading
//! the registry out (and computing kafka_exporter's metrics from the replica
//! manager and the group coordinator at scrape time) is `http`'s job.
//!
//! Invariant: metrics never fail the broker. If the registry cannot be built
//! the hooks do nothing and [`gather`] fails (the endpoint answers 500).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::ApiKey;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Counter, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry,
};

/// Request latency buckets, seconds (Fetch long polls reach `fetch.max.wait.ms`).
/// Fine below 10 ms, so a p99 or p99.9 of a millisecond or two can be read
/// from them (`strom perf --broker-metrics` does).
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
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
    requests: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
    /// Indexed by API key; `None` for keys the broker does not implement.
    /// Set once by [`register_apis`].
    apis: OnceLock<Vec<Option<ApiMetrics>>>,
    bytes_in: IntCounterVec,
    messages_in: IntCounterVec,
    bytes_out: IntCounterVec,
    connections: IntGaugeVec,
    connections_refused: IntCounterVec,
    acceptor_blocked: IntCounterVec,
    connections_closed_idle: IntCounter,
    expired_connections_killed: IntCounter,
    successful_reauthentication: IntCounter,
    request_pool_in_use: IntGauge,
    request_pool_capacity: IntGauge,
    flush_latency: Histogram,
    retention_segments_deleted: IntCounter,
    cleaner_bytes_cleaned: IntCounter,
    zookeeper_state: IntGaugeVec,
}

/// The `reason`s of `strom_connections_refused_total`.
const REFUSAL_REASONS: [&str; 3] = [
    "max_connections_per_ip",
    "tls_handshake",
    "sasl_authentication",
];

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

/// Registers `c` in `registry` and hands it back.
pub fn register<C: Collector + Clone + 'static>(
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
        let topic_counter = |name: &str, help: &str| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), &["topic"])?,
            )
        };
        Ok(BrokerMetrics {
            requests,
            errors,
            latency,
            apis: OnceLock::new(),
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
            connections_refused: {
                let c = register(
                    &registry,
                    IntCounterVec::new(
                        Opts::new(
                            "strom_connections_refused_total",
                            "Connections closed as soon as accepted, by reason (max_connections_per_ip, tls_handshake, sasl_authentication).",
                        ),
                        &["reason"],
                    )?,
                )?;
                // Served at 0 from the start, so rate() and alerts see them.
                for reason in REFUSAL_REASONS {
                    c.get_metric_with_label_values(&[reason])?;
                }
                c
            },
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
            expired_connections_killed: register(
                &registry,
                IntCounter::new(
                    "strom_expired_connections_killed_total",
                    "Connections closed because a request other than a re-authentication came after their SASL session expired (connections.max.reauth.ms); Kafka's expired-connections-killed-count.",
                )?,
            )?,
            successful_reauthentication: register(
                &registry,
                IntCounter::new(
                    "strom_successful_reauthentication_total",
                    "KIP-368 re-authentications completed on open SASL connections; Kafka's successful-reauthentication-total.",
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

/// Resolves the per-API handles of the APIs the broker implements, once at
/// start-up (later calls change nothing). Until then requests are not
/// counted.
pub fn register_apis(keys: impl IntoIterator<Item = ApiKey>) {
    let Some(m) = metrics() else { return };
    let keys: Vec<ApiKey> = keys.into_iter().collect();
    let resolve = || -> Result<Vec<Option<ApiMetrics>>, prometheus::Error> {
        let max_key = keys.iter().map(|k| *k as i16).max().unwrap_or(0);
        let mut apis: Vec<Option<ApiMetrics>> = (0..=max_key).map(|_| None).collect();
        for key in &keys {
            let name = format!("{key:?}");
            let handles = ApiMetrics {
                requests: m.requests.get_metric_with_label_values(&[&name])?,
                errors: m.errors.get_metric_with_label_values(&[&name])?,
                latency: m.latency.get_metric_with_label_values(&[&name])?,
            };
            if let Some(slot) = usize::try_from(*key as i16)
                .ok()
                .and_then(|i| apis.get_mut(i))
            {
                *slot = Some(handles);
            }
        }
        Ok(apis)
    };
    match resolve() {
        Ok(apis) => {
            let _ = m.apis.set(apis);
        }
        Err(e) => tracing::error!(error = %e, "cannot build the per-API metrics"),
    }
}

/// Every metric family of the registry, with the process and log-dir
/// metrics read now, for the exporter.
pub fn gather() -> Result<Vec<MetricFamily>, prometheus::Error> {
    match metrics() {
        Some(m) => {
            let mut families = m.registry.gather();
            families.extend(process_registry()?.gather());
            Ok(families)
        }
        None => Err(prometheus::Error::Msg(
            "the metrics registry could not be built".into(),
        )),
    }
}

/// The process as `/proc/self` shows it (zero where it cannot be read).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessStats {
    /// Resident set size, bytes (`process_resident_memory_bytes`).
    pub resident_memory_bytes: u64,
    /// Virtual memory size, bytes (`process_virtual_memory_bytes`).
    pub virtual_memory_bytes: u64,
    /// User + system CPU time, seconds (`process_cpu_seconds_total`).
    pub cpu_seconds: f64,
    /// Open file descriptors (`process_open_fds`).
    pub open_fds: u64,
    /// The descriptor limit, `ulimit -n` (`process_max_fds`).
    pub max_fds: u64,
    /// Start time, seconds since the Unix epoch (`process_start_time_seconds`).
    pub start_time_seconds: f64,
    /// Threads of the process.
    pub threads: u64,
}

/// When this module first looked: the fallback start time where `/proc`
/// cannot tell it.
static FIRST_SEEN: LazyLock<(Instant, SystemTime)> =
    LazyLock::new(|| (Instant::now(), SystemTime::now()));

/// Marks the process start for [`uptime`] where `/proc` is missing; call
/// early (the server does, first thing).
pub fn process_started() {
    LazyLock::force(&FIRST_SEEN);
}

/// The version strom was built as (`strom_build_info{version}`).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The process's figures now.
pub fn process_stats() -> ProcessStats {
    let mut stats = ProcessStats::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        if let Some(fields) = proc_stat_fields(&stat) {
            let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
            let page = rustix::param::page_size() as u64;
            let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            // Fields after "(comm)", 0 being the state (field 3 of proc(5)).
            let (utime, stime) = (field(11).unwrap_or(0), field(12).unwrap_or(0));
            stats.cpu_seconds = (utime + stime) as f64 / ticks;
            stats.threads = field(17).unwrap_or(0);
            stats.virtual_memory_bytes = field(20).unwrap_or(0);
            stats.resident_memory_bytes = field(21).unwrap_or(0).saturating_mul(page);
            if let (Some(start), Some(boot)) = (field(19), boot_time_seconds()) {
                stats.start_time_seconds = boot as f64 + start as f64 / ticks;
            }
        }
    }
    if stats.start_time_seconds == 0.0 {
        stats.start_time_seconds = FIRST_SEEN
            .1
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
    }
    stats.open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    stats.max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    stats
}

/// The resident set size of the process, bytes.
pub fn process_rss_bytes() -> u64 {
    process_stats().resident_memory_bytes
}

/// How long the process has run (`strom_uptime_seconds`).
pub fn uptime() -> Duration {
    let start = process_stats().start_time_seconds;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    if start > 0.0 && now >= start {
        Duration::from_secs_f64(now - start)
    } else {
        FIRST_SEEN.0.elapsed()
    }
}

/// The fields of `/proc/<pid>/stat` after the `(comm)` (which may hold
/// spaces and parentheses: the last `)` ends it).
fn proc_stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// The boot time (`btime` of `/proc/stat`), seconds since the epoch.
fn boot_time_seconds() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The broker's log dirs, set once at start-up.
static LOG_DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Tells the metrics which log dirs to report (`log.dirs`); later calls
/// change nothing.
pub fn set_log_dirs(dirs: &[PathBuf]) {
    let _ = LOG_DIRS.set(dirs.to_vec());
}

/// One log dir's volume, as `df` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDirUsage {
    /// The log dir, as configured.
    pub log_dir: PathBuf,
    /// Bytes in use on the volume (`df`'s Used: total − free blocks).
    pub used_bytes: u64,
    /// Bytes an unprivileged writer may still use (`df`'s Avail).
    pub free_bytes: u64,
    /// The volume's size.
    pub total_bytes: u64,
    /// The dir is missing, not a directory, or its volume cannot be read
    /// (all byte figures are then 0).
    pub offline: bool,
}

impl LogDirUsage {
    /// Used share of what a writer can reach, `df`'s Use% (0.0–1.0):
    /// used / (used + free).
    pub fn used_ratio(&self) -> f64 {
        let reachable = self.used_bytes.saturating_add(self.free_bytes);
        if reachable == 0 {
            0.0
        } else {
            self.used_bytes as f64 / reachable as f64
        }
    }
}

/// The usage of `dir`'s volume now.
pub fn dir_usage(dir: &Path) -> LogDirUsage {
    let offline = LogDirUsage {
        log_dir: dir.to_path_buf(),
        used_bytes: 0,
        free_bytes: 0,
        total_bytes: 0,
        offline: true,
    };
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return offline;
    }
    match rustix::fs::statvfs(dir) {
        Ok(st) => {
            let bytes = |blocks: u64| blocks.saturating_mul(st.f_frsize);
            LogDirUsage {
                log_dir: dir.to_path_buf(),
                used_bytes: bytes(st.f_blocks.saturating_sub(st.f_bfree)),
                free_bytes: bytes(st.f_bavail),
                total_bytes: bytes(st.f_blocks),
                offline: false,
            }
        }
        Err(_) => offline,
    }
}

/// Every log dir's volume now (empty before [`set_log_dirs`]).
pub fn log_dir_usage() -> Vec<LogDirUsage> {
    LOG_DIRS
        .get()
        .map(|dirs| dirs.iter().map(|d| dir_usage(d)).collect())
        .unwrap_or_default()
}

/// The process, build and log-dir metrics, read now into a registry of
/// their own.
fn process_registry() -> Result<Registry, prometheus::Error> {
    let r = Registry::new();
    let gauge = |name: &str, help: &str, value: f64| -> Result<(), prometheus::Error> {
        register(&r, Gauge::new(name, help)?)?.set(value);
        Ok(())
    };
    let p = process_stats();
    gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        p.resident_memory_bytes as f64,
    )?;
    gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        p.virtual_memory_bytes as f64,
    )?;
    register(
        &r,
        Counter::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        )?,
    )?
    .inc_by(p.cpu_seconds);
    gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        p.open_fds as f64,
    )?;
    gauge(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        p.max_fds as f64,
    )?;
    gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds,
    )?;
    gauge(
        "process_threads",
        "Number of OS threads in the process.",
        p.threads as f64,
    )?;
    register(
        &r,
        GaugeVec::new(
            Opts::new(
                "strom_build_info",
                "Always 1; the version strom was built as, in the label.",
            ),
            &["version"],
        )?,
    )?
    .with_label_values(&[version()])
    .set(1.0);
    gauge(
        "strom_uptime_seconds",
        "Seconds since the broker process started.",
        uptime().as_secs_f64(),
    )?;
    let dir_vec = |name: &str, help: &str| -> Result<GaugeVec, prometheus::Error> {
        register(&r, GaugeVec::new(Opts::new(name, help), &["log_dir"])?)
    };
    let used = dir_vec(
        "strom_log_dir_bytes_used",
        "Bytes in use on the volume of a log dir (df's Used: total minus free blocks).",
    )?;
    let free = dir_vec(
        "strom_log_dir_bytes_free",
        "Bytes still writable by the broker on the volume of a log dir (df's Avail).",
    )?;
    let total = dir_vec(
        "strom_log_dir_size_bytes",
        "Size of the volume of a log dir, bytes.",
    )?;
    let offline = dir_vec(
        "strom_log_dir_offline",
        "1 when a log dir is missing, not a directory or its volume cannot be read.",
    )?;
    for u in log_dir_usage() {
        let dir = u.log_dir.display().to_string();
        used.with_label_values(&[&dir]).set(u.used_bytes as f64);
        free.with_label_values(&[&dir]).set(u.free_bytes as f64);
        total.with_label_values(&[&dir]).set(u.total_bytes as f64);
        offline
            .with_label_values(&[&dir])
            .set(if u.offline { 1.0 } else { 0.0 });
    }
    Ok(r)
}

/// Whether the last ZooKeeper session state set was `Expired`.
pub fn zookeeper_session_expired() -> bool {
    ZOOKEEPER_STATE.load(Ordering::Acquire) == ZooKeeperState::Expired as u8 + 1
}

/// Counts one request of API `api_key` that took `elapsed`; `failed` when it
/// could not be served. Unknown keys are not counted.
pub fn request_done(api_key: i16, elapsed: Duration, failed: bool) {
    let Some(m) = metrics() else { return };
    let Some(Some(api)) = m
        .apis
        .get()
        .and_then(|apis| usize::try_from(api_key).ok().and_then(|i| apis.get(i)))
    else {
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

/// Counts a connection closed for its expired SASL session.
pub fn expired_connection_killed() {
    if let Some(m) = metrics() {
        m.expired_connections_killed.inc();
    }
}

/// Counts a completed re-authentication.
pub fn reauthenticated() {
    if let Some(m) = metrics() {
        m.successful_reauthentication.inc();
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
        // The listener's acceptor counter, served at 0 from the start.
        if let Some(m) = metrics() {
            let _ = m.acceptor_blocked.get_metric_with_label_values(&[listener]);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_counters_are_indexed_by_api_key() {
        register_apis([ApiKey::Produce, ApiKey::Fetch]);
        let m = metrics().expect("registry");
        let produce = ApiKey::Produce as i16;
        let handles =
            |m: &'static BrokerMetrics| m.apis.get().unwrap()[produce as usize].as_ref().unwrap();
        let before = handles(m).requests.get();
        request_done(produce, Duration::from_millis(3), false);
        request_done(produce, Duration::from_millis(3), true);
        let api = handles(m);
        assert_eq!(api.requests.get(), before + 2);
        assert!(api.errors.get() >= 1);
        // Unknown and negative keys are ignored, not a panic.
        request_done(-1, Duration::ZERO, false);
        request_done(i16::MAX, Duration::ZERO, false);
    }

    #[test]
    fn process_stats_read_proc() {
        let p = process_stats();
        assert!(p.resident_memory_bytes > 1 << 20, "{p:?}");
        assert!(p.virtual_memory_bytes >= p.resident_memory_bytes);
        assert!(p.open_fds >= 3 && p.open_fds <= p.max_fds, "{p:?}");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(p.start_time_seconds > 1.6e9 && p.start_time_seconds <= now.as_secs_f64() + 1.0);
        assert!(uptime() < Duration::from_secs(24 * 3600));
        assert!(p.threads >= 1);
        // A comm with spaces and parentheses does not shift the fields.
        let f = proc_stat_fields("42 (a) b (c)) S 1 2").unwrap();
        assert_eq!(f, ["S", "1", "2"]);
    }

    #[test]
    fn log_dir_usage_reports_the_volume_or_offline() {
        let dir = tempfile::tempdir().unwrap();
        let u = dir_usage(dir.path());
        assert!(!u.offline);
        assert!(
            u.total_bytes > 0 && u.used_bytes <= u.total_bytes && u.free_bytes <= u.total_bytes
        );
        assert!((0.0..=1.0).contains(&u.used_ratio()));
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        for missing in [dir.path().join("missing"), file] {
            let u = dir_usage(&missing);
            assert!(u.offline && u.total_bytes == 0, "{u:?}");
        }
    }

    #[test]
    fn gather_has_the_process_and_build_metrics() {
        let names: Vec<String> = gather()
            .unwrap()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        for want in [
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "strom_build_info",
            "strom_uptime_seconds",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
        }
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
}
