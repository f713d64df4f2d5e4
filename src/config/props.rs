//! The property tables: every broker property and every topic-level config this
//! module knows, in Kafka 3.5's names, with Kafka's types, defaults and range checks.
//!
//! Invariant: every default in these tables passes its own check, so a broker
//! started with no configuration at all is valid.

use super::ConfigType;

/// How a value is checked beyond parsing as its [`ConfigType`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Check {
    /// Only the type.
    None,
    /// A number at least this large (Kafka's `atLeast`).
    AtLeast(i64),
    /// A double within these bounds, inclusive (Kafka's `between`).
    Between(f64, f64),
    /// One of these strings, matched case-sensitively as Kafka does (`in`).
    OneOf(&'static [&'static str]),
    /// A comma list whose items are each one of these (Kafka's `ValidList.in`).
    ListOf(&'static [&'static str]),
    /// A message format / inter-broker protocol version such as `3.0-IV1`.
    Version,
    /// `""`, `*` or a list of `partition:brokerId` pairs.
    ThrottledReplicas,
}

/// One known property.
#[derive(Debug)]
pub(crate) struct PropDef {
    pub name: &'static str,
    pub ty: ConfigType,
    /// Kafka's default as a string; `None` where Kafka's default is null.
    pub default: Option<&'static str>,
    pub check: Check,
    pub doc: &'static str,
}

const fn p(
    name: &'static str,
    ty: ConfigType,
    default: Option<&'static str>,
    check: Check,
    doc: &'static str,
) -> PropDef {
    PropDef {
        name,
        ty,
        default,
        check,
        doc,
    }
}

use Check::{AtLeast, Between, ListOf, None as Any, OneOf, ThrottledReplicas, Version};
use ConfigType::{
    Boolean as B, Double as D, Int as I, List as L, Long as Lg, Password as Pw, Short as S,
    String as Str,
};

const INT_MAX: &str = "2147483647";
/// strom's default `queued.max.request.bytes`: 256 MiB (Kafka's is -1, unbounded).
const QUEUED_MAX_REQUEST_BYTES: &str = "268435456";
const LONG_MAX: &str = "9223372036854775807";
const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];
const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];
const WEBHOOK_FORMATS: &[&str] = &["raw", "deployment-event"];
const SECURITY_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Kafka's default `listener.security.protocol.map`.
pub(crate) const DEFAULT_PROTOCOL_MAP: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

/// Broker properties Kafka knows that strom deliberately does not read: setting
/// one warns with the reason instead of pretending to apply it.
pub(crate) static IGNORED_BROKER_PROPS: &[(&str, &str)] = &[(
    "queued.max.requests",
    "strom serves each request on its connection's task, with no request queue between network \
     and handler threads to bound; request memory is bounded by queued.max.request.bytes",
)];

