//! The replica manager owns every partition this broker hosts (as the single
//! replica and leader) and is the only way requests reach a log: Produce
//! appends through [`ReplicaManager::append`], Fetch reads through
//! [`ReplicaManager::read`], and long-polling fetches wait on
//! [`ReplicaManager::subscribe_appends`].
//!
//! Invariants:
//! - The topic map is copy-on-write ([`ArcSwap`]): the produce and fetch paths
//!   take no lock shared by all partitions, only the one partition's log lock.
//! - With a single replica the high watermark is the log end offset, and the
//!   last stable offset equals the high watermark (no transactions yet).
//! - Log I/O runs on the blocking pool, never on a reactor thread.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::log::manager::LogManager;
use crate::log::{AppendInfo, FileRecords, Log, LogConfig, LogError, PendingSync};
use crate::metadata::TopicMetadata;
use crate::util::now_ms;

/// The leader epoch of every partition: a single broker is the one leader
/// there has ever been.
pub const LEADER_EPOCH: i32 = 0;

/// One partition hosted here.
pub struct Partition {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition index.
    pub index: i32,
    log: RwLock<Log>,
}

impl Partition {
    /// This broker leads the partition in [`LEADER_EPOCH`] from the log end on
    /// (Kafka's `makeLeader` assigning the epoch's start offset).
    fn new(topic: &str, index: i32, mut log: Log) -> Arc<Partition> {
        let end = log.log_end_offset();
        if let Err(e) = log.assign_leader_epoch(LEADER_EPOCH, end) {
            tracing::warn!(topic, partition = index, error = %e, "cannot write the leader epoch checkpoint");
        }
        Arc::new(Partition {
            topic: Arc::from(topic),
            index,
            log: RwLock::new(log),
        })
    }

    /// Log start offset, high watermark (= log end offset) and last stable offset.
    pub fn offsets(&self) -> PartitionOffsets {
        PartitionOffsets::of(&self.log.read())
    }

    /// [`Partition::offsets`], or `None` when the log's lock is held now
    /// (for callers on an async worker, which must not wait for an append).
    pub fn try_offsets(&self) -> Option<PartitionOffsets> {
        self.log.try_read().map(|log| PartitionOffsets::of(&log))
    }

    /// Runs `f` with shared access to the log (reads, offset lookups).
    pub fn with_log<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.log.read())
    }
}

impl AsRef<RwLock<Log>> for Partition {
    /// The log's lock, for the retention task and the log cleaner (which take
    /// the write lock only for brief segment-list swaps).
    fn as_ref(&self) -> &RwLock<Log> {
        &self.log
    }
}

/// Offsets a Fetch or ListOffsets response reports.
#[derive(Clone, Copy, Debug)]
pub struct PartitionOffsets {
    /// First offset still in the log.
    pub log_start_offset: i64,
    /// High watermark: the next offset to be written (single replica).
    pub high_watermark: i64,
    /// Last stable offset: the high watermark while no transaction is open.
    pub last_stable_offset: i64,
}

impl PartitionOffsets {
    /// The offsets of `log` as it is now (single replica, no transactions).
    fn of(log: &Log) -> PartitionOffsets {
        let end = log.log_end_offset();
        PartitionOffsets {
            log_start_offset: log.log_start_offset(),
            high_watermark: end,
            last_stable_offset: end,
        }
    }
}

/// The fsync an append still owes before it may be acknowledged
/// (`flush.messages`/`flush.ms`), already running; nothing when the topic
/// asks for none.
#[must_use = "an append is acknowledged only after its Durable is waited on"]
pub struct Durable(Option<tokio::sync::oneshot::Receiver<Result<(), LogError>>>);

impl Durable {
    /// Whether an fsync is still owed.
    pub fn is_owed(&self) -> bool {
        self.0.is_some()
    }

    /// Waits until the append is on disk.
    pub async fn wait(self) -> Result<(), ReplicaError> {
        match self.0 {
            None => Ok(()),
            Some(wait) => wait
                .await
                .map_err(|_| ReplicaError::Task("the fsync thread is gone".into()))?
                .map_err(Into::into),
        }
    }
}

