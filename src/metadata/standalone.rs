//! The embedded metadata store: one JSON document (`strom-metadata.json`) in
//! the first log dir, rewritten atomically (temp file, fsync, rename, fsync
//! dir) on every change, and Kafka's `meta.properties` beside it.
//!
//! Invariant: a change's write and fsync run on the blocking pool, never on
//! the reactor thread that called the async method.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{merge_entity_config, EntityConfigs, MetadataError, MetadataStore, TopicMetadata};

const FILE_NAME: &str = "strom-metadata.json";

#[derive(Serialize, Deserialize)]
struct Document {
    version: u32,
    cluster_id: String,
    topics: BTreeMap<String, TopicMetadata>,
    /// Users' and clients' dynamic configs (quotas, SCRAM credentials).
    #[serde(default)]
    entity_configs: EntityConfigs,
}

/// Metadata kept in a file under `log.dirs`.
pub struct StandaloneMetadataStore {
    cluster_id: String,
    file: Arc<StoreFile>,
}

/// The document on disk and its last written state (shared with the
/// blocking tasks that rewrite it).
struct StoreFile {
    path: PathBuf,
    cluster_id: String,
    topics: Mutex<BTreeMap<String, TopicMetadata>>,
    /// Locked after `topics` when both are.
    entity_configs: Mutex<EntityConfigs>,
}

