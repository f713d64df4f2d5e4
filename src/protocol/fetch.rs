//! Fetch: whole record batches from each requested partition, as stored,
//! within `max_bytes` and `partition_max_bytes` (the first batch of the
//! response is always whole, KIP-74); a long poll waits up to `max_wait_ms`
//! for `min_bytes`. Fetch sessions are declined (session id 0), so every
//! request is a full fetch.
//!
//! Fetch v0–3 read legacy message sets: each partition's batches are
//! down-converted (magic 0 for v0–1, magic 1 for v2–3) by
//! [`crate::records::legacy::down_convert`] within the same byte limits, as
//! Kafka does when the topic's `message.downconversion.enable` allows it
//! (else UNSUPPORTED_VERSION for the partition). v4 and later are served as
//! stored, without looking at the topic's config.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use uuid::Uuid;

use super::router::{Answer, Api, Call, Response};
use super::{fetch_wire, legacy_wire, ProtocolError, Reply};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};
use crate::log::config::CompressionType;
use crate::quotas::{QuotaType, ANONYMOUS};
use crate::records::file::FileRecords;
use crate::records::legacy;
use crate::replica_manager::{Partition, PartitionOffsets, ReplicaManager};

/// Topic ids are used in Fetch from this version on (KIP-516).
const TOPIC_IDS_VERSION: i16 = 13;

/// The message format a Fetch version reads, when it is a legacy one.
fn legacy_magic(version: i16) -> Option<i8> {
    match version {
        0 | 1 => Some(legacy::MAGIC_V0),
        2 | 3 => Some(legacy::MAGIC_V1),
        _ => None,
    }
}

/// One requested partition, resolved.
struct Wanted {
    topic_slot: usize,
    partition: i32,
    fetch_offset: i64,
    max_bytes: i32,
    target: Result<Arc<Partition>, i16>,
}

/// From this version the client throttles itself (KIP-219).
const CLIENT_THROTTLES_VERSION: i16 = 8;

/// Per topic and partition of a response, the records to send as ranges of
/// segment files (a zero-copy fetch) instead of the partition's `records`.
type Files = Vec<Vec<Option<FileRecords>>>;

/// Serves a fetch; with `zero_copy` (v4 and later only) the partitions'
/// batches come back as file ranges in `Files`, their `records` left `None`.
async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: FetchRequest,
    zero_copy: bool,
) -> (FetchResponse, Files) {
    let (client_id, _) = ctx.current_request();
    let quotas = &broker.quotas;
    let limit = quotas.max_value_in_window(QuotaType::Fetch, ANONYMOUS, client_id.as_str());
    let (response, files) = fetch(broker, ctx, version, request, limit, zero_copy).await;
    let Some(_) = limit else {
        return (response, files);
    };
    // Kafka records the response against the client's consumer_byte_rate; a
    // throttled fetch answers empty (the bytes unrecorded) with the throttle time.
    let in_memory: usize = response
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.records.as_ref().map_or(0, |r| r.len()))
        .sum();
    let in_files: usize = files.iter().flatten().flatten().map(FileRecords::len).sum();
    let bytes = in_memory + in_files;
    let now = crate::util::now_ms();
    let throttle_ms = quotas.record(QuotaType::Fetch, ANONYMOUS, client_id.as_str(), bytes, now);
    if throttle_ms == 0 {
        return (response, files);
    }
    quotas.unrecord(QuotaType::Fetch, ANONYMOUS, client_id.as_str(), bytes, now);
    tracing::debug!(client_id = %client_id.as_str(), throttle_ms, "fetch throttled");
    if version < CLIENT_THROTTLES_VERSION {
        tokio::time::sleep(Duration::from_millis(throttle_ms)).await;
    }
    ctx.mute_for(throttle_ms);
    let empty = FetchResponse::default()
        .with_throttle_time_ms(i32::try_from(throttle_ms).unwrap_or(i32::MAX));
    (empty, Vec::new())
}

