//! The API layer (Kafka's `KafkaApis`): decodes a request frame, routes it by
//! API key to the handler of that API, and encodes the response.
//!
//! Invariants:
//! - [`SUPPORTED_APIS`] is the single table of what the broker implements; the
//!   ApiVersions answer is derived from it and the router refuses anything
//!   outside it, so the advertised versions cannot drift from the handled ones.
//! - Handlers never panic and never fail the connection for a problem with
//!   the request's content: they answer the Kafka error code. Only an
//!   undecodable frame closes the connection.

mod admin;
mod alter_client_quotas;
mod alter_partition_reassignments;
mod api_versions;
pub mod bounded;
mod configs;
mod delete_records;
mod describe_client_quotas;
mod describe_log_dirs;
mod describe_producers;
mod elect_leaders;
mod fetch;
mod groups;
mod init_producer_id;
mod legacy_wire;
mod list_offsets;
mod list_partition_reassignments;
mod metadata;
mod offset_for_leader_epoch;
mod produce;

use std::net::SocketAddr;
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

use crate::config::{BrokerConfig, Listener};
use crate::coordinator::GroupCoordinator;
use crate::metadata::MetadataStore;
use crate::producer_ids::ProducerIdManager;
use crate::quotas::ClientQuotaManager;
use crate::replica_manager::ReplicaManager;

pub use admin::TopicRefused;

/// What the handlers know of the connection a request came in on.
pub struct RequestContext {
    /// The client's address.
    pub peer: SocketAddr,
    /// The advertised endpoint of the listener the connection came in on.
    pub advertised: Arc<Listener>,
    /// The request being served: its client id and size, for quotas.
    current: parking_lot::Mutex<(StrBytes, usize)>,
    /// Kafka's channel muting after a throttled response: the connection
    /// reads nothing more until then.
    muted_until: parking_lot::Mutex<Option<tokio::time::Instant>>,
}

impl RequestContext {
    /// A new connection's context.
    pub fn new(peer: SocketAddr, advertised: Arc<Listener>) -> RequestContext {
        RequestContext {
            peer,
            advertised,
            current: parking_lot::Mutex::new((StrBytes::default(), 0)),
            muted_until: parking_lot::Mutex::new(None),
        }
    }

    /// The client id and frame size of the request being served.
    pub fn current_request(&self) -> (StrBytes, usize) {
        self.current.lock().clone()
    }

    /// Reads no further request from this connection for `ms` (after the
    /// response now being served is handed to the writer).
    pub fn mute_for(&self, ms: u64) {
        let until = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
        let mut muted = self.muted_until.lock();
        *muted = Some(muted.map_or(until, |m| m.max(until)));
    }

    /// The end of a mute set while serving the last request, once.
    pub fn take_mute(&self) -> Option<tokio::time::Instant> {
        self.muted_until.lock().take()
    }
}

/// One implemented API: the versions advertised in ApiVersions and the
/// lowest version the broker can decode (below it the request is refused).
#[derive(Clone, Copy, Debug)]
pub struct ApiSupport {
    /// The API.
    pub key: ApiKey,
    /// Lowest version advertised (0 where clients probe it, see KAFKA-COMPAT.md).
    pub min_advertised: i16,
    /// Lowest version actually decoded.
    pub min_decoded: i16,
    /// Highest version advertised and handled.
    pub max: i16,
}

const fn api(key: ApiKey, min_advertised: i16, min_decoded: i16, max: i16) -> ApiSupport {
    ApiSupport {
        key,
        min_advertised,
        min_decoded,
        max,
    }
}