impl StandaloneMetadataStore {
    /// Opens the store in `dir`, creating it (with a new cluster id) when missing.
    pub fn open(dir: &Path, broker_id: i32) -> Result<Self, MetadataError> {
        let path = dir.join(FILE_NAME);
        let doc = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Document>(&bytes).map_err(|e| {
                MetadataError::Storage(format!("{} is not valid: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = Document {
                    version: 1,
                    cluster_id: new_cluster_id(),
                    topics: BTreeMap::new(),
                    entity_configs: BTreeMap::new(),
                };
                write_atomically(&path, &serde_json::to_vec_pretty(&doc).unwrap_or_default())?;
                doc
            }
            Err(e) => {
                return Err(MetadataError::Storage(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let meta = format!(
            "#\n#{}\ncluster.id={}\nversion=0\nbroker.id={broker_id}\n",
            "strom", doc.cluster_id
        );
        write_atomically(&dir.join("meta.properties"), meta.as_bytes())?;
        Ok(StandaloneMetadataStore {
            cluster_id: doc.cluster_id.clone(),
            file: Arc::new(StoreFile {
                path,
                cluster_id: doc.cluster_id,
                topics: Mutex::new(doc.topics),
                entity_configs: Mutex::new(doc.entity_configs),
            }),
        })
    }

    /// Runs `write` (which writes and fsyncs the document) on the blocking
    /// pool.
    async fn off_reactor(
        &self,
        write: impl FnOnce(&StoreFile) -> Result<(), MetadataError> + Send + 'static,
    ) -> Result<(), MetadataError> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || write(&file))
            .await
            .map_err(|e| MetadataError::Storage(format!("metadata write task failed: {e}")))?
    }
}

impl StoreFile {
    fn persist(
        &self,
        topics: &BTreeMap<String, TopicMetadata>,
        entity_configs: &EntityConfigs,
    ) -> Result<(), MetadataError> {
        let doc = Document {
            version: 1,
            cluster_id: self.cluster_id.clone(),
            topics: topics.clone(),
            entity_configs: entity_configs.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| MetadataError::Storage(format!("cannot encode metadata: {e}")))?;
        write_atomically(&self.path, &bytes)
    }

    fn change(
        &self,
        apply: impl FnOnce(&mut BTreeMap<String, TopicMetadata>) -> Result<(), MetadataError>,
    ) -> Result<(), MetadataError> {
        let mut topics = self.topics.lock();
        let mut next = topics.clone();
        apply(&mut next)?;
        self.persist(&next, &self.entity_configs.lock())?;
        *topics = next;
        Ok(())
    }
}

#[async_trait]
impl MetadataStore for StandaloneMetadataStore {
    fn cluster_id(&self) -> String {
        self.cluster_id.clone()
    }

    async fn topics(&self) -> Result<Vec<TopicMetadata>, MetadataError> {
        Ok(self.file.topics.lock().values().cloned().collect())
    }

    async fn create_topic(&self, topic: &TopicMetadata) -> Result<(), MetadataError> {
        let topic = topic.clone();
        self.off_reactor(move |file| {
            file.change(|topics| {
                if topics.contains_key(&topic.name) {
                    return Err(MetadataError::TopicExists(topic.name.clone()));
                }
                topics.insert(topic.name.clone(), topic);
                Ok(())
            })
        })
        .await
    }

    async fn delete_topic(&self, name: &str) -> Result<(), MetadataError> {
        let name = name.to_string();
        self.off_reactor(move |file| {
            file.change(|topics| {
                topics
                    .remove(&name)
                    .map(|_| ())
                    .ok_or(MetadataError::UnknownTopic(name))
            })
        })
        .await
    }

    async fn update_topic(&self, topic: &TopicMetadata) -> Result<(), MetadataError> {
        let topic = topic.clone();
        self.off_reactor(move |file| {
            file.change(|topics| match topics.get_mut(&topic.name) {
                Some(existing) => {
                    *existing = topic;
                    Ok(())
                }
                None => Err(MetadataError::UnknownTopic(topic.name)),
            })
        })
        .await
    }

    async fn entity_configs(&self) -> Result<EntityConfigs, MetadataError> {
        Ok(self.file.entity_configs.lock().clone())
    }

    async fn alter_entity_config(
        &self,
        path: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), MetadataError> {
        let (path, set, remove) = (path.to_string(), set.clone(), remove.to_vec());
        self.off_reactor(move |file| {
            let topics = file.topics.lock();
            let mut configs = file.entity_configs.lock();
            let mut next = configs.clone();
            let entry = next.entry(path.clone()).or_default();
            merge_entity_config(entry, &set, &remove);
            if entry.is_empty() {
                next.remove(&path);
            }
            file.persist(&topics, &next)?;
            *configs = next;
            Ok(())
        })
        .await
    }
}

/// A new cluster id: 16 random bytes as 22 characters of URL-safe base64, as Kafka makes them.
pub fn new_cluster_id() -> String {
    crate::util::uuid_to_base64(uuid::Uuid::new_v4())
}

pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), MetadataError> {
    crate::util::write_atomically(path, bytes)
        .map_err(|e| MetadataError::Storage(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn topics_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = StandaloneMetadataStore::open(dir.path(), 1).unwrap();
        let topic = TopicMetadata {
            name: "events".into(),
            topic_id: uuid::Uuid::new_v4(),
            partitions: 3,
            configs: BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]),
        };
        store.create_topic(&topic).await.unwrap();
        assert!(matches!(
            store.create_topic(&topic).await,
            Err(MetadataError::TopicExists(_))
        ));
        let id = store.cluster_id();
        let reopened = StandaloneMetadataStore::open(dir.path(), 1).unwrap();
        assert_eq!(reopened.cluster_id(), id);
        assert_eq!(reopened.topics().await.unwrap(), vec![topic]);
        reopened.delete_topic("events").await.unwrap();
        let again = StandaloneMetadataStore::open(dir.path(), 1).unwrap();
        assert!(again.topics().await.unwrap().is_empty());
        let props = std::fs::read_to_string(dir.path().join("meta.properties")).unwrap();
        assert!(props.contains(&format!("cluster.id={id}")));
    }

    #[tokio::test]
    async fn entity_configs_merge_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = StandaloneMetadataStore::open(dir.path(), 1).unwrap();
        let set = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        store
            .alter_entity_config("users/alice", &set("SCRAM-SHA-256", "salt=x"), &[])
            .await
            .unwrap();
        store
            .alter_entity_config("users/alice", &set("producer_byte_rate", "1024"), &[])
            .await
            .unwrap();
        let reopened = StandaloneMetadataStore::open(dir.path(), 1).unwrap();
        let configs = reopened.entity_configs().await.unwrap();
        assert_eq!(configs["users/alice"].len(), 2, "merged, not replaced");
        reopened
            .alter_entity_config(
                "users/alice",
                &BTreeMap::new(),
                &["producer_byte_rate".into()],
            )
            .await
            .unwrap();
        let configs = reopened.entity_configs().await.unwrap();
        assert_eq!(configs["users/alice"], set("SCRAM-SHA-256", "salt=x"));
    }
}