/// Every broker property this module knows, sorted by name.
pub(crate) static BROKER_PROPS: &[PropDef] = &[
    p("advertised.listeners", L, None, Any, "Listeners to publish to clients, if different from `listeners`."),
    p("allow.everyone.if.no.acl.found", B, Some("false"), Any, "With an authorizer: allow an operation on a resource that has no ACL at all."),
    p("authorizer.class.name", Str, Some(""), Any, "The authorizer: kafka.security.authorizer.AclAuthorizer (ACLs in ZooKeeper, or strom-acls.json standalone); empty allows everything."),
    p("auto.create.topics.enable", B, Some("true"), Any, "Create a topic on first use (Metadata or produce) by a client."),
    p("auto.leader.rebalance.enable", B, Some("true"), Any, "Move leadership back to preferred replicas."),
    p("background.threads", I, Some("10"), AtLeast(1), "Threads for background tasks."),
    p("broker.id", I, Some("-1"), AtLeast(-1), "The id of this broker; -1 means 1 on a standalone strom."),
    p("broker.id.generation.enable", B, Some("true"), Any, "Generate a broker id when broker.id is -1."),
    p("broker.rack", Str, None, Any, "Rack of the broker, for rack-aware replica placement."),
    p("compression.type", Str, Some("producer"), OneOf(COMPRESSION_TYPES), "Final compression of a topic's data; `producer` keeps the producer's codec."),
    p("connections.max.idle.ms", Lg, Some("600000"), Any, "Close a connection that has sent or received nothing this long (a stalled partial request too); -1 = never."),
    p("connections.max.reauth.ms", Lg, Some("0"), Any, "KIP-368: a SASL session lasts at most this long before the client must re-authenticate; 0 = no limit."),
    p("console.authentication", Str, Some("auto"), OneOf(&["auto", "none"]), "strom only: `auto` — when a listener uses SASL (SASL_PLAINTEXT, SASL_SSL), the web console and its /api/v1 ask its users to sign in (PLAIN users of the JAAS config, SCRAM credentials) and act as that user under the ACLs; `none` — never (the console is then guarded by its bind address and console.read.only alone)."),
    p("console.listener", Str, Some("0.0.0.0:8082"), Any, "strom only: host:port of the built-in web console (its pages, the JSON API under /api/v1 and HTTP ingest routes); empty turns it off."),
    p("console.read.only", B, Some("false"), Any, "strom only: the web console shows state but hides and refuses every change (create, alter, produce, reset, delete)."),
    p("controlled.shutdown.enable", B, Some("true"), Any, "Move leadership away before shutting down."),
    p("default.replication.factor", I, Some("1"), AtLeast(1), "Replication factor of automatically created topics."),
    p("delete.topic.enable", B, Some("true"), Any, "Allow DeleteTopics; when false, deletion is refused."),
    p("fetch.max.bytes", I, Some("57671680"), AtLeast(1024), "Largest Fetch response the broker returns."),
    p("group.initial.rebalance.delay.ms", I, Some("3000"), Any, "Wait this long for more members before the first rebalance of an empty group."),
    p("group.max.session.timeout.ms", I, Some("1800000"), Any, "Largest session timeout a consumer may ask for."),
    p("group.max.size", I, Some(INT_MAX), AtLeast(1), "Most members one consumer group may have."),
    p("group.min.session.timeout.ms", I, Some("6000"), Any, "Smallest session timeout a consumer may ask for."),
    p("ingest.max.request.bytes", I, Some("1048576"), AtLeast(1), "strom only: largest body the HTTP ingest routes (REST Proxy produce, webhooks) accept; larger ones answer 413."),
    p("ingest.requests.per.second.per.source", I, Some("1000"), AtLeast(1), "strom only: HTTP ingest requests one source address may make per second (a burst of as many is allowed); more answer 429."),
    p("inter.broker.listener.name", Str, None, Any, "Listener the brokers use between themselves."),
    p("inter.broker.protocol.version", Str, Some("3.5-IV2"), Version, "Inter-broker protocol version."),
    p("listener.security.protocol.map", L, Some(DEFAULT_PROTOCOL_MAP), Any, "Security protocol of each listener name."),
    p("listeners", L, Some("PLAINTEXT://:9092"), Any, "Comma list of NAME://host:port the broker listens on; an empty host means all interfaces."),
    p("log.cleaner.backoff.ms", Lg, Some("15000"), AtLeast(0), "Sleep of the log cleaner when there is nothing to clean."),
    p("log.cleaner.dedupe.buffer.size", Lg, Some("134217728"), Any, "Memory for log deduplication across all cleaner threads."),
    p("log.cleaner.delete.retention.ms", Lg, Some("86400000"), AtLeast(0), "How long delete tombstones are kept on compacted topics."),
    p("log.cleaner.enable", B, Some("true"), Any, "Run the log cleaner (compaction)."),
    p("log.cleaner.io.buffer.load.factor", D, Some("0.9"), Any, "Load factor of the cleaner's dedupe buffer."),
    p("log.cleaner.io.buffer.size", I, Some("524288"), AtLeast(0), "I/O buffer memory of the cleaner threads."),
    p("log.cleaner.io.max.bytes.per.second", D, Some("1.7976931348623157E308"), Any, "I/O throttle of the log cleaner."),
    p("log.cleaner.max.compaction.lag.ms", Lg, Some(LONG_MAX), AtLeast(1), "Longest a record stays uncompacted."),
    p("log.cleaner.min.cleanable.ratio", D, Some("0.5"), Between(0.0, 1.0), "Dirty ratio above which a log is cleaned."),
    p("log.cleaner.min.compaction.lag.ms", Lg, Some("0"), AtLeast(0), "Shortest a record stays uncompacted."),
    p("log.cleaner.threads", I, Some("1"), AtLeast(0), "Threads of the log cleaner."),
    p("log.cleanup.policy", L, Some("delete"), ListOf(CLEANUP_POLICIES), "Default cleanup policy: delete and/or compact."),
    p("log.dir", Str, Some("/tmp/kafka-logs"), Any, "The log directory, when log.dirs is not set."),
    p("log.dirs", Str, None, Any, "Comma list of log directories; overrides log.dir."),
    p("log.flush.interval.messages", Lg, Some(LONG_MAX), AtLeast(1), "Fsync a log after this many messages (1 = before every acknowledgement)."),
    p("log.flush.interval.ms", Lg, None, Any, "Fsync a log when its oldest unflushed message is this old; defaults to log.flush.scheduler.interval.ms."),
    p("log.flush.offset.checkpoint.interval.ms", I, Some("60000"), AtLeast(0), "How often the recovery point checkpoint is written."),
    p("log.flush.scheduler.interval.ms", Lg, Some(LONG_MAX), Any, "How often logs are checked for a time-based flush."),
    p("log.flush.start.offset.checkpoint.interval.ms", I, Some("60000"), AtLeast(0), "How often the log start offset checkpoint is written."),
    p("log.index.interval.bytes", I, Some("4096"), AtLeast(0), "Bytes of log between two offset index entries."),
    p("log.index.size.max.bytes", I, Some("10485760"), AtLeast(4), "Largest size of an offset index file."),
    p("log.local.retention.bytes", Lg, Some("-2"), AtLeast(-2), "Local retention size with tiered storage (-2 = retention.bytes)."),
    p("log.local.retention.ms", Lg, Some("-2"), AtLeast(-2), "Local retention time with tiered storage (-2 = retention.ms)."),
    p("log.message.downconversion.enable", B, Some("true"), Any, "Down-convert batches for old consumers."),
    p("log.message.format.version", Str, Some("3.0-IV1"), Version, "Message format version (ignored since 3.0: always v2)."),
    p("log.message.timestamp.difference.max.ms", Lg, Some(LONG_MAX), AtLeast(0), "Largest difference between a CreateTime timestamp and the broker's clock."),
    p("log.message.timestamp.type", Str, Some("CreateTime"), OneOf(TIMESTAMP_TYPES), "CreateTime or LogAppendTime."),
    p("log.preallocate", B, Some("false"), Any, "Preallocate segment files."),
    p("log.retention.bytes", Lg, Some("-1"), Any, "Largest size of a partition's log before old segments are deleted (-1 = unlimited)."),
    p("log.retention.check.interval.ms", Lg, Some("300000"), AtLeast(1), "How often retention is enforced."),
    p("log.retention.hours", I, Some("168"), Any, "Keep a segment this many hours (below log.retention.minutes and log.retention.ms)."),
    p("log.retention.minutes", I, None, Any, "Keep a segment this many minutes (below log.retention.ms)."),
    p("log.retention.ms", Lg, None, Any, "Keep a segment this many milliseconds (-1 = unlimited)."),
    p("log.roll.hours", I, Some("168"), AtLeast(1), "Roll a segment this many hours after its first message (below log.roll.ms)."),
    p("log.roll.jitter.hours", I, Some("0"), AtLeast(0), "Jitter subtracted from the roll time, in hours."),
    p("log.roll.jitter.ms", Lg, None, Any, "Jitter subtracted from the roll time, in milliseconds."),
    p("log.roll.ms", Lg, None, Any, "Roll a segment this many milliseconds after its first message."),
    p("log.segment.bytes", I, Some("1073741824"), AtLeast(14), "Largest size of one segment file."),
    p("log.segment.delete.delay.ms", Lg, Some("60000"), AtLeast(0), "Wait before a `.deleted` segment file is removed."),
    p("max.connections", I, Some(INT_MAX), AtLeast(0), "Most connections the broker holds (at most 10000); when reached the acceptors wait for one to close."),
    p("max.connections.per.ip", I, Some(INT_MAX), AtLeast(0), "Most connections from one IP address; more are closed at once."),
    p("max.connections.per.ip.overrides", Str, Some(""), Any, "Per-IP or hostname overrides of max.connections.per.ip: `host1:100,127.0.0.1:200`."),
    p("message.max.bytes", I, Some("1048588"), AtLeast(0), "Largest record batch accepted."),
    p("metric.reporters", L, Some(""), Any, "Metrics reporter classes (ignored)."),
    p("metrics.authentication", Str, Some("none"), OneOf(&["none", "basic"]), "strom only: `basic` — /metrics asks for HTTP Basic credentials of a broker SASL user (PLAIN users of the JAAS config, SCRAM credentials); /health and /ready stay open. `none` (default): /metrics is open."),
    p("metrics.listener", Str, Some("0.0.0.0:9308"), Any, "strom only: host:port of the Prometheus HTTP endpoint serving /metrics, /health and /ready; empty turns it off."),
    p("metrics.num.samples", I, Some("2"), AtLeast(1), "Samples kept per metric."),
    p("metrics.recording.level", Str, Some("INFO"), Any, "Highest recording level of metrics."),
    p("metrics.sample.window.ms", Lg, Some("30000"), AtLeast(1), "Window of a metrics sample."),
    p("min.insync.replicas", I, Some("1"), AtLeast(1), "In-sync replicas needed to acknowledge acks=all."),
    p("num.io.threads", I, Some("8"), AtLeast(1), "Threads handling requests."),
    p("num.network.threads", I, Some("3"), AtLeast(1), "Threads reading and writing sockets."),
    p("num.partitions", I, Some("1"), AtLeast(1), "Partitions of an automatically created topic."),
    p("num.recovery.threads.per.data.dir", I, Some("1"), AtLeast(1), "Threads recovering logs at start-up, per log directory."),
    p("num.replica.fetchers", I, Some("1"), Any, "Replica fetcher threads per source broker."),
    p("offset.metadata.max.bytes", I, Some("4096"), Any, "Largest metadata string of a committed offset."),
    p("offsets.commit.timeout.ms", I, Some("5000"), AtLeast(1), "Timeout of an offset commit."),
    p("offsets.load.buffer.size", I, Some("5242880"), AtLeast(1), "Read buffer for loading offsets at start-up."),
    p("offsets.retention.check.interval.ms", Lg, Some("600000"), AtLeast(1), "How often stale offsets are looked for."),
    p("offsets.retention.minutes", I, Some("10080"), AtLeast(1), "Keep the offsets of an empty group this long."),
    p("offsets.topic.compression.codec", I, Some("0"), Between(0.0, 4.0), "Codec id of the coordinator's __consumer_offsets batches: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd."),
    p("offsets.topic.num.partitions", I, Some("50"), AtLeast(1), "Partitions of __consumer_offsets."),
    p("offsets.topic.replication.factor", S, Some("3"), AtLeast(1), "Replication factor of __consumer_offsets (capped at the live brokers)."),
    p("offsets.topic.segment.bytes", I, Some("104857600"), AtLeast(1), "Segment size of __consumer_offsets."),
    p("producer.id.expiration.ms", I, Some("86400000"), AtLeast(1), "Forget an idle producer id after this long."),
    p("queued.max.request.bytes", Lg, Some(QUEUED_MAX_REQUEST_BYTES), Any, "Memory for request frames being read or served, across connections (strom's default: 256 MiB; <= 0 = unbounded, Kafka's -1); when used up, connections stop reading."),
    p("quota.window.num", I, Some("11"), AtLeast(1), "Samples kept in memory for client quotas."),
    p("quota.window.size.seconds", I, Some("1"), AtLeast(1), "Time span of each client quota sample."),
    p("replica.fetch.max.bytes", I, Some("1048576"), AtLeast(0), "Bytes fetched per partition by a replica."),
    p("replica.fetch.response.max.bytes", I, Some("10485760"), AtLeast(0), "Largest replica fetch response."),
    p("replica.lag.time.max.ms", Lg, Some("30000"), Any, "A follower this far behind leaves the ISR."),
    p("reserved.broker.max.id", I, Some("1000"), AtLeast(0), "Highest broker id that is not generated."),
    p("sasl.enabled.mechanisms", L, Some("GSSAPI"), Any, "SASL mechanisms of SASL listeners; strom serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512."),
    p("sasl.jaas.config", ConfigType::Password, None, Any, "JAAS login configuration; usually per listener and mechanism (listener.name.<l>.<mechanism>.sasl.jaas.config)."),
    p("sasl.mechanism.inter.broker.protocol", Str, Some("GSSAPI"), Any, "SASL mechanism between brokers (a single strom broker has no inter-broker traffic)."),
    p("sasl.server.max.receive.size", I, Some("524288"), AtLeast(1), "Largest SASL token accepted before authentication."),
    p("security.inter.broker.protocol", Str, Some("PLAINTEXT"), OneOf(SECURITY_PROTOCOLS), "Security protocol between brokers, when inter.broker.listener.name is not set."),
    p("socket.receive.buffer.bytes", I, Some("102400"), Any, "SO_RCVBUF of the sockets (-1 = OS default)."),
    p("socket.request.max.bytes", I, Some("104857600"), AtLeast(1), "Largest request accepted."),
    p("socket.send.buffer.bytes", I, Some("102400"), Any, "SO_SNDBUF of the sockets (-1 = OS default)."),
    p("ssl.cipher.suites", L, None, Any, "TLS cipher suites (IANA names); empty = all that strom supports."),
    p("ssl.client.auth", Str, Some("none"), OneOf(&["required", "requested", "none"]), "Ask TLS clients for a certificate: required, requested or none."),
    p("ssl.enabled.protocols", L, Some("TLSv1.2,TLSv1.3"), Any, "TLS versions offered (TLSv1.2, TLSv1.3)."),
    p("ssl.endpoint.identification.algorithm", Str, Some("https"), Any, "Hostname verification of the peer (a client setting; accepted)."),
    p("ssl.key.password", ConfigType::Password, None, Any, "Password of the private key (strom reads unencrypted PEM keys only)."),
    p("ssl.keystore.certificate.chain", ConfigType::Password, None, Any, "The certificate chain, inline PEM (ssl.keystore.type=PEM)."),
    p("ssl.keystore.key", ConfigType::Password, None, Any, "The private key, inline PEM (ssl.keystore.type=PEM)."),
    p("ssl.keystore.location", Str, None, Any, "PEM file with the private key and the certificate chain; reloaded when it changes."),
    p("ssl.keystore.password", ConfigType::Password, None, Any, "Keystore password (not used for PEM)."),
    p("ssl.keystore.type", Str, Some("JKS"), Any, "Keystore format; strom reads PEM."),
    p("ssl.principal.mapping.rules", Str, Some("DEFAULT"), Any, "RULE:pattern/replacement/[LU] and DEFAULT rules from a client certificate's DN to its principal name."),
    p("ssl.protocol", Str, Some("TLSv1.3"), Any, "The TLS protocol (see ssl.enabled.protocols)."),
    p("ssl.truststore.certificates", ConfigType::Password, None, Any, "Trusted certificates, inline PEM (ssl.truststore.type=PEM)."),
    p("ssl.truststore.location", Str, None, Any, "PEM file of the certificates trusted for client certificates; reloaded when it changes."),
    p("ssl.truststore.password", ConfigType::Password, None, Any, "Truststore password (not used for PEM)."),
    p("ssl.truststore.type", Str, Some("JKS"), Any, "Truststore format; strom reads PEM."),
    p("super.users", Str, Some(""), Any, "With an authorizer: principals allowed everything, `User:alice;User:bob`."),
    p("transaction.max.timeout.ms", I, Some("900000"), AtLeast(1), "Largest transaction timeout a producer may ask for."),
    p("transaction.state.log.min.isr", I, Some("2"), AtLeast(1), "min.insync.replicas of __transaction_state."),
    p("transaction.state.log.num.partitions", I, Some("50"), AtLeast(1), "Partitions of __transaction_state."),
    p("transaction.state.log.replication.factor", S, Some("3"), AtLeast(1), "Replication factor of __transaction_state (capped at the live brokers)."),
    p("transaction.state.log.segment.bytes", I, Some("104857600"), AtLeast(1), "Segment size of __transaction_state."),
    p("transactional.id.expiration.ms", I, Some("604800000"), AtLeast(1), "Forget an idle transactional id after this long."),
    p("unclean.leader.election.enable", B, Some("false"), Any, "Allow an out-of-sync replica to become leader."),
    p("webhook.github.dedupe.window.ms", Lg, Some("86400000"), AtLeast(0), "strom only: a GitHub delivery (X-GitHub-Delivery) seen within this long is answered 202 again and not written twice; rebuilt from the topic at start-up."),
    p("webhook.github.format", Str, Some("raw"), OneOf(WEBHOOK_FORMATS), "strom only: raw writes GitHub's payload byte for byte; deployment-event writes a compact JSON deployment event."),
    p("webhook.github.key.pointer", Str, Some("/repository/name"), Any, "strom only: JSON pointer (RFC 6901) into the payload whose value is the record key (missing: null key)."),
    p("webhook.github.secret", Pw, None, Any, "strom only: the GitHub webhook secret; X-Hub-Signature-256 must be its HMAC-SHA256 of the body. Unset: the webhook route answers 503."),
    p("zookeeper.connect", Str, None, Any, "ZooKeeper connection string (host:port[,host:port][/chroot]); unset = standalone."),
    p("zookeeper.connection.timeout.ms", I, None, Any, "Timeout of the ZooKeeper connection; defaults to the session timeout."),
    p("zookeeper.max.in.flight.requests", I, Some("10"), AtLeast(1), "ZooKeeper requests in flight."),
    p("zookeeper.session.timeout.ms", I, Some("18000"), Any, "ZooKeeper session timeout."),
    p("zookeeper.set.acl", B, Some("false"), Any, "Use secure ACLs on ZooKeeper nodes."),
];

