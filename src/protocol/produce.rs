//! Produce: validate and append each partition's record batches through the
//! replica manager; acks=0 gets no response, acks=1 and acks=-1 are the same
//! on a single replica (the append is complete, and fsynced when
//! `flush.messages` says so, before the answer). The appends happen while the
//! request is handled, in order; the wait for their fsync is handed back
//! ([`Appended::complete`]) so the connection can go on reading (and
//! appending) its next request meanwhile, its responses still in order.
//!
//! Transactions are not implemented. As Kafka does, transactional batches in
//! a request without a transactional id fail the whole request with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED; with a transactional id they get
//! INVALID_TXN_STATE (no transaction can have been begun here), while
//! non-transactional batches are appended whether or not a transactional id
//! is set, as Kafka appends them.
//!
//! Produce v0–2 carry legacy message sets (magic 0 and 1): each partition's
//! set is up-converted to one record batch v2 first
//! ([`crate::records::legacy::up_convert`]), and everything after that is
//! the one v2 path. v3 and later never touch the converter.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

use crate::records::legacy::{self, LegacyError};
use crate::records::{BatchHeader, LOG_OVERHEAD};
use crate::replica_manager::Durable;

use super::router::{Answer, Api, Call, Response};
use super::{legacy_wire, ProtocolError, Reply};
use super::{Broker, RequestContext};
use crate::authorizer::Check;
use crate::quotas::{QuotaType, ANONYMOUS};

/// Whether any batch in `records` has the transactional attribute (headers only).
fn has_transactional_batch(records: &[u8]) -> bool {
    let mut pos = 0usize;
    while let Some(rest) = records.get(pos..).filter(|r| r.len() > LOG_OVERHEAD) {
        match BatchHeader::parse(rest) {
            Ok(h) if h.is_transactional() => return true,
            Ok(h) => pos += h.total_size(),
            // The log reports malformed batches.
            Err(_) => return false,
        }
    }
    false
}

/// Up-converts every partition's legacy message set of a Produce v0–2 in
/// place; returns, per topic and partition, the sets that were refused.
fn up_convert_legacy(request: &mut ProduceRequest) -> Vec<Vec<Option<LegacyError>>> {
    request
        .topic_data
        .iter_mut()
        .map(|topic| {
            topic
                .partition_data
                .iter_mut()
                .map(|data| {
                    let records = data.records.as_deref()?;
                    match legacy::up_convert(records) {
                        Ok(Some(batch)) => {
                            data.records = Some(batch);
                            None
                        }
                        Ok(None) => None,
                        Err(e) => Some(e),
                    }
                })
                .collect()
        })
        .collect()
}

/// A produce whose batches are all appended; some may still await their
/// fsync (`flush.messages`) before the response may be sent.
pub(super) struct Appended {
    response: ProduceResponse,
    /// (topic index, partition index in the response, the fsync owed).
    owed: Vec<(usize, usize, Durable)>,
}

/// Produce carries a throttle time from this version on.
const THROTTLE_TIME_VERSION: i16 = 1;
/// From this version the client throttles itself (KIP-219): the response
/// goes at once and the channel is muted; before it, the response waits.
const CLIENT_THROTTLES_VERSION: i16 = 6;

impl Appended {
    /// Whether the response can be sent right away.
    pub(super) fn is_complete(&self) -> bool {
        self.owed.is_empty()
    }

    /// The response, once every owed fsync is done; a partition whose fsync
    /// failed answers with its error instead of its offsets.
    pub(super) async fn complete(self) -> ProduceResponse {
        let Appended { mut response, owed } = self;
        for (t, p, durable) in owed {
            if let Err(e) = durable.wait().await {
                tracing::warn!(error = %e, "fsync of an appended produce failed");
                if let Some(result) = response
                    .responses
                    .get_mut(t)
                    .and_then(|topic| topic.partition_responses.get_mut(p))
                {
                    result.error_code = e.kafka_error_code();
                    result.error_message = Some(StrBytes::from_string(e.to_string()));
                    result.base_offset = -1;
                    result.log_append_time_ms = -1;
                }
            }
        }
        response
    }
}

/// Appends every partition's batches, in request order; returns `None` for
/// acks=0 (no response; owed fsyncs still run).
pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: ProduceRequest,
) -> Option<Appended> {
    let mut appended = append(broker, ctx, version, request).await;
    // Kafka records the whole request against the client's producer_byte_rate.
    let (client_id, size) = ctx.current_request();
    let throttle_ms = broker.quotas.record(
        QuotaType::Produce,
        ANONYMOUS,
        client_id.as_str(),
        size,
        crate::util::now_ms(),
    );
    if throttle_ms > 0 {
        tracing::debug!(client_id = %client_id.as_str(), throttle_ms, "produce throttled");
        if let Some(a) = appended.as_mut() {
            if version >= THROTTLE_TIME_VERSION {
                a.response.throttle_time_ms = i32::try_from(throttle_ms).unwrap_or(i32::MAX);
            }
        }
        if version < CLIENT_THROTTLES_VERSION {
            tokio::time::sleep(std::time::Duration::from_millis(throttle_ms)).await;
        }
        ctx.mute_for(throttle_ms);
    }
    appended
}

