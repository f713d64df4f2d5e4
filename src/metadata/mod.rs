//! Cluster metadata: the cluster id, topics, their partition counts and topic
//! config overrides. Everything else in the broker reads and changes topics
//! through [`MetadataStore`], so the standalone store (a JSON file under
//! `log.dirs`) and a ZooKeeper store can be swapped without touching callers.
//!
//! Invariant: a change is durable in the store before it is visible to
//! clients (callers apply it to the replica manager only after the store
//! returned `Ok`).
//!
//! With `zookeeper.connect` set, [`ZookeeperMetadataStore`] keeps everything
//! in ZooKeeper as Kafka 3.5 does (through `zk/`, the only code that talks to
//! ZooKeeper); ZooKeeper is then the source of truth.

pub mod standalone;
pub mod zookeeper;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use standalone::StandaloneMetadataStore;
pub use zookeeper::ZookeeperMetadataStore;

/// One topic as the metadata store keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Kafka topic id (KIP-516).
    pub topic_id: Uuid,
    /// Number of partitions, numbered `0..partitions`.
    pub partitions: i32,
    /// Topic-level config overrides (Kafka topic config names, string values).
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// A topic change another writer made in the metadata store (ZooKeeper),
/// emitted on a channel for the server to apply to the replica manager: the
/// metadata layer never calls the replica manager itself.
#[derive(Clone, Debug, PartialEq)]
pub enum TopicChange {
    /// A new topic (or one re-created with a new topic id): open its logs.
    Created(TopicMetadata),
    /// A known topic's partition count or configs changed.
    Altered(TopicMetadata),
    /// The topic is gone: delete its logs.
    Deleted(String),
}

/// Errors of the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The topic exists already.
    #[error("topic {0} already exists")]
    TopicExists(String),
    /// No such topic.
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    /// The backing store failed; the change was not applied.
    #[error("metadata store failure: {0}")]
    Storage(String),
    /// The backing store cannot be reached right now (ZooKeeper connection
    /// lost or session being re-established); the change was not applied
    /// and a retry may succeed.
    #[error("metadata store unavailable, retry later: {0}")]
    Unavailable(String),
}

/// Where the broker keeps its cluster metadata.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// The cluster id reported in Metadata and DescribeCluster.
    fn cluster_id(&self) -> String;
    /// True when the store came up without the cluster state this broker's
    /// logs belong to (e.g. an emptied ZooKeeper or a wrong chroot): the
    /// broker then keeps log dirs of unknown topics instead of deleting them.
    fn cluster_state_lost(&self) -> bool {
        false
    }
    /// Every topic.
    async fn topics(&self) -> Result<Vec<TopicMetadata>, MetadataError>;
    /// Records a new topic; `TopicExists` if the name is taken.
    async fn create_topic(&self, topic: &TopicMetadata) -> Result<(), MetadataError>;
    /// Removes a topic.
    async fn delete_topic(&self, name: &str) -> Result<(), MetadataError>;
    /// Replaces a topic's partition count and configs.
    async fn update_topic(&self, topic: &TopicMetadata) -> Result<(), MetadataError>;
    /// Whether this store keeps OffsetCommit v0's consumer offsets (Kafka
    /// 3.5 keeps them in ZooKeeper); otherwise they go to the offsets log.
    fn keeps_consumer_offsets(&self) -> bool {
        false
    }
    /// Stores an OffsetCommit v0 offset (only when [`Self::keeps_consumer_offsets`]).
    async fn commit_consumer_offset(
        &self,
        _group: &str,
        _topic: &str,
        _partition: i32,
        _offset: i64,
    ) -> Result<(), MetadataError> {
        Err(MetadataError::Unavailable(
            "this store does not keep consumer offsets".into(),
        ))
    }
    /// An OffsetCommit v0 offset, `None` when none was committed.
    async fn consumer_offset(
        &self,
        _group: &str,
        _topic: &str,
        _partition: i32,
    ) -> Result<Option<i64>, MetadataError> {
        Ok(None)
    }
    /// The dynamic configs of users and clients by entity path (`users/<u>`,
    /// `clients/<c>`, `users/<u>/clients/<c>`, names sanitized, `<default>`
    /// for a default entity), as Kafka keeps them under `/config`: client
    /// quotas, and the SCRAM credentials sharing a user's document.
    async fn entity_configs(&self) -> Result<EntityConfigs, MetadataError>;
    /// Changes one entity's config: sets `set`, removes `remove`, and keeps
    /// every other key — the document is shared (quotas and SCRAM
    /// credentials of a user), so it is read, merged and written back, never
    /// replaced. The change is notified as Kafka notifies it.
    async fn alter_entity_config(
        &self,
        path: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), MetadataError>;
}

/// Entity path → config, see [`MetadataStore::entity_configs`].
pub type EntityConfigs = BTreeMap<String, BTreeMap<String, String>>;

/// Applies a change to one entity's config document (shared by the stores;
/// it lives in `util` so that zk/ can use it without importing metadata).
pub use crate::util::merge_entity_config;