/// A broker property standing in for a topic config, with the factor that converts
/// its unit to the topic config's (hours → ms and so on).
#[derive(Debug)]
pub(crate) struct Synonym {
    pub name: &'static str,
    pub factor: i64,
}

const fn syn(name: &'static str, factor: i64) -> Synonym {
    Synonym { name, factor }
}

/// One topic-level config, with the broker properties that supply its default.
#[derive(Debug)]
pub(crate) struct TopicDef {
    pub def: PropDef,
    /// Broker synonyms in Kafka's order of precedence (e.g. `log.retention.ms`,
    /// `log.retention.minutes`, `log.retention.hours`); empty when the broker has none.
    pub synonyms: &'static [Synonym],
}

const fn t(def: PropDef, synonyms: &'static [Synonym]) -> TopicDef {
    TopicDef { def, synonyms }
}

const MINUTE: i64 = 60 * 1000;
const HOUR: i64 = 60 * MINUTE;

/// Every topic-level config of Kafka 3.5, sorted by name.
pub(crate) static TOPIC_CONFIGS: &[TopicDef] = &[
    t(
        p(
            "cleanup.policy",
            L,
            Some("delete"),
            ListOf(CLEANUP_POLICIES),
            "delete and/or compact.",
        ),
        &[syn("log.cleanup.policy", 1)],
    ),
    t(
        p(
            "compression.type",
            Str,
            Some("producer"),
            OneOf(COMPRESSION_TYPES),
            "Final compression of the topic's data.",
        ),
        &[syn("compression.type", 1)],
    ),
    t(
        p(
            "delete.retention.ms",
            Lg,
            Some("86400000"),
            AtLeast(0),
            "How long delete tombstones are kept when compacting.",
        ),
        &[syn("log.cleaner.delete.retention.ms", 1)],
    ),
    t(
        p(
            "file.delete.delay.ms",
            Lg,
            Some("60000"),
            AtLeast(0),
            "Wait before a deleted segment's files are removed.",
        ),
        &[syn("log.segment.delete.delay.ms", 1)],
    ),
    t(
        p(
            "flush.messages",
            Lg,
            Some(LONG_MAX),
            AtLeast(1),
            "Fsync after this many messages (1 = before every acknowledgement).",
        ),
        &[syn("log.flush.interval.messages", 1)],
    ),
    t(
        p(
            "flush.ms",
            Lg,
            Some(LONG_MAX),
            AtLeast(0),
            "Fsync when the oldest unflushed message is this old.",
        ),
        &[
            syn("log.flush.interval.ms", 1),
            syn("log.flush.scheduler.interval.ms", 1),
        ],
    ),
    t(
        p(
            "follower.replication.throttled.replicas",
            L,
            Some(""),
            ThrottledReplicas,
            "Replicas throttled on the follower side.",
        ),
        &[],
    ),
    t(
        p(
            "index.interval.bytes",
            I,
            Some("4096"),
            AtLeast(0),
            "Bytes of log between two offset index entries.",
        ),
        &[syn("log.index.interval.bytes", 1)],
    ),
    t(
        p(
            "leader.replication.throttled.replicas",
            L,
            Some(""),
            ThrottledReplicas,
            "Replicas throttled on the leader side.",
        ),
        &[],
    ),
    t(
        p(
            "local.retention.bytes",
            Lg,
            Some("-2"),
            AtLeast(-2),
            "Local retention size with tiered storage.",
        ),
        &[syn("log.local.retention.bytes", 1)],
    ),
    t(
        p(
            "local.retention.ms",
            Lg,
            Some("-2"),
            AtLeast(-2),
            "Local retention time with tiered storage.",
        ),
        &[syn("log.local.retention.ms", 1)],
    ),
    t(
        p(
            "max.compaction.lag.ms",
            Lg,
            Some(LONG_MAX),
            AtLeast(1),
            "Longest a record stays uncompacted.",
        ),
        &[syn("log.cleaner.max.compaction.lag.ms", 1)],
    ),
    t(
        p(
            "max.message.bytes",
            I,
            Some("1048588"),
            AtLeast(0),
            "Largest record batch accepted.",
        ),
        &[syn("message.max.bytes", 1)],
    ),
    t(
        p(
            "message.downconversion.enable",
            B,
            Some("true"),
            Any,
            "Down-convert batches for old consumers.",
        ),
        &[syn("log.message.downconversion.enable", 1)],
    ),
    t(
        p(
            "message.format.version",
            Str,
            Some("3.0-IV1"),
            Version,
            "Message format version (ignored: always v2).",
        ),
        &[syn("log.message.format.version", 1)],
    ),
    t(
        p(
            "message.timestamp.difference.max.ms",
            Lg,
            Some(LONG_MAX),
            AtLeast(0),
            "Largest difference between a CreateTime timestamp and the broker's clock.",
        ),
        &[syn("log.message.timestamp.difference.max.ms", 1)],
    ),
    t(
        p(
            "message.timestamp.type",
            Str,
            Some("CreateTime"),
            OneOf(TIMESTAMP_TYPES),
            "CreateTime or LogAppendTime.",
        ),
        &[syn("log.message.timestamp.type", 1)],
    ),
    t(
        p(
            "min.cleanable.dirty.ratio",
            D,
            Some("0.5"),
            Between(0.0, 1.0),
            "Dirty ratio above which the log is compacted.",
        ),
        &[syn("log.cleaner.min.cleanable.ratio", 1)],
    ),
    t(
        p(
            "min.compaction.lag.ms",
            Lg,
            Some("0"),
            AtLeast(0),
            "Shortest a record stays uncompacted.",
        ),
        &[syn("log.cleaner.min.compaction.lag.ms", 1)],
    ),
    t(
        p(
            "min.insync.replicas",
            I,
            Some("1"),
            AtLeast(1),
            "In-sync replicas needed to acknowledge acks=all.",
        ),
        &[syn("min.insync.replicas", 1)],
    ),
    t(
        p(
            "preallocate",
            B,
            Some("false"),
            Any,
            "Preallocate segment files.",
        ),
        &[syn("log.preallocate", 1)],
    ),
    t(
        p(
            "remote.storage.enable",
            B,
            Some("false"),
            Any,
            "Tiered storage (not supported).",
        ),
        &[],
    ),
    t(
        p(
            "retention.bytes",
            Lg,
            Some("-1"),
            Any,
            "Largest size of a partition's log before old segments are deleted (-1 = unlimited).",
        ),
        &[syn("log.retention.bytes", 1)],
    ),
    t(
        p(
            "retention.ms",
            Lg,
            Some("604800000"),
            AtLeast(-1),
            "Keep a segment this long (-1 = unlimited).",
        ),
        &[
            syn("log.retention.ms", 1),
            syn("log.retention.minutes", MINUTE),
            syn("log.retention.hours", HOUR),
        ],
    ),
    t(
        p(
            "segment.bytes",
            I,
            Some("1073741824"),
            AtLeast(14),
            "Largest size of one segment file.",
        ),
        &[syn("log.segment.bytes", 1)],
    ),
    t(
        p(
            "segment.index.bytes",
            I,
            Some("10485760"),
            AtLeast(4),
            "Largest size of an offset index file.",
        ),
        &[syn("log.index.size.max.bytes", 1)],
    ),
    t(
        p(
            "segment.jitter.ms",
            Lg,
            Some("0"),
            AtLeast(0),
            "Jitter subtracted from segment.ms.",
        ),
        &[
            syn("log.roll.jitter.ms", 1),
            syn("log.roll.jitter.hours", HOUR),
        ],
    ),
    t(
        p(
            "segment.ms",
            Lg,
            Some("604800000"),
            AtLeast(1),
            "Roll a segment this long after its first message.",
        ),
        &[syn("log.roll.ms", 1), syn("log.roll.hours", HOUR)],
    ),
    t(
        p(
            "unclean.leader.election.enable",
            B,
            Some("false"),
            Any,
            "Allow an out-of-sync replica to become leader.",
        ),
        &[syn("unclean.leader.election.enable", 1)],
    ),
];

