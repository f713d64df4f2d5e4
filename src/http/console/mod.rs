//! The web console on `console.listener`: server-rendered pages (maud) and
//! the JSON API under `/api/v1` (described by `/api/v1/openapi.json`), read
//! in-process from the replica manager and the group coordinator. Changes go
//! through the same functions the Kafka APIs use: [`crate::protocol::Broker`]'s
//! `create_topic`, `incremental_alter_configs`, `create_partitions`,
//! `delete_records`, `delete_topics`, `produce`, and the coordinator's offset
//! commit, group and offset deletion.
//!
//! Areas: [`views`] (the snapshots both pages and API show), [`messages`]
//! (browsing, search, export, live tail, produce), [`api`] (JSON),
//! [`pages`] (HTML), [`sampler`] (the last hour's rates in a ring, and the
//! problems panel).
//!
//! Invariants:
//! - every asset is embedded in the binary (no CDN, no internet);
//! - no partition lock is held while a browser is waited on: reads copy what
//!   they show on the blocking pool, then render and send;
//! - on a broker with SASL listeners (`console.authentication=auto`) every
//!   page and `/api/v1` call needs a signed-in session ([`auth`]) and runs
//!   as that user under the ACLs: lists leave out what the user may not
//!   DESCRIBE, and a page or change the user may not see or make is a 403,
//!   each check a row of the authorizer's table (the Kafka API the
//!   console stands in for); without them the console acts as the broker;
//! - every change (any method but GET/HEAD) carries the CSRF token (the
//!   session's, else the process's) in the `x-csrf-token` header and is
//!   refused (403) under `console.read.only`, which also hides the forms;
//!   routes contributed by other modules ([`super::CONTRIBUTIONS`]) are
//!   outside all three;
//! - bad input is a 4xx with a message, never a 5xx.

pub mod api;
pub mod auth;
pub mod messages;
pub mod pages;
pub mod sampler;
pub mod views;

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{EndpointState, Sources};

/// The header a change must carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// This process's CSRF token: random, made at first use. A page carries it
/// in a `<meta>` tag; another origin cannot read it, and sending the custom
/// header cross-origin needs a CORS preflight that is never granted.
pub fn csrf_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| format!("{:032x}", rand::random::<u128>()))
}

/// Why a console request failed; JSON under `/api/v1`, a page elsewhere.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The broker is still starting (logs not loaded).
    #[error("the broker is starting: logs not recovered yet")]
    Starting,
    /// No such topic, group, partition or page.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or refused as a Kafka client's would be.
    #[error("{0}")]
    BadRequest(String),
    /// The change conflicts with the state (e.g. a group with members).
    #[error("{0}")]
    Conflict(String),
    /// `console.read.only`, a missing/wrong CSRF token, or an ACL.
    #[error("{0}")]
    Forbidden(String),
    /// No signed-in session where one is needed.
    #[error("{0}")]
    Unauthorized(String),
    /// The broker failed (storage, coordinator not loaded).
    #[error("{0}")]
    Unavailable(String),
}

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Starting | ConsoleError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        }
    }

    /// The refusal of something the signed-in user's ACLs do not allow.
    pub fn denied(what: impl std::fmt::Display) -> ConsoleError {
        ConsoleError::Forbidden(format!("not authorized: {what}"))
    }

    /// A Kafka error code as the console reports it: the client's fault
    /// (4xx) unless the broker's own (5xx).
    pub fn from_kafka(code: i16, message: impl Into<String>) -> ConsoleError {
        use kafka_protocol::error::ResponseError as K;
        let message = message.into();
        let name = K::try_from_code(code)
            .map(|e| format!("{e:?}"))
            .unwrap_or_else(|| format!("error {code}"));
        let text = if message.is_empty() {
            name
        } else {
            format!("{message} ({name})")
        };
        match K::try_from_code(code) {
            Some(K::UnknownTopicOrPartition) | Some(K::GroupIdNotFound) => {
                ConsoleError::NotFound(text)
            }
            Some(K::NonEmptyGroup)
            | Some(K::UnknownMemberId)
            | Some(K::IllegalGeneration)
            | Some(K::RebalanceInProgress)
            | Some(K::TopicAlreadyExists) => ConsoleError::Conflict(text),
            Some(K::TopicAuthorizationFailed)
            | Some(K::GroupAuthorizationFailed)
            | Some(K::ClusterAuthorizationFailed) => ConsoleError::Forbidden(text),
            Some(K::KafkaStorageError)
            | Some(K::UnknownServerError)
            | Some(K::CoordinatorLoadInProgress)
            | Some(K::CoordinatorNotAvailable)
            | Some(K::RequestTimedOut) => ConsoleError::Unavailable(text),
            _ => ConsoleError::BadRequest(text),
        }
    }
}

/// The JSON body of an error.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let kind = match &self {
            ConsoleError::Starting => "starting",
            ConsoleError::NotFound(_) => "not_found",
            ConsoleError::BadRequest(_) => "bad_request",
            ConsoleError::Conflict(_) => "conflict",
            ConsoleError::Forbidden(_) => "forbidden",
            ConsoleError::Unauthorized(_) => "unauthorized",
            ConsoleError::Unavailable(_) => "unavailable",
        };
        let body = ErrorBody {
            error: kind,
            message: self.to_string(),
        };
        (self.status(), axum::Json(body)).into_response()
    }
}

/// The sources, or "starting" until the logs are loaded.
pub fn sources(state: &EndpointState) -> Result<&Sources, ConsoleError> {
    state.sources().ok_or(ConsoleError::Starting)
}

/// The console's routes: pages and API behind the guard (sign-in, CSRF
/// check, read-only switch); the sign-in routes and the assets outside it.
pub fn router(state: Arc<EndpointState>) -> Router {
    pages::routes()
        .merge(api::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .merge(auth::routes())
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .with_state(state)
}

/// Finds who is looking ([`auth::Viewer`], put into the request), sends a
/// request without the session it needs to sign in, and refuses a change
/// without the CSRF token or under `console.read.only`.
async fn guard(State(state): State<Arc<EndpointState>>, mut req: Request, next: Next) -> Response {
    let peer = auth::peer_of(&req);
    let viewer = if auth::required(&state) {
        match auth::session_of(&state, req.headers()) {
            Some(s) => auth::Viewer {
                user: Some(s.user.clone()),
                csrf: Arc::from(s.csrf.as_str()),
                peer,
            },
            None => return auth::unauthenticated(&req),
        }
    } else {
        auth::Viewer::broker(peer)
    };
    let m = req.method();
    if m != Method::GET && m != Method::HEAD {
        let read_only = state.sources().is_some_and(|s| s.config.console_read_only);
        if read_only {
            return ConsoleError::Forbidden(
                "the console is read-only (console.read.only=true)".into(),
            )
            .into_response();
        }
        let token = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !token.is_some_and(|t| auth::constant_time_eq(t.as_bytes(), viewer.csrf.as_bytes())) {
            return ConsoleError::Forbidden(format!(
                "missing or wrong CSRF token: send the {CSRF_HEADER} header (GET /api/v1/csrf)"
            ))
            .into_response();
        }
    }
    req.extensions_mut().insert(viewer);
    next.run(req).await
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("max-age=300")),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset(
        include_str!("assets/console.css"),
        "text/css; charset=utf-8",
    )
}

async fn js() -> Response {
    asset(
        include_str!("assets/console.js"),
        "text/javascript; charset=utf-8",
    )
}
