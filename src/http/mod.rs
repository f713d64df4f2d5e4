//! The one HTTP stack (axum on hyper), at the top beside the server, with
//! two listeners:
//! - `metrics.listener` (default `0.0.0.0:9308`): [`metrics`] — `/metrics`,
//!   `/health`, `/ready`, bound first at start-up so `/health` answers during
//!   log recovery;
//! - `console.listener` (default `0.0.0.0:8082`): the web console and its
//!   JSON API ([`console`]), plus the routes other modules contribute
//!   ([`CONTRIBUTIONS`], e.g. HTTP ingest), which are served outside the
//!   console's CSRF check and `console.read.only`.
//!
//! Both listeners share one accept loop ([`HttpServer`]): at most
//! [`MAX_HTTP_CONNECTIONS`] connections each, request headers within
//! [`HEADER_READ_TIMEOUT`], every connection a task of the listener's
//! `JoinSet`, ended at shutdown. A listener given a TLS server config
//! ([`HttpServer::with_tls`], the console's `listener.name.console.ssl.*`)
//! serves HTTPS only: the handshake within [`TLS_HANDSHAKE_TIMEOUT`], and a
//! plain HTTP request gets one `400` saying so, then the connection closes.
//!
//! This module alone reads the replica manager and the coordinator for
//! display; changes go through the same [`Broker`] functions the Kafka APIs
//! use, so both paths share one behaviour.

pub mod console;
pub mod ingest;
pub mod metrics;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use std::net::SocketAddr;

use crate::config::BrokerConfig;
use crate::coordinator::GroupCoordinator;
use crate::protocol::Broker;
use crate::replica_manager::ReplicaManager;
use crate::security::sasl::SaslUsers;
use crate::security::tls::TlsServer;

/// Most HTTP connections one listener serves at once.
pub const MAX_HTTP_CONNECTIONS: usize = 64;
/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take over its TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Put into every request's extensions: whether it came over TLS (the
/// console's session cookie is then `Secure`).
#[derive(Clone, Copy, Debug)]
pub struct Transport {
    /// The connection is HTTPS.
    pub tls: bool,
}

/// What a plain HTTP request on an HTTPS listener is answered.
const PLAIN_ON_TLS: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: 55\r\n\r\nThis port serves HTTPS only: use https:// in the URL.\r\n";

/// What the HTTP routes read and call once the logs are loaded.
pub struct Sources {
    /// The broker configuration.
    pub config: Arc<BrokerConfig>,
    /// Partitions and their offsets.
    pub replica_manager: Arc<ReplicaManager>,
    /// Groups, members and committed offsets.
    pub coordinator: Arc<GroupCoordinator>,
    /// The Kafka API layer: topic creation, config changes, produce
    /// ([`Broker::produce`]), offset commits — the functions the HTTP
    /// routes share with the Kafka APIs.
    pub broker: Arc<Broker>,
    /// The SASL users of the broker's listeners: who may sign in to the
    /// console (`console.authentication`) and read `/metrics`
    /// (`metrics.authentication=basic`).
    pub sasl_users: Arc<SaslUsers>,
}

/// What both HTTP listeners know of the broker: the sources once the logs
/// are loaded, and the readiness conditions. Shared as the routers' state.
pub struct EndpointState {
    sources: OnceLock<Sources>,
    listeners_bound: AtomicBool,
    /// `None`: no ZooKeeper configured.
    zookeeper_registered: Option<AtomicBool>,
    /// When the process started serving (the broker's uptime).
    started: Instant,
    /// The web console's signed-in sessions.
    console_sessions: console::auth::Sessions,
    /// `metrics.authentication=basic`.
    metrics_authentication: AtomicBool,
}

impl EndpointState {
    /// A state with nothing ready; `zookeeper` when `zookeeper.connect` is set.
    pub fn new(zookeeper: bool) -> Self {
        EndpointState {
            sources: OnceLock::new(),
            listeners_bound: AtomicBool::new(false),
            zookeeper_registered: zookeeper.then(|| AtomicBool::new(false)),
            started: Instant::now(),
            console_sessions: console::auth::Sessions::default(),
            metrics_authentication: AtomicBool::new(false),
        }
    }

    /// `/metrics` asks for HTTP Basic credentials (`metrics.authentication=basic`);
    /// set before the metrics endpoint opens.
    pub fn require_metrics_authentication(&self, required: bool) {
        self.metrics_authentication
            .store(required, Ordering::Release);
    }

    /// Whether `/metrics` asks for credentials.
    pub fn metrics_authentication(&self) -> bool {
        self.metrics_authentication.load(Ordering::Acquire)
    }

    /// The web console's sessions.
    pub fn console_sessions(&self) -> &console::auth::Sessions {
        &self.console_sessions
    }

    /// The logs are recovered and the topics loaded: serve from `sources`.
    pub fn logs_recovered(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }

    /// The sources, once the logs are loaded (`None` before).
    pub fn sources(&self) -> Option<&Sources> {
        self.sources.get()
    }

    /// Time since the state was made (at the start of the broker).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Every client listener is bound.
    pub fn listeners_bound(&self) {
        self.listeners_bound.store(true, Ordering::Release);
    }