/// Broker properties that stand in for each other, in Kafka's order
/// (`DynamicBrokerConfig.brokerConfigSynonyms`).
pub(crate) static BROKER_SYNONYM_GROUPS: &[&[&str]] = &[
    &["log.roll.ms", "log.roll.hours"],
    &["log.roll.jitter.ms", "log.roll.jitter.hours"],
    &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
    &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ],
];

/// Kafka broker properties that strom knows and deliberately ignores: JVM,
/// JMX and metrics-reporter settings, thread pools strom sizes itself, and
/// security and replication settings of features it does not have yet. They
/// are accepted with a warning, so a Kafka config file carries over.
const IGNORED_KAFKA_PROPS: &[&str] = &[
    "num.replica.alter.log.dirs.threads",
    "replica.socket.timeout.ms",
    "leader.imbalance.check.interval.seconds",
    "controlled.shutdown.max.retries",
    "confluent.support.metrics.enable",
    "kafka.metrics.reporters",
    "kafka.metrics.polling.interval.secs",
    "jmx.port",
    "jmx.hostname",
    "heap.opts",
    "jvm.performance.opts",
    "log4j.root.loglevel",
    "log4j.loggers",
    "tools.log4j.loglevel",
    "confluent.license.topic.replication.factor",
    "confluent.metrics.reporter.topic.replicas",
    "confluent.balancer.topic.replication.factor",
];