async fn append(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    mut request: ProduceRequest,
) -> Option<Appended> {
    let legacy_refused = if version <= 2 {
        up_convert_legacy(&mut request)
    } else {
        Vec::new()
    };
    let acks = request.acks;
    let valid_acks = matches!(acks, -1..=1);
    let transactional = request.topic_data.iter().any(|t| {
        t.partition_data
            .iter()
            .any(|p| p.records.as_deref().is_some_and(has_transactional_batch))
    });
    // Kafka 3.5: transactional records need WRITE on the transactional id
    // (else the whole request fails), then each topic WRITE.
    let transactional_id_denied = transactional
        && request
            .transactional_id
            .as_ref()
            .is_some_and(|id| !broker.authorize(ctx, Check::ProduceTransactionalId, id));
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut owed = Vec::new();
    // (topic index, partition index in the response, topic, records).
    let mut to_append: Vec<(usize, usize, String, bytes::Bytes)> = Vec::new();
    for (t, topic) in request.topic_data.into_iter().enumerate() {
        let name = topic.name.0.as_str().to_string();
        let topic_allowed =
            transactional_id_denied || broker.authorize(ctx, Check::ProduceTopic, &name);
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for (p, data) in topic.partition_data.into_iter().enumerate() {
            let refused = legacy_refused
                .get(t)
                .and_then(|topic| topic.get(p))
                .and_then(Option::as_ref);
            let mut result = PartitionProduceResponse::default()
                .with_index(data.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(-1);
            if transactional_id_denied {
                result.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
            } else if !topic_allowed {
                result.error_code = ResponseError::TopicAuthorizationFailed.code();
            } else if !valid_acks {
                result.error_code = ResponseError::InvalidRequiredAcks.code();
            } else if let Some(e) = refused {
                tracing::debug!(topic = %name, partition = data.index, error = %e, "legacy message set refused");
                result.error_code = e.kafka_error_code();
                result.error_message = Some(StrBytes::from_string(e.to_string()));
            } else if transactional && request.transactional_id.is_none() {
                result.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
                result.error_message = Some(StrBytes::from_static_str(
                    "transactional records need a transactional id",
                ));
            } else if data.records.as_deref().is_some_and(has_transactional_batch) {
                result.error_code = ResponseError::InvalidTxnState.code();
                result.error_message = Some(StrBytes::from_static_str(
                    "transactions are not supported by this broker yet",
                ));
            } else {
                // The frame's bytes themselves: the log writes them with
                // each batch's patched prefix, without a copy. All of the
                // request's appends go to the blocking pool together, below.
                let records = data.records.unwrap_or_default();
                to_append.push((responses.len(), partitions.len(), name.clone(), records));
            }
            partitions.push(result);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_partition_responses(partitions),
        );
    }
    let appends = to_append
        .iter()
        .map(|(t, p, name, records)| {
            let index = responses
                .get(*t)
                .and_then(|topic: &TopicProduceResponse| topic.partition_responses.get(*p))
                .map_or(-1, |r| r.index);
            (name.clone(), index, records.clone())
        })
        .collect();
    let results = broker.replica_manager.append_many_deferred(appends).await;
    for ((t, p, name, records), appended) in to_append.into_iter().zip(results) {
        let Some(result) = responses
            .get_mut(t)
            .and_then(|topic| topic.partition_responses.get_mut(p))
        else {
            continue;
        };
        match appended {
            Ok((info, durable)) => {
                if durable.is_owed() {
                    owed.push((t, p, durable));
                }
                crate::metrics::produced(
                    &name,
                    records.len() as u64,
                    u64::try_from(info.record_count).unwrap_or(0),
                );
                result.base_offset = info.first_offset;
                result.log_append_time_ms = info.log_append_time;
                result.log_start_offset = info.log_start_offset;
            }
            Err(e) => {
                tracing::debug!(topic = %name, partition = result.index, error = %e, "produce refused");
                result.error_code = e.kafka_error_code();
                result.error_message = Some(StrBytes::from_string(e.to_string()));
                // Record errors exist from v8 on (KIP-467).
                if let (Some(errors), true) = (record_errors(&e), version >= 8) {
                    result.error_message = Some(StrBytes::from_static_str(
                        "One or more records have been rejected",
                    ));
                    result.record_errors = errors;
                }
            }
        }
    }
    if acks == 0 {
        return None;
    }
    Some(Appended {
        response: ProduceResponse::default().with_responses(responses),
        owed,
    })
}

/// The per-record errors of a refused batch, when the log named the records.
fn record_errors(
    e: &crate::replica_manager::ReplicaError,
) -> Option<Vec<BatchIndexAndErrorMessage>> {
    match e {
        crate::replica_manager::ReplicaError::Log(crate::log::LogError::InvalidRecords {
            message,
            indexes,
        }) => Some(
            indexes
                .iter()
                .map(|&i| {
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(i)
                        .with_batch_index_error_message(Some(StrBytes::from_string(
                            message.clone(),
                        )))
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Produce (API 0).
pub(super) struct Produce;

impl Api for Produce {
    const KEY: ApiKey = ApiKey::Produce;
    type Request = ProduceRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 9;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: ProduceRequest,
    ) -> Answer<Response<Self>> {
        match handle(broker, call.ctx, call.version, request).await {
            None => Answer::Nothing, // acks=0
            Some(appended) if appended.is_complete() => Answer::Now(appended.complete().await),
            Some(appended) => Answer::Later(Box::pin(appended.complete())),
        }
    }

    /// v0–v2: the v3 body without a transactional id; the answer in the old layout.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        mut body: bytes::Bytes,
    ) -> Result<Reply, ProtocolError> {
        let (version, cid) = (call.version, call.correlation_id);
        // v0–v2 (below kafka-protocol's range): `legacy_wire`'s bounded
        // codec; the message sets are up-converted in `append`.
        let request =
            legacy_wire::decode_produce(&mut body).map_err(|reason| ProtocolError::Decode {
                key: Self::KEY,
                version,
                reason,
            })?;
        Ok(match handle(broker, call.ctx, version, request).await {
            None => Reply::Now(None),
            Some(appended) if appended.is_complete() => Reply::Now(Some(
                legacy_wire::encode_produce_response(cid, version, &appended.complete().await),
            )),
            Some(appended) => Reply::Later(Box::pin(async move {
                Ok(legacy_wire::encode_produce_response(
                    cid,
                    version,
                    &appended.complete().await,
                ))
            })),
        })
    }
}

/// One record for [`Broker::produce`]: what an HTTP producer (the web
/// console, the REST Proxy endpoints, webhooks) hands the broker.
#[derive(Clone, Debug, Default)]
pub struct NewRecord {
    /// The partition; `None` chooses one as the Java client's default
    /// partitioner does: murmur2 of the key, or for a null key one random
    /// partition for every keyless record of the call (sticky).
    pub partition: Option<i32>,
    /// The key (`None`: null).
    pub key: Option<bytes::Bytes>,
    /// The value (`None`: null, a tombstone).
    pub value: Option<bytes::Bytes>,
    /// Headers in order; a header value may be null.
    pub headers: Vec<(String, Option<bytes::Bytes>)>,
    /// CreateTime in ms since the epoch; `None` is now. Topics with
    /// `message.timestamp.type=LogAppendTime` stamp the broker's time.
    pub timestamp: Option<i64>,
}

/// Where [`Broker::produce`] put a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Produced {
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// The record's timestamp as stored (CreateTime, or LogAppendTime).
    pub timestamp: i64,
}

/// Why [`Broker::produce`] did not append a record. Each maps to the Kafka
/// error code a Produce request would have answered.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// No such topic.
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    /// The topic has no such partition.
    #[error("topic {topic} has no partition {partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
    },
    /// The record could not be written into a batch (too large).
    #[error("record cannot be encoded: {0}")]
    Encode(#[from] crate::records::RecordsError),
    /// The log refused or failed the append (validation, size, fsync).
    #[error(transparent)]
    Append(#[from] crate::replica_manager::ReplicaError),
    /// Another record of the same batch was refused, so this one was too.
    #[error("{0}")]
    SameBatch(std::sync::Arc<ProduceError>),
}

impl ProduceError {
    /// The Kafka error code a Produce response would carry.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            ProduceError::UnknownTopic(_) | ProduceError::UnknownPartition { .. } => {
                ResponseError::UnknownTopicOrPartition.code()
            }
            ProduceError::Encode(_) => ResponseError::MessageTooLarge.code(),
            ProduceError::Append(e) => e.kafka_error_code(),
            ProduceError::SameBatch(e) => e.kafka_error_code(),
        }
    }

    /// Whether the request was at fault (bad topic, partition, record), as
    /// opposed to the broker (storage failure).
    pub fn is_client_error(&self) -> bool {
        match self {
            ProduceError::UnknownTopic(_)
            | ProduceError::UnknownPartition { .. }
            | ProduceError::Encode(_) => true,
            ProduceError::Append(e) => {
                let code = e.kafka_error_code();
                code != ResponseError::KafkaStorageError.code()
                    && code != ResponseError::UnknownServerError.code()
                    && code != ResponseError::NotLeaderOrFollower.code()
            }
            ProduceError::SameBatch(e) => e.is_client_error(),
        }
    }
}

