//! The embedded metadata store: one JSON document (`strom-metadata.json`) in
//! the first log dir, rewritten atomically (temp file, fsync, rename, fsync
//! dir) on every change, and Kafka's `meta.properties` beside it.
//!
//! Invariant: a change's write and fsync run on the blocking pool, never on
//! the reactor thread that called the async method.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{MetadataError, MetadataStore, TopicMetadata};

const FILE_NAME: &str = "strom-metadata.json";

#[derive(Serialize, Deserialize)]
struct Document {
    version: u32,
    cluster_id: String,
    topics: BTreeMap<String, TopicMetadata>,
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
            }),
        })
    }

    /// Applies `apply` to a copy of the topics, writes it (fsync) and makes
    /// it current, on the blocking pool; nothing changes if either fails.
    async fn change(
        &self,
        apply: impl FnOnce(&mut BTreeMap<String, TopicMetadata>) -> Result<(), MetadataError>
            + Send
            + 'static,
    ) -> Result<(), MetadataError> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || file.change(apply))
            .await
            .map_err(|e| MetadataError::Storage(format!("metadata write task failed: {e}")))?
    }
}

impl StoreFile {
    fn persist(&self, topics: &BTreeMap<String, TopicMetadata>) -> Result<(), MetadataError> {
        let doc = Document {
            version: 1,
            cluster_id: self.cluster_id.clone(),
            topics: topics.clone(),
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
        self.persist(&next)?;
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
        self.change(move |topics| {
            if topics.contains_key(&topic.name) {
                return Err(MetadataError::TopicExists(topic.name.clone()));
            }
            topics.insert(topic.name.clone(), topic);
            Ok(())
        })
        .await
    }

    async fn delete_topic(&self, name: &str) -> Result<(), MetadataError> {
        let name = name.to_string();
        self.change(move |topics| {
            topics
                .remove(&name)
                .map(|_| ())
                .ok_or(MetadataError::UnknownTopic(name))
        })
        .await
    }

    async fn update_topic(&self, topic: &TopicMetadata) -> Result<(), MetadataError> {
        let topic = topic.clone();
        self.change(move |topics| match topics.get_mut(&topic.name) {
            Some(existing) => {
                *existing = topic;
                Ok(())
            }
            None => Err(MetadataError::UnknownTopic(topic.name)),
        })
        .await
    }
}

/// A new cluster id: 16 random bytes as 22 characters of URL-safe base64, as Kafka makes them.
pub fn new_cluster_id() -> String {
    crate::util::uuid_to_base64(uuid::Uuid::new_v4())
}

pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), MetadataError> {
    let err =
        |e: std::io::Error| MetadataError::Storage(format!("cannot write {}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(parent) = path.parent() {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
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
}