/// A topic and its partitions.
pub struct Topic {
    /// What the metadata store holds for it.
    pub metadata: TopicMetadata,
    /// Partitions, indexed by partition number.
    pub partitions: Vec<Arc<Partition>>,
}

impl Topic {
    /// The partition with this index, if it exists.
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// Errors of the replica manager, mapped to Kafka error codes at the protocol edge.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// No such topic or partition here.
    #[error("unknown topic or partition {0}-{1}")]
    UnknownTopicOrPartition(String, i32),
    /// The log refused or failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The blocking task running the log I/O died.
    #[error("log task failed: {0}")]
    Task(String),
}

impl ReplicaError {
    /// The Kafka error code for this error.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            ReplicaError::UnknownTopicOrPartition(..) => 3,
            ReplicaError::Log(e) => e.kafka_error_code(),
            ReplicaError::Task(_) => 56,
        }
    }
}

/// Owner of all partitions on this broker.
pub struct ReplicaManager {
    config: Arc<BrokerConfig>,
    log_manager: Arc<LogManager>,
    topics: ArcSwap<HashMap<String, Arc<Topic>>>,
    /// Serialises topic changes (create, delete, add partitions, configs).
    change_lock: Mutex<()>,
    appends: watch::Sender<u64>,
    /// Where appends hand the fsyncs they owe (group commit).
    fsyncs: std::sync::mpsc::Sender<FsyncJob>,
}

/// An fsync owed by an append, and whom to tell when it is done.
struct FsyncJob {
    sync: PendingSync,
    partition: Arc<Partition>,
    done: tokio::sync::oneshot::Sender<Result<(), LogError>>,
}

/// The fsync thread: takes every fsync owed so far, runs them one after the
/// other (one per log at most: a later one finds itself covered by the
/// first), answers them all, and starts over with what came meanwhile. One
/// thread for all logs keeps the fsyncs of concurrent producers grouped
/// instead of queued one per batch on the blocking pool.
fn run_fsyncs(jobs: std::sync::mpsc::Receiver<FsyncJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        for job in batch {
            let result = job.sync.sync().map(|end| {
                job.partition.log.read().mark_flushed(end);
            });
            let _ = job.done.send(result);
        }
    }
}

impl ReplicaManager {
    /// A replica manager over `log_manager` with no partitions yet.
    pub fn new(config: Arc<BrokerConfig>, log_manager: Arc<LogManager>) -> Self {
        let (fsyncs, jobs) = std::sync::mpsc::channel();
        if let Err(e) = std::thread::Builder::new()
            .name("strom-fsync".into())
            .spawn(move || run_fsyncs(jobs))
        {
            // Appends that owe an fsync then fail with an I/O error.
            tracing::error!(error = %e, "cannot start the fsync thread");
        }
        ReplicaManager {
            config,
            log_manager,
            topics: ArcSwap::from_pointee(HashMap::new()),
            change_lock: Mutex::new(()),
            appends: watch::channel(0).0,
            fsyncs,
        }
    }

    /// The broker configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The log manager.
    pub fn log_manager(&self) -> &Arc<LogManager> {
        &self.log_manager
    }

    /// A snapshot of every topic.
    pub fn topics(&self) -> Arc<HashMap<String, Arc<Topic>>> {
        self.topics.load_full()
    }

