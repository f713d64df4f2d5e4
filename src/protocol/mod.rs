//! The API layer (Kafka's `KafkaApis`): decodes a request frame, routes it by
//! API key to the handler of that API, and encodes the response.
//!
//! Invariants:
//! - [`APIS`] is the single table of what the broker implements, built from
//!   one registration per API (`apis!` below, see [`router`]): the ApiVersions
//!   answer and the dispatch both come from it, and the router refuses
//!   anything outside it, so the advertised versions cannot drift from the
//!   served ones. Adding an API: one file with a type implementing
//!   [`Api`], one `mod` line and one line in `apis!`.
//! - Handlers never panic and never fail the connection for a problem with
//!   the request's content: they answer the Kafka error code. Only an
//!   undecodable frame closes the connection.

mod admin;
mod alter_client_quotas;
mod alter_partition_reassignments;
mod alter_user_scram_credentials;
mod api_versions;
pub mod bounded;
mod configs;
mod create_acls;
mod delete_acls;
mod delete_records;
mod describe_acls;
mod describe_client_quotas;
mod describe_log_dirs;
mod describe_producers;
mod describe_user_scram_credentials;
mod elect_leaders;
mod facade;
mod fetch;
mod fetch_wire;
mod groups;
mod init_producer_id;
mod legacy;
mod legacy_wire;
mod list_offsets;
mod list_partition_reassignments;
mod metadata;
mod offset_for_leader_epoch;
mod produce;
mod router;
mod sasl_authenticate;
mod sasl_handshake;

use std::net::SocketAddr;
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

use crate::authorizer::{Authorizer, Check, ResourceType};
use crate::config::{BrokerConfig, Listener};
use crate::coordinator::GroupCoordinator;
use crate::metadata::MetadataStore;
use crate::principal::KafkaPrincipal;
use crate::producer_ids::ProducerIdManager;
use crate::quotas::ClientQuotaManager;
use crate::records::file::FileSlice;
use crate::replica_manager::ReplicaManager;
use crate::security::sasl::{Admission, SaslSession, ScramCredentialCache};

pub use admin::TopicRefused;
pub use produce::{NewRecord, ProduceError, Produced};
pub use router::{Api, ApiSupport};

/// Where a request's decoded form is charged: the network layer's request
/// pool (`queued.max.request.bytes`). The frame's own bytes are charged as it
/// is read; `reserve` adds what kafka-protocol's decoded structs may take
/// beyond them (the bounded walker's estimate) and waits until that much is
/// free. What it returns is held until the request is served.
pub trait DecodedMemory: Send + Sync {
    /// Reserves `extra` bytes for a request whose frame holds `held`.
    fn reserve(
        &self,
        held: usize,
        extra: usize,
    ) -> Pin<Box<dyn Future<Output = Box<dyn std::any::Any + Send>> + Send + '_>>;
}

/// What the handlers know of the connection a request came in on.
pub struct RequestContext {
    /// The client's address.
    pub peer: SocketAddr,
    /// The advertised endpoint of the listener the connection came in on.
    pub advertised: Arc<Listener>,
    /// Who the connection is: `User:ANONYMOUS` until TLS or SASL says
    /// otherwise.
    principal: parking_lot::RwLock<Arc<KafkaPrincipal>>,
    /// Where decoded requests are charged (none: not charged, as in tests).
    memory: Option<Arc<dyn DecodedMemory>>,
    /// The broker's own callers in-process (the web console, until it signs
    /// in with the broker's users): the authorizer allows them everything.
    internal: bool,
    /// The request being served: its client id and size, for quotas.
    current: parking_lot::Mutex<(StrBytes, usize)>,
    /// Kafka's channel muting after a throttled response: the connection
    /// reads nothing more until then.
    muted_until: parking_lot::Mutex<Option<tokio::time::Instant>>,
    /// The SASL session of a connection on a SASL listener.
    sasl: Option<parking_lot::Mutex<SaslSession>>,
    /// Close the connection once the response now being served is written
    /// (a failed authentication).
    closing: std::sync::atomic::AtomicBool,
    /// The connection can send file ranges itself (`sendfile`, plaintext
    /// sockets): Fetch answers [`Reply::Parts`] with the batches as ranges
    /// of the segment files instead of reading them into memory.
    zero_copy: bool,
}

