//! One client connection: read a size-prefixed frame, hand it to the API
//! router, write the response, repeat.
//!
//! Requests are served one at a time, in order, as Kafka does. The one
//! exception to "finish before reading on" is the fsync a produce owes under
//! `flush.messages`: the produce is appended before the next request is read,
//! but its response ([`Reply::Later`]) waits for the fsync in the writer half
//! while the reader half serves the next requests — so a producer's pipelined
//! requests share fsyncs (group commit) instead of paying one each in turn.
//! Responses are always written in request order.
//!
//! A frame's bytes are read only under the request pool's credit
//! ([`super::pool`]): while none is free the connection stops reading and the
//! client's sends back up in TCP. `connections.max.idle.ms` closes a
//! connection that has neither sent nor received anything that long, also in
//! the middle of a frame; time spent waiting for credit, serving a request or
//! for a produce's fsync does not count. At shutdown the reader stops before
//! the next request (or while still waiting for credit), the writer writes
//! every response already due, and the connection closes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::pool::{pooled_frame, RequestPool};
use super::quotas::RateLimitedLog;
use super::security::{ListenerSecurity, TLS_HANDSHAKE_TIMEOUT};
use super::SocketServer;
use crate::config::Listener;
use crate::protocol::{Broker, Reply, RequestContext, ResponsePart, ResponseParts};
use crate::records::file::FileSlice;
use crate::security::sasl::SaslSession;

static IDLE_LOG: RateLimitedLog = RateLimitedLog::new();
static TLS_LOG: RateLimitedLog = RateLimitedLog::new();

/// When the connection last moved bytes either way, for the idle timeout.
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Why the reader stopped mid-read.
enum Stop {
    /// The peer closed, or a read failed.
    Closed,
    /// `connections.max.idle.ms` passed without a byte.
    Idle,
    /// The broker is shutting down.
    Shutdown,
}

/// Limits of one connection's reads.
struct ReadLimits<'a> {
    idle: Option<Duration>,
    activity: &'a Activity,
    peer: SocketAddr,
}

impl ReadLimits<'_> {
    /// Awaits `read`, which makes progress only with the client's bytes,
    /// unless the connection has been idle for the idle timeout.
    async fn within_idle<T>(
        &self,
        read: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> Result<T, Stop> {
        let Some(idle) = self.idle else {
            return read.await.map_err(|_| Stop::Closed);
        };
        // Idleness counts from the start of this wait at the latest: time
        // spent serving a request or waiting for credit is not the client's.
        self.activity.touch();
        tokio::pin!(read);
        loop {
            let deadline = tokio::time::Instant::from_std(self.activity.last() + idle);
            tokio::select! {
                biased;
                r = &mut read => {
                    self.activity.touch();
                    return r.map_err(|_| Stop::Closed);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    // The writer may have been busy meanwhile.
                    if self.activity.last() + idle <= Instant::now() {
                        return Err(Stop::Idle);
                    }
                }
            }
        }
    }

    fn closed_idle(&self) {
        crate::metrics::connection_closed_idle();
        if let Some(held_back) = IDLE_LOG.allow(super::now_ms()) {
            tracing::info!(
                peer = %self.peer,
                idle_ms = self.idle.map_or(0, |d| d.as_millis() as u64),
                similar_lines_held_back = held_back,
                "closing connection: idle for connections.max.idle.ms"
            );
        }
    }
}

/// Read and write buffer of a connection.
const CONNECTION_BUFFER_BYTES: usize = 8 * 1024;

/// Responses of one connection handled but not yet written (beyond the one
/// the writer is on): bounds what a client that does not read can pile up.
const MAX_QUEUED_RESPONSES: usize = 4;

/// A served request on its way to the writer.
struct Served {
    api_key: i16,
    started: Instant,
    reply: Reply,
    /// The client has already sent more: don't flush after this response.
    more_buffered: bool,
}

