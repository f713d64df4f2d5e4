//! Kafka's ZooKeeper operations (Kafka's `KafkaZkClient` and the parts of
//! `AdminZkClient` and the controller a single broker needs), on Kafka 3.5's
//! paths and in its formats.

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use super::client::{NodeStat, ZkWatch, ZooKeeperClient};
use super::json;
use super::{BrokerInfo, ZkError};

/// A topic as ZooKeeper holds it: `/brokers/topics/<t>` (partition count,
/// topic id) and `/config/topics/<t>` (config overrides). zk/ knows nothing
/// of the metadata store; `metadata::zookeeper` converts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkTopic {
    /// Topic name.
    pub name: String,
    /// Kafka topic id (KIP-516).
    pub topic_id: Uuid,
    /// Number of partitions, numbered `0..partitions`.
    pub partitions: i32,
    /// Topic-level config overrides.
    pub configs: BTreeMap<String, String>,
}

/// The persistent paths Kafka creates at start-up (`ZkData.PersistentZkPaths`).
pub const PERSISTENT_PATHS: &[&str] = &[
    "/consumers",
    "/brokers/ids",
    "/brokers/topics",
    "/brokers/seqid",
    "/config/changes",
    "/config/topics",
    "/config/clients",
    "/config/users",
    "/config/brokers",
    "/config/ips",
    "/admin/delete_topics",
    "/isr_change_notification",
    "/latest_producer_id_block",
    "/log_dir_event_notification",
];

const CLUSTER_ID: &str = "/cluster/id";
const CONTROLLER: &str = "/controller";
const CONTROLLER_EPOCH: &str = "/controller_epoch";

fn broker_path(id: i32) -> String {
    format!("/brokers/ids/{id}")
}
fn topic_path(topic: &str) -> String {
    format!("/brokers/topics/{topic}")
}
fn partition_state_path(topic: &str, partition: i32) -> String {
    format!("/brokers/topics/{topic}/partitions/{partition}/state")
}
fn topic_config_path(topic: &str) -> String {
    format!("/config/topics/{topic}")
}
/// Where OffsetCommit v0 keeps a consumer offset (Kafka's `ConsumerOffset.path`).
fn consumer_offset_path(group: &str, topic: &str, partition: i32) -> String {
    format!("/consumers/{group}/offsets/{topic}/{partition}")
}

fn delete_marker_path(topic: &str) -> String {
    format!("/admin/delete_topics/{topic}")
}

/// The outcome of a controller election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerElection {
    /// This broker is the controller, with this controller epoch.
    Won {
        /// `/controller_epoch` after the election.
        epoch: i32,
    },
    /// Another broker is the controller (`None`: it vanished meanwhile).
    Lost {
        /// The controller's broker id.
        controller: Option<i32>,
    },
}

/// Kafka's operations on ZooKeeper.
pub struct KafkaZkClient {
    zk: Arc<ZooKeeperClient>,
}

impl KafkaZkClient {
    /// Wraps a connected session.
    pub fn new(zk: Arc<ZooKeeperClient>) -> Self {
        KafkaZkClient { zk }
    }

    /// The session underneath (events, run, close).
    pub fn session(&self) -> &Arc<ZooKeeperClient> {
        &self.zk
    }

