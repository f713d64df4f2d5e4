//! The group coordinator (Kafka's `GroupCoordinator` + `GroupMetadataManager`):
//! consumer group membership and committed offsets for every group, all
//! coordinated by this broker.
//!
//! Owns the internal compacted topic `__consumer_offsets` (created on first
//! use with `offsets.topic.num.partitions` partitions). Committed offsets and
//! group metadata are written there as ordinary record batches through the
//! replica manager, in Kafka's record layouts ([`records`]), and replayed in
//! order at start-up ([`GroupCoordinator::load`]); until that finishes the
//! group APIs answer COORDINATOR_LOAD_IN_PROGRESS.
//!
//! Invariants:
//! - A change that must survive a restart (offsets, the leader's assignment,
//!   deletions) is appended before it is applied in memory or acknowledged.
//! - Writes for one `__consumer_offsets` partition are serialised by that
//!   partition's write lock, taken before the state lock, so the log order of
//!   a key's records is the order the changes were applied.
//! - The state lock is a plain mutex never held across `.await`; long-polling
//!   JoinGroup/SyncGroup wait on oneshot channels after releasing it.

pub mod group;
pub mod offsets;
pub mod records;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::Instrument;

use crate::config::BrokerConfig;
use crate::metadata::{MetadataError, MetadataStore, TopicMetadata};
use crate::records::Codec;
use crate::replica_manager::{ReplicaError, ReplicaManager};
use crate::util::now_ms;

use group::{
    Group, GroupConfig, GroupState, JoinOutcome, JoinRequest, JoinResult, SyncOutcome, SyncResult,
};
use offsets::{GroupOffsets, Replay};
use records::{OffsetValue, Record};

/// The internal topic holding offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How often session timeouts and rebalance deadlines are checked.
const TICK: Duration = Duration::from_millis(100);

/// Group coordinator errors; each is one Kafka error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoordinatorError {
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// OFFSET_METADATA_TOO_LARGE (12).
    #[error("offset metadata too large")]
    OffsetMetadataTooLarge,
    /// COORDINATOR_LOAD_IN_PROGRESS (14).
    #[error("coordinator is loading")]
    CoordinatorLoadInProgress,
    /// COORDINATOR_NOT_AVAILABLE (15).
    #[error("coordinator not available")]
    CoordinatorNotAvailable,
    /// NOT_COORDINATOR (16).
    #[error("not coordinator")]
    NotCoordinator,
    /// ILLEGAL_GENERATION (22).
    #[error("illegal generation")]
    IllegalGeneration,
    /// INCONSISTENT_GROUP_PROTOCOL (23).
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    /// INVALID_GROUP_ID (24).
    #[error("invalid group id")]
    InvalidGroupId,
    /// UNKNOWN_MEMBER_ID (25).
    #[error("unknown member id")]
    UnknownMemberId,
    /// INVALID_SESSION_TIMEOUT (26).
    #[error("invalid session timeout")]
    InvalidSessionTimeout,
    /// REBALANCE_IN_PROGRESS (27).
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// INVALID_COMMIT_OFFSET_SIZE (28).
    #[error("invalid commit offset size")]
    InvalidCommitOffsetSize,
    /// NON_EMPTY_GROUP (68).
    #[error("group is not empty")]
    NonEmptyGroup,
    /// GROUP_ID_NOT_FOUND (69).
    #[error("group id not found")]
    GroupIdNotFound,
    /// MEMBER_ID_REQUIRED (79).
    #[error("member id required")]
    MemberIdRequired,
    /// GROUP_MAX_SIZE_REACHED (81).
    #[error("group max size reached")]
    GroupMaxSizeReached,
    /// FENCED_INSTANCE_ID (82).
    #[error("fenced instance id")]
    FencedInstanceId,
    /// GROUP_SUBSCRIBED_TO_TOPIC (86).
    #[error("group subscribed to topic")]
    GroupSubscribedToTopic,
}

