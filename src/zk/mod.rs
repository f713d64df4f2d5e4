//! ZooKeeper, as Kafka 3.5 uses it in ZK mode. **Only `zk/` talks to
//! ZooKeeper**: the rest of the broker sees Kafka's operations
//! ([`KafkaZkClient`]: register the broker, elect the controller, read and
//! write topics and configs) and session events, never znodes or the
//! `zookeeper-client` crate.
//!
//! - [`client`]: `ZooKeeperClient`, the session: connect per
//!   `zookeeper.connect` (host list, optional chroot, created when missing)
//!   with retry and backoff, a session task that follows the session state
//!   and opens a new session after expiry, and the primitive operations,
//!   which fail fast with [`ZkError::NotConnected`] while disconnected.
//! - [`kafka`]: `KafkaZkClient`, Kafka's paths and operations on them.
//! - [`json`]: the JSON documents, in Kafka's formats.
//! - [`acls`]: the ACL stores and their change notifications, where
//!   Kafka's `AclAuthorizer` keeps them.

pub mod acls;
pub mod client;
pub mod json;
pub mod kafka;

pub use acls::{ZkAclResource, ZkWatch2};
pub use client::{SessionEvent, ZkSettings, ZkWatch, ZooKeeperClient};
pub use json::{BrokerInfo, ZkAclEntry};
pub use kafka::{ControllerElection, KafkaZkClient, ZkTopic, ZkWatch3};

/// Errors talking to ZooKeeper.
#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    /// No session could be established at start-up.
    #[error("cannot connect to ZooKeeper at {address} within zookeeper.connection.timeout.ms={timeout_ms}: {reason}")]
    Unreachable {
        /// `zookeeper.connect`.
        address: String,
        /// How long we tried.
        timeout_ms: u64,
        /// The last failure.
        reason: String,
    },
    /// `zookeeper.connect` is malformed.
    #[error("invalid zookeeper.connect {0:?}: {1}")]
    BadConnectString(String, String),
    /// The session is disconnected, expired or being re-established; the
    /// operation was not sent (or its outcome is unknown).
    #[error("not connected to ZooKeeper: {0}")]
    NotConnected(String),
    /// The node does not exist.
    #[error("znode {0} does not exist")]
    NoNode(String),
    /// The node exists already.
    #[error("znode {0} already exists")]
    NodeExists(String),
    /// A conditional update lost a race.
    #[error("znode {0} changed concurrently")]
    BadVersion(String),
    /// A znode's content is not what Kafka writes.
    #[error("znode {path} is malformed: {reason}")]
    Malformed {
        /// The znode.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// `/brokers/ids/<id>` belongs to another live session.
    #[error("broker.id {broker_id} is already registered in ZooKeeper (/brokers/ids/{broker_id} is held by another live session, {owner:#x}); is another broker running with broker.id={broker_id}?")]
    BrokerIdTaken {
        /// The broker id.
        broker_id: i32,
        /// The owning session.
        owner: i64,
    },
    /// Another live broker already advertises one of our endpoints.
    #[error("another live broker (broker.id {other}) already registered the advertised endpoint {endpoint}")]
    EndpointTaken {
        /// The other broker.
        other: i32,
        /// The endpoint.
        endpoint: String,
    },
    /// `/cluster/id` differs from `meta.properties` in the log dirs.
    #[error("The Cluster ID {zookeeper} doesn't match stored clusterId {stored} in meta.properties. The broker is trying to join the wrong cluster. Configured zookeeper.connect may be wrong.")]
    InconsistentClusterId {
        /// What ZooKeeper has.
        zookeeper: String,
        /// What the log dirs have.
        stored: String,
    },
    /// Any other ZooKeeper error.
    #[error("ZooKeeper operation on {path} failed: {reason}")]
    Other {
        /// The znode.
        path: String,
        /// The error.
        reason: String,
    },
}

impl ZkError {
    /// True for failures that a later retry (after reconnecting) may fix.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ZkError::NotConnected(_) | ZkError::BadVersion(_))
    }
}