    /// One topic by name.
    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.load().get(name).cloned()
    }

    /// One topic by id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics
            .load()
            .values()
            .find(|t| t.metadata.topic_id == id)
            .cloned()
    }

    /// Every partition hosted here: (topic, partition index, partition).
    pub fn all_partitions(&self) -> Vec<(String, i32, Arc<Partition>)> {
        let topics = self.topics.load();
        let mut out = Vec::new();
        for (name, topic) in topics.iter() {
            for p in &topic.partitions {
                out.push((name.clone(), p.index, p.clone()));
            }
        }
        out
    }

    /// DeleteRecords for one partition: moves the log start offset to
    /// `offset` (-1 = high watermark) and checkpoints it. Returns the new
    /// low watermark.
    pub async fn delete_records(
        &self,
        topic: &str,
        index: i32,
        offset: i64,
    ) -> Result<i64, ReplicaError> {
        let partition = self.partition(topic, index)?;
        let low = tokio::task::spawn_blocking(move || {
            partition.log.write().delete_records_before(offset)
        })
        .await
        .map_err(|e| ReplicaError::Task(e.to_string()))??;
        let entries = self.checkpoint_entries();
        let log_manager = self.log_manager.clone();
        tokio::task::spawn_blocking(move || log_manager.checkpoint(&entries))
            .await
            .map_err(|e| ReplicaError::Task(e.to_string()))??;
        Ok(low)
    }

    /// One partition.
    pub fn partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ReplicaError> {
        self.topic(topic)
            .and_then(|t| t.partition(index).cloned())
            .ok_or_else(|| ReplicaError::UnknownTopicOrPartition(topic.to_string(), index))
    }

    /// Log settings of a topic from its overrides and the broker defaults.
    pub fn log_config_for(&self, metadata: &TopicMetadata) -> Result<LogConfig, ReplicaError> {
        self.config.log_config(&metadata.configs).map_err(|e| {
            ReplicaError::Log(LogError::InvalidRecord(format!(
                "topic {} has an invalid config: {e}",
                metadata.name
            )))
        })
    }

    /// Start-up: opens (recovering where needed) every partition of `topics`
    /// on `threads` threads, then makes them all visible at once. Kafka's
    /// `num.recovery.threads.per.data.dir` times the log dirs sets `threads`.
    pub fn load_topics(
        &self,
        topics: &[TopicMetadata],
        threads: usize,
    ) -> Result<(), ReplicaError> {
        let _guard = self.change_lock.lock();
        let configs = topics
            .iter()
            .map(|t| self.log_config_for(t))
            .collect::<Result<Vec<_>, _>>()?;
        let work: Vec<(usize, i32)> = topics
            .iter()
            .enumerate()
            .flat_map(|(t, m)| (0..m.partitions).map(move |p| (t, p)))
            .collect();
        let open_one = |&(t, index): &(usize, i32)| -> Result<Arc<Partition>, ReplicaError> {
            let (metadata, config) = topics
                .get(t)
                .zip(configs.get(t))
                .ok_or_else(|| ReplicaError::Task("topic index out of range".into()))?;
            let log = self.log_manager.open_log(
                &metadata.name,
                index,
                metadata.topic_id,
                config.clone(),
                now_ms(),
            )?;
            Ok(Partition::new(&metadata.name, index, log))
        };
        let opened = crate::util::on_threads(&work, threads, open_one)
            .ok_or_else(|| ReplicaError::Task("a log recovery thread panicked".into()))?;
        let mut partitions: Vec<Vec<Arc<Partition>>> = vec![Vec::new(); topics.len()];
        for ((t, _), partition) in work.iter().zip(opened) {
            if let Some(list) = partitions.get_mut(*t) {
                list.push(partition?);
            }
        }
        let mut next_map = HashMap::clone(&self.topics.load());
        for (metadata, partitions) in topics.iter().zip(partitions) {
            next_map.insert(
                metadata.name.clone(),
                Arc::new(Topic {
                    metadata: metadata.clone(),
                    partitions,
                }),
            );
        }
        self.topics.store(Arc::new(next_map));
        Ok(())
    }

    /// [`install_topic`](Self::install_topic) on the blocking pool: opening
    /// and creating log files never runs on a reactor thread.
    pub async fn install_topic_async(
        self: &Arc<Self>,
        metadata: TopicMetadata,
    ) -> Result<(), ReplicaError> {
        let rm = self.clone();
        tokio::task::spawn_blocking(move || rm.install_topic(metadata))
            .await
            .map_err(|e| ReplicaError::Task(e.to_string()))?
    }

    /// [`remove_topic`](Self::remove_topic) on the blocking pool: closing
    /// and deleting log files never runs on a reactor thread.
    pub async fn remove_topic_async(self: &Arc<Self>, name: &str) -> Result<(), ReplicaError> {
        let rm = self.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || rm.remove_topic(&name))
            .await
            .map_err(|e| ReplicaError::Task(e.to_string()))?
    }

    /// Opens (creating when missing) the logs of `metadata`'s partitions and
    /// makes the topic visible, or updates an existing topic: new partitions
    /// are opened, configs are applied to live logs. Blocking file I/O: call
    /// it from the blocking pool, or use [`install_topic_async`](Self::install_topic_async).
    pub fn install_topic(&self, metadata: TopicMetadata) -> Result<(), ReplicaError> {
        let _guard = self.change_lock.lock();
        let log_config = self.log_config_for(&metadata)?;
        let existing = self.topic(&metadata.name);
        let mut partitions = Vec::new();
        for index in 0..metadata.partitions {
            let reuse = existing
                .as_ref()
                .filter(|t| t.metadata.topic_id == metadata.topic_id)
                .and_then(|t| t.partition(index).cloned());
            let partition = match reuse {
                Some(p) => {
                    p.log.write().update_config(log_config.clone());
                    p
                }
                None => {
                    let log = self.log_manager.open_log(
                        &metadata.name,
                        index,
                        metadata.topic_id,
                        log_config.clone(),
                        now_ms(),
                    )?;
                    Partition::new(&metadata.name, index, log)
                }
            };
            partitions.push(partition);
        }
        let mut next = HashMap::clone(&self.topics.load());
        next.insert(
            metadata.name.clone(),
            Arc::new(Topic {
                metadata,
                partitions,
            }),
        );
        self.topics.store(Arc::new(next));
        Ok(())
    }

    /// Removes a topic and deletes its logs. Blocking file I/O: call it from
    /// the blocking pool, or use [`remove_topic_async`](Self::remove_topic_async).
    pub fn remove_topic(&self, name: &str) -> Result<(), ReplicaError> {
        let _guard = self.change_lock.lock();
        let mut next = HashMap::clone(&self.topics.load());
        let Some(topic) = next.remove(name) else {
            return Ok(());
        };
        self.topics.store(Arc::new(next));
        for partition in &topic.partitions {
            // In-flight readers may still hold the partition: close and
            // delete through the log manager, which renames the directory
            // first so nothing reads a half-deleted log under its old name.
            let mut log = partition.log.write();
            let dir = log.dir().to_path_buf();
            if let Err(e) = log.close() {
                tracing::warn!(topic = name, partition = partition.index, error = %e, "closing log of deleted topic");
            }
            drop(log);
            if let Err(e) = delete_partition_dir(&dir) {
                tracing::warn!(topic = name, partition = partition.index, error = %e, "deleting log of deleted topic");
            }
        }
        Ok(())
    }

    /// Appends record batches to one partition (validation, offset
    /// assignment, fsync per `flush.messages`) on the blocking pool, and
    /// returns once the append is as durable as the topic asks.
    pub async fn append(
        &self,
        topic: &str,
        index: i32,
        records: impl Into<Bytes>,
    ) -> Result<AppendInfo, ReplicaError> {
        let (info, durable) = self.append_deferred(topic, index, records).await?;
        durable.wait().await?;
        Ok(info)
    }

    /// Like [`ReplicaManager::append`], but returns as soon as the batches
    /// are in the log (visible to fetchers), with the fsync that
    /// `flush.messages`/`flush.ms` still owe before the append may be
    /// acknowledged already started in the background. Appends to a
    /// partition happen in call order; only the wait for their fsync can
    /// overlap the next append (group commit across pipelined requests).
    pub async fn append_deferred(
        &self,
        topic: &str,
        index: i32,
        records: impl Into<Bytes>,
    ) -> Result<(AppendInfo, Durable), ReplicaError> {
        self.append_many_deferred(vec![(topic.to_string(), index, records.into())])
            .await
            .pop()
            .unwrap_or_else(|| Err(ReplicaError::Task("append returned no result".into())))
    }

    /// [`ReplicaManager::append_deferred`] of several partitions' records, in
    /// order, in one trip to the blocking pool (a Produce request's
    /// partitions): one result per append, in the same order.
    pub async fn append_many_deferred(
        &self,
        appends: Vec<(String, i32, Bytes)>,
    ) -> Vec<Result<(AppendInfo, Durable), ReplicaError>> {
        let count = appends.len();
        let work: Vec<Result<(Arc<Partition>, Bytes), ReplicaError>> = appends
            .into_iter()
            .map(|(topic, index, records)| Ok((self.partition(&topic, index)?, records)))
            .collect();
        let done = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|item| {
                    let (partition, records) = item?;
                    let (info, sync) = partition
                        .log
                        .write()
                        .append_with_deferred_sync(records, now_ms())?;
                    Ok((info, sync.map(|s| (s, partition))))
                })
                .collect::<Vec<Result<_, ReplicaError>>>()
        })
        .await;
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                return (0..count)
                    .map(|_| Err(ReplicaError::Task(e.to_string())))
                    .collect()
            }
        };
        if done.iter().any(Result::is_ok) {
            self.appends.send_modify(|n| *n = n.wrapping_add(1));
        }
        done.into_iter()
            .map(|r| {
                r.map(|(info, sync)| {
                    let durable =
                        Durable(sync.map(|(sync, partition)| self.owe_fsync(sync, partition)));
                    (info, durable)
                })
            })
            .collect()
    }

    /// Hands an owed fsync to the fsync thread; the receiver says when it is
    /// done (or, when the fsync thread is gone, that it never will be).
    fn owe_fsync(
        &self,
        sync: PendingSync,
        partition: Arc<Partition>,
    ) -> tokio::sync::oneshot::Receiver<Result<(), LogError>> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let _ = self.fsyncs.send(FsyncJob {
            sync,
            partition,
            done,
        });
        wait
    }

    /// Kafka's log flusher (`log.flush.scheduler.interval.ms`): flushes every
    /// log whose `flush.ms` has passed since its last flush, the active
    /// segment's fsync through the fsync thread.
    pub async fn flush_due_logs(self: &Arc<Self>) -> Result<(), ReplicaError> {
        let rm = self.clone();
        let due = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            let mut due = Vec::new();
            for topic in rm.topics.load().values() {
                for p in &topic.partitions {
                    if let Some(sync) = p.log.write().flush_if_due(now)? {
                        due.push((sync, p.clone()));
                    }
                }
            }
            Ok::<_, LogError>(due)
        })
        .await
        .map_err(|e| ReplicaError::Task(e.to_string()))??;
        for (sync, partition) in due {
            // Nobody waits for a scheduled flush: the recovery point moves.
            drop(self.owe_fsync(sync, partition));
        }
        Ok(())
    }

    /// Reads whole batches of one partition from `offset`, at most `max_bytes`
    /// unless `min_one_batch`, together with the partition's offsets.
    pub fn read(
        &self,
        partition: &Partition,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> (PartitionOffsets, Result<Bytes, ReplicaError>) {
        Self::read_with(partition, |log| log.read(offset, max_bytes, min_one_batch))
    }

    /// Like [`ReplicaManager::read`], but the batches as byte ranges of the
    /// segment files, for a zero-copy fetch ([`Log::read_file_records`]).
    pub fn read_file_records(
        &self,
        partition: &Partition,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> (PartitionOffsets, Result<FileRecords, ReplicaError>) {
        Self::read_with(partition, |log| {
            log.read_file_records(offset, max_bytes, min_one_batch)
        })
    }

    /// [`ReplicaManager::read_file_records`] if the log's lock is free now;
    /// `None` when an append holds it (callers on an async worker must not
    /// wait for one).
    pub fn try_read_file_records(
        &self,
        partition: &Partition,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Option<(PartitionOffsets, Result<FileRecords, ReplicaError>)> {
        let log = partition.log.try_read()?;
        Some((
            PartitionOffsets::of(&log),
            log.read_file_records(offset, max_bytes, min_one_batch)
                .map_err(ReplicaError::from),
        ))
    }

    /// One read of the partition's log and its offsets, under one read lock
    /// so the offsets describe the log the data came from.
    fn read_with<T>(
        partition: &Partition,
        read: impl FnOnce(&Log) -> Result<T, LogError>,
    ) -> (PartitionOffsets, Result<T, ReplicaError>) {
        let log = partition.log.read();
        (
            PartitionOffsets::of(&log),
            read(&log).map_err(ReplicaError::from),
        )
    }

    /// The partition's log config as it is now (Fetch v0–3 asks it whether
    /// down-conversion is allowed).
    pub fn log_config(&self, partition: &Partition) -> LogConfig {
        partition.log.read().config().clone()
    }

    /// A receiver that changes whenever any partition was appended to: the
    /// wake-up of long-polling fetches.
    pub fn subscribe_appends(&self) -> watch::Receiver<u64> {
        self.appends.subscribe()
    }

    /// Flushes logs whose `flush.ms` has passed and returns checkpoint
    /// entries (topic, partition, recovery point, log start offset).
    pub fn checkpoint_entries(&self) -> Vec<(String, i32, i64, i64)> {
        let mut entries = Vec::new();
        for topic in self.topics.load().values() {
            for p in &topic.partitions {
                let log = p.log.read();
                entries.push((
                    topic.metadata.name.clone(),
                    p.index,
                    log.recovery_point(),
                    log.log_start_offset(),
                ));
            }
        }
        entries
    }

    /// Closes (flushing) every log on `threads` threads, checkpoints, then
    /// marks the clean shutdown.
    pub fn shutdown(&self, threads: usize) -> Result<(), ReplicaError> {
        let _guard = self.change_lock.lock();
        let partitions: Vec<Arc<Partition>> = self
            .topics
            .load()
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect();
        let closed = crate::util::on_threads(&partitions, threads, |p| p.log.write().close())
            .ok_or_else(|| ReplicaError::Task("a log closing thread panicked".into()))?;
        closed.into_iter().collect::<Result<Vec<()>, LogError>>()?;
        self.log_manager.checkpoint(&self.checkpoint_entries())?;
        self.log_manager.mark_clean_shutdown()?;
        Ok(())
    }

    /// Topic configs of every topic, for describing.
    pub fn topic_configs(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.topic(name).map(|t| t.metadata.configs.clone())
    }
}

/// Deletes a partition directory the way Kafka does: rename it to
/// `<topic>-<partition>.<id>-delete` first (so it is no longer found as a
/// live log, even after a crash half-way), then remove it.
pub fn delete_partition_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let doomed = dir.with_file_name(format!("{name}.{}-delete", Uuid::new_v4().simple()));
    std::fs::rename(dir, &doomed)?;
    std::fs::remove_dir_all(&doomed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::testing::simple_batch;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn append_many_keeps_request_order_and_fails_only_the_bad_parts() {
        let dir = tempfile::tempdir().unwrap();
        let overrides = [format!("log.dirs={}", dir.path().display())];
        let config = Arc::new(BrokerConfig::load(None, Vec::new(), &overrides).unwrap());
        let log_manager = Arc::new(LogManager::startup(&config.log_dirs).unwrap());
        let rm = Arc::new(ReplicaManager::new(config, log_manager));
        rm.install_topic_async(TopicMetadata {
            name: "t".into(),
            topic_id: Uuid::new_v4(),
            partitions: 2,
            configs: BTreeMap::new(),
        })
        .await
        .unwrap();
        let mut corrupt = simple_batch(1, 5);
        corrupt[70] ^= 0xff;
        let batch = |n| Bytes::from(simple_batch(n, 5));
        let results = rm
            .append_many_deferred(vec![
                ("t".into(), 0, batch(2)),
                ("t".into(), 1, batch(3)),
                ("t".into(), 2, batch(1)),
                ("t".into(), 0, Bytes::from(corrupt)),
                ("t".into(), 0, batch(4)),
            ])
            .await;
        let firsts: Vec<Result<i64, i16>> = results
            .into_iter()
            .map(|r| {
                r.map(|(info, _)| info.first_offset)
                    .map_err(|e| e.kafka_error_code())
            })
            .collect();
        // UNKNOWN_TOPIC_OR_PARTITION (3) and CORRUPT_MESSAGE (2) for their parts only.
        assert_eq!(firsts, vec![Ok(0), Ok(0), Err(3), Err(2), Ok(2)]);
        let p0 = rm.partition("t", 0).unwrap();
        assert_eq!(p0.offsets().high_watermark, 6);
        assert_eq!(rm.partition("t", 1).unwrap().offsets().high_watermark, 3);
    }
}