/// Prefixes of such property families (TLS and SASL settings strom does not
/// register, ZooKeeper TLS, Confluent's own).
const IGNORED_KAFKA_PREFIXES: &[&str] = &[
    "ssl.",
    "sasl.",
    "zookeeper.ssl.",
    "zookeeper.set.acl",
    "confluent.",
    "opts",
];

/// Why strom ignores a Kafka property it accepts (with a warning), or `None`
/// when it is not one of those.
pub(crate) fn ignored_kafka_prop(name: &str) -> Option<&'static str> {
    if let Some((_, why)) = IGNORED_BROKER_PROPS.iter().find(|(n, _)| *n == name) {
        return Some(why);
    }
    if IGNORED_KAFKA_PROPS.contains(&name) {
        return Some(
            "a setting of the JVM, of metrics reporters, or of a feature strom does not have yet",
        );
    }
    if IGNORED_KAFKA_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some("TLS and SASL settings of features strom does not have (keystore managers, Kerberos, OAuth), or vendor settings");
    }
    None
}

/// The known broker property nearest to a mistyped name (Levenshtein
/// distance at most a third of its length, and at most 4).
pub(crate) fn nearest_broker_prop(name: &str) -> Option<&'static str> {
    let max = (name.len() / 3).clamp(1, 4);
    BROKER_PROPS
        .iter()
        .map(|d| (edit_distance(name, d.name), d.name))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