async fn fetch(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: FetchRequest,
    quota_limit: Option<usize>,
    zero_copy: bool,
) -> (FetchResponse, Files) {
    if request.session_id != 0 {
        // We never hand out sessions, so an incremental fetch names one we don't know.
        let refused =
            FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code());
        return (refused, Vec::new());
    }
    let rm = &broker.replica_manager;
    // A replica's fetch needs CLUSTER_ACTION (denied: every partition
    // TOPIC_AUTHORIZATION_FAILED, as Kafka answers); a consumer's READ on each topic.
    let replica_id = if version >= 15 {
        request.replica_state.replica_id.0
    } else {
        request.replica_id.0
    };
    let follower_denied =
        replica_id >= 0 && !broker.authorize(ctx, Check::FetchFollower, CLUSTER_NAME);
    let mut topics: Vec<(Option<TopicName>, Uuid)> = Vec::new();
    let mut wanted = Vec::new();
    for topic in &request.topics {
        let slot = topics.len();
        let resolved = if version >= TOPIC_IDS_VERSION {
            rm.topic_by_id(topic.topic_id)
        } else {
            rm.topic(topic.topic.0.as_str())
        };
        let missing = if version >= TOPIC_IDS_VERSION {
            ResponseError::UnknownTopicId.code()
        } else {
            ResponseError::UnknownTopicOrPartition.code()
        };
        topics.push((
            Some(topic.topic.clone()),
            resolved
                .as_ref()
                .map(|t| t.metadata.topic_id)
                .unwrap_or(topic.topic_id),
        ));
        let name = match &resolved {
            Some(t) => Some(t.metadata.name.as_str()),
            None if version < TOPIC_IDS_VERSION => Some(topic.topic.0.as_str()),
            None => None,
        };
        let denied = follower_denied
            || (replica_id < 0
                && name.is_some_and(|n| !broker.authorize(ctx, Check::FetchTopic, n)));
        for p in &topic.partitions {
            let target = match &resolved {
                _ if denied => Err(ResponseError::TopicAuthorizationFailed.code()),
                Some(t) => t
                    .partition(p.partition)
                    .cloned()
                    .ok_or(ResponseError::UnknownTopicOrPartition.code()),
                None => Err(missing),
            };
            wanted.push(Wanted {
                topic_slot: slot,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                target,
            });
        }
    }
    let wanted = Arc::new(wanted);
    let max_wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0));
    let deadline = Instant::now() + max_wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(request.max_bytes).unwrap_or(0);
    // A quota'd client gets at most what its quota allows in one window.
    let max_bytes = quota_limit.map_or(max_bytes, |q| max_bytes.min(q));
    let magic = legacy_magic(version);
    let zero_copy = zero_copy && magic.is_none();
    let mut appends = rm.subscribe_appends();
    // Whether the previous read found every partition at its log end: what
    // this read finds was then appended during this request's wait, so it is
    // the log's tail, just written and in the page cache.
    let mut was_at_end = false;
    let read = |tail: bool| {
        let rm2 = rm.clone();
        let w = wanted.clone();
        async move {
            // A read that would find nothing is answered from the offsets in
            // memory, and a zero-copy read of the tail (batch headers only,
            // from the page cache) runs here when no append holds a log's
            // lock: a blocking-pool hop costs two thread wake-ups, far more
            // than either. Anything else may touch the disk.
            if let Some(empty) = read_at_end(&w, magic, zero_copy) {
                return empty;
            }
            if tail && zero_copy {
                if let Some(r) = try_read_tail(&rm2, &w, max_bytes) {
                    return r;
                }
            }
            tokio::task::spawn_blocking(move || read_all(&rm2, &w, max_bytes, magic, zero_copy))
                .await
                .unwrap_or_default()
        }
    };
    let results = loop {
        appends.mark_unchanged();
        let results = read(was_at_end).await;
        let bytes: usize = results.iter().map(|(_, r)| r.len()).sum();
        let errors = results.iter().any(|(r, _)| r.error_code != 0);
        if bytes >= min_bytes || errors || Instant::now() >= deadline {
            break results;
        }
        was_at_end = bytes == 0
            && wanted
                .iter()
                .zip(&results)
                .all(|(w, (d, _))| w.target.is_err() || w.fetch_offset == d.high_watermark);
        if tokio::time::timeout_at(deadline, appends.changed())
            .await
            .is_err()
        {
            // Deadline reached: answer with what there is (one more read so
            // nothing appended since the last read is missed).
            break read(was_at_end).await;
        }
    };
    let isolation_committed = request.isolation_level == 1;
    let mut responses: Vec<FetchableTopicResponse> = topics
        .into_iter()
        .map(|(name, id)| {
            let mut t = FetchableTopicResponse::default().with_topic_id(id);
            if let Some(name) = name {
                t.topic = name;
            }
            t
        })
        .collect();
    let mut files: Files = responses.iter().map(|_| Vec::new()).collect();
    for (w, (mut data, read)) in wanted.iter().zip(results) {
        if let Ok(p) = &w.target {
            crate::metrics::fetched(&p.topic, read.len() as u64);
        }
        if isolation_committed {
            data.aborted_transactions = Some(Vec::new());
        }
        if let (Some(t), Some(f)) = (responses.get_mut(w.topic_slot), files.get_mut(w.topic_slot)) {
            t.partitions.push(data);
            f.push(match read {
                Read::Files(records) => Some(records),
                Read::Bytes(_) => None,
            });
        }
    }
    if version >= TOPIC_IDS_VERSION {
        for t in &mut responses {
            t.topic = TopicName(StrBytes::default());
        }
    }
    (FetchResponse::default().with_responses(responses), files)
}