/// Serves one connection until the peer closes it, it misbehaves, or the broker shuts down.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    advertised: Arc<Listener>,
    broker: Arc<Broker>,
    server: &SocketServer,
    security: &ListenerSecurity,
    shutdown: watch::Receiver<bool>,
) {
    let mut ctx = RequestContext::new(peer, advertised).with_memory(Arc::new(server.pool.clone()));
    if let Some(sasl) = &security.sasl {
        ctx = ctx.with_sasl(SaslSession::new(sasl.clone()));
    }
    let Some(tls) = &security.tls else {
        // Plaintext: Fetch's batches go from the page cache to the socket
        // with sendfile (TLS must encrypt them in memory).
        ctx = ctx.with_zero_copy();
        let (read_half, write_half) = stream.into_split();
        return serve_halves(read_half, write_half, &ctx, &broker, server, shutdown).await;
    };
    // The handshake is bounded: a client that never finishes it (or sends
    // plaintext, or garbage) loses only its own connection.
    let bound = server
        .idle
        .map_or(TLS_HANDSHAKE_TIMEOUT, |i| i.min(TLS_HANDSHAKE_TIMEOUT));
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
    let stream = match tokio::time::timeout(bound, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return tls_failed(peer, &e.to_string()),
        Err(_) => return tls_failed(peer, "handshake not finished in time"),
    };
    if security.protocol == crate::security::SecurityProtocol::Ssl {
        let certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec());
        match security.tls_principal(certificate.as_deref()) {
            Some(principal) => {
                tracing::debug!(%principal, "TLS client authenticated");
                ctx.set_principal(principal);
            }
            None => {
                return tls_failed(
                    peer,
                    "no ssl.principal.mapping.rules rule matches the client certificate's DN",
                )
            }
        }
    }
    let (read_half, write_half) = tokio::io::split(stream);
    serve_halves(read_half, write_half, &ctx, &broker, server, shutdown).await;
}

fn tls_failed(peer: SocketAddr, why: &str) {
    crate::metrics::connection_refused("tls_handshake");
    if let Some(held_back) = TLS_LOG.allow(super::now_ms()) {
        tracing::info!(
            %peer,
            error = why,
            similar_lines_held_back = held_back,
            "closing connection: TLS handshake failed"
        );
    }
}

/// A connection's write half, and whether file ranges can go to its socket
/// with `sendfile` (the bytes unchanged: plaintext).
trait SendFile {
    /// The TCP socket under the write half, when it sends bytes as they are.
    fn socket(&self) -> Option<&TcpStream>;
}

