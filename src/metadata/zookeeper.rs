//! The ZooKeeper metadata store: with `zookeeper.connect` set, ZooKeeper is
//! the source of truth for the cluster id, topics and topic configs, kept
//! where and how Kafka 3.5 keeps them (all ZooKeeper access goes through
//! `zk::KafkaZkClient`). This module is the broker's policy on top:
//!
//! - start-up: connect (retrying until `zookeeper.connection.timeout.ms`),
//!   persistent paths, `/cluster/id` checked against `meta.properties`,
//!   pending deletions finished, `/brokers/ids/<id>` registered (refused when
//!   another live session holds it), the controller election, topics read;
//! - the session task ([`ZookeeperMetadataStore::run`]): after a reconnect it
//!   checks its ephemeral nodes, after expiry it re-registers and re-runs the
//!   election; when ZooKeeper lost the cluster state (no `/cluster/id` in a
//!   new session) it re-creates what this broker owns: the cluster id, its
//!   topics with their configs and partition states; a lost election is
//!   retried when `/controller` goes away; topics created, changed or
//!   deleted by other ZooKeeper writers are sent as [`TopicChange`]s on the
//!   channel the server gave [`ZookeeperMetadataStore::run`] (the server
//!   applies them to the replica manager; this module never calls it);
//! - writes: a topic change goes to ZooKeeper first; while ZooKeeper is
//!   unreachable it fails with [`MetadataError::Unavailable`] (retriable),
//!   while produce and fetch go on.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::Instrument;

use super::{MetadataError, MetadataStore, TopicChange, TopicMetadata};
use crate::config::BrokerConfig;
use crate::zk::{
    BrokerInfo, ControllerElection, KafkaZkClient, SessionEvent, ZkError, ZkSettings, ZkTopic,
    ZkWatch, ZkWatch3, ZooKeeperClient,
};

/// How long the session task waits before retrying work that failed.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Changes by other writers often come in bursts (assignment, then config, then states).
const CHANGE_DEBOUNCE: Duration = Duration::from_millis(200);

impl From<ZkError> for MetadataError {
    fn from(e: ZkError) -> Self {
        if e.is_retriable() {
            MetadataError::Unavailable(e.to_string())
        } else {
            MetadataError::Storage(e.to_string())
        }
    }
}

/// Metadata kept in ZooKeeper.
pub struct ZookeeperMetadataStore {
    zk: KafkaZkClient,
    broker: BrokerInfo,
    cluster_id: String,
    log_dirs: Vec<PathBuf>,
    /// What ZooKeeper had when last read or written by us.
    topics: tokio::sync::Mutex<BTreeMap<String, TopicMetadata>>,
    /// Controller epoch of our election (0 while not the controller).
    controller_epoch: AtomicI32,
    /// Session events, subscribed before registration so none is missed.
    events: parking_lot::Mutex<Option<broadcast::Receiver<SessionEvent>>>,
    /// `/cluster/id` was missing at start although the log dirs belong to a cluster.
    state_lost_at_start: bool,
}

/// The local copy of this broker's topics as ZooKeeper last had them.
pub const TOPICS_MIRROR_FILE: &str = "strom-zookeeper-topics.json";

/// The broker registration Kafka derives from the listener config.
pub fn broker_info(config: &BrokerConfig) -> BrokerInfo {
    let endpoints: Vec<(String, String, u16)> = config
        .listeners
        .iter()
        .map(|l| {
            let advertised = config
                .advertised_listeners
                .iter()
                .find(|a| a.name == l.name)
                .unwrap_or(l);
            (l.name.clone(), advertised.host.clone(), advertised.port)
        })
        .collect();
    let security_protocol_map = endpoints
        .iter()
        .map(|(name, _, _)| {
            let protocol = config
                .listener_security_protocol_map
                .get(name)
                .cloned()
                .unwrap_or_else(|| name.clone());
            (name.clone(), protocol)
        })
        .collect();
    BrokerInfo {
        broker_id: config.broker_id,
        endpoints,
        security_protocol_map,
        rack: config.broker_rack.clone(),
    }
}