/// Every API this broker implements, with Kafka 3.5-like maxima (kafka-python
/// infers the broker release from these ranges).
pub const SUPPORTED_APIS: &[ApiSupport] = &[
    api(ApiKey::Produce, 0, 0, 9),
    api(ApiKey::Fetch, 0, 0, 15),
    api(ApiKey::ListOffsets, 0, 1, 7),
    api(ApiKey::Metadata, 0, 0, 12),
    api(ApiKey::ApiVersions, 0, 0, 3),
    api(ApiKey::CreateTopics, 2, 2, 7),
    api(ApiKey::DeleteTopics, 1, 1, 6),
    api(ApiKey::DescribeConfigs, 1, 1, 4),
    api(ApiKey::AlterConfigs, 0, 0, 2),
    api(ApiKey::CreatePartitions, 0, 0, 3),
    api(ApiKey::IncrementalAlterConfigs, 0, 0, 1),
    api(ApiKey::DescribeCluster, 0, 0, 1),
    api(ApiKey::DeleteRecords, 0, 0, 2),
    api(ApiKey::FindCoordinator, 0, 0, 4),
    api(ApiKey::JoinGroup, 0, 0, 9),
    api(ApiKey::SyncGroup, 0, 0, 5),
    api(ApiKey::Heartbeat, 0, 0, 4),
    api(ApiKey::LeaveGroup, 0, 0, 5),
    api(ApiKey::OffsetCommit, 0, 2, 8),
    api(ApiKey::OffsetFetch, 0, 1, 8),
    api(ApiKey::DescribeGroups, 0, 0, 5),
    api(ApiKey::ListGroups, 0, 0, 4),
    api(ApiKey::DeleteGroups, 0, 0, 2),
    api(ApiKey::OffsetDelete, 0, 0, 0),
    api(ApiKey::InitProducerId, 0, 0, 4),
    api(ApiKey::DescribeLogDirs, 0, 0, 4),
    api(ApiKey::OffsetForLeaderEpoch, 0, 0, 4),
    api(ApiKey::DescribeProducers, 0, 0, 0),
    api(ApiKey::ElectLeaders, 0, 0, 2),
    api(ApiKey::ListPartitionReassignments, 0, 0, 0),
    api(ApiKey::AlterPartitionReassignments, 0, 0, 0),
    api(ApiKey::DescribeClientQuotas, 0, 0, 1),
    api(ApiKey::AlterClientQuotas, 0, 0, 1),
];

/// Why a frame could not be served; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Shorter than a request header.
    #[error("frame of {0} bytes is too short for a request header")]
    Truncated(usize),
    /// An API key this broker does not implement.
    #[error("unsupported API key {0}")]
    UnknownApi(i16),
    /// A version of a known API that cannot be decoded or answered.
    #[error("unsupported version {version} of {key:?}")]
    UnsupportedVersion {
        /// The API.
        key: ApiKey,
        /// The version asked for.
        version: i16,
    },
    /// The request did not decode.
    #[error("cannot decode {key:?} v{version}: {reason}")]
    Decode {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// What the decoder said.
        reason: String,
    },
    /// The bounded walker refused the frame before kafka-protocol saw it.
    #[error("refused {key:?} v{version} before decoding: {reason}")]
    Unbounded {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// What the walker found.
        reason: bounded::BoundedError,
    },
    /// The response did not encode (a bug; logged).
    #[error("cannot encode response to {key:?} v{version}: {reason}")]
    Encode {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// What the encoder said.
        reason: String,
    },
}

/// The broker as the API handlers see it.
pub struct Broker {
    config: Arc<BrokerConfig>,
    replica_manager: Arc<ReplicaManager>,
    metadata: Arc<dyn MetadataStore>,
    coordinator: Arc<GroupCoordinator>,
    producer_ids: Arc<ProducerIdManager>,
    quotas: Arc<ClientQuotaManager>,
}

impl Broker {
    /// Ties the handlers to the broker's state.
    pub fn new(
        config: Arc<BrokerConfig>,
        replica_manager: Arc<ReplicaManager>,
        metadata: Arc<dyn MetadataStore>,
        coordinator: Arc<GroupCoordinator>,
    ) -> Self {
        let producer_ids = Arc::new(ProducerIdManager::new(
            config
                .log_dirs
                .first()
                .map_or(std::path::Path::new("."), |d| d.as_path()),
            config.broker_id,
        ));
        let quotas = Arc::new(ClientQuotaManager::new(
            config.quota_window_num,
            config.quota_window_size_seconds,
        ));
        Broker {
            config,
            replica_manager,
            metadata,
            coordinator,
            producer_ids,
            quotas,
        }
    }

    /// Loads the client quotas in force from the metadata store (at start-up,
    /// after AlterClientQuotas, and periodically for other writers' changes).
    pub async fn reload_quotas(&self) {
        match self.metadata.entity_configs().await {
            Ok(configs) => self.quotas.set_quotas(&configs),
            Err(e) => tracing::warn!(error = %e, "cannot load client quotas"),
        }
    }

