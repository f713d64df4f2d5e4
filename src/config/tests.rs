//! Tests of resolution, precedence, validation and DescribeConfigs.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ov(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A config with an explicit advertised host so no test depends on this machine's name.
fn load(file: Option<&Path>, e: &[(&str, &str)], o: &[&str]) -> Result<BrokerConfig, ConfigError> {
    let mut o = ov(o);
    if !o
        .iter()
        .any(|s| s.starts_with("listeners=") || s.starts_with("advertised.listeners="))
        && !e.iter().any(|(k, _)| k.contains("LISTENERS"))
        && file.is_none()
    {
        o.insert(0, "advertised.listeners=PLAINTEXT://localhost:9092".into());
    }
    BrokerConfig::load(file, env(e), &o)
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("server.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn key_of(e: ConfigError) -> String {
    match e {
        ConfigError::InvalidValue { key, .. } => key,
        other => panic!("expected InvalidValue, got {other}"),
    }
}

#[test]
fn defaults_are_kafkas() {
    let c = load(None, &[], &[]).unwrap();
    assert_eq!(c.broker_id, 1);
    assert_eq!(
        c.listeners,
        vec![Listener {
            name: "PLAINTEXT".into(),
            host: "".into(),
            port: 9092
        }]
    );
    assert_eq!(c.advertised_listeners[0].host, "localhost");
    assert_eq!(c.inter_broker_listener_name, "PLAINTEXT");
    assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/kafka-logs")]);
    assert_eq!(c.num_partitions, 1);
    assert_eq!(c.default_replication_factor, 1);
    assert!(c.auto_create_topics_enable);
    assert!(c.delete_topic_enable);
    assert_eq!(c.zookeeper_connect, None);
    assert_eq!(c.zookeeper_session_timeout_ms, 18000);
    assert_eq!(c.zookeeper_connection_timeout_ms, None);
    assert_eq!(c.socket_request_max_bytes, 104_857_600);
    assert_eq!(c.max_connections, i32::MAX);
    assert_eq!(c.log_retention_check_interval_ms, 300_000);
    assert_eq!(c.offsets_topic_num_partitions, 50);
    assert_eq!(c.offsets_retention_minutes, 10080);
    assert_eq!(c.group_min_session_timeout_ms, 6000);
    assert_eq!(c.group_max_session_timeout_ms, 1_800_000);
    assert_eq!(c.group_initial_rebalance_delay_ms, 3000);
    assert_eq!(c.get("log.retention.hours").as_deref(), Some("168"));
    assert_eq!(c.get("log.retention.ms"), None);
    assert_eq!(c.get("broker.id").as_deref(), Some("1"));
    assert_eq!(c.get("no.such.thing"), None);
    assert_eq!(
        c.log_config(&BTreeMap::new()).unwrap(),
        LogConfig::default()
    );
}

#[test]
fn default_listener_advertises_a_host_name() {
    let c = BrokerConfig::load(None, env(&[]), &[]).unwrap();
    assert!(!c.advertised_listeners[0].host.is_empty());
    assert_eq!(c.advertised_listeners[0].port, 9092);
}

#[test]
fn precedence_override_env_file_default() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "\"num.partitions\" = 2\n\"log.retention.hours\" = 10\n\"default.replication.factor\" = 1\n\"advertised.listeners\" = \"PLAINTEXT://h:9092\"\n",
    );
    let e = [
        ("KAFKA_NUM_PARTITIONS", "4"),
        ("KAFKA_LOG_RETENTION_HOURS", "20"),
    ];
    let c = load(Some(&p), &e, &["num.partitions=6"]).unwrap();
    assert_eq!(c.num_partitions, 6, "override beats env and file");
    assert_eq!(
        c.get("log.retention.hours").as_deref(),
        Some("20"),
        "env beats file"
    );
    assert_eq!(
        c.get("default.replication.factor").as_deref(),
        Some("1"),
        "file"
    );
    assert_eq!(
        c.get("offsets.topic.num.partitions").as_deref(),
        Some("50"),
        "default"
    );
    // A bad value that a higher source replaces does not matter.
    let p = write(
        &dir,
        "\"num.partitions\" = 0\n\"advertised.listeners\" = \"PLAINTEXT://h:9092\"\n",
    );
    assert_eq!(
        load(Some(&p), &[], &["num.partitions=2"])
            .unwrap()
            .num_partitions,
        2
    );
}

