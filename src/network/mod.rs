//! The socket server: one acceptor per configured listener, one task per
//! connection, Kafka's size-prefixed framing, and the socket server's limits
//! (`quotas`: `max.connections`, `max.connections.per.ip`; `pool`:
//! `queued.max.request.bytes`; `connections.max.idle.ms` in `connection`).
//!
//! Invariants:
//! - A connection knows the listener it came in on; every answer that names
//!   a broker address (Metadata, FindCoordinator, DescribeCluster) uses that
//!   listener's advertised endpoint.
//! - Connections are bounded broker-wide: an accepted socket waits for a slot
//!   (the acceptor accepts nothing else meanwhile, as Kafka's does) and is
//!   then counted against its address; over `max.connections.per.ip` it is
//!   closed at once. Slot and count are freed when the connection's task ends.
//! - Memory of request frames in flight is bounded by the request pool:
//!   a frame's bytes are read only under credit, and the credit returns when
//!   the frame is dropped.
//! - A frame larger than `socket.request.max.bytes`, a negative length or an
//!   undecodable header closes only that connection.
//! - Requests on one connection are handled one at a time, in order, as
//!   Kafka does; only a produce's wait for its fsync (`flush.messages`) may
//!   overlap the next requests, and responses are always written in order.
//! - Shutdown: the acceptor closes its listening socket first, then each of
//!   its connections finishes the request it is serving (response written)
//!   and closes; connections still open after [`CONNECTION_DRAIN`] are
//!   dropped.

mod connection;
mod pool;
mod quotas;
mod security;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{BrokerConfig, Listener};
use crate::protocol::Broker;

pub use pool::RequestPool;
use quotas::RateLimitedLog;
pub use quotas::{ConnectionQuotas, CONNECTION_CAP};
pub use security::{ListenerSecurity, TLS_HANDSHAKE_TIMEOUT, TLS_RELOAD_POLL};

/// How long a listener's open connections get at shutdown to finish the
/// request each is serving and close (below the server's 10 s task bound).
pub const CONNECTION_DRAIN: Duration = Duration::from_secs(5);

/// What every connection of every listener shares: limits and the pool.
pub struct SocketServer {
    quotas: ConnectionQuotas,
    pool: RequestPool,
    /// `connections.max.idle.ms`; `None`: never.
    idle: Option<Duration>,
    max_frame: usize,
}

impl SocketServer {
    /// The socket server's limits from the configuration (resolves the
    /// hostnames of `max.connections.per.ip.overrides`).
    pub async fn new(config: &BrokerConfig) -> Arc<Self> {
        let overrides =
            ConnectionQuotas::resolve_overrides(&config.max_connections_per_ip_overrides).await;
        let quotas = ConnectionQuotas::new(
            config.max_connections,
            config.max_connections_per_ip,
            overrides,
        );
        if usize::try_from(config.max_connections).map_or(true, |m| m > CONNECTION_CAP) {
            tracing::info!(
                max_connections = config.max_connections,
                cap = CONNECTION_CAP,
                "max.connections is above strom's cap; the cap applies"
            );
        }
        Arc::new(SocketServer {
            quotas,
            pool: RequestPool::new(config.queued_max_request_bytes),
            idle: u64::try_from(config.connections_max_idle_ms)
                .ok()
                .map(Duration::from_millis),
            max_frame: usize::try_from(config.socket_request_max_bytes).unwrap_or(0),
        })
    }
}

static BLOCKED_LOG: RateLimitedLog = RateLimitedLog::new();
static PER_IP_LOG: RateLimitedLog = RateLimitedLog::new();

fn now_ms() -> u64 {
    u64::try_from(crate::util::now_ms()).unwrap_or(0)
}

/// A bound listener, ready to accept.
pub struct BoundListener {
    /// The listener's name and bind address.
    pub listener: Listener,
    /// The endpoint clients of this listener are told about.
    pub advertised: Listener,
    /// Its security protocol (TLS, SASL).
    security: Arc<ListenerSecurity>,
    socket: TcpListener,
}

