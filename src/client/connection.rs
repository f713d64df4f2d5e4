//! One connection to one broker: Kafka framing, correlation ids, ApiVersions
//! negotiation, and pipelining.
//!
//! Requests are written by the owner of the [`Connection`] (`&mut self`); a
//! reader task owns the read half and hands each response frame to the
//! request that is waiting for it. Kafka answers a connection's requests in
//! the order they were sent, so the waiting requests form a FIFO queue: a
//! bounded channel whose capacity is the connection's in-flight limit
//! (`start` waits while it is full). A response whose correlation id is not
//! the oldest waiting request's ends the connection with
//! [`ClientError::CorrelationMismatch`].

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::security::sasl::Mechanism;
use crate::security::scram::ScramClient;

type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::ClientError;

/// Largest response frame accepted (Kafka's clients have no limit but the
/// fetch sizes they ask for; this guards against a garbage length).
const MAX_RESPONSE_BYTES: usize = 1 << 30;

/// The ApiVersions version tried first; KIP-511 brokers answer an
/// unsupported one with error 35 and their ranges, and we retry with v0.
const API_VERSIONS_FIRST: i16 = 3;

/// A request written and waiting for its response frame.
struct Waiting {
    correlation_id: i32,
    reply: oneshot::Sender<Result<Bytes, ClientError>>,
}

/// A response not yet arrived: await [`PendingResponse::wait`].
pub struct PendingResponse<R> {
    rx: oneshot::Receiver<Result<Bytes, ClientError>>,
    version: i16,
    _response: std::marker::PhantomData<fn() -> R>,
}

impl<R: Decodable + HeaderVersion> PendingResponse<R> {
    /// Waits for the response and decodes it.
    pub async fn wait(self) -> Result<R, ClientError> {
        let frame = self.rx.await.map_err(|_| ClientError::Disconnected)??;
        decode_response::<R>(frame, self.version)
    }

    /// Waits for the raw response body (the response header already removed).
    pub async fn wait_raw(self) -> Result<Bytes, ClientError> {
        let mut frame = self.rx.await.map_err(|_| ClientError::Disconnected)??;
        ResponseHeader::decode(&mut frame, R::header_version(self.version))
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok(frame)
    }
}

fn decode_response<R: Decodable + HeaderVersion>(
    mut frame: Bytes,
    version: i16,
) -> Result<R, ClientError> {
    ResponseHeader::decode(&mut frame, R::header_version(version))
        .map_err(|e| ClientError::Decode(e.to_string()))?;
    R::decode(&mut frame, version).map_err(|e| ClientError::Decode(e.to_string()))
}