#[test]
fn env_mapping_with_double_and_triple_underscores() {
    // `___` → '-' and `__` → '_' give names that are unknown here: warned, not fatal.
    let c = load(
        None,
        &[
            ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
            ("KAFKA_SOME__WEIRD___NAME", "1"),
            ("KAFKA_HEAP_OPTS", "-Xmx1G"),
            ("KAFKA_JMX_PORT", "9999"),
            ("KAFKA_LOG4J_ROOT_LOGLEVEL", "WARN"),
            ("KAFKA_OPTS", "-Dx"),
            ("KAFKA_VERSION", "3.5.2"),
        ],
        &[],
    )
    .unwrap();
    assert!(!c.auto_create_topics_enable);
    assert_eq!(
        sources::env_to_property("KAFKA_SOME__WEIRD___NAME").as_deref(),
        Some("some_weird-name")
    );
}

#[test]
fn bad_values_name_the_key() {
    for (o, key) in [
        ("num.partitions=0", "num.partitions"),
        ("num.partitions=x", "num.partitions"),
        ("log.segment.bytes=13", "log.segment.bytes"),
        ("message.max.bytes=-1", "message.max.bytes"),
        ("auto.create.topics.enable=yes", "auto.create.topics.enable"),
        ("log.retention.ms=1.5", "log.retention.ms"),
        (
            "log.message.timestamp.type=Now",
            "log.message.timestamp.type",
        ),
        (
            "default.replication.factor=40000",
            "default.replication.factor",
        ),
        ("log.cleanup.policy=keep", "log.cleanup.policy"),
        ("log.roll.ms=0", "log.roll.ms"),
    ] {
        let e = load(None, &[], &[o]).unwrap_err();
        let msg = e.to_string();
        assert_eq!(key_of(e), key, "{o}: {msg}");
    }
    let e = load(None, &[("KAFKA_NUM_IO_THREADS", "zero")], &[]).unwrap_err();
    assert!(e.to_string().contains("num.io.threads"), "{e}");
    assert!(matches!(
        load(None, &[], &["noequals"]),
        Err(ConfigError::InvalidValue { .. })
    ));
}

#[test]
fn kafka_properties_strom_ignores_and_unknown_env_vars_only_warn() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "\"confluent.support.metrics.enable\" = false\n\"ssl.keystore.location\" = \"/x\"\n\"advertised.listeners\" = \"PLAINTEXT://h:9092\"\n");
    let c = load(
        Some(&p),
        &[
            ("KAFKA_CONFLUENT_X", "1"),
            ("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"),
            ("KAFKA_CLUSTERS_0_NAME", "home"),
        ],
        &["jmx.port=9999"],
    )
    .unwrap();
    assert_eq!(c.get("jmx.port"), None);
    assert!(c
        .describe_broker_configs(false)
        .iter()
        .all(|e| e.name != "bootstrap.servers"));
}

#[test]
fn a_mistyped_property_is_refused_naming_the_nearest() {
    let err = load(None, &[], &["log.retention.hour=5"]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::UnknownProperty { name, suggestion: Some("log.retention.hours"), source_name: "override" } if name == "log.retention.hour"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("did you mean \"log.retention.hours\""),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "\"auto.create.topic.enable\" = false\n");
    let err = load(Some(&p), &[], &[]).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::UnknownProperty {
                suggestion: Some("auto.create.topics.enable"),
                source_name: "config file",
                ..
            }
        ),
        "{err}"
    );
    // Nothing near: no suggestion.
    let err = load(None, &[], &["made.up=2"]).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::UnknownProperty {
                suggestion: None,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn file_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    assert!(matches!(
        load(Some(&missing), &[], &[]),
        Err(ConfigError::File { .. })
    ));
    let p = write(&dir, "this is = = not toml");
    let e = load(Some(&p), &[], &[]).unwrap_err();
    assert!(matches!(e, ConfigError::File { .. }), "{e}");
    let p = write(&dir, "\"log.dirs\" = 1979-05-27\n");
    assert_eq!(key_of(load(Some(&p), &[], &[]).unwrap_err()), "log.dirs");
}

