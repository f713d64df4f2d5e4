//! The socket server: one acceptor per configured listener, one task per
//! connection, Kafka's size-prefixed framing.
//!
//! Invariants:
//! - A connection knows the listener it came in on; every answer that names
//!   a broker address (Metadata, FindCoordinator, DescribeCluster) uses that
//!   listener's advertised endpoint.
//! - Connections are bounded by a semaphore whose permit is taken before
//!   `accept()`; a frame larger than `socket.request.max.bytes`, a negative
//!   length or an undecodable header closes only that connection.
//! - Requests on one connection are handled one at a time, in order, as
//!   Kafka does; only a produce's wait for its fsync (`flush.messages`) may
//!   overlap the next requests, and responses are always written in order.

mod connection;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

use crate::config::Listener;
use crate::protocol::Broker;

/// The most connections strom holds open at once, whatever `max.connections` says.
const CONNECTION_CAP: usize = 10_000;

/// A bound listener, ready to accept.
pub struct BoundListener {
    /// The listener's name and bind address.
    pub listener: Listener,
    /// The endpoint clients of this listener are told about.
    pub advertised: Listener,
    socket: TcpListener,
}

impl BoundListener {
    /// Binds `listener`; host "" or "0.0.0.0" means every interface.
    pub async fn bind(listener: Listener, advertised: Listener) -> std::io::Result<Self> {
        let host = if listener.host.is_empty() {
            "0.0.0.0"
        } else {
            listener.host.trim_start_matches('[').trim_end_matches(']')
        };
        let socket = TcpListener::bind((host, listener.port)).await?;
        Ok(BoundListener {
            listener,
            advertised,
            socket,
        })
    }

    /// The local address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Accepts connections until `shutdown` turns true, serving each on its own task.
    pub async fn run(
        self,
        broker: Arc<Broker>,
        limit: Arc<Semaphore>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let advertised = Arc::new(self.advertised);
        let open_connections = crate::metrics::ConnectionGauge::for_listener(&self.listener.name);
        let mut backoff = Duration::from_millis(10);
        loop {
            let permit = tokio::select! {
                p = limit.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = shutdown.changed() => return,
            };
            let accepted = tokio::select! {
                a = self.socket.accept() => a,
                _ = shutdown.changed() => return,
            };
            match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(10);
                    let _ = stream.set_nodelay(true);
                    let broker = broker.clone();
                    let advertised = advertised.clone();
                    let shutdown = shutdown.clone();
                    let open = open_connections.open();
                    let span =
                        tracing::info_span!("connection", listener = %self.listener.name, %peer);
                    tokio::spawn(
                        async move {
                            connection::serve(stream, peer, advertised, broker, shutdown).await;
                            drop(open);
                            drop(permit);
                        }
                        .instrument(span),
                    );
                }
                Err(e) => {
                    tracing::warn!(listener = %self.listener.name, error = %e, "accept failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// The connection limit for `max.connections`.
pub fn connection_limit(max_connections: i32) -> Arc<Semaphore> {
    let n = usize::try_from(max_connections)
        .unwrap_or(CONNECTION_CAP)
        .clamp(1, CONNECTION_CAP);
    Arc::new(Semaphore::new(n))
}