/// A connection to one broker with the API versions negotiated on it.
pub struct Connection {
    addr: String,
    client_id: StrBytes,
    writer: WriteHalf,
    waiting: mpsc::Sender<Waiting>,
    reader: JoinHandle<()>,
    next_correlation_id: i32,
    /// The broker's (min, max) per API key.
    broker_versions: HashMap<i16, (i16, i16)>,
    /// Reused request encoding buffer.
    out: BytesMut,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`), negotiates API versions, and allows
    /// up to `max_in_flight` requests awaiting responses at once.
    pub async fn connect(
        addr: &str,
        client_id: &str,
        max_in_flight: usize,
    ) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| ClientError::Connect(addr.to_string(), e))?;
        stream
            .set_nodelay(true)
            .map_err(|e| ClientError::Connect(addr.to_string(), e))?;
        let security = super::security::current();
        let (read_half, writer): (ReadHalf, WriteHalf) = match &security.tls {
            Some(tls) => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let name = crate::security::tls::server_name(host)
                    .map_err(|e| ClientError::Security(e.to_string()))?;
                let stream = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|e| ClientError::Tls(addr.to_string(), e))?;
                let (r, w) = tokio::io::split(stream);
                (Box::new(r), Box::new(w))
            }
            None => {
                let (r, w) = stream.into_split();
                (Box::new(r), Box::new(w))
            }
        };
        let (waiting, waiting_rx) = mpsc::channel(max_in_flight.max(1));
        let reader = tokio::spawn(read_responses(addr.to_string(), read_half, waiting_rx));
        let mut conn = Connection {
            addr: addr.to_string(),
            client_id: StrBytes::from_string(client_id.to_string()),
            writer,
            waiting,
            reader,
            next_correlation_id: 0,
            broker_versions: HashMap::new(),
            out: BytesMut::with_capacity(64 * 1024),
        };
        conn.negotiate().await?;
        if let Some((mechanism, user, password)) = &security.sasl {
            conn.authenticate(*mechanism, user, password).await?;
        }
        Ok(conn)
    }

    /// SaslHandshake v1 and SaslAuthenticate: PLAIN, or SCRAM's two rounds.
    async fn authenticate(
        &mut self,
        mechanism: Mechanism,
        user: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        let addr = self.addr.clone();
        let failed = |m: String| ClientError::Authentication(addr.clone(), m);
        let resp = self
            .send(
                SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str(mechanism.name())),
                1,
            )
            .await?;
        if resp.error_code != 0 {
            let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(failed(format!(
                "the broker does not enable {} (enabled: {})",
                mechanism.name(),
                enabled.join(",")
            )));
        }
        let version = self.version_for::<SaslAuthenticateRequest>(0)?;
        let mut scram = match mechanism {
            Mechanism::Plain => None,
            Mechanism::Scram(m) => Some(ScramClient::new(m, user, password)),
        };
        let first = match &scram {
            None => format!("\0{user}\0{password}").into_bytes(),
            Some(c) => c.first(),
        };
        let mut token = first;
        for round in 0..3 {
            let resp = self
                .send(
                    SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
                    version,
                )
                .await?;
            if resp.error_code != 0 {
                return Err(failed(
                    resp.error_message
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("error code {}", resp.error_code)),
                ));
            }
            let Some(client) = scram.as_mut() else {
                return Ok(());
            };
            if round == 0 {
                token = client
                    .respond(&resp.auth_bytes)
                    .map_err(|e| failed(e.to_string()))?;
            } else {
                return client
                    .verify(&resp.auth_bytes)
                    .map_err(|e| failed(e.to_string()));
            }
        }
        Err(failed("the SCRAM exchange did not complete".into()))
    }

    /// The address this connection was made to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn negotiate(&mut self) -> Result<(), ClientError> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("strom"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut resp: ApiVersionsResponse = self
            .start(req.clone(), API_VERSIONS_FIRST)
            .await?
            .wait()
            .await?;
        if resp.error_code == kafka_protocol::ResponseError::UnsupportedVersion.code() {
            resp = self.start(req, 0).await?.wait().await?;
        }
        if resp.error_code != 0 {
            return Err(ClientError::Broker {
                api: "ApiVersions",
                code: resp.error_code,
                message: String::new(),
            });
        }
        self.broker_versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(())
    }

    /// The version to use for `Req`: the highest both sides support, at
    /// least `min`.
    pub fn version_for<Req: Request>(&self, min: i16) -> Result<i16, ClientError> {
        let ours = Req::VERSIONS;
        let (lo, hi) = self
            .broker_versions
            .get(&Req::KEY)
            .copied()
            .ok_or(ClientError::UnsupportedApi { api_key: Req::KEY })?;
        let v = hi.min(ours.max);
        if v < lo.max(ours.min).max(min) {
            return Err(ClientError::UnsupportedApi { api_key: Req::KEY });
        }
        Ok(v)
    }

    /// Writes `req` at `version` and returns a handle to its response
    /// without waiting for it; waits first while `max_in_flight` requests
    /// are already awaiting responses.
    pub async fn start<Req: Request>(
        &mut self,
        req: Req,
        version: i16,
    ) -> Result<PendingResponse<Req::Response>, ClientError> {
        let correlation_id = self.write_request(&req, version).await?;
        let (reply, rx) = oneshot::channel();
        self.waiting
            .send(Waiting {
                correlation_id,
                reply,
            })
            .await
            .map_err(|_| ClientError::Disconnected)?;
        Ok(PendingResponse {
            rx,
            version,
            _response: std::marker::PhantomData,
        })
    }

    /// Writes `req`, which the broker does not answer (a Produce with acks=0).
    pub async fn send_oneway<Req: Request>(
        &mut self,
        req: Req,
        version: i16,
    ) -> Result<(), ClientError> {
        self.write_request(&req, version).await.map(|_| ())
    }

    /// Sends `req` at `version` and waits for its response.
    pub async fn send<Req: Request>(
        &mut self,
        req: Req,
        version: i16,
    ) -> Result<Req::Response, ClientError> {
        self.start(req, version).await?.wait().await
    }

    async fn write_request<Req: Request>(
        &mut self,
        req: &Req,
        version: i16,
    ) -> Result<i32, ClientError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(Req::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let header_version = Req::header_version(version);
        let size = header.compute_size(header_version).map_err(encode_err)?
            + req.compute_size(version).map_err(encode_err)?;
        let size_i32 =
            i32::try_from(size).map_err(|_| ClientError::Encode("request over 2 GiB".into()))?;
        self.out.clear();
        self.out.reserve(4 + size);
        self.out.put_i32(size_i32);
        header
            .encode(&mut self.out, header_version)
            .map_err(encode_err)?;
        req.encode(&mut self.out, version).map_err(encode_err)?;
        self.writer
            .write_all(&self.out)
            .await
            .map_err(|_| ClientError::Disconnected)?;
        // Don't keep a huge buffer after one huge request.
        if self.out.capacity() > 8 << 20 {
            self.out = BytesMut::with_capacity(64 * 1024);
        }
        Ok(correlation_id)
    }
}

/// The reader task: one response frame per waiting request, in order.
async fn read_responses(addr: String, read_half: ReadHalf, mut waiting: mpsc::Receiver<Waiting>) {
    let mut reader = BufReader::with_capacity(256 * 1024, read_half);
    while let Some(w) = waiting.recv().await {
        let frame = read_frame(&addr, &mut reader).await;
        let frame = match frame {
            Ok(f) if peek_correlation_id(&f) == Some(w.correlation_id) => Ok(f),
            Ok(f) => Err(ClientError::CorrelationMismatch {
                expected: w.correlation_id,
                got: peek_correlation_id(&f).unwrap_or(-1),
            }),
            Err(e) => Err(e),
        };
        let failed = frame.is_err();
        let _ = w.reply.send(frame);
        if failed {
            // Everything still waiting learns of it when this task ends and
            // drops their reply senders.
            return;
        }
    }
}

fn peek_correlation_id(frame: &Bytes) -> Option<i32> {
    frame.get(..4).map(|b| (&b[..]).get_i32())
}

/// The first four bytes of an HTTP response (`HTTP/1.1 400 …`) read as a
/// Kafka size prefix: 1213486160.
const HTTP_SIZE_PREFIX: i32 = i32::from_be_bytes(*b"HTTP");

async fn read_frame(addr: &str, reader: &mut BufReader<ReadHalf>) -> Result<Bytes, ClientError> {
    let len = reader
        .read_i32()
        .await
        .map_err(|_| ClientError::Disconnected)?;
    if len == HTTP_SIZE_PREFIX {
        return Err(ClientError::NotKafka {
            addr: addr.to_string(),
            protocol: "HTTP",
        });
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_RESPONSE_BYTES)
        .ok_or(ClientError::Decode(format!("bad response size {len}")))?;
    let mut frame = BytesMut::with_capacity(len);
    while frame.len() < len {
        let want = (len - frame.len()) as u64;
        match (&mut *reader).take(want).read_buf(&mut frame).await {
            Ok(n) if n > 0 => {}
            _ => return Err(ClientError::Disconnected),
        }
    }
    Ok(frame.freeze())
}

fn encode_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Encode(e.to_string())
}