impl BoundListener {
    /// Binds `listener`; host "" or "0.0.0.0" means every interface.
    pub async fn bind(
        listener: Listener,
        advertised: Listener,
        security: ListenerSecurity,
    ) -> std::io::Result<Self> {
        let host = if listener.host.is_empty() {
            "0.0.0.0"
        } else {
            listener.host.trim_start_matches('[').trim_end_matches(']')
        };
        let socket = TcpListener::bind((host, listener.port)).await?;
        Ok(BoundListener {
            listener,
            advertised,
            security: Arc::new(security),
            socket,
        })
    }

    /// The local address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Accepts connections until `shutdown` turns true, serving each on its
    /// own task; then closes the listening socket and drains the connections.
    pub async fn run(
        self,
        broker: Arc<Broker>,
        server: Arc<SocketServer>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let advertised = Arc::new(self.advertised);
        let name = self.listener.name.clone();
        let open_connections = crate::metrics::ConnectionGauge::for_listener(&name);
        let mut connections = JoinSet::new();
        let mut backoff = Duration::from_millis(10);
        let _reload = self.security.tls.clone().map(|tls| {
            AbortOnDrop(tokio::spawn(
                watch_tls_files(tls)
                    .instrument(tracing::info_span!("tls-reload", listener = %name)),
            ))
        });
        loop {
            let accepted = tokio::select! {
                a = self.socket.accept() => a,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                _ = shutdown.changed() => break,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(listener = %name, error = %e, "accept failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            backoff = Duration::from_millis(10);
            // Kafka's order: a broker-wide slot first (accepting nothing else
            // meanwhile), then the address's count.
            let slot = match server.quotas.try_slot() {
                Some(slot) => slot,
                None => {
                    crate::metrics::acceptor_blocked(&name);
                    if let Some(held_back) = BLOCKED_LOG.allow(now_ms()) {
                        tracing::warn!(
                            listener = %name, %peer,
                            max_connections = server.quotas.max_connections(),
                            similar_lines_held_back = held_back,
                            "max.connections reached: not accepting until a connection closes"
                        );
                    }
                    let slot = tokio::select! {
                        s = server.quotas.slot() => s,
                        _ = shutdown.changed() => break,
                    };
                    match slot {
                        Some(s) => s,
                        None => break,
                    }
                }
            };
            let ip_count = match server.quotas.admit_ip(peer.ip()) {
                Ok(c) => c,
                Err(max) => {
                    crate::metrics::connection_refused("max_connections_per_ip");
                    if let Some(held_back) = PER_IP_LOG.allow(now_ms()) {
                        tracing::warn!(
                            listener = %name, %peer, max_connections_per_ip = max,
                            similar_lines_held_back = held_back,
                            "closing connection: too many connections from this address"
                        );
                    }
                    drop(stream);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let broker = broker.clone();
            let server = server.clone();
            let advertised = advertised.clone();
            let security = self.security.clone();
            let shutdown = shutdown.clone();
            let open = open_connections.open();
            let span = tracing::info_span!("connection", listener = %name, %peer);
            connections.spawn(
                async move {
                    connection::serve(
                        stream, peer, advertised, broker, &server, &security, shutdown,
                    )
                    .await;
                    // The limits' counts first, the gauge last: once
                    // `strom_connections` shows it gone, its slots are free.
                    drop(ip_count);
                    drop(slot);
                    drop(open);
                }
                .instrument(span),
            );
        }
        // Listening socket first, so clients go elsewhere (or retry later).
        drop(self.socket);
        let open = connections.len();
        if open > 0 {
            tracing::info!(listener = %name, connections = open, "draining connections");
        }
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(CONNECTION_DRAIN, drain).await.is_err() {
            tracing::warn!(
                listener = %name,
                connections = connections.len(),
                "connections still open after the drain bound; closing them"
            );
            connections.shutdown().await;
        }
    }
}

/// Aborts a task when dropped (the listener's TLS reload task ends with it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Certificate reload without restart: looks at the keystore and
/// truststore files every [`TLS_RELOAD_POLL`] and swaps the server config
/// in when they changed (new connections get it; open ones keep theirs).
async fn watch_tls_files(tls: Arc<crate::security::tls::TlsServer>) {
    let mut tick = tokio::time::interval(TLS_RELOAD_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        tick.tick().await;
        let tls = tls.clone();
        match tokio::task::spawn_blocking(move || tls.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!("TLS keystore or truststore changed on disk: reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "TLS files changed but cannot be loaded; keeping the certificates in use")
            }
            Err(_) => return,
        }
    }
}