/// What a partition's read gave besides its `PartitionData`.
enum Read {
    /// The records are in `PartitionData::records` (this many bytes).
    Bytes(usize),
    /// The records are these file ranges (`records` left `None`).
    Files(FileRecords),
}

impl Read {
    fn len(&self) -> usize {
        match self {
            Read::Bytes(n) => *n,
            Read::Files(f) => f.len(),
        }
    }
}

/// A partition's answer before its read: its index, and offsets unknown.
fn unread(w: &Wanted) -> PartitionData {
    PartitionData::default()
        .with_partition_index(w.partition)
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
        .with_preferred_read_replica(BrokerId(-1))
}

/// The answer for a partition refused before any read (unknown, not
/// authorised …): its error code and no records.
fn refused(w: &Wanted, code: i16) -> (PartitionData, Read) {
    let mut data = unread(w);
    data.error_code = code;
    (data, Read::Bytes(0))
}

fn set_offsets(data: &mut PartitionData, offsets: &PartitionOffsets) {
    data.high_watermark = offsets.high_watermark;
    data.last_stable_offset = offsets.last_stable_offset;
    data.log_start_offset = offsets.log_start_offset;
}

/// A zero-copy read's answer for one partition; a read that found batches
/// ends the first-batch rule and spends `remaining`.
fn file_records(
    mut data: PartitionData,
    read: Result<FileRecords, crate::replica_manager::ReplicaError>,
    first: &mut bool,
    remaining: &mut usize,
) -> (PartitionData, Read) {
    match read {
        Ok(records) => {
            if !records.is_empty() {
                *first = false;
                *remaining = remaining.saturating_sub(records.len());
            }
            data.records = None;
            (data, Read::Files(records))
        }
        Err(e) => {
            data.error_code = e.kafka_error_code();
            data.records = Some(Bytes::new());
            (data, Read::Bytes(0))
        }
    }
}

/// What `read_all` would answer when every partition of `wanted` is at its
/// log end (or unknown here): its offsets and no records, read from memory.
/// `None` when some partition has records to read, a legacy format is
/// asked for, or a log's lock is held now (an append is writing: the
/// blocking pool waits for it, not this thread).
fn read_at_end(
    wanted: &[Wanted],
    magic: Option<i8>,
    zero_copy: bool,
) -> Option<Vec<(PartitionData, Read)>> {
    if magic.is_some() {
        return None;
    }
    wanted
        .iter()
        .map(|w| {
            let partition = match w.target.as_ref() {
                Ok(p) => p,
                Err(&code) => return Some(refused(w, code)),
            };
            let mut data = unread(w);
            let o = partition.try_offsets()?;
            if w.fetch_offset != o.high_watermark {
                return None;
            }
            set_offsets(&mut data, &o);
            Some(if zero_copy {
                (data, Read::Files(FileRecords::default()))
            } else {
                data.records = Some(Bytes::new());
                (data, Read::Bytes(0))
            })
        })
        .collect()
}

/// `read_all`'s zero-copy read, on this thread, if no partition's log lock
/// is held now; `None` otherwise (the caller hands the read to the
/// blocking pool).
fn try_read_tail(
    rm: &ReplicaManager,
    wanted: &[Wanted],
    max_bytes: usize,
) -> Option<Vec<(PartitionData, Read)>> {
    let mut remaining = max_bytes;
    let mut first = true;
    wanted
        .iter()
        .map(|w| {
            let partition = match w.target.as_ref() {
                Ok(p) => p,
                Err(&code) => return Some(refused(w, code)),
            };
            let mut data = unread(w);
            let limit = usize::try_from(w.max_bytes).unwrap_or(0).min(remaining);
            let (offsets, read) =
                rm.try_read_file_records(partition, w.fetch_offset, limit, first)?;
            set_offsets(&mut data, &offsets);
            Some(file_records(data, read, &mut first, &mut remaining))
        })
        .collect()
}

