//! strom: a native Rust broker that speaks the Apache Kafka wire protocol.
//!
//! # Layout
//! - `config`: Kafka broker property names from TOML, `KAFKA_*` env and `--override`.
//! - `log`: the segmented, crash-safe partition log and the log manager.
//! - `metadata`: topics, partitions and topic configs behind one seam.
//! - `replica_manager`: partitions by topic-partition; append and fetch.
//! - `network`: listeners, accept loop, request framing.
//! - `protocol`: the API router and one handler per Kafka API.
//! - `server`: start-up and shutdown order.

pub mod config;
pub mod log;
pub mod metadata;
pub mod network;
pub mod protocol;
pub mod replica_manager;
pub mod server;
pub mod util;