#[cfg(test)]
#[test]
fn ignored_props_are_not_known_props() {
    for name in IGNORED_KAFKA_PROPS {
        assert!(
            broker_prop(name).is_none(),
            "{name} is known and listed as ignored"
        );
    }
}

/// Levenshtein distance over bytes (property names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

pub(crate) fn broker_prop(name: &str) -> Option<&'static PropDef> {
    BROKER_PROPS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .and_then(|i| BROKER_PROPS.get(i))
}

pub(crate) fn topic_config(name: &str) -> Option<&'static TopicDef> {
    TOPIC_CONFIGS
        .binary_search_by(|d| d.def.name.cmp(name))
        .ok()
        .and_then(|i| TOPIC_CONFIGS.get(i))
}

/// Broker synonyms of a broker property in Kafka's order, `[name]` when it has none.
pub(crate) fn broker_synonyms(name: &'static str) -> Vec<&'static str> {
    BROKER_SYNONYM_GROUPS
        .iter()
        .find(|g| g.contains(&name))
        .map_or_else(|| vec![name], |g| g.to_vec())
}

/// Checks `value` against `def`: the type first, then the range. The error is the reason.
pub(crate) fn check_value(def: &PropDef, value: &str) -> Result<(), String> {
    let v = value.trim();
    match def.ty {
        ConfigType::Boolean => {
            parse_bool(v)?;
        }
        ConfigType::Int => check_number(
            i64::from(parse_int::<i32>(v, "an int (32-bit)")?),
            def.check,
        )?,
        ConfigType::Short => check_number(
            i64::from(parse_int::<i16>(v, "a short (16-bit)")?),
            def.check,
        )?,
        ConfigType::Long => check_number(parse_int::<i64>(v, "a long (64-bit)")?, def.check)?,
        ConfigType::Double => {
            let d: f64 = v.parse().map_err(|_| "expected a double".to_string())?;
            if d.is_nan() {
                return Err("expected a double".into());
            }
            if let Check::Between(lo, hi) = def.check {
                if d < lo || d > hi {
                    return Err(format!("value must be between {lo} and {hi}"));
                }
            }
        }
        ConfigType::String | ConfigType::Class | ConfigType::Password | ConfigType::List => {
            check_text(v, def.check)?
        }
    }
    Ok(())
}

pub(crate) fn parse_bool(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected true or false".into())
    }
}

