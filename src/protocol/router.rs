//! The API registry (Kafka's `ApiKeys` plus the `match` of `KafkaApis.handle`):
//! each API is registered once, by one line in [`super`]'s `apis!` list naming
//! a type that implements [`Api`]. That one registration yields both the
//! API's ApiVersions row ([`super::APIS`]) and its dispatch ([`route`]).
//!
//! Invariants:
//! - An API cannot be advertised without a handler: the `apis!` line names
//!   the type whose [`Api::handle`] serves it, so a missing handler does not
//!   compile, and the advertised range is the range the handler is called for.
//! - A registered API's key is unique (a unit test walks the table) and its
//!   range lies within what kafka-protocol can decode and encode.
//! - Every request body is decoded at one place, [`dispatch`] (which hands
//!   the versions kafka-protocol no longer knows to [`Api::serve_legacy`]).

use std::future::Future;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Message, Request};

use super::{decode, encode_response, Broker, ProtocolError, Reply, RequestContext};

/// One request as its handler sees it, besides the decoded body.
pub struct Call<'a> {
    /// The connection it came in on.
    pub ctx: &'a RequestContext,
    /// The request's API version (within the API's registered range).
    pub version: i16,
    /// The client id from the request header ("" when null).
    pub client_id: &'a str,
    /// The correlation id the response must carry.
    pub correlation_id: i32,
}

/// The response type of an API.
pub type Response<A> = <<A as Api>::Request as Request>::Response;

/// What a handler answers.
pub enum Answer<R> {
    /// The response, to send at once.
    Now(R),
    /// No response at all (Produce with acks=0).
    Nothing,
    /// The response once the future completes (a produce waiting for its
    /// fsync); the connection goes on reading meanwhile.
    Later(std::pin::Pin<Box<dyn Future<Output = R> + Send>>),
    /// The response encoded by the handler itself (Fetch's zero-copy answer:
    /// encoded bytes and ranges of segment files), or its encoding error.
    Encoded(Result<Reply, ProtocolError>),
}

impl<R> From<R> for Answer<R> {
    fn from(response: R) -> Self {
        Answer::Now(response)
    }
}

/// One implemented Kafka API: its request type (which gives the API key and
/// the response type), the versions served, and the handler.
pub trait Api {
    /// The API key (checked at compile time against the request's).
    const KEY: ApiKey;
    /// The request.
    type Request: Request + Send;
    /// Lowest version served and advertised (Kafka 3.5's `validVersions`).
    const MIN_VERSION: i16;
    /// Highest version served and advertised.
    const MAX_VERSION: i16;
    /// Serves one decoded request.
    fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: Self::Request,
    ) -> impl Future<Output = Answer<Response<Self>>> + Send;

    /// Serves a version below kafka-protocol's range (Kafka 3.5 serves it,
    /// kafka-protocol 0.18 follows Kafka 4.0, which dropped it): decodes the
    /// body and encodes the answer with [`super::legacy`]. Only APIs whose
    /// `MIN_VERSION` is below kafka-protocol's override it; the conformance
    /// test (tests/conformance.rs) sends every registered version.
    fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: Bytes,
    ) -> impl Future<Output = Result<Reply, ProtocolError>> + Send {
        let _ = (broker, body);
        let (key, version) = (Self::KEY, call.version);
        async move { Err(ProtocolError::UnsupportedVersion { key, version }) }
    }
}

/// One row of the ApiVersions answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiSupport {
    /// The API.
    pub key: ApiKey,
    /// Lowest version served.
    pub min: i16,
    /// Highest version served.
    pub max: i16,
}

impl ApiSupport {
    /// The row of a registered API.
    pub const fn of<A: Api>() -> ApiSupport {
        ApiSupport {
            key: A::KEY,
            min: A::MIN_VERSION,
            max: A::MAX_VERSION,
        }
    }

    /// Whether `version` is served.
    pub fn serves(&self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

/// Decodes the body of a request to `A` and serves it: the one place where
/// request bodies are decoded.
pub(super) async fn dispatch<A: Api>(
    broker: &Broker,
    call: &Call<'_>,
    mut body: Bytes,
) -> Result<Reply, ProtocolError>
where
    Response<A>: Send + 'static,
{
    let key = A::KEY;
    let version = call.version;
    if version < <A::Request as Message>::VERSIONS.min {
        return A::serve_legacy(broker, call, body).await;
    }
    let request: A::Request = decode(key, version, &mut body)?;
    let cid = call.correlation_id;
    match A::handle(broker, call, request).await {
        Answer::Now(response) => {
            encode_response(key, cid, version, &response).map(|b| Reply::Now(Some(b)))
        }
        Answer::Nothing => Ok(Reply::Now(None)),
        Answer::Encoded(reply) => reply,
        Answer::Later(response) => Ok(Reply::Later(Box::pin(async move {
            encode_response(key, cid, version, &response.await)
        }))),
    }
}

/// Registers the APIs: builds [`super::APIS`] (the ApiVersions table) and
/// `route` (the dispatch) from one list of `module::Type` entries.
macro_rules! apis {
    ($($module:ident :: $api:ident),+ $(,)?) => {
        /// Every API this broker serves, in registration order, with the
        /// versions advertised in ApiVersions (equal to those served).
        pub const APIS: &[ApiSupport] = &[
            $(ApiSupport::of::<$module::$api>(),)+
        ];

        // Each API's key is its request type's key.
        $(const _: () = assert!(
            <$module::$api as Api>::KEY as i16
                == <<$module::$api as Api>::Request as kafka_protocol::protocol::Request>::KEY,
            "an API registered under another API's key"
        );)+

        /// Serves one request to a registered API, `None` for an unregistered key.
        async fn route(
            broker: &Broker,
            key: ApiKey,
            call: &router::Call<'_>,
            body: bytes::Bytes,
        ) -> Option<Result<Reply, ProtocolError>> {
            $(
                if key == <$module::$api as Api>::KEY {
                    return Some(router::dispatch::<$module::$api>(broker, call, body).await);
                }
            )+
            None
        }
    };
}
pub(super) use apis;
