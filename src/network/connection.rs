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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::config::Listener;
use crate::protocol::{Broker, Reply, RequestContext};

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
    shutdown: watch::Receiver<bool>,
) {
    let (read_half, write_half) = stream.into_split();
    // Small buffers: an idle connection costs little (issue 9: 5,000 idle
    // clients). Frames and responses larger than a buffer bypass it.
    let reader = BufReader::with_capacity(CONNECTION_BUFFER_BYTES, read_half);
    let writer = BufWriter::with_capacity(CONNECTION_BUFFER_BYTES, write_half);
    let ctx = RequestContext::new(peer, advertised);
    let (tx, rx) = mpsc::channel(MAX_QUEUED_RESPONSES);
    // Both halves run in this task; the writer ends when the reader has
    // stopped and every response it handed over is written.
    tokio::join!(
        read_requests(reader, &ctx, &broker, shutdown, tx),
        write_responses(writer, rx)
    );
}

/// Reads and serves requests in order until the peer closes, a request is
/// bad, the writer has stopped, or the broker shuts down.
async fn read_requests(
    mut reader: BufReader<OwnedReadHalf>,
    ctx: &RequestContext,
    broker: &Broker,
    mut shutdown: watch::Receiver<bool>,
    tx: mpsc::Sender<Served>,
) {
    let max_frame = usize::try_from(broker.config().socket_request_max_bytes).unwrap_or(0);
    loop {
        let len = tokio::select! {
            r = reader.read_i32() => match r {
                Ok(len) => len,
                Err(_) => return, // peer closed
            },
            _ = shutdown.changed() => return,
            _ = tx.closed() => return, // the writer failed
        };
        if len < 0 || len as usize > max_frame {
            tracing::warn!(
                frame_bytes = len,
                max = max_frame,
                "closing connection: request size is negative or over socket.request.max.bytes"
            );
            return;
        }
        // Read into spare capacity: zero-filling a large produce frame first
        // costs as much as a second copy of it.
        let len = len as usize;
        let mut frame = BytesMut::with_capacity(len);
        while frame.len() < len {
            let want = (len - frame.len()) as u64;
            match (&mut reader).take(want).read_buf(&mut frame).await {
                Ok(n) if n > 0 => {}
                _ => {
                    tracing::debug!("connection closed mid-frame");
                    return;
                }
            }
        }
        let api_key = frame
            .get(..2)
            .map_or(-1, |k| i16::from_be_bytes([k[0], k[1]]));
        let started = Instant::now();
        // Boxed: the handler's future (every API's state) lives only while a
        // request is in flight, not in every idle connection's task.
        let reply = match Box::pin(broker.handle(ctx, frame.freeze())).await {
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
        // A throttled client's channel is muted (Kafka's quota throttling).
        if let Some(until) = ctx.take_mute() {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Writes responses in the order their requests came in.
async fn write_responses(mut writer: BufWriter<OwnedWriteHalf>, mut rx: mpsc::Receiver<Served>) {
    while let Some(served) = rx.recv().await {
        let response = match served.reply {
            Reply::Now(response) => Ok(response),
            Reply::Later(response) => response.await.map(Some),
        };
        crate::metrics::request_done(served.api_key, served.started.elapsed(), response.is_err());
        let write = async {
            match response {
                Ok(Some(mut out)) => {
                    let size = i32::try_from(out.remaining()).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "response over 2 GiB")
                    })?;
                    writer.write_i32(size).await?;
                    writer.write_all_buf(&mut out).await?;
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
                writer.flush().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Err(e) = write.await {
            tracing::debug!(error = %e, "write failed; closing connection");
            return;
        }
    }
    let _ = writer.flush().await;
}