#[test]
fn nested_tables_flatten() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        r#"
advertised.listeners = "PLAINTEXT://h:9092"
[num]
partitions = 5
[log]
retention.hours = 24
"segment.bytes" = 1048576
cleaner.enable = false
"#,
    );
    let c = load(Some(&p), &[], &[]).unwrap();
    assert_eq!(c.get("log.retention.hours").as_deref(), Some("24"));
    assert_eq!(c.num_partitions, 5);
    assert!(!c.log_cleaner_enable);
    assert_eq!(
        c.log_config(&BTreeMap::new()).unwrap().segment_bytes,
        1_048_576
    );
}

#[test]
fn listeners_and_advertised() {
    let c = load(
        None,
        &[],
        &[
            "listeners=external://0.0.0.0:9092,INTERNAL://:29092,LOCAL://127.0.0.1:9093",
            "advertised.listeners=EXTERNAL://192.168.68.100:9092,internal://kafka:29092",
            "listener.security.protocol.map=EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,LOCAL:PLAINTEXT",
            "inter.broker.listener.name=internal",
        ],
    )
    .unwrap();
    let names: Vec<_> = c.listeners.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["EXTERNAL", "INTERNAL", "LOCAL"]);
    assert_eq!(c.advertised_listeners.len(), 3);
    assert_eq!(
        c.advertised_listeners[0].to_string(),
        "EXTERNAL://192.168.68.100:9092"
    );
    assert_eq!(
        c.advertised_listeners[1].to_string(),
        "INTERNAL://kafka:29092"
    );
    assert_eq!(
        c.advertised_listeners[2].to_string(),
        "LOCAL://127.0.0.1:9093",
        "advertises itself"
    );
    assert_eq!(c.inter_broker_listener_name, "INTERNAL");

    let base = "listener.security.protocol.map=A:PLAINTEXT,B:PLAINTEXT";
    // Advertised name not among listeners.
    let e = load(
        None,
        &[],
        &["listeners=A://:1", "advertised.listeners=B://h:1", base],
    )
    .unwrap_err();
    assert_eq!(key_of(e), "advertised.listeners");
    // Advertising the wildcard address.
    let e = load(
        None,
        &[],
        &[
            "listeners=A://:1",
            "advertised.listeners=A://0.0.0.0:1",
            base,
        ],
    )
    .unwrap_err();
    assert_eq!(key_of(e), "advertised.listeners");
    // Duplicate names and ports.
    let e = load(None, &[], &["listeners=A://:1,a://:2", base]).unwrap_err();
    assert_eq!(key_of(e), "listeners");
    let e = load(None, &[], &["listeners=A://:1,B://h:1", base]).unwrap_err();
    assert_eq!(key_of(e), "listeners");
    // Unmapped listener.
    let e = load(
        None,
        &[],
        &["listeners=C://:1", "advertised.listeners=C://h:1", base],
    )
    .unwrap_err();
    assert_eq!(key_of(e), "listener.security.protocol.map");
    // Every security protocol is accepted; listener.name.<l>.… overrides the broker-wide value.
    let c = load(
        None,
        &[],
        &[
            "listeners=SSL://:9093,LAN://:9094",
            "advertised.listeners=SSL://h:9093,LAN://h:9094",
            "listener.security.protocol.map=SSL:SSL,LAN:SASL_SSL",
            "ssl.client.auth=requested",
            "listener.name.LAN.ssl.client.auth=none",
            "listener.name.lan.scram-sha-512.sasl.jaas.config=x required;",
        ],
    )
    .unwrap();
    assert_eq!(c.security_protocol("LAN"), "SASL_SSL");
    assert_eq!(
        c.listener_value("SSL", "ssl.client.auth").as_deref(),
        Some("requested")
    );
    assert_eq!(
        c.listener_value("LAN", "ssl.client.auth").as_deref(),
        Some("none")
    );
    assert_eq!(
        c.listener_value("LAN", "scram-sha-512.sasl.jaas.config")
            .as_deref(),
        Some("x required;")
    );
    let e = load(
        None,
        &[],
        &[
            "listeners=SSL://:9093",
            "advertised.listeners=SSL://h:9093",
            "listener.name.ssl.ssl.client.auth=maybe",
        ],
    )
    .unwrap_err();
    assert_eq!(key_of(e), "listener.name.ssl.ssl.client.auth");
    // Inter-broker listener must exist.
    let e = load(
        None,
        &[],
        &[
            "listeners=A://:1",
            "advertised.listeners=A://h:1",
            base,
            "inter.broker.listener.name=B",
        ],
    )
    .unwrap_err();
    assert_eq!(key_of(e), "inter.broker.listener.name");
    // Without inter.broker.listener.name and no PLAINTEXT listener: the first one.
    let c = load(
        None,
        &[],
        &[
            "listeners=A://:1,B://:2",
            "advertised.listeners=A://h:1,B://h:2",
            base,
        ],
    )
    .unwrap();
    assert_eq!(c.inter_broker_listener_name, "A");
    // Empty listeners.
    let e = load(None, &[], &["listeners=", base]).unwrap_err();
    assert_eq!(key_of(e), "listeners");
}

