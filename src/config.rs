//! Broker configuration in Kafka's broker property names.
//!
//! Sources, highest precedence first: `--override name=value`, `KAFKA_*`
//! environment variables (cp-kafka's naming: `KAFKA_LOG_RETENTION_HOURS` →
//! `log.retention.hours`), the TOML file (quoted flat keys or dotted tables), then
//! Kafka 3.5's defaults. Every value is checked at start-up: a bad value is a
//! [`ConfigError`] naming the key, an unknown key only a warning.
//!
//! This module also owns the topic-level configs: their validation
//! ([`BrokerConfig::validate_topic_config`]), their resolution into a
//! [`LogConfig`] ([`BrokerConfig::log_config`]) and DescribeConfigs answers with
//! Kafka's sources and synonyms.
//!
//! Invariants: a `BrokerConfig` only exists validated; every listener maps to
//! a security protocol; every advertised listener and the inter-broker
//! listener name a listener. Per-listener overrides (`listener.name.<l>.…`)
//! are kept under the lower-case listener name and read through
//! [`BrokerConfig::listener_value`].

mod listener;
mod props;
mod sources;
mod topics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::log::config::{LogConfig, TimestampType};
use props::{PropDef, BROKER_PROPS, TOPIC_CONFIGS};
pub use topics::{validate_topic_name, DeclaredTopic};

/// A configuration problem; each variant names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for configuration {key}: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("cannot read config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// An unknown topic config (INVALID_CONFIG at the protocol edge).
    #[error("unknown configuration {0}")]
    UnknownConfig(String),
    /// A broker property name neither strom nor Kafka knows, in the config
    /// file or an `--override` (a typo: refused at start).
    #[error("unknown broker property {name:?} in the {source_name}{}", suggestion_text(.suggestion))]
    UnknownProperty {
        name: String,
        source_name: &'static str,
        suggestion: Option<&'static str>,
    },
}

fn suggestion_text(suggestion: &Option<&'static str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean {s:?}?"))
}

/// One listener, `NAME://host:port`. `host` is "" for all interfaces and keeps
/// the brackets of an IPv6 address (`[::1]`); `name` is upper-case.
#[derive(Clone, Debug, PartialEq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// DescribeConfigs `config_source` codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic = 1,
    DynamicBroker = 2,
    DynamicDefaultBroker = 3,
    StaticBroker = 4,
    Default = 5,
}

/// DescribeConfigs `config_type` codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// One synonym of a described config, as DescribeConfigs v1+ lists them.
#[derive(Clone, Debug)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// One described config.
#[derive(Clone, Debug)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub is_default: bool,
    pub sensitive: bool,
    pub config_type: ConfigType,
    pub documentation: Option<String>,
    pub synonyms: Vec<ConfigSynonym>,
}