impl RequestContext {
    /// A new connection's context.
    pub fn new(peer: SocketAddr, advertised: Arc<Listener>) -> RequestContext {
        RequestContext {
            peer,
            advertised,
            principal: parking_lot::RwLock::new(Arc::new(KafkaPrincipal::anonymous())),
            memory: None,
            internal: false,
            current: parking_lot::Mutex::new((StrBytes::default(), 0)),
            muted_until: parking_lot::Mutex::new(None),
            sasl: None,
            closing: std::sync::atomic::AtomicBool::new(false),
            zero_copy: false,
        }
    }

    /// Marks a connection that writes [`Reply::Parts`]' file ranges with
    /// `sendfile` (a plaintext socket), so Fetch sends batches without
    /// copying them through memory.
    pub fn with_zero_copy(mut self) -> RequestContext {
        self.zero_copy = true;
        self
    }

    /// Whether Fetch may answer with file ranges ([`RequestContext::with_zero_copy`]).
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// The context of the broker's own in-process callers (the web console
    /// without SASL users, and the HTTP ingest routes, through `facade`): no
    /// connection, and the authorizer allows everything, as for a super
    /// user. They are guarded by their listener's bind address and
    /// `console.read.only` (ingest: its own secrets and limits).
    pub fn internal() -> RequestContext {
        let listener = Arc::new(Listener {
            name: "INTERNAL-CALLER".into(),
            host: "127.0.0.1".into(),
            port: 0,
        });
        let mut ctx = RequestContext::new(SocketAddr::from(([127, 0, 0, 1], 0)), listener);
        ctx.internal = true;
        ctx
    }

    /// The context of an in-process caller acting as `principal` from
    /// `peer` (a user signed in to the web console with the broker's SASL
    /// users): the authorizer checks it as a Kafka client of that principal
    /// on that host. `listener` names where it came in, for log lines.
    pub fn signed_in(
        principal: KafkaPrincipal,
        peer: SocketAddr,
        listener: &str,
    ) -> RequestContext {
        let advertised = Arc::new(Listener {
            name: listener.to_string(),
            host: peer.ip().to_string(),
            port: 0,
        });
        let ctx = RequestContext::new(peer, advertised);
        ctx.set_principal(principal);
        ctx
    }

    /// Charges this connection's decoded requests to `memory`.
    pub fn with_memory(mut self, memory: Arc<dyn DecodedMemory>) -> RequestContext {
        self.memory = Some(memory);
        self
    }

    /// The context of a connection on a SASL listener.
    pub fn with_sasl(mut self, session: SaslSession) -> RequestContext {
        self.sasl = Some(parking_lot::Mutex::new(session));
        self
    }

    /// Whether the next frame is a bare SASL token (after SaslHandshake v0).
    pub fn sasl_raw_tokens(&self) -> bool {
        self.sasl.as_ref().is_some_and(|s| s.lock().raw_tokens())
    }

    /// The largest frame accepted now: `max_frame`, or before SASL
    /// authentication `sasl.server.max.receive.size` if smaller.
    pub fn frame_limit(&self, max_frame: usize) -> usize {
        match &self.sasl {
            Some(s) => {
                let s = s.lock();
                if s.authenticated() {
                    max_frame
                } else {
                    max_frame.min(s.max_receive_size())
                }
            }
            None => max_frame,
        }
    }