fn read_all(
    rm: &ReplicaManager,
    wanted: &[Wanted],
    max_bytes: usize,
    magic: Option<i8>,
    zero_copy: bool,
) -> Vec<(PartitionData, Read)> {
    let mut remaining = max_bytes;
    let mut first = true;
    wanted
        .iter()
        .map(|w| {
            let partition = match w.target.as_ref() {
                Ok(p) => p,
                Err(&code) => return refused(w, code),
            };
            let mut data = unread(w);
            let limit = usize::try_from(w.max_bytes).unwrap_or(0).min(remaining);
            if zero_copy {
                let (offsets, read) = rm.read_file_records(partition, w.fetch_offset, limit, first);
                set_offsets(&mut data, &offsets);
                return file_records(data, read, &mut first, &mut remaining);
            }
            let (offsets, read) = rm.read(partition, w.fetch_offset, limit, first);
            set_offsets(&mut data, &offsets);
            let read = match magic {
                None => read,
                Some(magic) => match down_convert(rm, partition, read, magic, w, limit, first) {
                    Ok(converted) => converted,
                    Err(code) => {
                        data.error_code = code;
                        data.records = Some(Bytes::new());
                        return (data, Read::Bytes(0));
                    }
                },
            };
            let len = match read {
                Ok(records) => {
                    if !records.is_empty() {
                        first = false;
                        remaining = remaining.saturating_sub(records.len());
                    }
                    let len = records.len();
                    data.records = Some(records);
                    len
                }
                Err(e) => {
                    data.error_code = e.kafka_error_code();
                    data.records = Some(Bytes::new());
                    0
                }
            };
            (data, Read::Bytes(len))
        })
        .collect()
}

/// A legacy fetch's partition: its stored batches down-converted to `magic`
/// within `limit` (at least one message when `first`), or the partition's
/// error code: UNSUPPORTED_VERSION when `message.downconversion.enable` is
/// false, UNSUPPORTED_COMPRESSION_TYPE for a zstd topic or batch (Kafka
/// 3.5's answers to a consumer older than Fetch v10).
fn down_convert(
    rm: &ReplicaManager,
    partition: &Partition,
    read: Result<Bytes, crate::replica_manager::ReplicaError>,
    magic: i8,
    w: &Wanted,
    limit: usize,
    first: bool,
) -> Result<Result<Bytes, crate::replica_manager::ReplicaError>, i16> {
    let config = rm.log_config(partition);
    if !config.message_downconversion_enable {
        return Err(ResponseError::UnsupportedVersion.code());
    }
    if config.compression_type == CompressionType::Zstd {
        return Err(ResponseError::UnsupportedCompressionType.code());
    }
    let Ok(batches) = read else {
        return Ok(read);
    };
    legacy::down_convert(&batches, magic, w.fetch_offset, limit, first)
        .map(Ok)
        .map_err(|e| {
            tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "down-conversion failed");
            e.kafka_error_code()
        })
}

/// Fetch (API 1).
pub(super) struct Fetch;

impl Api for Fetch {
    const KEY: ApiKey = ApiKey::Fetch;
    type Request = FetchRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 15;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: FetchRequest,
    ) -> Answer<Response<Self>> {
        let zero_copy = call.ctx.zero_copy();
        let (response, files) = handle(broker, call.ctx, call.version, request, zero_copy).await;
        if !zero_copy {
            return response.into();
        }
        Answer::Encoded(
            fetch_wire::encode(call.correlation_id, call.version, &response, files)
                .map(Reply::Parts),
        )
    }

    /// v0–v3 (below kafka-protocol's range): `legacy_wire`'s bounded codec;
    /// the records are down-converted in `read_all`.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        mut body: Bytes,
    ) -> Result<Reply, ProtocolError> {
        let version = call.version;
        let request = legacy_wire::decode_fetch(&mut body, version).map_err(|reason| {
            ProtocolError::Decode {
                key: Self::KEY,
                version,
                reason,
            }
        })?;
        let (response, _) = handle(broker, call.ctx, version, request, false).await;
        Ok(Reply::Now(Some(legacy_wire::encode_fetch_response(
            call.correlation_id,
            version,
            &response,
        ))))
    }
}