/// The resolved, validated broker configuration. The typed fields are the
/// properties other modules read; [`BrokerConfig::get`] answers for any known property.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// `broker.id`; Kafka's default -1 (generate) resolves to 1.
    pub broker_id: i32,
    /// `listeners`, default `PLAINTEXT://:9092`.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`, one per listener, in the order of `listeners`: an
    /// explicit entry, else the listener itself with an empty or wildcard host
    /// replaced by this machine's host name ("localhost" if it does not resolve).
    pub advertised_listeners: Vec<Listener>,
    /// `listener.security.protocol.map` (upper-case names and protocols).
    pub listener_security_protocol_map: BTreeMap<String, String>,
    /// `inter.broker.listener.name`; when unset, the listener named after
    /// `security.inter.broker.protocol` (PLAINTEXT), else the first listener.
    pub inter_broker_listener_name: String,
    /// `log.dirs`, else `log.dir` (default `/tmp/kafka-logs`).
    pub log_dirs: Vec<PathBuf>,
    /// `num.partitions` of automatically created topics.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`.
    pub auto_create_topics_enable: bool,
    /// `zookeeper.connect`; `None` runs standalone.
    pub zookeeper_connect: Option<String>,
    /// `zookeeper.session.timeout.ms`.
    pub zookeeper_session_timeout_ms: i64,
    /// `zookeeper.connection.timeout.ms` (Kafka uses the session timeout when unset).
    pub zookeeper_connection_timeout_ms: Option<i64>,
    /// `socket.request.max.bytes`: largest request accepted.
    pub socket_request_max_bytes: i32,
    /// `max.connections` as configured (the network layer caps the effective value).
    pub max_connections: i32,
    /// `log.retention.check.interval.ms`.
    pub log_retention_check_interval_ms: i64,
    /// `delete.topic.enable`.
    pub delete_topic_enable: bool,
    /// Not a Kafka broker property: never read from any source; left for the
    /// caller (e.g. from `meta.properties` or ZooKeeper's `/cluster/id`).
    pub cluster_id: Option<String>,
    /// `broker.rack`.
    pub broker_rack: Option<String>,
    /// `offsets.topic.num.partitions`.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.topic.replication.factor`.
    pub offsets_topic_replication_factor: i16,
    /// `offsets.topic.segment.bytes`.
    pub offsets_topic_segment_bytes: i32,
    /// `offsets.topic.compression.codec`: the codec id (0 none, 1 gzip,
    /// 2 snappy, 3 lz4, 4 zstd) of the coordinator's batches.
    pub offsets_topic_compression_codec: i32,
    /// `offsets.retention.minutes`.
    pub offsets_retention_minutes: i32,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`.
    pub offset_metadata_max_bytes: i32,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: i32,
    /// `group.max.size`.
    pub group_max_size: i32,
    /// `transaction.state.log.replication.factor`.
    pub transaction_state_log_replication_factor: i16,
    /// `transaction.state.log.min.isr`.
    pub transaction_state_log_min_isr: i32,
    /// `transaction.state.log.num.partitions`.
    pub transaction_state_log_num_partitions: i32,
    /// `transactional.id.expiration.ms`.
    pub transactional_id_expiration_ms: i32,
    /// `transaction.max.timeout.ms`.
    pub transaction_max_timeout_ms: i32,
    /// `producer.id.expiration.ms`.
    pub producer_id_expiration_ms: i32,
    /// `min.insync.replicas` (broker default for topics).
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election_enable: bool,
    /// `compression.type` (broker default for topics).
    pub compression_type: String,
    /// `num.network.threads`.
    pub num_network_threads: i32,
    /// `num.io.threads`.
    pub num_io_threads: i32,
    /// `num.recovery.threads.per.data.dir`.
    pub num_recovery_threads_per_data_dir: i32,
    /// `queued.max.request.bytes`: memory for request frames across
    /// connections; `None` (a value <= 0) is unbounded.
    pub queued_max_request_bytes: Option<u64>,
    /// `connections.max.idle.ms`; negative: never.
    pub connections_max_idle_ms: i64,
    /// `max.connections.per.ip`.
    pub max_connections_per_ip: i32,
    /// `max.connections.per.ip.overrides`: (host or IP, limit), in the order given.
    pub max_connections_per_ip_overrides: Vec<(String, i32)>,
    /// `socket.send.buffer.bytes` (-1 = OS default).
    pub socket_send_buffer_bytes: i32,
    /// `socket.receive.buffer.bytes` (-1 = OS default).
    pub socket_receive_buffer_bytes: i32,
    /// `fetch.max.bytes`: largest Fetch response.
    pub fetch_max_bytes: i32,
    /// `authorizer.class.name` (empty: no authorizer).
    pub authorizer_class_name: String,
    /// `super.users` (`User:a;User:b`).
    pub super_users: String,
    /// `allow.everyone.if.no.acl.found`.
    pub allow_everyone_if_no_acl_found: bool,
    /// `quota.window.num`: samples of a client quota's rate.
    pub quota_window_num: i32,
    /// `quota.window.size.seconds`: span of one sample.
    pub quota_window_size_seconds: i32,
    /// `log.cleaner.enable`.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.threads`.
    pub log_cleaner_threads: i32,
    /// `log.cleaner.backoff.ms`.
    pub log_cleaner_backoff_ms: i64,
    /// `log.cleaner.dedupe.buffer.size`.
    pub log_cleaner_dedupe_buffer_size: i64,
    /// `log.flush.offset.checkpoint.interval.ms`.
    pub log_flush_offset_checkpoint_interval_ms: i32,
    /// `log.flush.start.offset.checkpoint.interval.ms`.
    pub log_flush_start_offset_checkpoint_interval_ms: i32,
    /// `log.flush.scheduler.interval.ms`.
    pub log_flush_scheduler_interval_ms: i64,
    /// `metrics.listener` (strom only): `host:port` of the Prometheus HTTP
    /// endpoint; `None` when set empty (no endpoint).
    pub metrics_listener: Option<String>,
    /// `console.listener` (strom only): `host:port` of the web console;
    /// `None` when set empty (no console).
    pub console_listener: Option<String>,
    /// `console.read.only` (strom only): the console refuses every change.
    pub console_read_only: bool,
    /// `console.authentication` (strom only): `true` for `auto` (sign-in
    /// with the broker's SASL users when a listener uses SASL), `false` for
    /// `none`.
    pub console_authentication: bool,
    /// `metrics.authentication=basic` (strom only): `/metrics` asks for HTTP
    /// Basic credentials of a broker SASL user.
    pub metrics_authentication_basic: bool,
    /// HTTP ingest (strom only): `ingest.max.request.bytes`.
    pub ingest_max_request_bytes: i32,
    /// `ingest.requests.per.second.per.source`.
    pub ingest_requests_per_second_per_source: i32,
    /// `webhook.github.secret`; `None`: the GitHub webhook is off (503).
    pub webhook_github_secret: Option<String>,
    /// `webhook.github.key.pointer` (JSON pointer of the record key).
    pub webhook_github_key_pointer: String,
    /// `webhook.github.format`: `raw` or `deployment-event`.
    pub webhook_github_format: String,
    /// `webhook.github.dedupe.window.ms`.
    pub webhook_github_dedupe_window_ms: i64,
    /// Topics declared in the config file's `[[topics]]` section, validated.
    pub declared_topics: Vec<DeclaredTopic>,
    /// Known properties set explicitly (after precedence), trimmed.
    explicit: BTreeMap<String, String>,
}