    /// Asks the connection to close after the response being served.
    pub fn close_after_response(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the connection is to close now.
    pub fn closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The connection's principal.
    pub fn principal(&self) -> Arc<KafkaPrincipal> {
        self.principal.read().clone()
    }

    /// Sets the connection's principal (after a TLS handshake with a client
    /// certificate, or a SASL authentication).
    pub fn set_principal(&self, principal: KafkaPrincipal) {
        *self.principal.write() = Arc::new(principal);
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

router::apis! {
    produce::Produce,
    fetch::Fetch,
    list_offsets::ListOffsets,
    metadata::Metadata,
    api_versions::ApiVersions,
    admin::CreateTopics,
    admin::DeleteTopics,
    configs::DescribeConfigs,
    configs::AlterConfigs,
    admin::CreatePartitions,
    configs::IncrementalAlterConfigs,
    metadata::DescribeCluster,
    delete_records::DeleteRecords,
    groups::FindCoordinator,
    groups::JoinGroup,
    groups::SyncGroup,
    groups::Heartbeat,
    groups::LeaveGroup,
    groups::OffsetCommit,
    groups::OffsetFetch,
    groups::DescribeGroups,
    groups::ListGroups,
    groups::DeleteGroups,
    groups::OffsetDelete,
    init_producer_id::InitProducerId,
    describe_log_dirs::DescribeLogDirs,
    offset_for_leader_epoch::OffsetForLeaderEpoch,
    describe_producers::DescribeProducers,
    elect_leaders::ElectLeaders,
    list_partition_reassignments::ListPartitionReassignments,
    alter_partition_reassignments::AlterPartitionReassignments,
    describe_client_quotas::DescribeClientQuotas,
    alter_client_quotas::AlterClientQuotas,
    describe_acls::DescribeAcls,
    create_acls::CreateAcls,
    delete_acls::DeleteAcls,
    sasl_handshake::SaslHandshake,
    sasl_authenticate::SaslAuthenticate,
    describe_user_scram_credentials::DescribeUserScramCredentials,
    alter_user_scram_credentials::AlterUserScramCredentials,
}

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
    /// A request the connection's SASL state does not admit (Kafka closes
    /// the connection), or a failed authentication with bare tokens.
    #[error("closing connection: {0}")]
    Sasl(&'static str),
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
    authorizer: Arc<Authorizer>,
    /// SCRAM credentials from the metadata store (users' entity configs).
    scram: Arc<ScramCredentialCache>,
}

impl Broker {
    /// Ties the handlers to the broker's state.
    pub fn new(
        config: Arc<BrokerConfig>,
        replica_manager: Arc<ReplicaManager>,
        metadata: Arc<dyn MetadataStore>,
        coordinator: Arc<GroupCoordinator>,
        authorizer: Arc<Authorizer>,
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
            authorizer,
            scram: Arc::new(ScramCredentialCache::default()),
        }
    }

    /// Asks the authorizer about the connection's principal (read in place,
    /// not cloned) and address. `None` without an authorizer and for the
    /// broker's own in-process callers ([`RequestContext::internal`]): those
    /// are allowed everything, at the cost of one branch.
    fn ask_authorizer<R>(
        &self,
        ctx: &RequestContext,
        ask: impl FnOnce(&Authorizer, &KafkaPrincipal, std::net::IpAddr) -> R,
    ) -> Option<R> {
        if !self.authorizer.is_enabled() || ctx.internal {
            return None;
        }
        let principal = ctx.principal.read();
        Some(ask(
            &self.authorizer,
            &principal,
            ctx.peer.ip().to_canonical(),
        ))
    }

    /// Whether the connection's principal may do `check` (a row of the one
    /// API → resource → operation table) on the resource `name`; a denial
    /// is logged. Without an authorizer: one branch, always true.
    pub(crate) fn authorize(&self, ctx: &RequestContext, check: Check, name: &str) -> bool {
        self.ask_authorizer(ctx, |a, p, host| a.authorize(p, host, check, name))
            .unwrap_or(true)
    }

    /// [`Broker::authorize`] where a denial only filters the resource out
    /// (not logged at info level, as Kafka's `logIfDenied = false`).
    pub(crate) fn authorize_filter(&self, ctx: &RequestContext, check: Check, name: &str) -> bool {
        self.ask_authorizer(ctx, |a, p, host| a.authorize_quietly(p, host, check, name))
            .unwrap_or(true)
    }

    /// Whether `check`'s operation is allowed on any resource of its type
    /// (Kafka's `authorizeByResourceType`).
    pub(crate) fn authorize_any(&self, ctx: &RequestContext, check: Check) -> bool {
        self.ask_authorizer(ctx, |a, p, host| a.authorize_any(p, host, check))
            .unwrap_or(true)
    }

    /// The authorized-operations bit field of a resource, as Kafka answers
    /// it in Metadata, DescribeCluster and DescribeGroups (every operation
    /// the type supports where nothing is checked).
    pub(crate) fn authorized_operations(
        &self,
        ctx: &RequestContext,
        ty: ResourceType,
        name: &str,
    ) -> i32 {
        self.ask_authorizer(ctx, |a, p, host| a.authorized_operations(p, host, ty, name))
            .unwrap_or_else(|| crate::authorizer::all_operations(ty))
    }

    /// The authorizer (the ACL APIs).
    pub(crate) fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// The two gates of the ACL APIs, in Kafka's order: `check` (ALTER or
    /// DESCRIBE on the cluster), then an authorizer configured. The refusal's
    /// error code and message (`disabled` is the API's own wording).
    pub(crate) fn acl_api_refusal(
        &self,
        ctx: &RequestContext,
        check: Check,
        disabled: &'static str,
    ) -> Option<(i16, &'static str)> {
        if !self.authorize(ctx, check, crate::authorizer::CLUSTER_NAME) {
            return Some((
                kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code(),
                "Cluster authorization failed.",
            ));
        }
        if !self.authorizer.is_enabled() {
            return Some((
                kafka_protocol::error::ResponseError::SecurityDisabled.code(),
                disabled,
            ));
        }
        None
    }

    /// Loads the client quotas and SCRAM credentials in force from the
    /// metadata store's entity configs (at start-up, after AlterClientQuotas
    /// and AlterUserScramCredentials, and periodically for other writers'
    /// changes).
    pub async fn reload_entity_configs(&self) {
        match self.metadata.entity_configs().await {
            Ok(configs) => {
                self.quotas.set_quotas(&configs);
                self.scram
                    .replace(alter_user_scram_credentials::credentials_of(&configs));
            }
            Err(e) => tracing::warn!(error = %e, "cannot load client quotas and SCRAM credentials"),
        }
    }

    /// The SCRAM credentials in force (for [`crate::security::sasl::SaslUsers::verify`]).
    pub fn scram_credentials(&self) -> &ScramCredentialCache {
        &self.scram
    }

    /// Whether `ctx`'s principal may do `check` on `name`, for the broker's
    /// in-process callers (the web console) that read state themselves:
    /// [`Broker::authorize`] (a denial is logged), or with `quietly` its
    /// filtering form (a resource left out of a list is not logged).
    pub fn allows(&self, ctx: &RequestContext, check: Check, name: &str, quietly: bool) -> bool {
        if quietly {
            self.authorize_filter(ctx, check, name)
        } else {
            self.authorize(ctx, check, name)
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
        let Some(support) = ApiKey::try_from(raw_key)
            .ok()
            .and_then(|key| APIS.iter().find(|a| a.key == key))
        else {
            // Kafka closes the connection on an API key it does not know.
            refused(&frame, &format!("API key {raw_key}"), version);
            return Err(ProtocolError::UnknownApi(raw_key));
        };
        let key = support.key;
        if let Some(sasl) = &ctx.sasl {
            let admission = sasl.lock().admits(raw_key, std::time::Instant::now());
            if let Some(why) = admission.reason() {
                if admission == Admission::Expired {
                    crate::metrics::expired_connection_killed();
                }
                refused(&frame, &format!("{key:?} ({why})"), version);
                return Err(ProtocolError::Sasl(why));
            }
        }
        if key == ApiKey::ApiVersions && version > support.max {
            // KIP-511: answer v0 with UNSUPPORTED_VERSION and our ranges so the client retries lower.
            let body = api_versions::unsupported_version_response();
            return encode_response(key, correlation_id, 0, &body).map(|b| Reply::Now(Some(b)));
        }
        if !support.serves(version) {
            // Outside the advertised range: Kafka closes the connection too.
            refused(&frame, &format!("{key:?}"), version);
            return Err(ProtocolError::UnsupportedVersion { key, version });
        }
        let checked = bounded::admit(ctx.peer, key, version, &frame)?;
        // The decoded form beyond the frame's bytes is memory in flight too:
        // charged (waiting for credit) until the request is served.
        let extra = checked.decoded_bytes.saturating_sub(frame_len);
        let _decoded_credit = match &ctx.memory {
            Some(memory) if extra > 0 => Some(memory.reserve(frame_len, extra).await),
            _ => None,
        };
        let header_version = key.request_header_version(version);
        let header = RequestHeader::decode(&mut frame, header_version).map_err(|e| {
            ProtocolError::Decode {
                key,
                version,
                reason: e.to_string(),
            }
        })?;
        let client_id = header.client_id.as_deref().unwrap_or("");
        let span = tracing::debug_span!("request", api = ?key, version, correlation_id, client_id);
        let _enter = span.enter();
        *ctx.current.lock() = (header.client_id.clone().unwrap_or_default(), frame_len);
        let call = router::Call {
            ctx,
            version,
            client_id,
            correlation_id: header.correlation_id,
        };
        // `frame` is now the request body; `router::dispatch` decodes it.
        route(self, key, &call, frame)
            .await
            .unwrap_or(Err(ProtocolError::UnknownApi(raw_key)))
    }
}

impl Broker {
    /// Serves a bare SASL token (after SaslHandshake v0): the answer is the
    /// mechanism's token, size-prefixed, no Kafka header; a failure closes
    /// the connection (v0 has no way to carry an error), as in Kafka.
    pub fn sasl_token(&self, ctx: &RequestContext, token: &[u8]) -> Result<Reply, ProtocolError> {
        match sasl_authenticate::step(self, ctx, token) {
            Ok((answer, _)) => Ok(Reply::Now(Some(BytesMut::from(&answer[..])))),
            Err(_) => Err(ProtocolError::Sasl("SASL authentication failed")),
        }
    }
}

/// The client id of a request header (v1 and v2 both carry it after the
/// correlation id), for a log line about a request not otherwise decoded.
fn client_id_of(frame: &[u8]) -> String {
    let Some(len) = frame.get(8..10).map(|l| i16::from_be_bytes([l[0], l[1]])) else {
        return String::new();
    };
    usize::try_from(len)
        .ok()
        .and_then(|len| frame.get(10..10 + len))
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .unwrap_or_default()
}

/// Logs a request refused by closing the connection: one line naming the
/// client id, the API and the version, at most [`REFUSALS_PER_SECOND`] a
/// second (a client reconnecting in a loop cannot flood the log).
fn refused(frame: &[u8], api: &str, version: i16) {
    use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
    static SECOND: AtomicI64 = AtomicI64::new(0);
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let now = crate::util::now_ms() / 1000;
    if SECOND.swap(now, Ordering::Relaxed) != now {
        let suppressed = COUNT
            .swap(0, Ordering::Relaxed)
            .saturating_sub(REFUSALS_PER_SECOND);
        if suppressed > 0 {
            tracing::warn!(suppressed, "more refused requests were not logged");
        }
    }
    if COUNT.fetch_add(1, Ordering::Relaxed) < REFUSALS_PER_SECOND {
        tracing::warn!(
            client_id = %client_id_of(frame),
            api,
            version,
            "refusing a request this broker does not serve; closing the connection, as Kafka does"
        );
    }
}

/// Log lines about refused requests per second, at most.
const REFUSALS_PER_SECOND: u32 = 10;

/// What serving a request gives the connection.
pub enum Reply {
    /// The response now; `None` when the request wants none (acks=0).
    Now(Option<BytesMut>),
    /// The response now, as bytes in memory and ranges of segment files (a
    /// zero-copy Fetch on a connection [`RequestContext::with_zero_copy`]):
    /// written in order, the file ranges with `sendfile`.
    Parts(ResponseParts),
    /// A produce already appended whose fsync (`flush.messages`) is still
    /// running: its response, once durable. The connection may read and
    /// serve its next request meanwhile but must send responses in order.
    Later(Pin<Box<dyn Future<Output = Result<BytesMut, ProtocolError>> + Send>>),
}

/// One piece of a [`ResponseParts`].
pub enum ResponsePart {
    /// Encoded bytes.
    Bytes(Bytes),
    /// A byte range of a segment file: whole record batches.
    File(FileSlice),
}

/// A response (without its size prefix) as consecutive parts.
#[derive(Default)]
pub struct ResponseParts {
    parts: Vec<ResponsePart>,
    len: usize,
}

impl ResponseParts {
    /// Appends encoded bytes (nothing for an empty buffer).
    pub fn push_bytes(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.len += bytes.len();
            self.parts.push(ResponsePart::Bytes(bytes));
        }
    }

    /// Appends a file range.
    pub fn push_file(&mut self, slice: FileSlice) {
        if !slice.is_empty() {
            self.len += slice.len();
            self.parts.push(ResponsePart::File(slice));
        }
    }

    /// The response's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the response is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The parts, in order.
    pub fn into_parts(self) -> Vec<ResponsePart> {
        self.parts
    }

    /// The whole response in memory (file ranges read): for a connection
    /// that cannot send files, and for tests.
    pub fn into_bytes(self) -> std::io::Result<BytesMut> {
        let mut out = BytesMut::with_capacity(self.len);
        for part in self.parts {
            match part {
                ResponsePart::Bytes(b) => out.extend_from_slice(&b),
                ResponsePart::File(f) => {
                    let mut buf = Vec::with_capacity(f.len());
                    f.read_into(&mut buf)?;
                    out.extend_from_slice(&buf);
                }
            }
        }
        Ok(out)
    }
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
    fn registered_apis_are_unique_and_decodable_by_kafka_protocol() {
        let mut seen = std::collections::HashSet::new();
        for api in APIS {
            assert!(seen.insert(api.key), "{:?} registered twice", api.key);
            // Below kafka-protocol's range, `Api::serve_legacy` serves.
            let range = api.key.valid_versions();
            assert!(api.max <= range.max, "{:?}", api.key);
            assert!(api.min <= api.max, "{:?}", api.key);
            // `legacy_wire` covers Produce and Fetch below kafka-protocol's range.
            assert!(api.key != ApiKey::Produce || range.min == legacy_wire::PRODUCE_MAX + 1);
            assert!(api.key != ApiKey::Fetch || range.min == legacy_wire::FETCH_MAX + 1);
        }
    }

    /// Kafka 3.5.2's `validVersions` (clients/src/main/resources/common/message/*Request.json).
    const KAFKA_3_5: &[(ApiKey, i16, i16)] = &[
        (ApiKey::Produce, 0, 9),
        (ApiKey::Fetch, 0, 15),
        (ApiKey::ListOffsets, 0, 8),
        (ApiKey::Metadata, 0, 12),
        (ApiKey::OffsetCommit, 0, 8),
        (ApiKey::OffsetFetch, 0, 8),
        (ApiKey::FindCoordinator, 0, 4),
        (ApiKey::JoinGroup, 0, 9),
        (ApiKey::Heartbeat, 0, 4),
        (ApiKey::LeaveGroup, 0, 5),
        (ApiKey::SyncGroup, 0, 5),
        (ApiKey::DescribeGroups, 0, 5),
        (ApiKey::ListGroups, 0, 4),
        (ApiKey::ApiVersions, 0, 3),
        (ApiKey::CreateTopics, 0, 7),
        (ApiKey::DeleteTopics, 0, 6),
        (ApiKey::DeleteRecords, 0, 2),
        (ApiKey::InitProducerId, 0, 4),
        (ApiKey::DescribeConfigs, 0, 4),
        (ApiKey::AlterConfigs, 0, 2),
        (ApiKey::CreatePartitions, 0, 3),
        (ApiKey::DeleteGroups, 0, 2),
        (ApiKey::IncrementalAlterConfigs, 0, 1),
        (ApiKey::OffsetDelete, 0, 0),
        (ApiKey::DescribeCluster, 0, 0),
        (ApiKey::DescribeLogDirs, 0, 4),
        (ApiKey::OffsetForLeaderEpoch, 0, 4),
        (ApiKey::DescribeProducers, 0, 0),
        (ApiKey::ElectLeaders, 0, 2),
        (ApiKey::ListPartitionReassignments, 0, 0),
        (ApiKey::AlterPartitionReassignments, 0, 0),
        (ApiKey::DescribeClientQuotas, 0, 1),
        (ApiKey::AlterClientQuotas, 0, 1),
        (ApiKey::DescribeAcls, 0, 3),
        (ApiKey::CreateAcls, 0, 3),
        (ApiKey::DeleteAcls, 0, 3),
        (ApiKey::SaslHandshake, 0, 1),
        (ApiKey::SaslAuthenticate, 0, 2),
        (ApiKey::DescribeUserScramCredentials, 0, 0),
        (ApiKey::AlterUserScramCredentials, 0, 0),
    ];

    #[test]
    fn advertised_ranges_are_kafka_3_5s() {
        for api in APIS {
            let kafka = KAFKA_3_5.iter().find(|(k, _, _)| *k == api.key);
            assert_eq!(
                kafka.map(|&(_, min, max)| (min, max)),
                Some((api.min, api.max)),
                "{:?}: strom's range differs from Kafka 3.5's",
                api.key
            );
        }
    }

    #[test]
    fn client_id_is_read_from_the_header() {
        let mut frame = vec![0, 99, 0, 1, 0, 0, 0, 7, 0, 3];
        frame.extend_from_slice(b"cli");
        assert_eq!(client_id_of(&frame), "cli");
        assert_eq!(client_id_of(&frame[..9]), "");
        assert_eq!(client_id_of(&frame[..11]), "");
    }
}