#[test]
fn log_dirs_and_log_dir() {
    let c = load(None, &[], &["log.dir=/a"]).unwrap();
    assert_eq!(c.log_dirs, vec![PathBuf::from("/a")]);
    let c = load(None, &[], &["log.dir=/a", "log.dirs=/b, /c"]).unwrap();
    assert_eq!(c.log_dirs, vec![PathBuf::from("/b"), PathBuf::from("/c")]);
    assert_eq!(
        key_of(load(None, &[], &["log.dirs= , "]).unwrap_err()),
        "log.dirs"
    );
}

#[test]
fn broker_id() {
    assert_eq!(load(None, &[], &["broker.id=7"]).unwrap().broker_id, 7);
    assert_eq!(load(None, &[], &["broker.id=-1"]).unwrap().broker_id, 1);
    assert_eq!(
        key_of(load(None, &[], &["broker.id=-2"]).unwrap_err()),
        "broker.id"
    );
}

fn topic(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn log_config_retention_precedence() {
    const H: i64 = 3_600_000;
    let none = BTreeMap::new();
    let c = load(None, &[], &["log.retention.hours=24"]).unwrap();
    assert_eq!(c.log_config(&none).unwrap().retention_ms, 24 * H);
    let c = load(
        None,
        &[],
        &["log.retention.hours=24", "log.retention.minutes=30"],
    )
    .unwrap();
    assert_eq!(c.log_config(&none).unwrap().retention_ms, 30 * 60_000);
    let c = load(
        None,
        &[],
        &[
            "log.retention.hours=24",
            "log.retention.minutes=30",
            "log.retention.ms=1234",
        ],
    )
    .unwrap();
    assert_eq!(c.log_config(&none).unwrap().retention_ms, 1234);
    // The topic override wins over everything.
    let lc = c.log_config(&topic(&[("retention.ms", "99")])).unwrap();
    assert_eq!(lc.retention_ms, 99);
    // Negative broker retention means unlimited.
    let c = load(None, &[], &["log.retention.hours=-1"]).unwrap();
    assert_eq!(c.log_config(&none).unwrap().retention_ms, -1);
}

#[test]
fn log_config_maps_every_setting() {
    let c = load(
        None,
        &[],
        &[
            "log.segment.bytes=1000",
            "log.roll.hours=2",
            "log.index.size.max.bytes=4096",
            "log.index.interval.bytes=100",
            "log.flush.interval.messages=1",
            "log.flush.interval.ms=500",
            "message.max.bytes=2000",
            "log.message.timestamp.type=LogAppendTime",
            "log.retention.bytes=5000",
            "log.segment.delete.delay.ms=10",
        ],
    )
    .unwrap();
    let lc = c.log_config(&BTreeMap::new()).unwrap();
    assert_eq!(
        lc,
        LogConfig {
            segment_bytes: 1000,
            segment_ms: 2 * 3_600_000,
            segment_index_bytes: 4096,
            index_interval_bytes: 100,
            flush_messages: 1,
            flush_ms: 500,
            max_message_bytes: 2000,
            message_timestamp_type: TimestampType::LogAppendTime,
            retention_ms: 7 * 24 * 3_600_000,
            retention_bytes: 5000,
            file_delete_delay_ms: 10,
            ..LogConfig::default()
        }
    );
    let c = load(None, &[], &["log.roll.hours=2", "log.roll.ms=300"]).unwrap();
    assert_eq!(c.log_config(&BTreeMap::new()).unwrap().segment_ms, 300);
    let lc = c
        .log_config(&topic(&[
            ("segment.ms", "77"),
            ("segment.bytes", "2048"),
            ("message.timestamp.type", "LogAppendTime"),
            ("cleanup.policy", "compact"),
            ("not.a.topic.config", "x"),
        ]))
        .unwrap();
    assert_eq!((lc.segment_ms, lc.segment_bytes), (77, 2048));
    assert_eq!(lc.message_timestamp_type, TimestampType::LogAppendTime);
    assert!(lc.cleanup_compact && !lc.cleanup_delete);
    let e = c.log_config(&topic(&[("segment.bytes", "1")])).unwrap_err();
    assert_eq!(key_of(e), "segment.bytes");
}

#[test]
fn validate_topic_configs() {
    assert!(BrokerConfig::validate_topic_config("retention.ms", "-1").is_ok());
    assert!(BrokerConfig::validate_topic_config("retention.ms", "-2").is_err());
    assert!(BrokerConfig::validate_topic_config("cleanup.policy", "compact,delete").is_ok());
    assert!(BrokerConfig::validate_topic_config("compression.type", "brotli").is_err());
    assert!(BrokerConfig::validate_topic_config("max.message.bytes", "abc").is_err());
    assert!(BrokerConfig::validate_topic_config("segment.bytes", "13").is_err());
    assert!(BrokerConfig::validate_topic_config("min.insync.replicas", "0").is_err());
    assert!(BrokerConfig::validate_topic_config("unclean.leader.election.enable", "true").is_ok());
    assert!(matches!(
        BrokerConfig::validate_topic_config("retention.hours", "1"),
        Err(ConfigError::UnknownConfig(n)) if n == "retention.hours"
    ));
    let e = BrokerConfig::validate_topic_config("flush.messages", "0").unwrap_err();
    assert_eq!(key_of(e), "flush.messages");
}

fn entry<'a>(entries: &'a [ConfigEntry], name: &str) -> &'a ConfigEntry {
    entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