/// The `cluster.id` recorded in the log dirs' `meta.properties`, if any.
fn stored_cluster_id(log_dirs: &[PathBuf]) -> Option<String> {
    log_dirs.iter().find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("meta.properties")).ok()?;
        text.lines()
            .find_map(|l| l.trim().strip_prefix("cluster.id="))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

impl ZookeeperMetadataStore {
    /// Connects and registers the broker (see the module docs for the order).
    pub async fn start(config: &BrokerConfig) -> Result<Arc<Self>, ZkError> {
        let connect = config
            .zookeeper_connect
            .clone()
            .ok_or_else(|| ZkError::BadConnectString(String::new(), "not set".into()))?;
        let session_timeout = Duration::from_millis(
            u64::try_from(config.zookeeper_session_timeout_ms).unwrap_or(18_000),
        );
        let connection_timeout = config
            .zookeeper_connection_timeout_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(session_timeout, Duration::from_millis);
        let span = tracing::info_span!("zookeeper", zookeeper = %connect);
        async move {
            let session = ZooKeeperClient::connect(ZkSettings {
                connect,
                session_timeout,
                connection_timeout,
            })
            .await?;
            let events = session.subscribe();
            let zk = KafkaZkClient::new(session);
            zk.make_sure_persistent_paths_exist().await?;

            let stored = stored_cluster_id(&config.log_dirs);
            let mut state_lost_at_start = false;
            let cluster_id = match zk.get_cluster_id().await? {
                Some(id) => id,
                None => {
                    if let Some(stored) = &stored {
                        state_lost_at_start = true;
                        tracing::warn!(cluster_id = %stored, "ZooKeeper has no /cluster/id but the log dirs belong to this cluster: ZooKeeper lost the cluster state (or zookeeper.connect names the wrong chroot); logs of topics ZooKeeper does not know are kept, not deleted");
                    }
                    let proposed = stored
                        .clone()
                        .unwrap_or_else(super::standalone::new_cluster_id);
                    let id = zk.create_or_get_cluster_id(&proposed).await?;
                    tracing::info!(cluster_id = %id, "created /cluster/id");
                    id
                }
            };
            if let Some(stored) = stored.filter(|s| *s != cluster_id) {
                return Err(ZkError::InconsistentClusterId {
                    zookeeper: cluster_id,
                    stored,
                });
            }

            let store = ZookeeperMetadataStore {
                zk,
                broker: broker_info(config),
                cluster_id,
                log_dirs: config.log_dirs.clone(),
                topics: tokio::sync::Mutex::new(BTreeMap::new()),
                controller_epoch: AtomicI32::new(0),
                events: parking_lot::Mutex::new(Some(events)),
                state_lost_at_start,
            };
            store.write_meta_properties();
            store.zk.check_endpoints_free(&store.broker).await?;
            let epoch = store.zk.register_broker(&store.broker).await?;
            tracing::info!(
                broker_id = store.broker.broker_id,
                broker_epoch = epoch,
                endpoints = ?store.broker.endpoint_strings(),
                "registered broker in ZooKeeper"
            );
            store.elect().await?;
            store.finish_pending_deletions().await?;
            if store.state_lost_at_start {
                // The same answer as a loss while running (`resync`): put back
                // the topics this broker holds, as it last saw them.
                let mirrored = store.read_mirror();
                store.restore_topics(mirrored.values()).await?;
            }
            let topics = store.zk.get_all_topics(store.broker.broker_id).await?;
            let known: BTreeMap<String, TopicMetadata> = topics
                .into_iter()
                .map(|t| (t.name.clone(), TopicMetadata::from(t)))
                .collect();
            store.save_mirror(&known);
            *store.topics.lock().await = known;
            Ok(Arc::new(store))
        }
        .instrument(span)
        .await
    }

    /// Kafka's ZK-mode `meta.properties` (version 0) in every log dir.
    fn write_meta_properties(&self) {
        let meta = format!(
            "#\n#strom\ncluster.id={}\nversion=0\nbroker.id={}\n",
            self.cluster_id, self.broker.broker_id
        );
        for dir in &self.log_dirs {
            if let Err(e) =
                super::standalone::write_atomically(&dir.join("meta.properties"), meta.as_bytes())
            {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot write meta.properties");
            }
        }
    }