impl SendFile for tokio::net::tcp::OwnedWriteHalf {
    fn socket(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

impl<T> SendFile for tokio::io::WriteHalf<T> {
    fn socket(&self) -> Option<&TcpStream> {
        None
    }
}

async fn serve_halves<R, W>(
    read_half: R,
    write_half: W,
    ctx: &RequestContext,
    broker: &Broker,
    server: &SocketServer,
    shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + SendFile + Unpin + Send,
{
    let peer = ctx.peer;
    // Small buffers: an idle connection costs little (issue 9: 5,000 idle
    // clients). Frames and responses larger than a buffer bypass it.
    let reader = BufReader::with_capacity(CONNECTION_BUFFER_BYTES, read_half);
    let writer = BufWriter::with_capacity(CONNECTION_BUFFER_BYTES, write_half);
    let (tx, rx) = mpsc::channel(MAX_QUEUED_RESPONSES);
    let activity = Activity::new();
    let limits = ReadLimits {
        idle: server.idle,
        activity: &activity,
        peer,
    };
    // Both halves run in this task; the writer ends when the reader has
    // stopped and every response it handed over is written.
    tokio::join!(
        read_requests(reader, ctx, broker, server, &limits, shutdown, tx),
        write_responses(writer, rx, &limits)
    );
}

/// Reads and serves requests in order until the peer closes, a request is
/// bad, the writer has stopped, the connection is idle too long, or the
/// broker shuts down.
async fn read_requests<R: AsyncRead + Unpin>(
    mut reader: BufReader<R>,
    ctx: &RequestContext,
    broker: &Broker,
    server: &SocketServer,
    limits: &ReadLimits<'_>,
    mut shutdown: watch::Receiver<bool>,
    tx: mpsc::Sender<Served>,
) {
    let max_frame = server.max_frame;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let len = tokio::select! {
            r = limits.within_idle(reader.read_i32()) => match r {
                Ok(len) => len,
                Err(Stop::Idle) => return limits.closed_idle(),
                Err(_) => return, // peer closed
            },
            _ = shutdown.changed() => return,
            _ = tx.closed() => return, // the writer failed
        };
        // Before authentication, sasl.server.max.receive.size bounds a frame.
        let limit = ctx.frame_limit(max_frame);
        if len < 0 || len as usize > limit {
            tracing::warn!(
                frame_bytes = len,
                max = limit,
                "closing connection: request size is negative or over socket.request.max.bytes (sasl.server.max.receive.size before authentication)"
            );
            return;
        }
        let frame = match read_frame(
            &mut reader,
            len as usize,
            &server.pool,
            limits,
            &mut shutdown,
        )
        .await
        {
            Ok(frame) => frame,
            Err(Stop::Idle) => return limits.closed_idle(),
            Err(Stop::Closed) => {
                tracing::debug!("connection closed mid-frame");
                return;
            }
            Err(Stop::Shutdown) => return,
        };
        let api_key = frame
            .get(..2)
            .map_or(-1, |k| i16::from_be_bytes([k[0], k[1]]));
        let started = Instant::now();
        // Boxed: the handler's future (every API's state) lives only while a
        // request is in flight, not in every idle connection's task.
        // After SaslHandshake v0 the frames are bare SASL tokens.
        let handled = if ctx.sasl_raw_tokens() {
            broker.sasl_token(ctx, &frame)
        } else {
            Box::pin(broker.handle(ctx, frame)).await
        };
        let reply = match handled {
            Ok(reply) => reply,
            Err(e) => {
                crate::metrics::request_done(api_key, started.elapsed(), true);
                tracing::warn!(error = %e, "closing connection: bad request");
                return;
            }
        };
        let served = Served {
            api_key,
            started,
            reply,
            more_buffered: !reader.buffer().is_empty(),
        };
        if tx.send(served).await.is_err() {
            return;
        }
        // A failed authentication: the error response goes out, then the
        // connection closes (Kafka's SaslServerAuthenticator).
        if ctx.closing() {
            return;
        }
        // A throttled client's channel is muted (Kafka's quota throttling).
        if let Some(until) = ctx.take_mute() {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Reads a `len`-byte frame under the pool's credit: reserved whole when it
/// fits, else step by step in the over-size turn. Reading into spare
/// capacity: zero-filling a large produce frame first costs as much as a
/// second copy of it.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
    pool: &RequestPool,
    limits: &ReadLimits<'_>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Bytes, Stop> {
    if let Some(credit) = pool.try_whole(len) {
        let mut frame = BytesMut::with_capacity(len);
        read_into(reader, &mut frame, len, limits).await?;
        return Ok(pooled_frame(frame, credit));
    }
    // Waiting for the turn or for credit is the broker's doing, not idleness;
    // the request is not being served yet, so shutdown ends the wait.
    let mut over = tokio::select! {
        o = pool.oversize(len) => o,
        _ = shutdown.changed() => return Err(Stop::Shutdown),
    };
    let mut frame = BytesMut::new();
    while frame.len() < len {
        if frame.len() == over.granted() {
            let step = tokio::select! {
                s = over.grow() => s,
                _ = shutdown.changed() => return Err(Stop::Shutdown),
            };
            frame.reserve(step);
        }
        let upto = over.granted();
        read_into(reader, &mut frame, upto, limits).await?;
    }
    Ok(pooled_frame(frame, over.into_credit()))
}

/// Reads from `reader` until `buf` holds `upto` bytes.
async fn read_into<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    upto: usize,
    limits: &ReadLimits<'_>,
) -> Result<(), Stop> {
    while buf.len() < upto {
        let want = (upto - buf.len()) as u64;
        let n = limits
            .within_idle((&mut *reader).take(want).read_buf(buf))
            .await?;
        if n == 0 {
            return Err(Stop::Closed);
        }
    }
    Ok(())
}

/// A response ready to be written.
enum Out {
    Bytes(BytesMut),
    Parts(ResponseParts),
}

/// Writes responses in the order their requests came in.
async fn write_responses<W: AsyncWrite + SendFile + Unpin>(
    mut writer: BufWriter<W>,
    mut rx: mpsc::Receiver<Served>,
    limits: &ReadLimits<'_>,
) {
    while let Some(served) = rx.recv().await {
        let response = match served.reply {
            Reply::Now(response) => Ok(response.map(Out::Bytes)),
            Reply::Parts(parts) => Ok(Some(Out::Parts(parts))),
            Reply::Later(response) => response.await.map(|b| Some(Out::Bytes(b))),
        };
        crate::metrics::request_done(served.api_key, served.started.elapsed(), response.is_err());
        let write = async {
            match response {
                Ok(Some(Out::Bytes(mut out))) => {
                    written(limits, writer.write_i32(frame_size(out.remaining())?)).await?;
                    // Progress counts as activity; a client that reads
                    // nothing for the idle timeout is closed.
                    while out.has_remaining() {
                        written(limits, writer.write_buf(&mut out)).await?;
                    }
                }
                Ok(Some(Out::Parts(parts))) => {
                    // Corked, the size prefix, the headers around each file
                    // range and the ranges leave in full segments, not a small
                    // packet for each piece (on loopback each packet costs a
                    // pass through the whole stack, sender and receiver).
                    let corked = writer
                        .get_ref()
                        .socket()
                        .is_some_and(|s| rustix::net::sockopt::set_tcp_cork(s, true).is_ok());
                    written(limits, writer.write_i32(frame_size(parts.len())?)).await?;
                    for part in parts.into_parts() {
                        write_part(&mut writer, part, limits).await?;
                    }
                    if corked {
                        written(limits, writer.flush()).await?;
                        if let Some(socket) = writer.get_ref().socket() {
                            rustix::net::sockopt::set_tcp_cork(socket, false)?;
                        }
                    }
                }
                Ok(None) => {} // acks=0: no response
                Err(e) => {
                    tracing::warn!(error = %e, "closing connection: response failed");
                    return Err(std::io::Error::other(e.to_string()));
                }
            }
            // Flush when nothing more is coming right away: pipelined
            // requests then share one write.
            if !served.more_buffered && rx.is_empty() {
                written(limits, writer.flush()).await?;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Err(e) = write.await {
            tracing::debug!(error = %e, "write failed; closing connection");
            return;
        }
    }
    let _ = written(limits, writer.flush()).await;
}

/// A response's size prefix.
fn frame_size(len: usize) -> std::io::Result<i32> {
    i32::try_from(len)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "response over 2 GiB"))
}

/// Writes one part of a [`ResponseParts`]: bytes through the buffer, a file
/// range with `sendfile` after flushing it (or, on a socket that cannot take
/// one, read into memory and written).
async fn write_part<W: AsyncWrite + SendFile + Unpin>(
    writer: &mut BufWriter<W>,
    part: ResponsePart,
    limits: &ReadLimits<'_>,
) -> std::io::Result<()> {
    match part {
        ResponsePart::Bytes(mut b) => {
            while b.has_remaining() {
                written(limits, writer.write_buf(&mut b)).await?;
            }
        }
        ResponsePart::File(slice) => {
            if writer.get_ref().socket().is_none() {
                let mut buf = Vec::with_capacity(slice.len());
                slice.read_into(&mut buf)?;
                return written(limits, writer.write_all(&buf)).await;
            }
            written(limits, writer.flush()).await?;
            if let Some(socket) = writer.get_ref().socket() {
                send_file(socket, &slice, limits).await?;
            }
        }
    }
    Ok(())
}

/// Sends a file range to the socket with `sendfile`, as the socket becomes
/// writable; a socket that takes nothing for the idle timeout is closed.
async fn send_file(
    socket: &TcpStream,
    slice: &FileSlice,
    limits: &ReadLimits<'_>,
) -> std::io::Result<()> {
    let mut sent = 0;
    while sent < slice.len() {
        written(limits, socket.writable()).await?;
        match socket.try_io(Interest::WRITABLE, || slice.send_to(socket, sent)) {
            Ok(n) => {
                sent += n;
                limits.activity.touch();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Awaits one write, closing the connection when it makes no progress for the idle timeout.
async fn written<T>(
    limits: &ReadLimits<'_>,
    write: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    match limits.within_idle(write).await {
        Ok(v) => Ok(v),
        Err(Stop::Idle) => {
            limits.closed_idle();
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no progress for connections.max.idle.ms",
            ))
        }
        Err(_) => Err(std::io::Error::other("write failed")),
    }
}