impl Broker {
    /// Produces one record with acks=all semantics: appended through the
    /// same replica manager path as a Produce request (the log's validation,
    /// the topic's `compression.type`, `max.message.bytes`, timestamps) and
    /// returned only once as durable as the topic asks (`flush.messages`).
    pub async fn produce(&self, topic: &str, record: NewRecord) -> Result<Produced, ProduceError> {
        let mut results = self.produce_many(topic, vec![record]).await;
        match results.pop() {
            Some(Ok(p)) => Ok(p),
            // The batch held this record alone: its own error.
            Some(Err(ProduceError::SameBatch(e))) => {
                Err(std::sync::Arc::try_unwrap(e).unwrap_or_else(ProduceError::SameBatch))
            }
            Some(Err(e)) => Err(e),
            None => Err(ProduceError::UnknownTopic(topic.to_string())),
        }
    }

    /// Produces records to one topic, each to its partition (see
    /// [`NewRecord::partition`]); consecutive records for the same partition
    /// go in one batch, appended in order. One result per record, in order.
    pub async fn produce_many(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Vec<Result<Produced, ProduceError>> {
        let Some(t) = self.replica_manager.topic(topic) else {
            return records
                .iter()
                .map(|_| Err(ProduceError::UnknownTopic(topic.to_string())))
                .collect();
        };
        let count = t.partitions.len();
        // The Java client's sticky partitioner: keyless records of one call
        // share one random partition.
        let sticky = i32::try_from(rand::random::<u32>() as usize % count.max(1)).unwrap_or(0);
        let chosen: Vec<i32> = records
            .iter()
            .map(|r| match (r.partition, &r.key) {
                (Some(p), _) => p,
                (None, Some(k)) => {
                    i32::try_from(crate::util::partition_for_key(k, count)).unwrap_or(0)
                }
                (None, None) => sticky,
            })
            .collect();
        let mut results = Vec::with_capacity(records.len());
        let mut start = 0;
        while start < records.len() {
            let partition = chosen[start];
            let end = (start..records.len())
                .find(|&i| chosen[i] != partition)
                .unwrap_or(records.len());
            let run = &records[start..end];
            match self.produce_batch(topic, count, partition, run).await {
                Ok(produced) => results.extend(produced.into_iter().map(Ok)),
                Err(e) => {
                    // Every record of the batch shares its fate.
                    let shared = std::sync::Arc::new(e);
                    results.extend(
                        run.iter()
                            .map(|_| Err(ProduceError::SameBatch(shared.clone()))),
                    );
                }
            }
            start = end;
        }
        results
    }

    /// Appends `records` as one batch to `partition` and waits for its fsync.
    async fn produce_batch(
        &self,
        topic: &str,
        partitions: usize,
        partition: i32,
        records: &[NewRecord],
    ) -> Result<Vec<Produced>, ProduceError> {
        if usize::try_from(partition).map_or(true, |p| p >= partitions) {
            return Err(ProduceError::UnknownPartition {
                topic: topic.to_string(),
                partition,
            });
        }
        let now = crate::util::now_ms();
        let mut builder = crate::records::BatchBuilder::new(crate::records::Codec::None);
        let mut timestamps = Vec::with_capacity(records.len());
        for r in records {
            let ts = r.timestamp.unwrap_or(now);
            let headers: Vec<crate::records::Header<'_>> = r
                .headers
                .iter()
                .map(|(k, v)| (k.as_bytes(), v.as_deref()))
                .collect();
            builder.append(ts, r.key.as_deref(), r.value.as_deref(), &headers);
            timestamps.push(ts);
        }
        let batch = builder.finish()?;
        let bytes = batch.len() as u64;
        let info = self.replica_manager.append(topic, partition, batch).await?;
        crate::metrics::produced(topic, bytes, u64::try_from(info.record_count).unwrap_or(0));
        Ok(timestamps
            .into_iter()
            .enumerate()
            .map(|(i, ts)| Produced {
                partition,
                offset: info.first_offset + i as i64,
                timestamp: if info.log_append_time >= 0 {
                    info.log_append_time
                } else {
                    ts
                },
            })
            .collect())
    }
}