/// `max.connections.per.ip.overrides`: Kafka's `host1:100,127.0.0.1:200`
/// (an IPv6 address keeps its colons: the limit follows the last one).
fn parse_ip_overrides(raw: &str) -> Result<Vec<(String, i32)>, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (host, n) = item
            .rsplit_once(':')
            .ok_or_else(|| format!("`{item}` is not host:count"))?;
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let n: i32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{item}`: the count is not an int"))?;
        if host.is_empty() || n < 0 {
            return Err(format!("`{item}`: needs a host and a count >= 0"));
        }
        out.push((host.to_string(), n));
    }
    Ok(out)
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl BrokerConfig {
    /// Threads that open, recover and close logs: Kafka's
    /// `num.recovery.threads.per.data.dir` for each of `log.dirs`.
    pub fn recovery_threads(&self) -> usize {
        usize::try_from(self.num_recovery_threads_per_data_dir)
            .unwrap_or(1)
            .saturating_mul(self.log_dirs.len())
            .max(1)
    }

    /// Resolve from the sources. `file`: optional TOML path; `env`: the process
    /// environment (pass `std::env::vars()`); `overrides`: "name=value" strings.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[String],
    ) -> Result<BrokerConfig, ConfigError> {
        let file = match file {
            Some(path) => Some(sources::from_file(path)?),
            None => None,
        };
        Self::load_parsed(file, env, overrides)
    }

    /// [`BrokerConfig::load`] with the file's text given (`path` only names
    /// it in errors): the whole parser without the file system, for the
    /// `config` fuzz target.
    pub fn load_text(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[String],
    ) -> Result<BrokerConfig, ConfigError> {
        let file = match file {
            Some((path, text)) => Some(sources::from_text(path, text)?),
            None => None,
        };
        Self::load_parsed(file, env, overrides)
    }

    fn load_parsed(
        file: Option<sources::FileConfig>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[String],
    ) -> Result<BrokerConfig, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut layers: Vec<(&str, BTreeMap<String, String>)> = Vec::new();
        let mut declared = Vec::new();
        if let Some(file) = file {
            layers.push(("config file", file.props));
            declared = file.topics;
        }
        layers.push(("environment", sources::from_env(env.iter().cloned())));
        layers.push(("override", sources::from_overrides(overrides)?));

        let mut explicit = BTreeMap::new();
        for (source, layer) in layers {
            for (name, value) in layer {
                if props::broker_prop(&name).is_some() {
                    explicit.insert(name, value.trim().to_string());
                } else if let Some((listener, prop)) = props::listener_prop(&name) {
                    // Kafka's listener prefix is lower-case; keep one spelling.
                    explicit.insert(
                        format!("listener.name.{listener}.{prop}"),
                        value.trim().to_string(),
                    );
                } else if let Some(why) = props::ignored_kafka_prop(&name) {
                    tracing::warn!(config = %name, %source, reason = why, "Kafka property that strom deliberately ignores (see the README); ignored");
                } else if source == "environment" {
                    // A compose file's environment also carries client and
                    // tool variables (KAFKA_BOOTSTRAP_SERVERS, a UI's
                    // KAFKA_CLUSTERS_0_*): a warning, as Kafka's image gives.
                    tracing::warn!(config = %name, %source, "unknown configuration ignored");
                } else {
                    return Err(ConfigError::UnknownProperty {
                        suggestion: props::nearest_broker_prop(&name),
                        name,
                        source_name: source,
                    });
                }
            }
        }
        let hostname = env
            .iter()
            .find(|(k, _)| k == "HOSTNAME")
            .map(|(_, v)| v.clone());
        let mut cfg = Self::resolve(explicit, hostname)?;
        cfg.declared_topics = topics::resolve(&cfg, declared)?;
        Ok(cfg)
    }

    fn resolve(
        explicit: BTreeMap<String, String>,
        hostname_env: Option<String>,
    ) -> Result<Self, ConfigError> {
        for def in BROKER_PROPS {
            if let Some(v) = explicit.get(def.name) {
                props::check_value(def, v).map_err(|reason| invalid(def.name, v, reason))?;
            }
        }
        for (name, v) in &explicit {
            if let Some(def) = props::listener_prop(name).and_then(|(_, p)| props::broker_prop(&p))
            {
                props::check_value(def, v).map_err(|reason| invalid(name, v, reason))?;
            }
        }
        let raw = |name: &str| -> Option<&str> {
            explicit
                .get(name)
                .map(String::as_str)
                .or_else(|| props::broker_prop(name).and_then(|d| d.default))
        };
        let num = |name: &str| -> Result<i64, ConfigError> {
            let v = raw(name).unwrap_or_default();
            v.trim()
                .parse::<i64>()
                .map_err(|_| invalid(name, v, "expected an integer"))
        };
        let int = |name: &str| -> Result<i32, ConfigError> {
            let n = num(name)?;
            i32::try_from(n).map_err(|_| invalid(name, &n.to_string(), "out of range for an int"))
        };
        let short = |name: &str| -> Result<i16, ConfigError> {
            let n = num(name)?;
            i16::try_from(n).map_err(|_| invalid(name, &n.to_string(), "out of range for a short"))
        };
        let boolean = |name: &str| -> Result<bool, ConfigError> {
            let v = raw(name).unwrap_or_default();
            props::parse_bool(v.trim()).map_err(|r| invalid(name, v, r))
        };
        let opt_str = |name: &str| raw(name).filter(|s| !s.is_empty()).map(str::to_string);
        let opt_num = |name: &str| -> Result<Option<i64>, ConfigError> {
            match opt_str(name) {
                Some(_) => num(name).map(Some),
                None => Ok(None),
            }
        };

        let mut broker_id = int("broker.id")?;
        if broker_id == -1 {
            tracing::info!("broker.id is -1 (generate); a standalone strom uses broker id 1");
            broker_id = 1;
        }

        // Listeners and their security protocols.
        let listeners_raw = raw("listeners").unwrap_or_default();
        let listeners = listener::parse_listeners("listeners", listeners_raw, true)?;
        if listeners.is_empty() {
            return Err(invalid(
                "listeners",
                listeners_raw,
                "at least one listener is required",
            ));
        }
        let map_raw = raw("listener.security.protocol.map").unwrap_or_default();
        let protocol_map = listener::parse_protocol_map("listener.security.protocol.map", map_raw)?;
        for l in &listeners {
            if !protocol_map.contains_key(&l.name) {
                return Err(invalid(
                    "listener.security.protocol.map",
                    map_raw,
                    format!("no security protocol for listener {}", l.name),
                ));
            }
        }

        let explicit_advertised = match opt_str("advertised.listeners") {
            Some(v) => listener::parse_listeners("advertised.listeners", &v, false)?,
            None => Vec::new(),
        };
        for a in &explicit_advertised {
            if !listeners.iter().any(|l| l.name == a.name) {
                return Err(invalid(
                    "advertised.listeners",
                    &a.to_string(),
                    format!("listener name {} is not in listeners", a.name),
                ));
            }
            if is_wildcard(&a.host) && !a.host.is_empty() {
                return Err(invalid(
                    "advertised.listeners",
                    &a.to_string(),
                    "cannot advertise the non-routable meta-address; use a routable host name or address",
                ));
            }
        }
        let mut hostname: Option<String> = None;
        let mut advertised_listeners = Vec::with_capacity(listeners.len());
        for l in &listeners {
            if let Some(a) = explicit_advertised.iter().find(|a| a.name == l.name) {
                advertised_listeners.push(a.clone());
            } else if is_wildcard(&l.host) {
                let host = hostname
                    .get_or_insert_with(|| local_hostname(hostname_env.as_deref()))
                    .clone();
                advertised_listeners.push(Listener { host, ..l.clone() });
            } else {
                advertised_listeners.push(l.clone());
            }
        }

        let ibl_explicit = explicit.contains_key("inter.broker.listener.name");
        if ibl_explicit && explicit.contains_key("security.inter.broker.protocol") {
            return Err(invalid(
                "inter.broker.listener.name",
                raw("inter.broker.listener.name").unwrap_or_default(),
                "only one of inter.broker.listener.name and security.inter.broker.protocol may be set",
            ));
        }
        let inter_broker_listener_name = match opt_str("inter.broker.listener.name") {
            Some(name) => {
                let upper = name.to_ascii_uppercase();
                if !listeners.iter().any(|l| l.name == upper) {
                    return Err(invalid(
                        "inter.broker.listener.name",
                        &name,
                        "must name one of the listeners",
                    ));
                }
                upper
            }
            None => {
                let by_protocol = raw("security.inter.broker.protocol").unwrap_or("PLAINTEXT");
                match listeners.iter().find(|l| l.name == by_protocol) {
                    Some(l) => l.name.clone(),
                    None if explicit.contains_key("security.inter.broker.protocol") => {
                        return Err(invalid(
                            "security.inter.broker.protocol",
                            by_protocol,
                            "no listener of that name; set inter.broker.listener.name",
                        ))
                    }
                    None => {
                        let first = listeners
                            .first()
                            .map(|l| l.name.clone())
                            .unwrap_or_default();
                        tracing::info!(listener = %first, "inter.broker.listener.name not set; using the first listener");
                        first
                    }
                }
            }
        };

        let log_dirs_raw = opt_str("log.dirs").map_or(
            ("log.dir", raw("log.dir").unwrap_or_default().to_string()),
            |v| ("log.dirs", v),
        );
        let log_dirs: Vec<PathBuf> = props::list_items(&log_dirs_raw.1)
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if log_dirs.is_empty() {
            return Err(invalid(
                log_dirs_raw.0,
                &log_dirs_raw.1,
                "at least one log directory is required",
            ));
        }

        // The socket server's limits, with Kafka's cross-checks.
        let socket_request_max_bytes = int("socket.request.max.bytes")?;
        let queued_max_request_bytes = u64::try_from(num("queued.max.request.bytes")?)
            .ok()
            .filter(|&n| n > 0);
        if let Some(q) = queued_max_request_bytes {
            if q < socket_request_max_bytes as u64 {
                return Err(invalid(
                    "queued.max.request.bytes",
                    &q.to_string(),
                    format!(
                        "must be larger or equal to socket.request.max.bytes ({socket_request_max_bytes})"
                    ),
                ));
            }
        }
        let max_connections_per_ip = int("max.connections.per.ip")?;
        let overrides_raw = raw("max.connections.per.ip.overrides").unwrap_or_default();
        let max_connections_per_ip_overrides = parse_ip_overrides(overrides_raw)
            .map_err(|reason| invalid("max.connections.per.ip.overrides", overrides_raw, reason))?;
        if max_connections_per_ip == 0 && max_connections_per_ip_overrides.is_empty() {
            return Err(invalid(
                "max.connections.per.ip",
                "0",
                "can be set to zero only if max.connections.per.ip.overrides is set",
            ));
        }

        // Cross-checks on the log settings: resolving the broker-level topic defaults
        // catches e.g. an overflowing log.retention.hours now rather than at first use.
        let mut cfg = BrokerConfig {
            broker_id,
            listeners,
            advertised_listeners,
            listener_security_protocol_map: protocol_map,
            inter_broker_listener_name,
            log_dirs,
            num_partitions: int("num.partitions")?,
            default_replication_factor: short("default.replication.factor")?,
            auto_create_topics_enable: boolean("auto.create.topics.enable")?,
            zookeeper_connect: opt_str("zookeeper.connect"),
            zookeeper_session_timeout_ms: num("zookeeper.session.timeout.ms")?,
            zookeeper_connection_timeout_ms: opt_num("zookeeper.connection.timeout.ms")?,
            socket_request_max_bytes,
            max_connections: int("max.connections")?,
            log_retention_check_interval_ms: num("log.retention.check.interval.ms")?,
            delete_topic_enable: boolean("delete.topic.enable")?,
            cluster_id: None,
            broker_rack: opt_str("broker.rack"),
            offsets_topic_num_partitions: int("offsets.topic.num.partitions")?,
            offsets_topic_replication_factor: short("offsets.topic.replication.factor")?,
            offsets_topic_segment_bytes: int("offsets.topic.segment.bytes")?,
            offsets_topic_compression_codec: int("offsets.topic.compression.codec")?,
            offsets_retention_minutes: int("offsets.retention.minutes")?,
            offsets_retention_check_interval_ms: num("offsets.retention.check.interval.ms")?,
            offset_metadata_max_bytes: int("offset.metadata.max.bytes")?,
            group_min_session_timeout_ms: int("group.min.session.timeout.ms")?,
            group_max_session_timeout_ms: int("group.max.session.timeout.ms")?,
            group_initial_rebalance_delay_ms: int("group.initial.rebalance.delay.ms")?,
            group_max_size: int("group.max.size")?,
            transaction_state_log_replication_factor: short(
                "transaction.state.log.replication.factor",
            )?,
            transaction_state_log_min_isr: int("transaction.state.log.min.isr")?,
            transaction_state_log_num_partitions: int("transaction.state.log.num.partitions")?,
            transactional_id_expiration_ms: int("transactional.id.expiration.ms")?,
            transaction_max_timeout_ms: int("transaction.max.timeout.ms")?,
            producer_id_expiration_ms: int("producer.id.expiration.ms")?,
            min_insync_replicas: int("min.insync.replicas")?,
            unclean_leader_election_enable: boolean("unclean.leader.election.enable")?,
            compression_type: raw("compression.type").unwrap_or("producer").to_string(),
            num_network_threads: int("num.network.threads")?,
            num_io_threads: int("num.io.threads")?,
            num_recovery_threads_per_data_dir: int("num.recovery.threads.per.data.dir")?,
            queued_max_request_bytes,
            connections_max_idle_ms: num("connections.max.idle.ms")?,
            max_connections_per_ip,
            max_connections_per_ip_overrides,
            socket_send_buffer_bytes: int("socket.send.buffer.bytes")?,
            socket_receive_buffer_bytes: int("socket.receive.buffer.bytes")?,
            fetch_max_bytes: int("fetch.max.bytes")?,
            authorizer_class_name: raw("authorizer.class.name")
                .unwrap_or_default()
                .trim()
                .to_string(),
            super_users: raw("super.users").unwrap_or_default().to_string(),
            allow_everyone_if_no_acl_found: boolean("allow.everyone.if.no.acl.found")?,
            quota_window_num: int("quota.window.num")?,
            quota_window_size_seconds: int("quota.window.size.seconds")?,
            log_cleaner_enable: boolean("log.cleaner.enable")?,
            log_cleaner_threads: int("log.cleaner.threads")?,
            log_cleaner_backoff_ms: num("log.cleaner.backoff.ms")?,
            log_cleaner_dedupe_buffer_size: num("log.cleaner.dedupe.buffer.size")?,
            log_flush_offset_checkpoint_interval_ms: int(
                "log.flush.offset.checkpoint.interval.ms",
            )?,
            log_flush_start_offset_checkpoint_interval_ms: int(
                "log.flush.start.offset.checkpoint.interval.ms",
            )?,
            log_flush_scheduler_interval_ms: num("log.flush.scheduler.interval.ms")?,
            metrics_listener: parse_http_listener(
                "metrics.listener",
                raw("metrics.listener").unwrap_or_default(),
            )?,
            console_listener: parse_http_listener(
                "console.listener",
                raw("console.listener").unwrap_or_default(),
            )?,
            console_read_only: boolean("console.read.only")?,
            console_authentication: raw("console.authentication").map(str::trim) != Some("none"),
            metrics_authentication_basic: raw("metrics.authentication").map(str::trim)
                == Some("basic"),
            ingest_max_request_bytes: int("ingest.max.request.bytes")?,
            ingest_requests_per_second_per_source: int("ingest.requests.per.second.per.source")?,
            webhook_github_secret: raw("webhook.github.secret")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            webhook_github_key_pointer: raw("webhook.github.key.pointer")
                .unwrap_or("/repository/name")
                .to_string(),
            webhook_github_format: raw("webhook.github.format").unwrap_or("raw").to_string(),
            webhook_github_dedupe_window_ms: num("webhook.github.dedupe.window.ms")?,
            declared_topics: Vec::new(),
            explicit: BTreeMap::new(),
        };
        cfg.explicit = explicit;
        cfg.log_config(&BTreeMap::new())?;
        Ok(cfg)
    }

    /// The value as resolved (explicit or default) of any known broker property,
    /// e.g. "log.retention.hours". `None` for unknown names and for properties
    /// that are unset with a null default (e.g. `log.retention.ms`).
    pub fn get(&self, name: &str) -> Option<String> {
        match name {
            "broker.id" => return Some(self.broker_id.to_string()),
            "inter.broker.listener.name" => return Some(self.inter_broker_listener_name.clone()),
            _ => {}
        }
        let def = props::broker_prop(name)?;
        self.explicit
            .get(name)
            .cloned()
            .or_else(|| def.default.map(str::to_string))
    }

    /// A listener's value of `name`: Kafka's `listener.name.<listener>.<name>`
    /// override, else the broker-wide value (explicit or default).
    pub fn listener_value(&self, listener: &str, name: &str) -> Option<String> {
        let prefixed = format!("listener.name.{}.{name}", listener.to_ascii_lowercase());
        self.explicit
            .get(&prefixed)
            .cloned()
            .or_else(|| self.get(name))
    }

    /// Whether `listener.name.<listener>.<name>` itself is set.
    pub fn is_explicit_listener_value(&self, listener: &str, name: &str) -> bool {
        self.explicit.contains_key(&format!(
            "listener.name.{}.{name}",
            listener.to_ascii_lowercase()
        ))
    }

    /// The security protocol of `listener` (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`).
    pub fn security_protocol(&self, listener: &str) -> &str {
        self.listener_security_protocol_map
            .get(listener)
            .map_or("PLAINTEXT", String::as_str)
    }

    fn is_explicit(&self, name: &str) -> bool {
        self.explicit.contains_key(name)
    }

    /// Effective value of a topic config from its override or broker synonyms,
    /// converted to the topic config's unit, and where it came from.
    fn topic_value(
        &self,
        tdef: &props::TopicDef,
        overrides: &BTreeMap<String, String>,
    ) -> Result<(String, ConfigSource, &'static str), ConfigError> {
        let name = tdef.def.name;
        if let Some(v) = overrides.get(name) {
            return Ok((v.trim().to_string(), ConfigSource::DynamicTopic, name));
        }
        let explicit = tdef.synonyms.iter().find(|s| self.is_explicit(s.name));
        let (syn, source) = match explicit {
            Some(s) => (Some(s), ConfigSource::StaticBroker),
            None => (
                tdef.synonyms
                    .iter()
                    .find(|s| props::broker_prop(s.name).is_some_and(|d| d.default.is_some())),
                ConfigSource::Default,
            ),
        };
        let Some(syn) = syn else {
            return Ok((
                tdef.def.default.unwrap_or_default().to_string(),
                source,
                name,
            ));
        };
        let v = self.get(syn.name).unwrap_or_default();
        if syn.factor == 1 && name != "retention.ms" {
            return Ok((v, source, syn.name));
        }
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| invalid(syn.name, &v, "expected an integer"))?;
        let converted = n
            .checked_mul(syn.factor)
            .ok_or_else(|| invalid(syn.name, &v, "too large once converted to milliseconds"))?;
        // Kafka: a negative broker retention time means unlimited (-1).
        let converted = if name == "retention.ms" && converted < 0 {
            -1
        } else {
            converted
        };
        Ok((converted.to_string(), source, syn.name))
    }

    /// Log settings for a topic: topic-level overrides (Kafka topic config names,
    /// e.g. "retention.ms") over broker defaults. Overrides are validated; names
    /// that are not topic configs, or do not concern the log, are ignored.
    pub fn log_config(
        &self,
        topic_overrides: &BTreeMap<String, String>,
    ) -> Result<LogConfig, ConfigError> {
        let value = |name: &str| -> Result<String, ConfigError> {
            let tdef = props::topic_config(name)
                .ok_or_else(|| ConfigError::UnknownConfig(name.to_string()))?;
            let (v, _, key) = self.topic_value(tdef, topic_overrides)?;
            props::check_value(&tdef.def, &v).map_err(|reason| {
                if key == name {
                    invalid(name, &v, reason)
                } else {
                    invalid(key, &v, format!("as {name}: {reason}"))
                }
            })?;
            Ok(v)
        };
        fn parse<T: std::str::FromStr>(name: &str, v: String) -> Result<T, ConfigError> {
            v.trim()
                .parse::<T>()
                .map_err(|_| invalid(name, &v, "out of range"))
        }
        let long = |name: &str| -> Result<i64, ConfigError> { parse(name, value(name)?) };
        let timestamp = value("message.timestamp.type")?;
        let cleanup_policy = value("cleanup.policy")?;
        Ok(LogConfig {
            segment_bytes: parse("segment.bytes", value("segment.bytes")?)?,
            segment_ms: long("segment.ms")?,
            segment_index_bytes: parse("segment.index.bytes", value("segment.index.bytes")?)?,
            index_interval_bytes: parse("index.interval.bytes", value("index.interval.bytes")?)?,
            flush_messages: long("flush.messages")?,
            flush_ms: long("flush.ms")?,
            max_message_bytes: parse("max.message.bytes", value("max.message.bytes")?)?,
            message_timestamp_type: if timestamp == "LogAppendTime" {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            retention_ms: long("retention.ms")?,
            retention_bytes: long("retention.bytes")?,
            file_delete_delay_ms: long("file.delete.delay.ms")?,
            compression_type: value("compression.type")?
                .parse()
                .map_err(|e: String| invalid("compression.type", "", e))?,
            message_timestamp_difference_max_ms: long("message.timestamp.difference.max.ms")?,
            message_downconversion_enable: value("message.downconversion.enable")?.trim() == "true",
            producer_id_expiration_ms: i64::from(self.producer_id_expiration_ms),
            cleanup_delete: cleanup_policy.split(',').any(|p| p.trim() == "delete"),
            cleanup_compact: cleanup_policy.split(',').any(|p| p.trim() == "compact"),
            delete_retention_ms: long("delete.retention.ms")?,
            min_compaction_lag_ms: long("min.compaction.lag.ms")?,
            max_compaction_lag_ms: long("max.compaction.lag.ms")?,
            min_cleanable_dirty_ratio: parse(
                "min.cleanable.dirty.ratio",
                value("min.cleanable.dirty.ratio")?,
            )?,
        })
    }

    /// Validates one topic-level config (name known + value parses and is in
    /// range). Unknown name → [`ConfigError::UnknownConfig`].
    pub fn validate_topic_config(name: &str, value: &str) -> Result<(), ConfigError> {
        let tdef = props::topic_config(name)
            .ok_or_else(|| ConfigError::UnknownConfig(name.to_string()))?;
        props::check_value(&tdef.def, value).map_err(|reason| invalid(name, value, reason))
    }

    /// Broker synonyms of `names` in Kafka's order: the explicitly set ones
    /// (StaticBroker), then those with a non-null default (Default).
    fn broker_synonym_list(&self, names: &[&'static str]) -> Vec<ConfigSynonym> {
        let mut out = Vec::new();
        for &n in names {
            if let Some(v) = self.explicit.get(n) {
                out.push(ConfigSynonym {
                    name: n.to_string(),
                    value: Some(v.clone()),
                    source: ConfigSource::StaticBroker,
                });
            }
        }
        for &n in names {
            if let Some(d) = props::broker_prop(n).and_then(|d| d.default) {
                out.push(ConfigSynonym {
                    name: n.to_string(),
                    value: Some(d.to_string()),
                    source: ConfigSource::Default,
                });
            }
        }
        out
    }

    /// DescribeConfigs for a topic: every topic-level config of Kafka 3.5, with
    /// value = override, else the broker property's resolved value, else Kafka's
    /// default; synonyms (when asked) as Kafka lists them: the topic override, the
    /// broker synonyms that are set, then the broker default.
    pub fn describe_topic_configs(
        &self,
        topic_overrides: &BTreeMap<String, String>,
        include_synonyms: bool,
    ) -> Vec<ConfigEntry> {
        TOPIC_CONFIGS
            .iter()
            .map(|tdef| {
                let def = &tdef.def;
                let (value, source) = match self.topic_value(tdef, topic_overrides) {
                    Ok((v, source, _)) => (v, source),
                    Err(_) => (
                        def.default.unwrap_or_default().to_string(),
                        ConfigSource::Default,
                    ),
                };
                let synonyms = if include_synonyms {
                    let mut s = Vec::new();
                    if let Some(v) = topic_overrides.get(def.name) {
                        s.push(ConfigSynonym {
                            name: def.name.to_string(),
                            value: Some(v.trim().to_string()),
                            source: ConfigSource::DynamicTopic,
                        });
                    }
                    let names: Vec<&'static str> = tdef.synonyms.iter().map(|s| s.name).collect();
                    s.extend(self.broker_synonym_list(&names));
                    s
                } else {
                    Vec::new()
                };
                ConfigEntry {
                    name: def.name.to_string(),
                    value: Some(value),
                    source,
                    read_only: false,
                    is_default: source == ConfigSource::Default,
                    sensitive: false,
                    config_type: def.ty,
                    documentation: Some(def.doc.to_string()),
                    synonyms,
                }
            })
            .collect()
    }

    /// DescribeConfigs for the broker: every broker property this module knows
    /// (StaticBroker when explicit, Default otherwise; all read-only, as strom has
    /// no dynamic broker configs), including `inter.broker.protocol.version`.
    pub fn describe_broker_configs(&self, include_synonyms: bool) -> Vec<ConfigEntry> {
        BROKER_PROPS
            .iter()
            .map(|def: &PropDef| {
                let explicit = self.is_explicit(def.name);
                let source = if explicit {
                    ConfigSource::StaticBroker
                } else {
                    ConfigSource::Default
                };
                let synonyms = if include_synonyms {
                    let group = props::broker_synonyms(def.name);
                    let mut list = self.broker_synonym_list(&group);
                    // As Kafka: drop the synonyms listed before this property itself.
                    let first = list
                        .iter()
                        .position(|s| s.name == def.name)
                        .unwrap_or(list.len());
                    list.drain(..first);
                    list
                } else {
                    Vec::new()
                };
                ConfigEntry {
                    name: def.name.to_string(),
                    // Kafka never shows a password's value.
                    value: (def.ty != ConfigType::Password)
                        .then(|| self.get(def.name))
                        .flatten(),
                    source,
                    read_only: true,
                    is_default: !explicit,
                    sensitive: def.ty == ConfigType::Password,
                    config_type: def.ty,
                    documentation: Some(def.doc.to_string()),
                    synonyms,
                }
            })
            .collect()
    }
}

/// An HTTP listener property (`metrics.listener`, `console.listener`):
/// `host:port` (an empty host means all interfaces), or empty for none.
fn parse_http_listener(key: &str, value: &str) -> Result<Option<String>, ConfigError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let bad = |reason: &str| invalid(key, v, reason);
    let (host, port) = v
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port, e.g. 0.0.0.0:9308"))?;
    port.parse::<u16>()
        .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(bad("write an IPv6 address in brackets, e.g. [::]:9308"));
    }
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(Some(format!("{host}:{port}")))
}

/// An empty host or a wildcard address: listen on all interfaces.
fn is_wildcard(host: &str) -> bool {
    matches!(host, "" | "0.0.0.0" | "[::]" | "[0:0:0:0:0:0:0:0]")
}

/// This machine's host name if it resolves, else "localhost".
fn local_hostname(env_hostname: Option<&str>) -> String {
    use std::net::ToSocketAddrs;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            env_hostname
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        });
    match name {
        Some(n)
            if (n.as_str(), 0u16)
                .to_socket_addrs()
                .is_ok_and(|mut a| a.next().is_some()) =>
        {
            n
        }
        _ => "localhost".to_string(),
    }
}

#[cfg(test)]
mod tests;