    /// The broker is registered in ZooKeeper.
    pub fn zookeeper_registered(&self, registered: bool) {
        if let Some(z) = &self.zookeeper_registered {
            z.store(registered, Ordering::Release);
        }
    }

    /// `Ok` when ready, else what is not.
    pub fn readiness(&self) -> Result<(), Vec<&'static str>> {
        let mut missing = Vec::new();
        match self.sources.get() {
            None => missing.push("logs not recovered"),
            Some(s) if !s.coordinator.is_loaded() => missing.push("group coordinator loading"),
            Some(_) => {}
        }
        if !self.listeners_bound.load(Ordering::Acquire) {
            missing.push("listeners not bound");
        }
        if let Some(z) = &self.zookeeper_registered {
            let expired = crate::metrics::zookeeper_session_expired();
            if !z.load(Ordering::Acquire) || expired {
                missing.push("not registered in ZooKeeper");
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing)
        }
    }
}

/// A module's routes on the console listener: built from the shared state,
/// merged beside the console, and NOT behind the console's CSRF check or
/// `console.read.only` (they have their own rules, e.g. a webhook secret).
/// Paths must not overlap the console's (`/`, `/topics…`, `/groups…`,
/// `/messages…`, `/broker`, `/api/v1/…`, `/assets/…`).
pub type Contribution = fn(Arc<EndpointState>) -> Router;

/// The routes other modules contribute to the console listener, one line
/// each (e.g. `ingest::routes`).
pub const CONTRIBUTIONS: &[Contribution] = &[ingest::routes];

/// The console listener's router: the console (pages and `/api/v1`, behind
/// its CSRF check and read-only switch) merged with `extra` contributions.
pub fn console_router(state: Arc<EndpointState>, extra: &[Contribution]) -> Router {
    let mut router = console::router(state.clone());
    for contribute in extra {
        router = router.merge(contribute(state.clone()));
    }
    router
}

/// One bound HTTP listener serving a router.
pub struct HttpServer {
    listener: TcpListener,
    name: &'static str,
    tls: Option<Arc<TlsServer>>,
}

impl HttpServer {
    /// Binds `addr` (`host:port`); `name` is the property, for log lines.
    pub async fn bind(addr: &str, name: &'static str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(HttpServer {
            listener,
            name,
            tls: None,
        })
    }

    /// Serves HTTPS only, with `tls`'s current server config (swapped in
    /// place when its files change, see [`TlsServer::reload_if_changed`]).
    pub fn with_tls(mut self, tls: Option<Arc<TlsServer>>) -> Self {
        self.tls = tls;
        self
    }

    /// The local address actually bound.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `router` until `shutdown` turns true; then ends every
    /// connection (long-lived event streams included).
    pub async fn run(self, router: Router, mut shutdown: watch::Receiver<bool>) {
        let mut connections = JoinSet::new();
        let name = self.name;
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.changed() => break,
            };
            while connections.try_join_next().is_some() {}
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(listener = name, error = %e, "HTTP accept failed; backing off");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if connections.len() >= MAX_HTTP_CONNECTIONS {
                tracing::debug!(listener = name, %peer, "too many HTTP connections; closing");
                continue;
            }
            // The peer rides in each request (`ConnectInfo`), for the
            // ingest routes' per-source rate limit and the console's
            // signed-in principal's host.
            let transport = Transport {
                tls: self.tls.is_some(),
            };
            let service = TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                move |mut r: hyper::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    r.extensions_mut().insert(transport);
                    r
                },
            ));
            let tls = self.tls.clone();
            connections.spawn(async move {
                match tls {
                    None => serve_connection(stream, service, name, peer).await,
                    Some(tls) => {
                        if let Some(stream) = tls_handshake(stream, &tls, name, peer).await {
                            serve_connection(stream, service, name, peer).await;
                        }
                    }
                }
            });
        }
        connections.shutdown().await;
    }
}

/// Serves HTTP/1.1 on one connection until it ends.
async fn serve_connection<I, S>(io: I, service: S, name: &'static str, peer: SocketAddr)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = conn.await {
        tracing::debug!(listener = name, %peer, error = %e, "HTTP connection ended");
    }
}

/// The TLS handshake of an HTTPS connection, bounded by
/// [`TLS_HANDSHAKE_TIMEOUT`]. A client that starts with plain HTTP (its
/// first byte is not a TLS handshake record, 0x16) is told to use https and
/// closed; a failed handshake closes the connection. `None` in both cases.
async fn tls_handshake(
    mut stream: tokio::net::TcpStream,
    tls: &TlsServer,
    name: &'static str,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await;
    match peeked {
        Ok(Ok(1)) if first[0] == 0x16 => {}
        Ok(Ok(1)) if first[0].is_ascii_alphabetic() => {
            tracing::debug!(listener = name, %peer, "plain HTTP on an HTTPS listener; told to use https");
            let _ = tokio::time::timeout(HEADER_READ_TIMEOUT, async {
                use tokio::io::AsyncWriteExt;
                stream.write_all(PLAIN_ON_TLS).await?;
                stream.shutdown().await
            })
            .await;
            return None;
        }
        _ => {
            tracing::debug!(listener = name, %peer, "not a TLS handshake; closing");
            return None;
        }
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(listener = name, %peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(listener = name, %peer, "TLS handshake not finished in time");
            None
        }
    }
}