fn syns(e: &ConfigEntry) -> Vec<(String, Option<String>, ConfigSource)> {
    e.synonyms
        .iter()
        .map(|s| (s.name.clone(), s.value.clone(), s.source))
        .collect()
}

fn s(name: &str, value: &str, source: ConfigSource) -> (String, Option<String>, ConfigSource) {
    (name.to_string(), Some(value.to_string()), source)
}

#[test]
fn describe_topic_sources_and_synonyms() {
    use ConfigSource::{Default as D, DynamicTopic as T, StaticBroker as SB};
    let all = [
        "cleanup.policy",
        "compression.type",
        "delete.retention.ms",
        "file.delete.delay.ms",
        "flush.messages",
        "flush.ms",
        "follower.replication.throttled.replicas",
        "index.interval.bytes",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "message.downconversion.enable",
        "message.format.version",
        "message.timestamp.difference.max.ms",
        "message.timestamp.type",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "preallocate",
        "remote.storage.enable",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.index.bytes",
        "segment.jitter.ms",
        "segment.ms",
        "unclean.leader.election.enable",
    ];

    let c = load(None, &[], &[]).unwrap();
    let d = c.describe_topic_configs(&BTreeMap::new(), true);
    assert_eq!(d.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), all);
    let r = entry(&d, "retention.ms");
    assert_eq!(
        (r.value.as_deref(), r.source, r.is_default),
        (Some("604800000"), D, true)
    );
    assert_eq!(syns(r), vec![s("log.retention.hours", "168", D)]);
    assert_eq!(r.config_type, ConfigType::Long);
    assert!(!r.read_only);
    let f = entry(&d, "flush.ms");
    assert_eq!(f.value.as_deref(), Some("9223372036854775807"));
    assert_eq!(
        syns(f),
        vec![s(
            "log.flush.scheduler.interval.ms",
            "9223372036854775807",
            D
        )]
    );
    assert_eq!(
        entry(&d, "max.message.bytes").value.as_deref(),
        Some("1048588")
    );
    assert_eq!(
        entry(&d, "message.format.version").value.as_deref(),
        Some("3.0-IV1")
    );
    assert!(entry(&d, "remote.storage.enable").synonyms.is_empty());
    assert_eq!(
        entry(&d, "leader.replication.throttled.replicas")
            .value
            .as_deref(),
        Some("")
    );

    let c = load(
        None,
        &[],
        &["log.retention.hours=24", "compression.type=zstd"],
    )
    .unwrap();
    let d = c.describe_topic_configs(&BTreeMap::new(), true);
    let r = entry(&d, "retention.ms");
    assert_eq!(
        (r.value.as_deref(), r.source, r.is_default),
        (Some("86400000"), SB, false)
    );
    assert_eq!(
        syns(r),
        vec![
            s("log.retention.hours", "24", SB),
            s("log.retention.hours", "168", D)
        ]
    );
    assert_eq!(entry(&d, "compression.type").source, SB);

    let overrides = topic(&[("retention.ms", "1000"), ("cleanup.policy", "compact")]);
    let d = c.describe_topic_configs(&overrides, true);
    let r = entry(&d, "retention.ms");
    assert_eq!(
        (r.value.as_deref(), r.source, r.is_default),
        (Some("1000"), T, false)
    );
    assert_eq!(
        syns(r),
        vec![
            s("retention.ms", "1000", T),
            s("log.retention.hours", "24", SB),
            s("log.retention.hours", "168", D)
        ]
    );
    let cp = entry(&d, "cleanup.policy");
    assert_eq!((cp.value.as_deref(), cp.source), (Some("compact"), T));
    assert_eq!(
        syns(cp),
        vec![
            s("cleanup.policy", "compact", T),
            s("log.cleanup.policy", "delete", D)
        ]
    );
    // Without synonyms.
    assert!(c
        .describe_topic_configs(&overrides, false)
        .iter()
        .all(|e| e.synonyms.is_empty()));
}