impl CoordinatorError {
    /// The Kafka error code.
    pub fn code(&self) -> i16 {
        use CoordinatorError::*;
        match self {
            UnknownTopicOrPartition => 3,
            OffsetMetadataTooLarge => 12,
            CoordinatorLoadInProgress => 14,
            CoordinatorNotAvailable => 15,
            NotCoordinator => 16,
            IllegalGeneration => 22,
            InconsistentGroupProtocol => 23,
            InvalidGroupId => 24,
            UnknownMemberId => 25,
            InvalidSessionTimeout => 26,
            RebalanceInProgress => 27,
            InvalidCommitOffsetSize => 28,
            NonEmptyGroup => 68,
            GroupIdNotFound => 69,
            MemberIdRequired => 79,
            GroupMaxSizeReached => 81,
            FencedInstanceId => 82,
            GroupSubscribedToTopic => 86,
        }
    }
}

type E = CoordinatorError;

/// What a failed append to `__consumer_offsets` answers the group's client,
/// as Kafka's `GroupMetadataManager` maps the log's error: a storage error
/// (a full or failed disk) is NOT_COORDINATOR, so clients look the
/// coordinator up again and retry; a too-large batch is
/// INVALID_COMMIT_OFFSET_SIZE; the rest COORDINATOR_NOT_AVAILABLE.
fn append_error(e: &ReplicaError) -> CoordinatorError {
    match e.kafka_error_code() {
        // NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR
        6 | 56 => E::NotCoordinator,
        // INVALID_FETCH_SIZE, MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE
        4 | 10 | 18 => E::InvalidCommitOffsetSize,
        _ => E::CoordinatorNotAvailable,
    }
}

/// Per topic, per partition, the outcome.
pub type PartitionResults = Vec<(String, Vec<(i32, Result<(), E>)>)>;

/// One partition's commit.
pub struct CommitPartition {
    /// The partition.
    pub partition: i32,
    /// The offset committed.
    pub offset: i64,
    /// Its leader epoch (-1 when unknown).
    pub leader_epoch: i32,
    /// The client's metadata string.
    pub metadata: Option<String>,
    /// The commit time OffsetCommit v1 may give; -1: the broker's clock.
    pub commit_timestamp: i64,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Default)]
pub struct GroupSummary {
    /// State string.
    pub state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// Selected protocol (Stable only).
    pub protocol: String,
    /// Members: (member id, instance id, client id, client host, metadata, assignment).
    pub members: Vec<MemberSummary>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Default)]
pub struct MemberSummary {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata of the selected protocol (Stable only).
    pub metadata: Bytes,
    /// Assignment (Stable only).
    pub assignment: Bytes,
}

#[derive(Default)]
struct State {
    groups: HashMap<String, Group>,
    offsets: HashMap<String, GroupOffsets>,
}

impl State {
    /// Drops a group that holds nothing (no members, offsets, or history).
    fn drop_if_vacant(&mut self, id: &str) {
        let vacant = self.groups.get(id).is_some_and(|g| {
            g.state == GroupState::Empty
                && g.members.is_empty()
                && g.generation == 0
                && !g.has_pending()
        });
        if vacant && self.offsets.get(id).is_none_or(|o| o.is_empty()) {
            self.groups.remove(id);
        }
    }
}

/// The group coordinator.
pub struct GroupCoordinator {
    config: Arc<BrokerConfig>,
    replica_manager: Arc<ReplicaManager>,
    metadata: Arc<dyn MetadataStore>,
    state: Mutex<State>,
    loaded: AtomicBool,
    write_locks: Vec<tokio::sync::Mutex<()>>,
    create_lock: tokio::sync::Mutex<()>,
}

impl GroupCoordinator {
    /// A coordinator that has not loaded yet.
    pub fn new(
        config: Arc<BrokerConfig>,
        replica_manager: Arc<ReplicaManager>,
        metadata: Arc<dyn MetadataStore>,
    ) -> Self {
        let locks = config.offsets_topic_num_partitions.clamp(1, 1000) as usize;
        GroupCoordinator {
            config,
            replica_manager,
            metadata,
            state: Mutex::new(State::default()),
            loaded: AtomicBool::new(false),
            write_locks: (0..locks).map(|_| tokio::sync::Mutex::new(())).collect(),
            create_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn group_config(&self) -> GroupConfig {
        GroupConfig {
            initial_rebalance_delay_ms: self.config.group_initial_rebalance_delay_ms,
            max_size: self.config.group_max_size,
        }
    }

    /// Whether `__consumer_offsets` has been replayed (the group APIs answer).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    fn check_loaded(&self) -> Result<(), E> {
        if self.loaded.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(E::CoordinatorLoadInProgress)
        }
    }

