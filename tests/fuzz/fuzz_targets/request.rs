//! Request bodies of every (API, version) the broker advertises, picked from
//! the API registry by the input's first four bytes (API key and version,
//! as in a frame; a key the registry lacks picks an API by its low byte,
//! a version out of range is folded into it): the bounded walker
//! (`protocol::bounded`) decides, and only what it accepts reaches
//! kafka-protocol's decoder, which must then consume exactly the bytes the
//! walker measured. The whole input is also checked as a request frame
//! (header and body). No input may panic or allocate past the walker's bound.
//!
//! For the APIs without disk side effects (READ_ONLY) an accepted body is
//! also served, as a frame, by a real `Broker` whose log dir is on tmpfs
//! (`/dev/shm`), with one topic of two partitions holding a few batches:
//! its handler must answer or refuse, never panic.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use libfuzzer_sys::fuzz_target;
use strom::config::{BrokerConfig, Listener};
use strom::coordinator::GroupCoordinator;
use strom::log::manager::LogManager;
use strom::metadata::StandaloneMetadataStore;
use strom::protocol::bounded;
use strom::protocol::{Broker, Reply, RequestContext, APIS};
use strom::replica_manager::ReplicaManager;

/// The APIs whose handlers only read (Metadata with auto-creation off).
const READ_ONLY: &[ApiKey] = &[
    ApiKey::ApiVersions,
    ApiKey::Metadata,
    ApiKey::ListOffsets,
    ApiKey::Fetch,
    ApiKey::DescribeConfigs,
    ApiKey::DescribeCluster,
    ApiKey::DescribeLogDirs,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::DescribeProducers,
    ApiKey::ListPartitionReassignments,
    ApiKey::DescribeClientQuotas,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::OffsetFetch,
    ApiKey::Heartbeat,
];

struct Harness {
    rt: tokio::runtime::Runtime,
    broker: Broker,
    ctx: RequestContext,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("strom-fuzz-request-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("fuzz log dir");
        let overrides = [
            format!("log.dirs={}", dir.display()),
            "auto.create.topics.enable=false".to_string(),
            "offsets.topic.num.partitions=1".to_string(),
        ];
        let config = Arc::new(BrokerConfig::load(None, Vec::new(), &overrides).expect("config"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let broker = rt.block_on(async {
            let log_manager = Arc::new(LogManager::startup(&config.log_dirs).expect("log manager"));
            let metadata =
                Arc::new(StandaloneMetadataStore::open(&dir, config.broker_id).expect("metadata"));
            let replica_manager = Arc::new(ReplicaManager::new(config.clone(), log_manager));
            let coordinator = Arc::new(GroupCoordinator::new(
                config.clone(),
                replica_manager.clone(),
                metadata.clone(),
            ));
            coordinator.load().await;
            let authorizer = Arc::new(strom::authorizer::Authorizer::disabled());
            let broker = Broker::new(
                config.clone(),
                replica_manager.clone(),
                metadata,
                coordinator,
                authorizer,
            );
            broker
                .create_topic(
                    &RequestContext::internal(),
                    "fuzz",
                    2,
                    1,
                    Default::default(),
                )
                .await
                .expect("topic");
            for p in 0..2 {
                let batch = strom::records::testing::simple_batch(3, 1_700_000_000_000);
                let _ = replica_manager
                    .append("fuzz", p, bytes::BytesMut::from(&batch[..]))
                    .await;
            }
            broker
        });
        let listener = Arc::new(Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092,
        });
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        Harness {
            rt,
            broker,
            ctx: RequestContext::new(peer, listener),
        }
    })
}

/// A request frame: header v1 (v2 for flexible versions) and `body`.
fn frame(key: ApiKey, version: i16, body: &[u8]) -> Bytes {
    let mut f = Vec::with_capacity(body.len() + 16);
    f.extend_from_slice(&(key as i16).to_be_bytes());
    f.extend_from_slice(&version.to_be_bytes());
    f.extend_from_slice(&7i32.to_be_bytes());
    f.extend_from_slice(&4i16.to_be_bytes());
    f.extend_from_slice(b"fuzz");
    if key.request_header_version(version) >= 2 {
        f.push(0); // no tagged fields
    }
    f.extend_from_slice(body);
    Bytes::from(f)
}

fn serve(key: ApiKey, version: i16, body: &[u8]) {
    let h = harness();
    let request = frame(key, version, body);
    h.rt.block_on(async {
        // A long-polling fetch waits up to its max_wait_ms: cut it short.
        let _ = tokio::time::timeout(Duration::from_millis(2), async {
            match h.broker.handle(&h.ctx, request).await {
                Ok(Reply::Later(later)) => {
                    let _ = later.await;
                }
                Ok(Reply::Now(_) | Reply::Parts(_)) | Err(_) => {}
            }
        })
        .await;
    });
}

fuzz_target!(|data: &[u8]| {
    let [k0, k1, v0, v1, body @ ..] = data else {
        return;
    };
    let raw_key = i16::from_be_bytes([*k0, *k1]);
    let support = APIS
        .iter()
        .find(|s| s.key as i16 == raw_key)
        .unwrap_or(&APIS[usize::from(*k1) % APIS.len()]);
    let span = support.max - support.min + 1;
    let version = support.min + i16::from_be_bytes([*v0, *v1]).rem_euclid(span.max(1));
    let outcome = bounded::differential(support.key, version, body);
    assert!(
        outcome.is_consistent(),
        "{:?} v{version}: walker and decoder disagree: {outcome:?}",
        support.key
    );
    if matches!(outcome, bounded::Differential::Decoded { .. }) && READ_ONLY.contains(&support.key)
    {
        serve(support.key, version, body);
    }
    // The raw input as a frame: its own first four bytes name the API.
    if data.len() >= 4 {
        let key = i16::from_be_bytes([data[0], data[1]]);
        let v = i16::from_be_bytes([data[2], data[3]]);
        if let Ok(key) = ApiKey::try_from(key) {
            if bounded::has_schema(key, v) {
                let _ = bounded::check_request(key, v, data);
            }
        }
    }
});
