//! strom: a native Rust broker that speaks the Apache Kafka wire protocol.
//!
//! # Layout
//! - `authorizer`: Kafka's AclAuthorizer: ACLs, their cache and stores (file or ZooKeeper), the one API → resource → operation table.
//! - `client`: a small async Kafka client (strom's own tools).
//! - `config`: Kafka broker property names from TOML, `KAFKA_*` env and `--override`.
//! - `log`: the segmented, crash-safe partition log and the log manager.
//! - `metadata`: topics, partitions and topic configs behind one seam.
//! - `coordinator`: the group coordinator: consumer groups and committed offsets in `__consumer_offsets`.
//! - `declared_topics`: the config file's `[[topics]]`, created at start-up when missing.
//! - `http`: the one HTTP stack: `metrics.listener` (`/metrics` with kafka_exporter's names computed at scrape time and the registry, `/health`, `/ready`) and `console.listener` (the web console, its `/api/v1`, contributed routes).
//! - `metrics`: the registry of the broker's counters, histograms and gauges; a leaf anyone may update.
//! - `producer_ids`: producer id allocation for idempotent producers (InitProducerId).
//! - `quotas`: client quotas (produce and fetch byte rates) and their throttle times.
//! - `replica_manager`: partitions by topic-partition; append and fetch.
//! - `network`: listeners, accept loop, connection limits and idle timeout, request framing, the request-memory pool.
//! - `protocol`: the API router and one handler per Kafka API.
//! - `records`: Kafka's record format (batch v2 header, CRC, varints, records, codecs, builder) and the legacy message sets (magic 0 and 1) with their conversion to and from batches v2; a leaf.
//! - `perf`: `strom perf`, the load tool.
//! - `security`: TLS (rustls, PEM keystores, reload) and SASL (PLAIN, SCRAM) for listeners and strom's client.
//! - `server`: start-up and shutdown order.
//! - `tools`: Kafka's console tools (`strom topics`, `kafka-topics`, …).
//! - `zk`: ZooKeeper as Kafka uses it (the only code that talks to ZooKeeper).

pub mod authorizer;
pub mod client;
pub mod config;
pub mod coordinator;
pub mod declared_topics;
pub mod http;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod network;
pub mod perf;
pub mod principal;
pub mod producer_ids;
pub mod protocol;
pub mod quotas;
pub mod records;
pub mod replica_manager;
pub mod security;
pub mod server;
pub mod tools;
pub mod util;
pub mod zk;

/// The layer contract: which top-level modules each module may import. The
/// order of `ALLOWED` is the layer order, lowest first; a module may import
/// only modules listed before it. ARCHITECTURE.md states the same table.
#[cfg(test)]
mod layers {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    const ALLOWED: &[(&str, &[&str])] = &[
        ("records", &[]),
        ("util", &[]),
        ("metrics", &[]),
        ("quotas", &[]),
        ("principal", &[]),
        ("security", &["principal"]),
        ("log", &["metrics", "records", "util"]),
        ("config", &["log"]),
        ("zk", &["metrics", "util"]),
        ("metadata", &["config", "metrics", "util", "zk"]),
        ("authorizer", &["principal", "util", "zk"]),
        (
            "replica_manager",
            &["config", "log", "metadata", "metrics", "util"],
        ),
        ("producer_ids", &["log", "util"]),
        (
            "coordinator",
            &[
                "config",
                "log",
                "metadata",
                "metrics",
                "records",
                "replica_manager",
                "util",
            ],
        ),
        (
            "protocol",
            &[
                "authorizer",
                "config",
                "coordinator",
                "log",
                "metadata",
                "metrics",
                "principal",
                "producer_ids",
                "quotas",
                "records",
                "replica_manager",
                "security",
                "util",
            ],
        ),
        (
            "declared_topics",
            &["config", "metadata", "protocol", "replica_manager"],
        ),
        (
            "network",
            &[
                "config",
                "metrics",
                "principal",
                "protocol",
                "records",
                "security",
                "util",
            ],
        ),
        (
            "http",
            &[
                "authorizer",
                "config",
                "coordinator",
                "log",
                "metadata",
                "metrics",
                "principal",
                "protocol",
                "records",
                "replica_manager",
                "security",
                "util",
            ],
        ),
        (
            "server",
            &[
                "authorizer",
                "config",
                "coordinator",
                "declared_topics",
                "http",
                "log",
                "metadata",
                "metrics",
                "network",
                "principal",
                "protocol",
                "producer_ids",
                "quotas",
                "records",
                "replica_manager",
                "security",
                "util",
                "zk",
            ],
        ),
        ("client", &["records", "security", "util"]),
        (
            "tools",
            &[
                "authorizer",
                "client",
                "principal",
                "quotas",
                "records",
                "security",
                "util",
            ],
        ),
        ("perf", &["client", "records", "util"]),
    ];

    /// Every `crate::<module>` a file names outside comments.
    fn imports(text: &str, into: &mut BTreeSet<String>) {
        for line in text.lines() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if !name.is_empty() {
                    into.insert(name);
                }
            }
        }
    }

    fn files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                files(&entry.unwrap().path(), out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_path_buf());
        }
    }

    #[test]
    fn layers_point_one_way() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let table: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
        // The table itself is a layer order: each module imports only
        // modules listed before it (so it has no cycle).
        for (i, (module, allowed)) in ALLOWED.iter().enumerate() {
            for a in *allowed {
                let below = ALLOWED[..i].iter().any(|(m, _)| m == a);
                assert!(below, "{module} may import {a}, which is not below it");
            }
        }
        let mut problems = Vec::new();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if stem == "lib" || stem == "main" {
                continue;
            }
            let Some(allowed) = table.get(stem) else {
                problems.push(format!("module {stem} is not in the layer table"));
                continue;
            };
            let mut paths = Vec::new();
            files(&path, &mut paths);
            for file in paths {
                let mut used = BTreeSet::new();
                imports(&std::fs::read_to_string(&file).unwrap(), &mut used);
                for u in used {
                    if u != stem && table.contains_key(u.as_str()) && !allowed.contains(&u.as_str())
                    {
                        problems.push(format!("{} imports crate::{u}", file.display()));
                    }
                }
            }
        }
        assert!(
            problems.is_empty(),
            "layer violations:\n{}",
            problems.join("\n")
        );
    }
}
