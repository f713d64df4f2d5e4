//! strom: a native Rust broker that speaks the Apache Kafka wire protocol.
//!
//! # Layout
//! - `client`: a small async Kafka client (strom's own tools).
//! - `config`: Kafka broker property names from TOML, `KAFKA_*` env and `--override`.
//! - `log`: the segmented, crash-safe partition log and the log manager.
//! - `metadata`: topics, partitions and topic configs behind one seam.
//! - `coordinator`: the group coordinator: consumer groups and committed offsets in `__consumer_offsets`.
//! - `declared_topics`: the config file's `[[topics]]`, created at start-up when missing.
//! - `metrics`: Prometheus metrics (kafka_exporter's names) and the `/metrics`, `/health`, `/ready` endpoint.
//! - `producer_ids`: producer id allocation for idempotent producers (InitProducerId).
//! - `quotas`: client quotas (produce and fetch byte rates) and their throttle times.
//! - `replica_manager`: partitions by topic-partition; append and fetch.
//! - `network`: listeners, accept loop, connection limits and idle timeout, request framing, the request-memory pool.
//! - `protocol`: the API router and one handler per Kafka API.
//! - `records`: Kafka's record format (batch v2 header, CRC, varints, records, codecs, builder); a leaf.
//! - `perf`: `strom perf`, the load tool.
//! - `server`: start-up and shutdown order.
//! - `tools`: Kafka's console tools (`strom topics`, `kafka-topics`, …).
//! - `zk`: ZooKeeper as Kafka uses it (the only code that talks to ZooKeeper).

pub mod client;
pub mod config;
pub mod coordinator;
pub mod declared_topics;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod network;
pub mod perf;
pub mod producer_ids;
pub mod protocol;
pub mod quotas;
pub mod records;
pub mod replica_manager;
pub mod server;
pub mod tools;
pub mod util;
pub mod zk;