fn parse_int<T: std::str::FromStr>(v: &str, what: &str) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("expected {what} integer"))
}

fn check_number(n: i64, check: Check) -> Result<(), String> {
    match check {
        Check::AtLeast(min) if n < min => Err(format!("value must be at least {min}")),
        Check::Between(lo, hi) if (n as f64) < lo || (n as f64) > hi => {
            Err(format!("value must be between {lo} and {hi}"))
        }
        _ => Ok(()),
    }
}

/// Items of a Kafka comma list: trimmed, empty items dropped.
pub(crate) fn list_items(v: &str) -> Vec<&str> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn check_text(v: &str, check: Check) -> Result<(), String> {
    match check {
        Check::OneOf(allowed) if !allowed.contains(&v) => {
            Err(format!("must be one of {}", allowed.join(", ")))
        }
        Check::ListOf(allowed) => {
            for item in list_items(v) {
                if !allowed.contains(&item) {
                    return Err(format!("{item:?} is not one of {}", allowed.join(", ")));
                }
            }
            Ok(())
        }
        Check::Version => {
            let (release, iv) = match v.split_once("-IV") {
                Some((r, iv)) => (r, Some(iv)),
                None => (v, None),
            };
            let release_ok = !release.is_empty()
                && release.split('.').count() <= 4
                && release
                    .split('.')
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
            let iv_ok =
                iv.is_none_or(|iv| !iv.is_empty() && iv.bytes().all(|b| b.is_ascii_digit()));
            if release_ok && iv_ok {
                Ok(())
            } else {
                Err("expected a version such as 3.0-IV1".into())
            }
        }
        Check::ThrottledReplicas => {
            if v == "*" {
                return Ok(());
            }
            for item in list_items(v) {
                let ok = item.split_once(':').is_some_and(|(p, b)| {
                    p.trim().parse::<i32>().is_ok_and(|p| p >= 0) && b.trim().parse::<i32>().is_ok()
                });
                if !ok {
                    return Err("expected \"*\" or a list of partition:brokerId".into());
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_defaults_valid() {
        for w in BROKER_PROPS.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
        for w in TOPIC_CONFIGS.windows(2) {
            assert!(
                w[0].def.name < w[1].def.name,
                "{} >= {}",
                w[0].def.name,
                w[1].def.name
            );
        }
        for d in BROKER_PROPS {
            if let Some(v) = d.default {
                assert_eq!(check_value(d, v), Ok(()), "{}", d.name);
            }
        }
        for tdef in TOPIC_CONFIGS {
            let d = &tdef.def;
            assert_eq!(
                check_value(d, d.default.unwrap_or("")),
                Ok(()),
                "{}",
                d.name
            );
            for s in tdef.synonyms {
                assert!(
                    broker_prop(s.name).is_some(),
                    "{} synonym {}",
                    d.name,
                    s.name
                );
            }
        }
        for g in BROKER_SYNONYM_GROUPS {
            for n in *g {
                assert!(broker_prop(n).is_some(), "{n}");
            }
        }
    }

    #[test]
    fn checks() {
        let seg = &topic_config("segment.bytes").unwrap().def;
        assert!(check_value(seg, "13").is_err());
        assert!(check_value(seg, "14").is_ok());
        assert!(check_value(seg, "3000000000").is_err());
        let cp = &topic_config("cleanup.policy").unwrap().def;
        assert!(check_value(cp, "compact,delete").is_ok());
        assert!(check_value(cp, "compact,bogus").is_err());
        let v = &topic_config("message.format.version").unwrap().def;
        assert!(check_value(v, "0.10.2").is_ok());
        assert!(check_value(v, "3.0-IV1").is_ok());
        assert!(check_value(v, "x").is_err());
        let r = &topic_config("min.cleanable.dirty.ratio").unwrap().def;
        assert!(check_value(r, "1.5").is_err());
        let th = &topic_config("leader.replication.throttled.replicas")
            .unwrap()
            .def;
        assert!(check_value(th, "0:1,1:1").is_ok());
        assert!(check_value(th, "*").is_ok());
        assert!(check_value(th, "a").is_err());
        assert!(check_value(broker_prop("delete.topic.enable").unwrap(), "TRUE").is_ok());
        assert!(check_value(broker_prop("delete.topic.enable").unwrap(), "yes").is_err());
    }
}

/// Per-mechanism SASL settings Kafka takes under a listener prefix
/// (`listener.name.<l>.<mechanism>.<setting>`).
const MECHANISM_SETTINGS: &[&str] = &["sasl.jaas.config", "connections.max.reauth.ms"];

/// A per-listener override, `listener.name.<listener>.<property>` (Kafka's
/// listener prefix, listener name lower-case): the listener and the
/// property it overrides (`<mechanism>.sasl.jaas.config` included). `None`
/// when `name` is not one strom reads.
pub(crate) fn listener_prop(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("listener.name.")?;
    let (listener, prop) = rest.split_once('.')?;
    if listener.is_empty() {
        return None;
    }
    let known = broker_prop(prop).is_some_and(|d| {
        d.name.starts_with("ssl.")
            || d.name.starts_with("sasl.")
            || d.name == "connections.max.reauth.ms"
    }) || prop
        .split_once('.')
        .is_some_and(|(mech, setting)| !mech.is_empty() && MECHANISM_SETTINGS.contains(&setting));
    known.then(|| (listener.to_ascii_lowercase(), prop.to_string()))
}

#[cfg(test)]
#[test]
fn listener_prefixed_props() {
    assert_eq!(
        listener_prop("listener.name.SASL_SSL.scram-sha-512.sasl.jaas.config"),
        Some(("sasl_ssl".into(), "scram-sha-512.sasl.jaas.config".into()))
    );
    assert_eq!(
        listener_prop("listener.name.lan.ssl.keystore.location"),
        Some(("lan".into(), "ssl.keystore.location".into()))
    );
    assert_eq!(listener_prop("listener.name.lan.log.dirs"), None);
    assert_eq!(listener_prop("listener.name.lan.ssl.nope"), None);
}