#[test]
fn describe_broker_configs() {
    let c = load(None, &[], &["log.retention.ms=5000", "num.partitions=3"]).unwrap();
    let d = c.describe_broker_configs(true);
    let ibp = entry(&d, "inter.broker.protocol.version");
    assert_eq!(
        (ibp.value.as_deref(), ibp.source, ibp.is_default),
        (Some("3.5-IV2"), ConfigSource::Default, true)
    );
    assert_eq!(
        entry(&d, "log.message.format.version").value.as_deref(),
        Some("3.0-IV1")
    );
    let np = entry(&d, "num.partitions");
    assert_eq!(
        (np.value.as_deref(), np.source, np.is_default, np.read_only),
        (Some("3"), ConfigSource::StaticBroker, false, true)
    );
    assert_eq!(
        syns(np),
        vec![
            s("num.partitions", "3", ConfigSource::StaticBroker),
            s("num.partitions", "1", ConfigSource::Default)
        ]
    );
    let ms = entry(&d, "log.retention.ms");
    assert_eq!(
        syns(ms),
        vec![
            s("log.retention.ms", "5000", ConfigSource::StaticBroker),
            s("log.retention.hours", "168", ConfigSource::Default)
        ]
    );
    let hours = entry(&d, "log.retention.hours");
    assert_eq!(
        (hours.value.as_deref(), hours.source),
        (Some("168"), ConfigSource::Default)
    );
    assert_eq!(
        syns(hours),
        vec![s("log.retention.hours", "168", ConfigSource::Default)]
    );
    let minutes = entry(&d, "log.retention.minutes");
    assert_eq!(minutes.value, None);
    assert!(minutes.synonyms.is_empty());
    assert_eq!(entry(&d, "broker.id").value.as_deref(), Some("1"));
    // Passwords (ssl.keystore.key, sasl.jaas.config, …) are sensitive and never shown.
    assert!(d
        .iter()
        .all(|e| e.read_only && e.sensitive == (e.config_type == ConfigType::Password)));
    assert!(d.iter().filter(|e| e.sensitive).all(|e| e.value.is_none()));
    assert!(d
        .iter()
        .any(|e| e.name == "ssl.keystore.key" && e.sensitive));
}