    /// Partitions of `__consumer_offsets`: the topic's if it exists, else the config's.
    fn offsets_partitions(&self) -> i32 {
        self.replica_manager
            .topic(OFFSETS_TOPIC)
            .map(|t| t.metadata.partitions)
            .unwrap_or(self.config.offsets_topic_num_partitions)
            .max(1)
    }

    /// The `__consumer_offsets` partition of a group.
    pub fn partition_for(&self, group: &str) -> i32 {
        records::partition_for(group, self.offsets_partitions())
    }

    async fn write_lock(&self, group: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let p = self.partition_for(group) as usize;
        let lock = &self.write_locks[p % self.write_locks.len()];
        lock.lock().await
    }

    /// Creates `__consumer_offsets` if it does not exist yet (Kafka creates it
    /// on the first FindCoordinator for a group).
    pub async fn ensure_offsets_topic(&self) -> Result<(), E> {
        if self.replica_manager.topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let _guard = self.create_lock.lock().await;
        if self.replica_manager.topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let mut configs = BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        // As Kafka: the coordinator chooses the codec
        // (`offsets.topic.compression.codec`), the broker's `compression.type`
        // is not applied to it.
        configs.insert("compression.type".to_string(), "producer".to_string());
        configs.insert(
            "segment.bytes".to_string(),
            self.config.offsets_topic_segment_bytes.to_string(),
        );
        let metadata = TopicMetadata {
            name: OFFSETS_TOPIC.to_string(),
            topic_id: uuid::Uuid::new_v4(),
            partitions: self.config.offsets_topic_num_partitions.max(1),
            configs,
        };
        let metadata = match self.metadata.create_topic(&metadata).await {
            Ok(()) => metadata,
            Err(MetadataError::TopicExists(_)) => match self.metadata.topics().await {
                Ok(topics) => match topics.into_iter().find(|t| t.name == OFFSETS_TOPIC) {
                    Some(t) => t,
                    None => return Err(E::CoordinatorNotAvailable),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "reading topics failed");
                    return Err(E::CoordinatorNotAvailable);
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "creating {OFFSETS_TOPIC} failed");
                return Err(E::CoordinatorNotAvailable);
            }
        };
        let rm = self.replica_manager.clone();
        let partitions = metadata.partitions;
        tokio::task::spawn_blocking(move || rm.install_topic(metadata))
            .await
            .map_err(|_| E::CoordinatorNotAvailable)?
            .map_err(|e| {
                tracing::warn!(error = %e, "opening {OFFSETS_TOPIC} failed");
                E::CoordinatorNotAvailable
            })?;
        tracing::info!(partitions, "created {OFFSETS_TOPIC}");
        Ok(())
    }

    /// Appends records of `group` to its `__consumer_offsets` partition.
    /// The caller holds the group's write lock.
    async fn append(&self, group: &str, records: &[Record]) -> Result<(), E> {
        if records.is_empty() {
            return Ok(());
        }
        self.ensure_offsets_topic().await?;
        let partition = self.partition_for(group);
        let batch = records::build_batch(records, now_ms(), self.offsets_codec());
        self.replica_manager
            .append(OFFSETS_TOPIC, partition, BytesMut::from(&batch[..]))
            .await
            .map(|_| ())
            .map_err(|e| {
                tracing::warn!(group, partition, error = %e, "writing to {OFFSETS_TOPIC} failed");
                append_error(&e)
            })
    }

    /// Persists the current metadata of `group` (or its tombstone if gone).
    async fn store_group(&self, group: &str) {
        let _w = self.write_lock(group).await;
        let value = self.state.lock().groups.get(group).map(Group::to_value);
        if let Err(e) = self.append(group, &[Record::group(group, value)]).await {
            tracing::warn!(group, error = %e, "storing group metadata failed");
        }
    }

    /// The codec of the batches the coordinator writes
    /// (`offsets.topic.compression.codec`, validated at start-up).
    fn offsets_codec(&self) -> Codec {
        i16::try_from(self.config.offsets_topic_compression_codec)
            .ok()
            .and_then(|id| Codec::from_id(id).ok())
            .unwrap_or(Codec::None)
    }

    /// A `__consumer_offsets` created before the topic carried
    /// `compression.type=producer` inherited the broker's codec, so the log
    /// recompressed the coordinator's batches. Sets the override Kafka
    /// creates the topic with; an operator's explicit value is kept. The
    /// loader reads batches of every codec either way.
    async fn upgrade_offsets_topic_config(&self) {
        let Some(topic) = self.replica_manager.topic(OFFSETS_TOPIC) else {
            return;
        };
        if topic.metadata.configs.contains_key("compression.type") {
            return;
        }
        let mut metadata = topic.metadata.clone();
        metadata
            .configs
            .insert("compression.type".to_string(), "producer".to_string());
        if let Err(e) = self.metadata.update_topic(&metadata).await {
            tracing::warn!(error = %e, "setting compression.type=producer on {OFFSETS_TOPIC} failed");
            return;
        }
        let rm = self.replica_manager.clone();
        match tokio::task::spawn_blocking(move || rm.install_topic(metadata)).await {
            Ok(Ok(())) => {
                tracing::info!(
                    "set compression.type=producer on {OFFSETS_TOPIC}, as Kafka creates it"
                )
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "applying compression.type=producer to {OFFSETS_TOPIC} failed")
            }
            Err(e) => {
                tracing::warn!(error = %e, "applying compression.type=producer to {OFFSETS_TOPIC} failed")
            }
        }
    }

    /// Replays `__consumer_offsets` (if it exists) and opens the coordinator.
    pub async fn load(&self) {
        let started = std::time::Instant::now();
        let mut replay = Replay::default();
        self.upgrade_offsets_topic_config().await;
        if let Some(topic) = self.replica_manager.topic(OFFSETS_TOPIC) {
            let rm = self.replica_manager.clone();
            let result = tokio::task::spawn_blocking(move || {
                let mut replay = Replay::default();
                let mut records = 0usize;
                for partition in &topic.partitions {
                    let mut offset = partition.offsets().log_start_offset;
                    loop {
                        let (offsets, data) = rm.read(partition, offset, 1 << 20, true);
                        let data = match data {
                            Ok(d) => d,
                            Err(e) => {
                                tracing::warn!(partition = partition.index, offset, error = %e, "reading {OFFSETS_TOPIC} failed; the rest of this partition is skipped");
                                break;
                            }
                        };
                        if data.is_empty() {
                            break;
                        }
                        let mut pos = 0usize;
                        let mut next = offset;
                        while let Some(rest) = data.get(pos..) {
                            let Ok(header) = crate::records::BatchHeader::parse(rest) else {
                                break;
                            };
                            let size = header.total_size();
                            if size == 0 || rest.len() < size {
                                break;
                            }
                            match records::batch_records(&rest[..size]) {
                                Ok(recs) => {
                                    for (_, k, v) in recs {
                                        match records::decode_record(&k, v.as_deref()) {
                                            Ok(r) => {
                                                records += 1;
                                                replay.apply(r);
                                            }
                                            Err(e) => tracing::warn!(partition = partition.index, error = %e, "skipping undecodable record"),
                                        }
                                    }
                                }
                                Err(e) => tracing::warn!(partition = partition.index, error = %e, "skipping batch"),
                            }
                            next = header.last_offset() + 1;
                            pos += size;
                        }
                        if next <= offset || next >= offsets.high_watermark {
                            break;
                        }
                        offset = next;
                    }
                }
                (replay, records)
            })
            .await;
            match result {
                Ok((r, n)) => {
                    replay = r;
                    tracing::info!(records = n, "replayed {OFFSETS_TOPIC}");
                }
                Err(e) => tracing::error!(error = %e, "loading {OFFSETS_TOPIC} failed"),
            }
        }
        let now = now_ms();
        let cfg = self.group_config();
        {
            let mut state = self.state.lock();
            for (id, value) in replay.groups {
                state
                    .groups
                    .insert(id.clone(), Group::from_value(&id, value, cfg, now));
            }
            for (id, offsets) in replay.offsets {
                state.groups.entry(id.clone()).or_insert_with(|| {
                    let mut g = Group::new(&id, cfg, now);
                    g.state_timestamp = None;
                    g
                });
                state.offsets.insert(id, offsets);
            }
            tracing::info!(
                groups = state.groups.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "group coordinator loaded"
            );
        }
        self.loaded.store(true, Ordering::Release);
    }

    /// Runs the session/rebalance timers and offset expiry until `shutdown`.
    pub async fn run_timers(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let retention_every = self.config.offsets_retention_check_interval_ms.max(1);
        let mut next_retention = now_ms() + retention_every;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if !self.loaded.load(Ordering::Acquire) {
                continue;
            }
            let now = now_ms();
            self.tick(now).await;
            if now >= next_retention {
                next_retention = now + retention_every;
                self.expire_offsets(now).await;
            }
        }
    }

    /// One pass of the group timers at `now`.
    pub async fn tick(&self, now: i64) {
        let to_store: Vec<String> = {
            let mut state = self.state.lock();
            let mut out = Vec::new();
            let ids: Vec<String> = state.groups.keys().cloned().collect();
            for id in ids {
                if let Some(g) = state.groups.get_mut(&id) {
                    if g.tick(now) {
                        out.push(id.clone());
                    }
                }
                state.drop_if_vacant(&id);
            }
            out
        };
        for id in to_store {
            self.store_group(&id).await;
        }
    }

    /// Deletes offsets of empty groups older than `offsets.retention.minutes`,
    /// and groups left with nothing.
    pub async fn expire_offsets(&self, now: i64) {
        let retention_ms = i64::from(self.config.offsets_retention_minutes) * 60_000;
        let candidates: Vec<String> = {
            let state = self.state.lock();
            state
                .groups
                .values()
                .filter(|g| g.is_empty())
                .map(|g| g.id.clone())
                .collect()
        };
        for id in candidates {
            let _w = self.write_lock(&id).await;
            let (expired, remove_group) = {
                let state = self.state.lock();
                let Some(g) = state.groups.get(&id) else {
                    continue;
                };
                if !g.is_empty() {
                    continue;
                }
                let empty = GroupOffsets::new();
                let offsets = state.offsets.get(&id).unwrap_or(&empty);
                let expired = offsets::expired(offsets, g.state_timestamp, retention_ms, now);
                let remove_group = expired.len() == offsets.len();
                (expired, remove_group)
            };
            if expired.is_empty() && !remove_group {
                continue;
            }
            let mut recs: Vec<Record> = expired
                .iter()
                .map(|(t, p)| Record::offset_tombstone(&id, t, *p))
                .collect();
            if remove_group {
                recs.push(Record::group(&id, None));
            }
            if self.append(&id, &recs).await.is_err() {
                continue;
            }
            let mut state = self.state.lock();
            if let Some(o) = state.offsets.get_mut(&id) {
                for k in &expired {
                    o.remove(k);
                }
            }
            if remove_group && state.groups.get(&id).is_some_and(Group::is_empty) {
                state.groups.remove(&id);
                state.offsets.remove(&id);
            }
            tracing::info!(group = %id, expired = expired.len(), removed_group = remove_group, "expired offsets");
        }
    }

    /// Answers every waiting JoinGroup/SyncGroup with NOT_COORDINATOR.
    pub fn shutdown(&self) {
        let mut state = self.state.lock();
        for g in state.groups.values_mut() {
            g.fail_all_waiters(E::NotCoordinator);
        }
    }

    /// JoinGroup.
    pub async fn join_group(&self, group_id: &str, req: JoinRequest) -> JoinResult {
        if let Err(e) = self.check_loaded() {
            return JoinResult::error(&req.member_id, e);
        }
        if group_id.is_empty() {
            return JoinResult::error(&req.member_id, E::InvalidGroupId);
        }
        if req.session_timeout_ms < self.config.group_min_session_timeout_ms
            || req.session_timeout_ms > self.config.group_max_session_timeout_ms
        {
            return JoinResult::error(&req.member_id, E::InvalidSessionTimeout);
        }
        let member_id = req.member_id.clone();
        let now = now_ms();
        let outcome = {
            let mut state = self.state.lock();
            let cfg = self.group_config();
            if !state.groups.contains_key(group_id) {
                if !member_id.is_empty() {
                    return JoinResult::error(&member_id, E::UnknownMemberId);
                }
                state
                    .groups
                    .insert(group_id.to_string(), Group::new(group_id, cfg, now));
            }
            let outcome = match state.groups.get_mut(group_id) {
                Some(g) => g.join(req, now),
                None => JoinOutcome::Now(JoinResult::error(&member_id, E::CoordinatorNotAvailable)),
            };
            state.drop_if_vacant(group_id);
            outcome
        };
        match outcome {
            JoinOutcome::Now(r) => r,
            JoinOutcome::NowAndStore(r) => {
                self.store_group(group_id).await;
                r
            }
            JoinOutcome::Wait(mut rx) => {
                if let Ok(r) = rx.try_recv() {
                    // This request completed the join phase: let the other
                    // members' connections, just woken, answer first (see
                    // `Group::try_complete_join`), so that followers send
                    // their SyncGroup before a fast leader can sync, revoke
                    // and rejoin (librdkafka's cooperative rebalance).
                    tokio::task::yield_now().await;
                    return r;
                }
                rx.await
                    .unwrap_or_else(|_| JoinResult::error(&member_id, E::CoordinatorNotAvailable))
            }
        }
    }

    /// SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub async fn sync_group(
        &self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        if let Err(e) = self.check_loaded() {
            return SyncResult::error(e);
        }
        if group_id.is_empty() {
            return SyncResult::error(E::InvalidGroupId);
        }
        let write = self.write_lock(group_id).await;
        let now = now_ms();
        let (outcome, value) = {
            let mut state = self.state.lock();
            let Some(g) = state.groups.get_mut(group_id) else {
                return SyncResult::error(E::UnknownMemberId);
            };
            let outcome = g.sync(
                member_id,
                instance,
                generation,
                protocol_type,
                protocol_name,
                assignments,
                now,
            );
            let value = match &outcome {
                SyncOutcome::Store(_, map) => Some(g.value_with_assignments(map)),
                _ => None,
            };
            (outcome, value)
        };
        let rx = match outcome {
            SyncOutcome::Now(r) => return r,
            SyncOutcome::Wait(rx) => {
                drop(write);
                rx
            }
            SyncOutcome::Store(rx, map) => {
                let stored = self
                    .append(group_id, &[Record::group(group_id, value)])
                    .await;
                let mut state = self.state.lock();
                if let Some(g) = state.groups.get_mut(group_id) {
                    g.complete_sync(generation, map, stored, now_ms());
                }
                drop(state);
                drop(write);
                rx
            }
        };
        rx.await
            .unwrap_or_else(|_| SyncResult::error(E::CoordinatorNotAvailable))
    }

    /// Heartbeat.
    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), E> {
        self.check_loaded()?;
        if group_id.is_empty() {
            return Err(E::InvalidGroupId);
        }
        let mut state = self.state.lock();
        match state.groups.get_mut(group_id) {
            Some(g) => g.heartbeat(member_id, instance, generation, now_ms()),
            None => Err(E::UnknownMemberId),
        }
    }

    /// LeaveGroup of several members: one result per member.
    pub async fn leave_group(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Result<(), E>>, E> {
        self.check_loaded()?;
        if group_id.is_empty() {
            return Err(E::InvalidGroupId);
        }
        let now = now_ms();
        let (results, became_empty) = {
            let mut state = self.state.lock();
            let Some(g) = state.groups.get_mut(group_id) else {
                return Ok(members.iter().map(|_| Err(E::UnknownMemberId)).collect());
            };
            let mut empty = false;
            let results = members
                .iter()
                .map(|(m, i)| {
                    g.leave(m, i.as_deref(), now).map(|e| {
                        empty |= e;
                    })
                })
                .collect();
            (results, empty)
        };
        if became_empty {
            self.store_group(group_id).await;
        }
        Ok(results)
    }

    /// OffsetCommit: per topic, per partition, the result.
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
        topics: Vec<(String, Vec<CommitPartition>)>,
    ) -> PartitionResults {
        let fail_all = |topics: Vec<(String, Vec<CommitPartition>)>, e: E| {
            topics
                .into_iter()
                .map(|(t, ps)| {
                    (
                        t,
                        ps.into_iter()
                            .map(|p| (p.partition, Err(e.clone())))
                            .collect(),
                    )
                })
                .collect()
        };
        if let Err(e) = self.check_loaded() {
            return fail_all(topics, e);
        }
        if group_id.is_empty() {
            return fail_all(topics, E::InvalidGroupId);
        }
        let _write = self.write_lock(group_id).await;
        let now = now_ms();
        let max_meta = usize::try_from(self.config.offset_metadata_max_bytes).unwrap_or(0);
        let mut results: PartitionResults = Vec::new();
        let mut records = Vec::new();
        let mut pending: Vec<((String, i32), OffsetValue)> = Vec::new();
        {
            let mut state = self.state.lock();
            let cfg = self.group_config();
            if !state.groups.contains_key(group_id) {
                if generation >= 0 {
                    return fail_all(topics, E::IllegalGeneration);
                }
                let g = Group::new(group_id, cfg, now);
                state.groups.insert(group_id.to_string(), g);
            }
            let check = match state.groups.get_mut(group_id) {
                Some(g) => g.check_commit(member_id, instance, generation, now),
                None => Err(E::CoordinatorNotAvailable),
            };
            if let Err(e) = check {
                state.drop_if_vacant(group_id);
                return fail_all(topics, e);
            }
            for (topic, partitions) in topics {
                let known = self.replica_manager.topic(&topic);
                let mut out = Vec::with_capacity(partitions.len());
                for CommitPartition {
                    partition,
                    offset,
                    leader_epoch: epoch,
                    metadata,
                    commit_timestamp,
                } in partitions
                {
                    if known
                        .as_ref()
                        .and_then(|t| t.partition(partition))
                        .is_none()
                    {
                        out.push((partition, Err(E::UnknownTopicOrPartition)));
                        continue;
                    }
                    let metadata = metadata.unwrap_or_default();
                    if metadata.len() > max_meta {
                        out.push((partition, Err(E::OffsetMetadataTooLarge)));
                        continue;
                    }
                    let value = OffsetValue {
                        offset,
                        leader_epoch: epoch,
                        metadata,
                        commit_timestamp: if commit_timestamp == -1 {
                            now
                        } else {
                            commit_timestamp
                        },
                    };
                    records.push(Record::offset(group_id, &topic, partition, value.clone()));
                    pending.push(((topic.clone(), partition), value));
                    out.push((partition, Ok(())));
                }
                results.push((topic, out));
            }
        }
        if let Err(e) = self.append(group_id, &records).await {
            for (_, ps) in &mut results {
                for (_, r) in ps.iter_mut() {
                    if r.is_ok() {
                        *r = Err(e.clone());
                    }
                }
            }
            self.state.lock().drop_if_vacant(group_id);
            return results;
        }
        let mut state = self.state.lock();
        let offsets = state.offsets.entry(group_id.to_string()).or_default();
        for (k, v) in pending {
            offsets.insert(k, v);
        }
        state.drop_if_vacant(group_id);
        results
    }

    /// OffsetFetch of one group: `None` topics means every committed offset.
    #[allow(clippy::type_complexity)]
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, Vec<(i32, Option<OffsetValue>)>)>, E> {
        self.check_loaded()?;
        let state = self.state.lock();
        let empty = GroupOffsets::new();
        let offsets = state.offsets.get(group_id).unwrap_or(&empty);
        Ok(match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(t, ps)| {
                    let parts = ps
                        .into_iter()
                        .map(|p| (p, offsets.get(&(t.clone(), p)).cloned()))
                        .collect();
                    (t, parts)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, Vec<(i32, Option<OffsetValue>)>> =
                    BTreeMap::new();
                for ((t, p), v) in offsets {
                    by_topic
                        .entry(t.clone())
                        .or_default()
                        .push((*p, Some(v.clone())));
                }
                by_topic.into_iter().collect()
            }
        })
    }

    /// DescribeGroups of one group (an unknown group is Dead, as in Kafka).
    pub fn describe_group(&self, group_id: &str) -> Result<GroupSummary, E> {
        self.check_loaded()?;
        let state = self.state.lock();
        let Some(g) = state.groups.get(group_id) else {
            return Ok(GroupSummary {
                state: GroupState::Dead.as_str().to_string(),
                ..Default::default()
            });
        };
        let stable = g.state == GroupState::Stable;
        let protocol = if stable {
            g.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        Ok(GroupSummary {
            state: g.state.as_str().to_string(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            members: g
                .members
                .values()
                .map(|m| MemberSummary {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// ListGroups: (group id, protocol type, state), filtered by state names (case-insensitive).
    pub fn list_groups(&self, states: &[String]) -> Result<Vec<(String, String, String)>, E> {
        self.check_loaded()?;
        let state = self.state.lock();
        let mut out: Vec<(String, String, String)> = state
            .groups
            .values()
            .filter(|g| g.state != GroupState::Dead)
            .filter(|g| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.as_str()))
            })
            .map(|g| {
                (
                    g.id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state.as_str().to_string(),
                )
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// DeleteGroups of one group: only an Empty group can be deleted.
    pub async fn delete_group(&self, group_id: &str) -> Result<(), E> {
        self.check_loaded()?;
        let _write = self.write_lock(group_id).await;
        let recs = {
            let state = self.state.lock();
            let Some(g) = state.groups.get(group_id) else {
                return Err(E::GroupIdNotFound);
            };
            match g.state {
                GroupState::Dead => return Err(E::GroupIdNotFound),
                GroupState::Empty => {}
                _ => return Err(E::NonEmptyGroup),
            }
            let mut recs: Vec<Record> = state
                .offsets
                .get(group_id)
                .map(|o| {
                    o.keys()
                        .map(|(t, p)| Record::offset_tombstone(group_id, t, *p))
                        .collect()
                })
                .unwrap_or_default();
            recs.push(Record::group(group_id, None));
            recs
        };
        self.append(group_id, &recs).await?;
        let mut state = self.state.lock();
        if let Some(mut g) = state.groups.remove(group_id) {
            g.state = GroupState::Dead;
            g.fail_all_waiters(E::CoordinatorNotAvailable);
        }
        state.offsets.remove(group_id);
        tracing::info!(group = group_id, "deleted group");
        Ok(())
    }

    /// OffsetDelete: per topic, per partition, the result.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        topics: Vec<(String, Vec<i32>)>,
    ) -> Result<PartitionResults, E> {
        self.check_loaded()?;
        let _write = self.write_lock(group_id).await;
        let mut results = Vec::new();
        let mut deleted = Vec::new();
        {
            let state = self.state.lock();
            let Some(g) = state.groups.get(group_id) else {
                return Err(E::GroupIdNotFound);
            };
            if g.state == GroupState::Dead {
                return Err(E::GroupIdNotFound);
            }
            let subscribed = if g.is_empty() {
                Vec::new()
            } else {
                match g.subscribed_topics() {
                    Some(t) => t,
                    None => return Err(E::NonEmptyGroup),
                }
            };
            for (topic, partitions) in topics {
                let known = self.replica_manager.topic(&topic);
                let out = partitions
                    .into_iter()
                    .map(|p| {
                        if known.as_ref().and_then(|t| t.partition(p)).is_none() {
                            (p, Err(E::UnknownTopicOrPartition))
                        } else if subscribed.contains(&topic) {
                            (p, Err(E::GroupSubscribedToTopic))
                        } else {
                            deleted.push((topic.clone(), p));
                            (p, Ok(()))
                        }
                    })
                    .collect();
                results.push((topic, out));
            }
        }
        let recs: Vec<Record> = deleted
            .iter()
            .map(|(t, p)| Record::offset_tombstone(group_id, t, *p))
            .collect();
        self.append(group_id, &recs).await?;
        let mut state = self.state.lock();
        if let Some(o) = state.offsets.get_mut(group_id) {
            for k in &deleted {
                o.remove(k);
            }
        }
        Ok(results)
    }

    /// Starts loading in the background and the timer task; both stop at `shutdown`.
    pub fn spawn(
        self: &Arc<Self>,
        tasks: &mut tokio::task::JoinSet<()>,
        shutdown: watch::Receiver<bool>,
    ) {
        let this = self.clone();
        tasks.spawn(
            async move {
                this.load().await;
                this.run_timers(shutdown).await;
            }
            .instrument(tracing::info_span!("group-coordinator")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_match_kafka() {
        assert_eq!(E::CoordinatorLoadInProgress.code(), 14);
        assert_eq!(E::MemberIdRequired.code(), 79);
        assert_eq!(E::FencedInstanceId.code(), 82);
        assert_eq!(E::GroupMaxSizeReached.code(), 81);
    }

    #[test]
    fn failed_offset_appends_map_as_kafkas_group_metadata_manager() {
        let storage = ReplicaError::Log(crate::log::LogError::Io {
            path: "x".into(),
            source: std::io::Error::other("No space left on device"),
        });
        assert_eq!(append_error(&storage), E::NotCoordinator);
        assert_eq!(append_error(&storage).code(), 16);
        let unknown = ReplicaError::UnknownTopicOrPartition(OFFSETS_TOPIC.into(), 0);
        assert_eq!(append_error(&unknown), E::CoordinatorNotAvailable);
        assert_eq!(E::InvalidCommitOffsetSize.code(), 28);
    }
}