    /// The broker configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Serves one request frame. A produce is appended before this returns;
    /// only the wait for its fsync may be left in a [`Reply::Later`].
    pub async fn handle(
        &self,
        ctx: &RequestContext,
        mut frame: Bytes,
    ) -> Result<Reply, ProtocolError> {
        if frame.len() < 8 {
            return Err(ProtocolError::Truncated(frame.len()));
        }
        let frame_len = frame.len();
        let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let key = ApiKey::try_from(raw_key).map_err(|_| ProtocolError::UnknownApi(raw_key))?;
        let support = SUPPORTED_APIS
            .iter()
            .find(|a| a.key == key)
            .ok_or(ProtocolError::UnknownApi(raw_key))?;
        if key == ApiKey::ApiVersions && version > support.max {
            // KIP-511: answer v0 with UNSUPPORTED_VERSION and our ranges so the client retries lower.
            let body = api_versions::unsupported_version_response();
            return encode_response(key, correlation_id, 0, &body).map(|b| Reply::Now(Some(b)));
        }
        if version < support.min_decoded || version > support.max {
            return Err(ProtocolError::UnsupportedVersion { key, version });
        }
        let _checked = bounded::admit(ctx.peer, key, version, &frame)?;
        let header_version = key.request_header_version(version);
        let header = RequestHeader::decode(&mut frame, header_version).map_err(|e| {
            ProtocolError::Decode {
                key,
                version,
                reason: e.to_string(),
            }
        })?;
        let span = tracing::debug_span!(
            "request",
            api = ?key,
            version,
            correlation_id,
            client_id = header.client_id.as_deref().unwrap_or("")
        );
        let _enter = span.enter();
        *ctx.current.lock() = (header.client_id.clone().unwrap_or_default(), frame_len);
        let cid = header.correlation_id;
        macro_rules! serve {
            ($module:ident) => {{
                let request = decode(key, version, &mut frame)?;
                let response = $module::handle(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }};
            // Versions below kafka-protocol's range that are the same on the wire as `$wire`.
            ($module:ident, wire = $wire:expr) => {{
                let request = decode(key, $wire, &mut frame)?;
                let response = $module::handle(self, ctx, version, request).await;
                encode_response(key, cid, $wire, &response).map(Some)
            }};
            // The module codes the versions kafka-protocol does not.
            ($module:ident, own_codec) => {{
                let request = $module::decode(version, &mut frame)?;
                let response = $module::handle(self, ctx, version, request).await;
                $module::encode(cid, version, &response).map(Some)
            }};
        }
        if key == ApiKey::Produce {
            let request = if version <= legacy_wire::PRODUCE_MAX {
                legacy_wire::decode_produce(&mut frame).map_err(|reason| ProtocolError::Decode {
                    key,
                    version,
                    reason,
                })?
            } else {
                decode(key, version, &mut frame)?
            };
            let Some(appended) = produce::handle(self, ctx, version, request).await else {
                return Ok(Reply::Now(None)); // acks=0
            };
            let complete = appended.is_complete();
            let response = async move {
                let response = appended.complete().await;
                if version <= legacy_wire::PRODUCE_MAX {
                    return Ok(legacy_wire::encode_produce_response(
                        cid, version, &response,
                    ));
                }
                encode_response(key, cid, version, &response)
            };
            return if complete {
                response.await.map(|b| Reply::Now(Some(b)))
            } else {
                Ok(Reply::Later(Box::pin(response)))
            };
        }
        let response = match key {
            ApiKey::Fetch if version <= legacy_wire::FETCH_MAX => {
                let request = legacy_wire::decode_fetch(&mut frame, version).map_err(|reason| {
                    ProtocolError::Decode {
                        key,
                        version,
                        reason,
                    }
                })?;
                let response = fetch::handle(self, ctx, version, request).await;
                Ok(Some(legacy_wire::encode_fetch_response(
                    cid, version, &response,
                )))
            }
            ApiKey::Fetch => serve!(fetch),
            ApiKey::ListOffsets => serve!(list_offsets),
            ApiKey::DeleteRecords => serve!(delete_records),
            ApiKey::Metadata => serve!(metadata),
            ApiKey::ApiVersions => serve!(api_versions),
            ApiKey::CreateTopics => {
                let request = decode(key, version, &mut frame)?;
                let response = admin::create_topics(self, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::DeleteTopics => {
                let request = decode(key, version, &mut frame)?;
                let response = admin::delete_topics(self, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::CreatePartitions => {
                let request = decode(key, version, &mut frame)?;
                let response = admin::create_partitions(self, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::DescribeConfigs => {
                let request = decode(key, version, &mut frame)?;
                let response = configs::describe(self, version, request);
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::AlterConfigs => {
                let request = decode(key, version, &mut frame)?;
                let response = configs::alter(self, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::IncrementalAlterConfigs => {
                let request = decode(key, version, &mut frame)?;
                let response = configs::incremental_alter(self, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::InitProducerId => serve!(init_producer_id),
            ApiKey::DescribeLogDirs => serve!(
                describe_log_dirs,
                wire = describe_log_dirs::wire_version(version)
            ),
            ApiKey::OffsetForLeaderEpoch => serve!(offset_for_leader_epoch, own_codec),
            ApiKey::DescribeProducers => serve!(describe_producers),
            ApiKey::ElectLeaders => serve!(elect_leaders),
            ApiKey::ListPartitionReassignments => serve!(list_partition_reassignments),
            ApiKey::AlterPartitionReassignments => serve!(alter_partition_reassignments),
            ApiKey::DescribeClientQuotas => serve!(describe_client_quotas),
            ApiKey::AlterClientQuotas => serve!(alter_client_quotas),
            ApiKey::DescribeCluster => {
                let request = decode(key, version, &mut frame)?;
                let response = metadata::describe_cluster(self, ctx, request);
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::FindCoordinator => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::find_coordinator(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::JoinGroup => {
                let request = decode(key, version, &mut frame)?;
                let client_id = header.client_id.as_deref().unwrap_or("").to_string();
                let response = groups::join_group(self, ctx, version, client_id, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::SyncGroup => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::sync_group(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::Heartbeat => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::heartbeat(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::LeaveGroup => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::leave_group(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::OffsetCommit => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::offset_commit(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::OffsetFetch => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::offset_fetch(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::DescribeGroups => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::describe_groups(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::ListGroups => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::list_groups(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::DeleteGroups => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::delete_groups(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            ApiKey::OffsetDelete => {
                let request = decode(key, version, &mut frame)?;
                let response = groups::offset_delete(self, ctx, version, request).await;
                encode_response(key, cid, version, &response).map(Some)
            }
            _ => Err(ProtocolError::UnknownApi(raw_key)),
        };
        response.map(Reply::Now)
    }
}

/// What serving a request gives the connection.
pub enum Reply {
    /// The response now; `None` when the request wants none (acks=0).
    Now(Option<BytesMut>),
    /// A produce already appended whose fsync (`flush.messages`) is still
    /// running: its response, once durable. The connection may read and
    /// serve its next request meanwhile but must send responses in order.
    Later(Pin<Box<dyn Future<Output = Result<BytesMut, ProtocolError>> + Send>>),
}

fn decode<T: Decodable>(key: ApiKey, version: i16, frame: &mut Bytes) -> Result<T, ProtocolError> {
    T::decode(frame, version).map_err(|e| ProtocolError::Decode {
        key,
        version,
        reason: e.to_string(),
    })
}

fn encode_response<T: Encodable + HeaderVersion>(
    key: ApiKey,
    correlation_id: i32,
    version: i16,
    body: &T,
) -> Result<BytesMut, ProtocolError> {
    let encode_err = |e: anyhow::Error| ProtocolError::Encode {
        key,
        version,
        reason: e.to_string(),
    };
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = T::header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| body.compute_size(version).map(|b| h + b))
        .map_err(encode_err)?;
    let mut out = BytesMut::with_capacity(size);
    header
        .encode(&mut out, header_version)
        .map_err(encode_err)?;
    body.encode(&mut out, version).map_err(encode_err)?;
    debug_assert_eq!(out.remaining(), size);
    Ok(out)
}

/// Kafka's legal topic name (it lives with the config, which validates declared topics too).
pub use crate::config::validate_topic_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("deployment-webhooks").is_ok());
        assert!(validate_topic_name("a.b_c-1").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("bad/name").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
    }

    #[test]
    fn supported_apis_are_decodable_by_kafka_protocol() {
        // Coded (in part) by their own modules below kafka-protocol's range.
        const OWN_CODEC: &[ApiKey] = &[ApiKey::DescribeLogDirs, ApiKey::OffsetForLeaderEpoch];
        for api in SUPPORTED_APIS {
            let range = api.key.valid_versions();
            // Produce v0–2 and Fetch v0–3 are decoded by `legacy_wire`.
            let lowest = match api.key {
                ApiKey::Produce | ApiKey::Fetch => 0,
                _ => range.min,
            };
            assert!(
                api.min_decoded >= lowest || OWN_CODEC.contains(&api.key),
                "{:?}",
                api.key
            );
            assert!(
                api.key != ApiKey::Produce || range.min == legacy_wire::PRODUCE_MAX + 1,
                "legacy_wire covers Produce below kafka-protocol's range"
            );
            assert!(
                api.key != ApiKey::Fetch || range.min == legacy_wire::FETCH_MAX + 1,
                "legacy_wire covers Fetch below kafka-protocol's range"
            );
            assert!(api.max <= range.max, "{:?}", api.key);
            assert!(api.min_advertised <= api.min_decoded);
        }
    }
}