    /// Creates Kafka's persistent paths when missing (`makeSurePersistentPathExists`).
    /// OffsetCommit v0 (Kafka's `setOrCreateConsumerOffset`): the offset as
    /// its decimal string, parents created as needed.
    pub async fn set_or_create_consumer_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), ZkError> {
        let path = consumer_offset_path(group, topic, partition);
        self.zk
            .set_or_create(&path, offset.to_string().as_bytes())
            .await
    }

    /// OffsetFetch v0 (Kafka's `getConsumerOffset`): `None` when none was committed.
    pub async fn get_consumer_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, ZkError> {
        let path = consumer_offset_path(group, topic, partition);
        Ok(self
            .zk
            .get(&path)
            .await?
            .and_then(|(data, _)| std::str::from_utf8(&data).ok()?.trim().parse().ok()))
    }

    pub async fn make_sure_persistent_paths_exist(&self) -> Result<(), ZkError> {
        for path in PERSISTENT_PATHS {
            self.zk.mkdirs(path).await?;
        }
        Ok(())
    }

    /// `/cluster/id`, if it exists.
    pub async fn get_cluster_id(&self) -> Result<Option<String>, ZkError> {
        match self.zk.get(CLUSTER_ID).await? {
            Some((data, _)) => Ok(Some(json::parse_cluster_id(CLUSTER_ID, &data)?)),
            None => Ok(None),
        }
    }

    /// Creates `/cluster/id` with `id`, or returns the id another writer created first.
    pub async fn create_or_get_cluster_id(&self, id: &str) -> Result<String, ZkError> {
        self.zk.mkdirs("/cluster").await?;
        match self
            .zk
            .create(CLUSTER_ID, &json::cluster_id_json(id), false)
            .await
        {
            Ok(_) => Ok(id.to_string()),
            Err(ZkError::NodeExists(_)) => self
                .get_cluster_id()
                .await?
                .ok_or_else(|| ZkError::NoNode(CLUSTER_ID.into())),
            Err(e) => Err(e),
        }
    }

    /// Refuses an advertised endpoint another live broker already registered.
    pub async fn check_endpoints_free(&self, info: &BrokerInfo) -> Result<(), ZkError> {
        let ours = info.endpoint_strings();
        for child in self.zk.children("/brokers/ids").await?.unwrap_or_default() {
            let Ok(other) = child.parse::<i32>() else {
                continue;
            };
            if other == info.broker_id {
                continue;
            }
            let path = broker_path(other);
            let Some((data, _)) = self.zk.get(&path).await? else {
                continue;
            };
            let theirs = json::parse_broker_endpoints(&path, &data)?;
            if let Some(endpoint) = ours.iter().find(|e| theirs.contains(e)) {
                return Err(ZkError::EndpointTaken {
                    other,
                    endpoint: endpoint.clone(),
                });
            }
        }
        Ok(())
    }

    /// Registers the broker: ephemeral `/brokers/ids/<id>` (Kafka's
    /// `registerBroker`, a checked ephemeral create). A node left by this
    /// session counts as ours; one held by another session is
    /// [`ZkError::BrokerIdTaken`]. Returns the broker epoch (the czxid).
    pub async fn register_broker(&self, info: &BrokerInfo) -> Result<i64, ZkError> {
        let path = broker_path(info.broker_id);
        let data = info.to_json(crate::util::now_ms());
        match self.zk.create(&path, &data, true).await {
            Ok(stat) => Ok(stat.czxid),
            Err(ZkError::NodeExists(_)) => {
                let stat = self.owned_stat(&path).await?;
                match stat {
                    Some(s) if Some(s.ephemeral_owner) == self.zk.session_id() => Ok(s.czxid),
                    Some(s) => Err(ZkError::BrokerIdTaken {
                        broker_id: info.broker_id,
                        owner: s.ephemeral_owner,
                    }),
                    // Gone meanwhile: try once more.
                    None => self.zk.create(&path, &data, true).await.map(|s| s.czxid),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `/brokers/ids/<id>` exists and belongs to this session.
    pub async fn broker_registered(&self, broker_id: i32) -> Result<bool, ZkError> {
        let stat = self.owned_stat(&broker_path(broker_id)).await?;
        Ok(matches!(stat, Some(s) if Some(s.ephemeral_owner) == self.zk.session_id()))
    }

    /// A watch on `/brokers/ids/<id>` (fires when it is deleted).
    pub async fn watch_broker(&self, broker_id: i32) -> Result<ZkWatch, ZkError> {
        Ok(self.zk.watch_exists(&broker_path(broker_id)).await?.1)
    }

    async fn owned_stat(&self, path: &str) -> Result<Option<NodeStat>, ZkError> {
        Ok(self.zk.get(path).await?.map(|(_, s)| s))
    }

    /// Deletes our own ephemeral nodes before a clean shutdown.
    pub async fn deregister(&self, broker_id: i32) {
        for path in [broker_path(broker_id), CONTROLLER.to_string()] {
            if let Ok(Some(stat)) = self.owned_stat(&path).await {
                if Some(stat.ephemeral_owner) == self.zk.session_id() {
                    let _ = self.zk.delete(&path).await;
                }
            }
        }
    }

    /// Tries to become the controller: ephemeral `/controller`, then
    /// `/controller_epoch` incremented (created as 0 first, as Kafka does).
    pub async fn elect_controller(&self, broker_id: i32) -> Result<ControllerElection, ZkError> {
        let data = json::controller_json(broker_id, crate::util::now_ms());
        match self.zk.create(CONTROLLER, &data, true).await {
            Ok(_) => {}
            Err(ZkError::NodeExists(_)) => match self.zk.get(CONTROLLER).await? {
                Some((data, stat)) => {
                    let controller = json::parse_controller(CONTROLLER, &data)?;
                    if controller != broker_id || Some(stat.ephemeral_owner) != self.zk.session_id()
                    {
                        return Ok(ControllerElection::Lost {
                            controller: Some(controller),
                        });
                    }
                    // Ours already (a retry in the same session): keep the epoch.
                    return Ok(ControllerElection::Won {
                        epoch: self.controller_epoch().await?.map_or(1, |(e, _)| e),
                    });
                }
                None => return Ok(ControllerElection::Lost { controller: None }),
            },
            Err(e) => return Err(e),
        }
        loop {
            let (epoch, version) = match self.controller_epoch().await? {
                Some(found) => found,
                None => match self.zk.create(CONTROLLER_EPOCH, b"0", false).await {
                    Ok(_) | Err(ZkError::NodeExists(_)) => continue,
                    Err(e) => return Err(e),
                },
            };
            let next = epoch.saturating_add(1);
            match self
                .zk
                .set(CONTROLLER_EPOCH, next.to_string().as_bytes(), Some(version))
                .await
            {
                Ok(()) => return Ok(ControllerElection::Won { epoch: next }),
                Err(ZkError::BadVersion(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn controller_epoch(&self) -> Result<Option<(i32, i32)>, ZkError> {
        let Some((data, stat)) = self.zk.get(CONTROLLER_EPOCH).await? else {
            return Ok(None);
        };
        let epoch = std::str::from_utf8(&data)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .ok_or_else(|| ZkError::Malformed {
                path: CONTROLLER_EPOCH.into(),
                reason: "not an integer".into(),
            })?;
        Ok(Some((epoch, stat.version)))
    }

    /// A watch on `/controller` (fires on creation, change or deletion) and
    /// the current controller, if any.
    pub async fn watch_controller(&self) -> Result<(Option<i32>, ZkWatch), ZkError> {
        let (stat, watch) = self.zk.watch_exists(CONTROLLER).await?;
        let controller = match stat {
            Some(_) => match self.zk.get(CONTROLLER).await? {
                Some((data, _)) => Some(json::parse_controller(CONTROLLER, &data)?),
                None => None,
            },
            None => None,
        };
        Ok((controller, watch))
    }

    /// Every topic: assignment, topic id and config overrides. A topic
    /// without a topic id (written by an old tool) gets one, written back as
    /// Kafka's controller does.
    pub async fn get_all_topics(&self, broker_id: i32) -> Result<Vec<ZkTopic>, ZkError> {
        let mut topics = Vec::new();
        for name in self
            .zk
            .children("/brokers/topics")
            .await?
            .unwrap_or_default()
        {
            if let Some(topic) = self.get_topic(&name, broker_id).await? {
                topics.push(topic);
            }
        }
        Ok(topics)
    }

    /// One topic, or `None` if it does not exist.
    pub async fn get_topic(&self, name: &str, broker_id: i32) -> Result<Option<ZkTopic>, ZkError> {
        let path = topic_path(name);
        let Some((data, stat)) = self.zk.get(&path).await? else {
            return Ok(None);
        };
        let assignment = json::parse_topic_assignment(&path, &data)?;
        let topic_id = match assignment.topic_id {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4();
                tracing::info!(topic = name, topic_id = %id, "topic had no topic id in ZooKeeper; assigning one");
                let data = json::topic_assignment_json(assignment.partitions, broker_id, id);
                self.zk.set(&path, &data, Some(stat.version)).await?;
                id
            }
        };
        let config_path = topic_config_path(name);
        let configs = match self.zk.get(&config_path).await? {
            Some((data, _)) => json::parse_topic_config(&config_path, &data)?,
            None => BTreeMap::new(),
        };
        Ok(Some(ZkTopic {
            name: name.to_string(),
            topic_id,
            partitions: assignment.partitions,
            configs,
        }))
    }

    /// Creates a topic as `AdminZkClient.createTopicWithAssignment` does
    /// (config first, then the assignment) and its partition states as the
    /// controller does. `NodeExists` if the topic exists.
    pub async fn create_topic(
        &self,
        topic: &ZkTopic,
        broker_id: i32,
        controller_epoch: i32,
    ) -> Result<(), ZkError> {
        let path = topic_path(&topic.name);
        if self.zk.get(&path).await?.is_some() {
            return Err(ZkError::NodeExists(path));
        }
        self.zk
            .set_or_create(
                &topic_config_path(&topic.name),
                &json::topic_config_json(&topic.configs),
            )
            .await?;
        let data = json::topic_assignment_json(topic.partitions, broker_id, topic.topic_id);
        self.zk.create(&path, &data, false).await?;
        self.create_partition_states(
            &topic.name,
            0,
            topic.partitions,
            broker_id,
            controller_epoch,
        )
        .await
    }

    async fn create_partition_states(
        &self,
        topic: &str,
        from: i32,
        to: i32,
        broker_id: i32,
        controller_epoch: i32,
    ) -> Result<(), ZkError> {
        for p in from..to {
            let state = json::partition_state_json(broker_id, 0, controller_epoch);
            self.zk
                .set_or_create(&partition_state_path(topic, p), &state)
                .await?;
        }
        Ok(())
    }

    /// Raises a topic's partition count (`AdminZkClient.addPartitions`) and
    /// creates the new partitions' states.
    pub async fn set_partition_count(
        &self,
        topic: &ZkTopic,
        old_count: i32,
        broker_id: i32,
        controller_epoch: i32,
    ) -> Result<(), ZkError> {
        let path = topic_path(&topic.name);
        let data = json::topic_assignment_json(topic.partitions, broker_id, topic.topic_id);
        self.zk.set(&path, &data, None).await?;
        self.create_partition_states(
            &topic.name,
            old_count,
            topic.partitions,
            broker_id,
            controller_epoch,
        )
        .await
    }

    /// Writes a topic's config overrides and the change notification
    /// (`AdminZkClient.changeTopicConfig`).
    pub async fn set_topic_config(
        &self,
        topic: &str,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), ZkError> {
        self.zk
            .set_or_create(&topic_config_path(topic), &json::topic_config_json(configs))
            .await?;
        let entity = format!("topics/{topic}");
        let node = self
            .zk
            .create_sequential(
                "/config/changes/config_change_",
                &json::config_change_json(&entity),
            )
            .await?;
        tracing::debug!(topic, notification = %node, "config change notified");
        Ok(())
    }

    /// The configs of every user, client and user/client entity
    /// (`/config/users/<u>`, `/config/clients/<c>`,
    /// `/config/users/<u>/clients/<c>`), by entity path (`users/<u>`, …).
    pub async fn get_entity_configs(
        &self,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, ZkError> {
        let mut out = BTreeMap::new();
        let mut paths = Vec::new();
        for c in self
            .zk
            .children("/config/clients")
            .await?
            .unwrap_or_default()
        {
            paths.push(format!("clients/{c}"));
        }
        for u in self.zk.children("/config/users").await?.unwrap_or_default() {
            paths.push(format!("users/{u}"));
            let clients = self
                .zk
                .children(&format!("/config/users/{u}/clients"))
                .await?;
            for c in clients.unwrap_or_default() {
                paths.push(format!("users/{u}/clients/{c}"));
            }
        }
        for path in paths {
            let znode = format!("/config/{path}");
            if let Some((data, _)) = self.zk.get(&znode).await? {
                if data.is_empty() {
                    continue; // a parent created by mkdirs, no document
                }
                out.insert(path, json::parse_topic_config(&znode, &data)?);
            }
        }
        Ok(out)
    }

    /// Changes one user/client entity's config as Kafka's
    /// `AdminZkClient.changeConfigs` does, but merging: the document
    /// (`{"version":1,"config":{…}}`, shared by a user's quotas and SCRAM
    /// credentials) is read, `set` and `remove` applied to its keys and
    /// written back conditionally on its version (retried when another writer
    /// got in between), then `/config/changes/config_change_` notifies
    /// `{"version":2,"entity_path":"<path>"}`.
    pub async fn alter_entity_config(
        &self,
        path: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), ZkError> {
        let znode = format!("/config/{path}");
        let mut attempts = 0;
        loop {
            attempts += 1;
            let written = match self.zk.get(&znode).await? {
                Some((data, stat)) => {
                    let mut config = if data.is_empty() {
                        BTreeMap::new()
                    } else {
                        json::parse_topic_config(&znode, &data)?
                    };
                    crate::util::merge_entity_config(&mut config, set, remove);
                    self.zk
                        .set(
                            &znode,
                            &json::topic_config_json(&config),
                            Some(stat.version),
                        )
                        .await
                }
                None => {
                    let mut config = BTreeMap::new();
                    crate::util::merge_entity_config(&mut config, set, remove);
                    if let Some((parent, _)) = znode.rsplit_once('/') {
                        self.zk.mkdirs(parent).await?;
                    }
                    self.zk
                        .create(&znode, &json::topic_config_json(&config), false)
                        .await
                        .map(|_| ())
                }
            };
            match written {
                Ok(()) => break,
                Err(ZkError::BadVersion(_) | ZkError::NodeExists(_) | ZkError::NoNode(_))
                    if attempts < 10 => {}
                Err(e) => return Err(e),
            }
        }
        let node = self
            .zk
            .create_sequential(
                "/config/changes/config_change_",
                &json::config_change_json(path),
            )
            .await?;
        tracing::debug!(entity = path, notification = %node, "config change notified");
        Ok(())
    }

    /// Deletes a topic as Kafka does: the `/admin/delete_topics/<t>` marker,
    /// then the assignment with its partition states and the config, then
    /// the marker.
    pub async fn delete_topic(&self, topic: &str) -> Result<(), ZkError> {
        match self.zk.create(&delete_marker_path(topic), b"", false).await {
            Ok(_) | Err(ZkError::NodeExists(_)) => {}
            Err(e) => return Err(e),
        }
        self.complete_topic_deletion(topic).await
    }

    /// Finishes a deletion whose marker is in `/admin/delete_topics`.
    pub async fn complete_topic_deletion(&self, topic: &str) -> Result<(), ZkError> {
        self.zk.delete_recursive(&topic_path(topic)).await?;
        self.zk.delete(&topic_config_path(topic)).await?;
        self.zk.delete(&delete_marker_path(topic)).await
    }

    /// Topics whose deletion is in progress.
    pub async fn pending_deletions(&self) -> Result<Vec<String>, ZkError> {
        Ok(self
            .zk
            .children("/admin/delete_topics")
            .await?
            .unwrap_or_default())
    }

    /// Watches on what other writers change: the topic list, config change
    /// notifications and deletion markers. Resolves when any fires.
    pub async fn watch_topic_changes(&self) -> Result<ZkWatch3, ZkError> {
        let (_, topics) = self.zk.watch_children("/brokers/topics").await?;
        let (_, changes) = self.zk.watch_children("/config/changes").await?;
        let (_, deletions) = self.zk.watch_children("/admin/delete_topics").await?;
        Ok(ZkWatch3([topics, changes, deletions]))
    }
}

/// Three watches; fires when the first does.
pub struct ZkWatch3([ZkWatch; 3]);

impl ZkWatch3 {
    /// Resolves when any of the watches fires.
    pub async fn fired(self) {
        let [a, b, c] = self.0;
        tokio::select! {
            _ = a.fired() => {}
            _ = b.fired() => {}
            _ = c.fired() => {}
        }
    }
}