    /// Runs the controller election; a loss is logged and retried by the
    /// session task when `/controller` goes away.
    async fn elect(&self) -> Result<(), ZkError> {
        match self.zk.elect_controller(self.broker.broker_id).await? {
            ControllerElection::Won { epoch } => {
                self.controller_epoch.store(epoch, Ordering::Release);
                tracing::info!(controller_epoch = epoch, "elected controller");
            }
            ControllerElection::Lost { controller } => {
                self.controller_epoch.store(0, Ordering::Release);
                tracing::info!(controller = ?controller, "another broker is the controller; watching /controller");
            }
        }
        Ok(())
    }

    /// Another handle on this store's ZooKeeper session, for the other
    /// state Kafka keeps there (the authorizer's ACLs).
    pub fn kafka_zk(&self) -> KafkaZkClient {
        KafkaZkClient::new(self.zk.session().clone())
    }

    /// Whether this broker won the election in the current session (the
    /// epoch is only set by a won election).
    fn is_controller(&self) -> bool {
        self.controller_epoch.load(Ordering::Acquire) > 0
    }

    /// The epoch written into partition states (Kafka's controller epoch;
    /// 1 when another broker is the controller and we write anyway).
    fn epoch_for_writes(&self) -> i32 {
        self.controller_epoch.load(Ordering::Acquire).max(1)
    }

    /// Finishes deletions marked in `/admin/delete_topics` (as the
    /// controller's `TopicDeletionManager` does).
    async fn finish_pending_deletions(&self) -> Result<Vec<String>, ZkError> {
        if !self.is_controller() {
            return Ok(Vec::new());
        }
        let pending = self.zk.pending_deletions().await?;
        for topic in &pending {
            tracing::info!(
                topic,
                "completing topic deletion marked in /admin/delete_topics"
            );
            self.zk.complete_topic_deletion(topic).await?;
        }
        Ok(pending)
    }

    /// Follows the ZooKeeper session until `shutdown`, then closes it (our
    /// ephemeral nodes go with it). Topic changes made by other writers are
    /// sent on `changes`. See the module docs.
    pub async fn run(
        self: Arc<Self>,
        changes: mpsc::Sender<TopicChange>,
        shutdown: watch::Receiver<bool>,
    ) {
        let session = self.zk.session().clone();
        let follow = session.clone().run(shutdown.clone());
        let broker = self.clone().follow_session(changes, shutdown);
        tokio::join!(follow, broker);
        self.zk.deregister(self.broker.broker_id).await;
        session.close().await;
    }

