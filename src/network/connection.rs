//! One client connection: read a size-prefixed frame, hand it to the API
//! router, write the response, repeat.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::Listener;
use crate::protocol::{Broker, RequestContext};

/// Read and write buffer of a connection.
const CONNECTION_BUFFER_BYTES: usize = 8 * 1024;

/// Serves one connection until the peer closes it, it misbehaves, or the broker shuts down.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    advertised: Arc<Listener>,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let max_frame = usize::try_from(broker.config().socket_request_max_bytes).unwrap_or(0);
    let (read_half, write_half) = stream.into_split();
    // Small buffers: an idle connection costs little (issue 9: 5,000 idle
    // clients). Frames and responses larger than a buffer bypass it.
    let mut reader = BufReader::with_capacity(CONNECTION_BUFFER_BYTES, read_half);
    let mut writer = BufWriter::with_capacity(CONNECTION_BUFFER_BYTES, write_half);
    let ctx = RequestContext { peer, advertised };
    loop {
        let len = tokio::select! {
            r = reader.read_i32() => match r {
                Ok(len) => len,
                Err(_) => return, // peer closed
            },
            _ = shutdown.changed() => return,
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
        let started = std::time::Instant::now();
        // Boxed: the handler's future (every API's state) lives only while a
        // request is in flight, not in every idle connection's task.
        let handled = Box::pin(broker.handle(&ctx, frame.freeze())).await;
        crate::metrics::request_done(api_key, started.elapsed(), handled.is_err());
        let response = match handled {
            Ok(r) => r, // None: an acks=0 produce, which gets no response
            Err(e) => {
                tracing::warn!(error = %e, "closing connection: bad request");
                return;
            }
        };
        let write = async {
            if let Some(mut out) = response {
                let size = i32::try_from(out.remaining()).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "response over 2 GiB")
                })?;
                writer.write_i32(size).await?;
                writer.write_all_buf(&mut out).await?;
            }
            // Flush when no further request is already buffered: pipelined
            // requests then share one write.
            if reader.buffer().is_empty() {
                writer.flush().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Err(e) = write.await {
            tracing::debug!(error = %e, "write failed; closing connection");
            return;
        }
    }
}