#[test]
fn shipped_server_toml_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/server.toml");
    let c = BrokerConfig::load(Some(&path), env(&[]), &[]).unwrap();
    assert_eq!(c.broker_id, 1);
    assert_eq!(
        c.listeners
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["EXTERNAL://0.0.0.0:9092", "INTERNAL://0.0.0.0:29092"]
    );
    assert_eq!(
        c.advertised_listeners
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["EXTERNAL://localhost:9092", "INTERNAL://localhost:29092"]
    );
    assert_eq!(c.inter_broker_listener_name, "INTERNAL");
    assert!(!c.auto_create_topics_enable);
    assert_eq!(c.num_partitions, 3);
    assert_eq!(c.get("log.retention.hours").as_deref(), Some("168"));
    assert_eq!(c.log_dirs, vec![PathBuf::from("data/kafka-logs")]);
    assert_eq!(c.metrics_listener.as_deref(), Some("0.0.0.0:9308"));
    let declared: Vec<(&str, i32, &str)> = c
        .declared_topics
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.partitions,
                t.configs["retention.ms"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        declared,
        [
            ("deployment-webhooks", 3, "604800000"),
            ("security-events", 3, "2592000000"),
            ("trading-events", 3, "604800000"),
            ("dev-events", 3, "1209600000"),
            ("deployment-results", 1, "2592000000"),
        ]
    );
    assert!(c.declared_topics.iter().all(|t| t.replication_factor == 1));
    // cp-kafka style environment on top of the shipped file.
    let c = BrokerConfig::load(Some(&path), env(&[("KAFKA_NUM_PARTITIONS", "1")]), &[]).unwrap();
    assert_eq!(c.num_partitions, 1);
}

#[test]
fn metrics_listener() {
    let get = |v: &str| load(None, &[], &[&format!("metrics.listener={v}")]);
    assert_eq!(
        get("127.0.0.1:1234").unwrap().metrics_listener.as_deref(),
        Some("127.0.0.1:1234")
    );
    assert_eq!(
        get(":9308").unwrap().metrics_listener.as_deref(),
        Some("0.0.0.0:9308")
    );
    assert_eq!(
        get("[::1]:9308").unwrap().metrics_listener.as_deref(),
        Some("[::1]:9308")
    );
    assert_eq!(get("").unwrap().metrics_listener, None);
    for bad in ["9308", "host:port", "::1:9308", "h:70000"] {
        assert_eq!(key_of(get(bad).unwrap_err()), "metrics.listener", "{bad}");
    }
    assert_eq!(
        load(None, &[], &[]).unwrap().metrics_listener.as_deref(),
        Some("0.0.0.0:9308")
    );
}

#[test]
fn console_listener() {
    let get = |v: &str| load(None, &[], &[&format!("console.listener={v}")]);
    assert_eq!(
        load(None, &[], &[]).unwrap().console_listener.as_deref(),
        Some("0.0.0.0:8082")
    );
    assert_eq!(
        get(":18082").unwrap().console_listener.as_deref(),
        Some("0.0.0.0:18082")
    );
    assert_eq!(get("").unwrap().console_listener, None);
    assert_eq!(key_of(get("8082").unwrap_err()), "console.listener");
    assert!(!load(None, &[], &[]).unwrap().console_read_only);
    let ro = load(None, &[], &["console.read.only=true"]).unwrap();
    assert!(ro.console_read_only);
    let default = load(None, &[], &[]).unwrap();
    assert!(default.console_authentication);
    assert!(!default.metrics_authentication_basic);
    let off = load(
        None,
        &[],
        &[
            "console.authentication=none",
            "metrics.authentication=basic",
        ],
    )
    .unwrap();
    assert!(!off.console_authentication);
    assert!(off.metrics_authentication_basic);
    for bad in [
        "console.authentication=yes",
        "metrics.authentication=digest",
    ] {
        let key = bad.split('=').next().unwrap();
        assert_eq!(key_of(load(None, &[], &[bad]).unwrap_err()), key);
    }
}