    async fn follow_session(
        self: Arc<Self>,
        changes: mpsc::Sender<TopicChange>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let Some(mut events) = self.events.lock().take() else {
            return;
        };
        // True while registration or the election has to be (re)done.
        let mut resync = false;
        loop {
            if resync {
                match self.resync(&changes).await {
                    Ok(()) => resync = false,
                    Err(ZkError::BrokerIdTaken { owner, .. })
                        if self.zk.session().was_ours(owner) =>
                    {
                        tracing::info!(
                            old_session = format_args!("{owner:#x}"),
                            "/brokers/ids/{} is still held by our previous session until ZooKeeper expires it; retrying",
                            self.broker.broker_id
                        );
                    }
                    Err(e) => log_zk_failure("re-registering in ZooKeeper failed; retrying", &e),
                }
            }
            let fired: Pin<Box<dyn Future<Output = Fired> + Send>> = if resync {
                Box::pin(async {
                    tokio::time::sleep(RETRY_INTERVAL).await;
                    Fired::Retry
                })
            } else {
                match self.arm_watches().await {
                    Ok(Some((controller, topics))) => Box::pin(async move {
                        let controller = async move {
                            match controller {
                                Some(w) => w.fired().await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            _ = controller => Fired::Controller,
                            _ = topics.fired() => Fired::Topics,
                        }
                    }),
                    Ok(None) => {
                        tracing::info!("/controller is vacant; running the controller election");
                        resync = true;
                        continue;
                    }
                    Err(e) => {
                        log_zk_failure("cannot watch ZooKeeper; retrying", &e);
                        Box::pin(async {
                            tokio::time::sleep(RETRY_INTERVAL).await;
                            Fired::Retry
                        })
                    }
                }
            };
            tokio::select! {
                event = events.recv() => match event {
                    Ok(SessionEvent::Disconnected) => {
                        crate::metrics::set_zookeeper_state(crate::metrics::ZooKeeperState::Disconnected);
                        tracing::warn!("ZooKeeper connection lost: produce and fetch go on; topic changes fail with a retriable error until it is back");
                    }
                    Ok(SessionEvent::Reconnected) => {
                        crate::metrics::set_zookeeper_state(crate::metrics::ZooKeeperState::Connected);
                        tracing::info!("ZooKeeper connection back; checking the broker registration");
                        resync = true;
                    }
                    Ok(SessionEvent::Expired) => {
                        crate::metrics::set_zookeeper_state(crate::metrics::ZooKeeperState::Expired);
                        self.controller_epoch.store(0, Ordering::Release);
                        tracing::warn!("ZooKeeper session expired: resigned as controller; the registration will be re-created in a new session");
                    }
                    Ok(SessionEvent::NewSession) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        crate::metrics::set_zookeeper_state(crate::metrics::ZooKeeperState::Connected);
                        tracing::info!("re-creating the broker registration in the new ZooKeeper session");
                        resync = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                which = fired => match which {
                    Fired::Controller => {
                        tracing::info!("/controller changed; running the controller election");
                        resync = true;
                    }
                    Fired::Topics => {
                        tokio::time::sleep(CHANGE_DEBOUNCE).await;
                        if let Err(e) = self.apply_external_changes(&changes).await {
                            log_zk_failure("reading topic changes from ZooKeeper failed", &e);
                        }
                    }
                    Fired::Retry => {}
                },
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Watches on `/controller` (unless we are the controller) and on the
    /// topics; `None` when `/controller` is vacant (the election should run).
    async fn arm_watches(&self) -> Result<Option<(Option<ZkWatch>, ZkWatch3)>, ZkError> {
        let controller = if self.is_controller() {
            None
        } else {
            let (current, watch) = self.zk.watch_controller().await?;
            if current.is_none() {
                return Ok(None);
            }
            Some(watch)
        };
        let topics = self.zk.watch_topic_changes().await?;
        Ok(Some((controller, topics)))
    }

    /// After a reconnect or in a new session: make sure the cluster state,
    /// our registration and the election are in place; re-create what we
    /// own when ZooKeeper lost the cluster state.
    async fn resync(&self, changes: &mpsc::Sender<TopicChange>) -> Result<(), ZkError> {
        self.zk.make_sure_persistent_paths_exist().await?;
        match self.zk.get_cluster_id().await? {
            None => {
                tracing::warn!(cluster_id = %self.cluster_id, "ZooKeeper lost the cluster state (no /cluster/id): re-creating what this broker owns: the cluster id, its topics with their configs and partition states");
                let id = self.zk.create_or_get_cluster_id(&self.cluster_id).await?;
                if id != self.cluster_id {
                    return Err(ZkError::InconsistentClusterId {
                        zookeeper: id,
                        stored: self.cluster_id.clone(),
                    });
                }
                tracing::info!(cluster_id = %id, "re-created /cluster/id");
                self.recreate_topics().await?;
            }
            Some(id) if id != self.cluster_id => {
                return Err(ZkError::InconsistentClusterId {
                    zookeeper: id,
                    stored: self.cluster_id.clone(),
                });
            }
            Some(_) => {}
        }
        if !self.zk.broker_registered(self.broker.broker_id).await? {
            let epoch = self.zk.register_broker(&self.broker).await?;
            tracing::info!(
                broker_id = self.broker.broker_id,
                broker_epoch = epoch,
                "re-created the broker registration /brokers/ids/{}",
                self.broker.broker_id
            );
        }
        if !self.is_controller() {
            self.elect().await?;
        }
        self.apply_external_changes(changes).await
    }

    /// Writes every topic we know back into an emptied ZooKeeper.
    async fn recreate_topics(&self) -> Result<(), ZkError> {
        let topics = self.topics.lock().await;
        self.restore_topics(topics.values()).await
    }

    /// Puts topics this broker holds back into a ZooKeeper that lost the
    /// cluster state, with their ids, partition counts and configs; one WARN
    /// line per topic. Both ways of finding the loss (at start-up, and in a
    /// running session) end here.
    async fn restore_topics<'a>(
        &self,
        topics: impl Iterator<Item = &'a TopicMetadata>,
    ) -> Result<(), ZkError> {
        for topic in topics {
            match self
                .zk
                .create_topic(
                    &to_zk(topic),
                    self.broker.broker_id,
                    self.epoch_for_writes(),
                )
                .await
            {
                Ok(()) => {
                    tracing::warn!(topic = %topic.name, partitions = topic.partitions, topic_id = %topic.topic_id, configs = ?topic.configs, "ZooKeeper lost the cluster state: restored topic {} in ZooKeeper", topic.name);
                }
                Err(ZkError::NodeExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The local copy of the topics as ZooKeeper last had them (first log
    /// dir), from which a ZooKeeper that lost the cluster state is restored
    /// at start-up. Empty when missing or unreadable (logged).
    fn read_mirror(&self) -> BTreeMap<String, TopicMetadata> {
        let Some(dir) = self.log_dirs.first() else {
            return BTreeMap::new();
        };
        let path = dir.join(TOPICS_MIRROR_FILE);
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                serde_json::from_slice::<Vec<TopicMetadata>>(&b).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(topics) => topics.into_iter().map(|t| (t.name.clone(), t)).collect(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "no readable copy of the topics ZooKeeper lost; their logs are kept, but the topics must be re-created by hand");
                BTreeMap::new()
            }
        }
    }

    /// Rewrites the local copy after the topics changed (atomically; off the
    /// reactor's other tasks).
    fn save_mirror(&self, topics: &BTreeMap<String, TopicMetadata>) {
        let Some(dir) = self.log_dirs.first() else {
            return;
        };
        let path = dir.join(TOPICS_MIRROR_FILE);
        let list: Vec<&TopicMetadata> = topics.values().collect();
        let result = serde_json::to_vec_pretty(&list)
            .map_err(|e| MetadataError::Storage(e.to_string()))
            .and_then(|bytes| {
                tokio::task::block_in_place(|| super::standalone::write_atomically(&path, &bytes))
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the local copy of the topics");
        }
    }

    /// Reads the topics from ZooKeeper and emits what other writers changed
    /// (created, re-partitioned, re-configured, deleted) on `changes`.
    async fn apply_external_changes(
        &self,
        changes: &mpsc::Sender<TopicChange>,
    ) -> Result<(), ZkError> {
        // The receiver is gone only at shutdown; nothing is left to apply.
        let emit = |change| async move {
            let _ = changes.send(change).await;
        };
        let mut known = self.topics.lock().await;
        for topic in self.finish_pending_deletions().await? {
            known.remove(&topic);
            emit(TopicChange::Deleted(topic)).await;
        }
        let fresh: BTreeMap<String, TopicMetadata> = self
            .zk
            .get_all_topics(self.broker.broker_id)
            .await?
            .into_iter()
            .map(|t| (t.name.clone(), TopicMetadata::from(t)))
            .collect();
        for (name, old) in known.iter() {
            if !fresh.contains_key(name) {
                tracing::info!(topic = %name, topic_id = %old.topic_id, "topic deleted in ZooKeeper by another writer; deleting it here");
                emit(TopicChange::Deleted(name.clone())).await;
            }
        }
        for (name, topic) in &fresh {
            let old = known.get(name);
            if old == Some(topic) {
                continue;
            }
            let recreated = old.is_some_and(|o| o.topic_id != topic.topic_id);
            if recreated {
                tracing::info!(topic = %name, "topic re-created in ZooKeeper with a new topic id; replacing it here");
                emit(TopicChange::Deleted(name.clone())).await;
            }
            tracing::info!(topic = %name, partitions = topic.partitions, configs = ?topic.configs, "applying topic from ZooKeeper");
            emit(if old.is_none() || recreated {
                TopicChange::Created(topic.clone())
            } else {
                TopicChange::Altered(topic.clone())
            })
            .await;
        }
        *known = fresh;
        self.save_mirror(&known);
        Ok(())
    }
}

impl From<ZkTopic> for TopicMetadata {
    fn from(t: ZkTopic) -> Self {
        TopicMetadata {
            name: t.name,
            topic_id: t.topic_id,
            partitions: t.partitions,
            configs: t.configs,
        }
    }
}

/// The znode view of a topic.
fn to_zk(t: &TopicMetadata) -> ZkTopic {
    ZkTopic {
        name: t.name.clone(),
        topic_id: t.topic_id,
        partitions: t.partitions,
        configs: t.configs.clone(),
    }
}

fn log_zk_failure(what: &str, e: &ZkError) {
    if e.is_retriable() {
        tracing::debug!(error = %e, "{what}");
    } else {
        tracing::warn!(error = %e, "{what}");
    }
}

enum Fired {
    Controller,
    Topics,
    Retry,
}

#[async_trait]
impl MetadataStore for ZookeeperMetadataStore {
    fn cluster_id(&self) -> String {
        self.cluster_id.clone()
    }

    fn cluster_state_lost(&self) -> bool {
        self.state_lost_at_start
    }

    fn keeps_consumer_offsets(&self) -> bool {
        true
    }

    async fn commit_consumer_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), MetadataError> {
        Ok(self
            .zk
            .set_or_create_consumer_offset(group, topic, partition, offset)
            .await?)
    }

    async fn consumer_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, MetadataError> {
        Ok(self.zk.get_consumer_offset(group, topic, partition).await?)
    }

    async fn topics(&self) -> Result<Vec<TopicMetadata>, MetadataError> {
        let mut known = self.topics.lock().await;
        let fresh: Vec<TopicMetadata> = self
            .zk
            .get_all_topics(self.broker.broker_id)
            .await?
            .into_iter()
            .map(TopicMetadata::from)
            .collect();
        *known = fresh.iter().map(|t| (t.name.clone(), t.clone())).collect();
        self.save_mirror(&known);
        Ok(fresh)
    }

    async fn create_topic(&self, topic: &TopicMetadata) -> Result<(), MetadataError> {
        let mut known = self.topics.lock().await;
        match self
            .zk
            .create_topic(
                &to_zk(topic),
                self.broker.broker_id,
                self.epoch_for_writes(),
            )
            .await
        {
            Ok(()) => {}
            Err(ZkError::NodeExists(_)) => {
                return Err(MetadataError::TopicExists(topic.name.clone()))
            }
            Err(e) => return Err(e.into()),
        }
        known.insert(topic.name.clone(), topic.clone());
        self.save_mirror(&known);
        Ok(())
    }

    async fn delete_topic(&self, name: &str) -> Result<(), MetadataError> {
        let mut known = self.topics.lock().await;
        self.zk.delete_topic(name).await?;
        known.remove(name);
        self.save_mirror(&known);
        Ok(())
    }

    async fn entity_configs(&self) -> Result<super::EntityConfigs, MetadataError> {
        Ok(self.zk.get_entity_configs().await?)
    }

    async fn alter_entity_config(
        &self,
        path: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), MetadataError> {
        Ok(self.zk.alter_entity_config(path, set, remove).await?)
    }

    async fn update_topic(&self, topic: &TopicMetadata) -> Result<(), MetadataError> {
        let mut known = self.topics.lock().await;
        let old = match known.get(&topic.name) {
            Some(old) => old.clone(),
            None => match self
                .zk
                .get_topic(&topic.name, self.broker.broker_id)
                .await?
            {
                Some(old) => TopicMetadata::from(old),
                None => return Err(MetadataError::UnknownTopic(topic.name.clone())),
            },
        };
        if topic.partitions != old.partitions {
            self.zk
                .set_partition_count(
                    &to_zk(topic),
                    old.partitions,
                    self.broker.broker_id,
                    self.epoch_for_writes(),
                )
                .await?;
        }
        if topic.configs != old.configs {
            self.zk
                .set_topic_config(&topic.name, &topic.configs)
                .await?;
        }
        known.insert(topic.name.clone(), topic.clone());
        self.save_mirror(&known);
        Ok(())
    }
}