#[test]
fn declared_topics_defaults_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let with = |topics: &str| {
        let p = write(
            &dir,
            &format!("\"advertised.listeners\" = \"PLAINTEXT://localhost:9092\"\n\"num.partitions\" = 2\n{topics}"),
        );
        BrokerConfig::load(Some(&p), env(&[]), &[])
    };
    let c = with("[[topics]]\nname = \"a\"\n").unwrap();
    assert_eq!(
        c.declared_topics,
        vec![DeclaredTopic {
            name: "a".into(),
            partitions: 2,
            replication_factor: 1,
            configs: BTreeMap::new(),
        }]
    );
    let err = |topics: &str| key_of(with(topics).unwrap_err());
    assert_eq!(err("[[topics]]\nname = \"bad/name\"\n"), "topics.name");
    assert_eq!(
        err("[[topics]]\nname = \"a\"\n[[topics]]\nname = \"a\"\n"),
        "topics.name"
    );
    assert_eq!(
        err("[[topics]]\nname = \"a\"\npartitions = 0\n"),
        "topics.a.partitions"
    );
    assert_eq!(
        err("[[topics]]\nname = \"a\"\nreplication_factor = 3\n"),
        "topics.a.replication_factor"
    );
    assert_eq!(
        err("[[topics]]\nname = \"a\"\n[topics.config]\n\"retention.ms\" = \"soon\"\n"),
        "topics.a.config.retention.ms"
    );
    assert_eq!(
        err("[[topics]]\nname = \"a\"\n[topics.config]\n\"no.such.config\" = \"1\"\n"),
        "topics.a.config.no.such.config"
    );
    assert_eq!(
        err("[[topics]]\nname = \"a\"\n[topics.config]\n\"cleanup.policy\" = \"shred\"\n"),
        "topics.a.config.cleanup.policy"
    );
}

#[test]
fn shipped_config_files_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = "config/server.toml";
    if let Err(e) = load(Some(&root.join(file)), &[], &[]) {
        panic!("{file}: {e}");
    }
}

#[test]
fn socket_server_limits() {
    let c = load(None, &[], &[]).unwrap();
    assert_eq!(c.queued_max_request_bytes, Some(256 * 1024 * 1024));
    assert_eq!(c.connections_max_idle_ms, 600_000);
    assert!(c.max_connections_per_ip_overrides.is_empty());

    let c = load(
        None,
        &[],
        &[
            "queued.max.request.bytes=-1",
            "max.connections.per.ip.overrides=host1:100, 127.0.0.1:200,[::1]:7",
        ],
    )
    .unwrap();
    assert_eq!(c.queued_max_request_bytes, None);
    assert_eq!(
        c.max_connections_per_ip_overrides,
        vec![
            ("host1".to_string(), 100),
            ("127.0.0.1".to_string(), 200),
            ("::1".to_string(), 7)
        ]
    );

    // Kafka's cross-checks.
    let e = load(None, &[], &["queued.max.request.bytes=1000"]).unwrap_err();
    assert!(e.to_string().contains("queued.max.request.bytes"), "{e}");
    let e = load(None, &[], &["max.connections.per.ip=0"]).unwrap_err();
    assert!(e.to_string().contains("max.connections.per.ip"), "{e}");
    load(
        None,
        &[],
        &[
            "max.connections.per.ip=0",
            "max.connections.per.ip.overrides=10.0.0.1:5",
        ],
    )
    .unwrap();
    for bad in ["host1", "host1:x", ":5", "h:-1"] {
        let e = load(
            None,
            &[],
            &[&format!("max.connections.per.ip.overrides={bad}")],
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("max.connections.per.ip.overrides"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn queued_max_requests_is_ignored_with_a_warning() {
    // Not a known property any more: it loads, and is not described as applied.
    let c = load(None, &[], &["queued.max.requests=10"]).unwrap();
    assert_eq!(c.get("queued.max.requests"), None);
}
