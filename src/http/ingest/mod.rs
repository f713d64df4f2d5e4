//! HTTP ingest on the console listener (`console.listener`): Confluent REST
//! Proxy's produce endpoints ([`rest`]: v3 `POST
//! /v3/clusters/{cluster_id}/topics/{topic}/records`, `GET /v3/clusters`,
//! and v2 `POST /topics/{topic}` in the JSON and binary embedded formats)
//! and a GitHub webhook ([`github`]: `POST /webhooks/github/{topic}`).
//!
//! Every route produces through [`crate::protocol::Broker::produce_many`],
//! the function the console and the Kafka API share, and answers only once
//! the records are as durable as the topic asks (`flush.messages`).
//!
//! Limits, for every route: a body over `ingest.max.request.bytes` answers
//! 413 before it is read whole; a source address over
//! `ingest.requests.per.second.per.source` (a token bucket with a burst of
//! one second's worth) answers 429. Errors are the REST Proxy's JSON body,
//! `{"error_code": …, "message": …}`.

pub mod github;
pub mod rest;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use parking_lot::Mutex;

use super::{EndpointState, Sources};

/// Source addresses the rate limiter remembers at most (older ones are
/// forgotten first).
const MAX_SOURCES: usize = 10_000;

/// An ingest error as the REST Proxy answers it.
#[derive(Debug)]
pub struct IngestError {
    status: StatusCode,
    /// The body's `error_code` (v3: the HTTP status; v2: five digits).
    code: u32,
    message: String,
}

impl IngestError {
    /// An error with HTTP `status` and body code `code`.
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        IngestError {
            status,
            code,
            message: message.into(),
        }
    }

    /// An error whose body code is its HTTP status (REST Proxy v3).
    pub fn status(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, u32::from(status.as_u16()), message)
    }

    /// The HTTP status.
    pub fn http_status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.code, "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}

/// Per-source token buckets (`ingest.requests.per.second.per.source`).
pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter of `per_second` requests per source, bursts of as many.
    pub fn new(per_second: i32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `source` at `now`; false when it has none left.
    pub fn admit(&self, source: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_SOURCES && !buckets.contains_key(&source) {
            let full = self.per_second;
            let rate = self.per_second;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < full
            });
            if buckets.len() >= MAX_SOURCES {
                if let Some(oldest) = buckets
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| *k)
                {
                    buckets.remove(&oldest);
                }
            }
        }
        let (tokens, at) = buckets.entry(source).or_insert((self.per_second, now));
        let refilled = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second)
            .min(self.per_second);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            true
        } else {
            *tokens = refilled;
            false
        }
    }
}

/// What the ingest routes share.
pub struct IngestState {
    endpoint: Arc<EndpointState>,
    /// Made at the first request, from the config.
    limiter: OnceLock<RateLimiter>,
    github: github::Deliveries,
}

impl IngestState {
    /// The sources once the logs are loaded, else 503.
    pub fn sources(&self) -> Result<&Sources, IngestError> {
        self.endpoint.sources().ok_or_else(|| {
            IngestError::status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the broker is starting: logs not loaded yet",
            )
        })
    }

    /// Admits a request from `peer` and reads its body, within the limits.
    pub async fn admit(&self, peer: Option<SocketAddr>, body: Body) -> Result<Bytes, IngestError> {
        let config = &self.sources()?.config;
        let limiter = self
            .limiter
            .get_or_init(|| RateLimiter::new(config.ingest_requests_per_second_per_source));
        let max_body = usize::try_from(config.ingest_max_request_bytes).unwrap_or(1 << 20);
        if let Some(peer) = peer {
            if !limiter.admit(peer.ip(), Instant::now()) {
                return Err(IngestError::status(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "{} is over ingest.requests.per.second.per.source",
                        peer.ip()
                    ),
                ));
            }
        }
        axum::body::to_bytes(body, max_body).await.map_err(|_| {
            IngestError::status(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over ingest.max.request.bytes ({max_body} bytes)"),
            )
        })
    }
}

/// The peer of a request, as the HTTP server records it.
pub fn peer(ConnectInfo(addr): ConnectInfo<SocketAddr>) -> Option<SocketAddr> {
    Some(addr)
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The ingest routes, for `http::CONTRIBUTIONS`.
pub fn routes(endpoint: Arc<EndpointState>) -> Router {
    let state = Arc::new(IngestState {
        endpoint,
        limiter: OnceLock::new(),
        github: github::Deliveries::default(),
    });
    rest::routes(state.clone()).merge(github::routes(state))
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds
/// (`2026-12-02T01:02:03.004Z`).
pub fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// Milliseconds since the epoch of an RFC 3339 time
/// (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let (time, offset_min) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z.get(1..)?.split_once(':')?;
        (
            t,
            sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
        )
    };
    let (hms, millis) = match time.split_once('.') {
        Some((a, f)) => {
            let f: String = f.chars().chain("000".chars()).take(3).collect();
            (a, f.parse::<i64>().ok()?)
        }
        None => (time, 0),
    };
    let mut t = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        let t = 1_796_173_323_004;
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        assert_eq!(
            parse_rfc3339("2021-02-05T19:14:42Z"),
            Some(1_612_552_482_000)
        );
        assert_eq!(
            parse_rfc3339("2021-02-05T20:14:42+01:00"),
            Some(1_612_552_482_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn rate_limiter_allows_a_burst_then_the_rate() {
        let l = RateLimiter::new(10);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..10).all(|_| l.admit(ip, t0)));
        assert!(!l.admit(ip, t0));
        assert!(l.admit(ip, t0 + Duration::from_millis(150)));
        let other: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(l.admit(other, t0));
    }

    #[test]
    fn errors_are_rest_proxy_bodies() {
        let e = IngestError::new(StatusCode::NOT_FOUND, 40401, "Topic not found.");
        assert_eq!(e.http_status(), StatusCode::NOT_FOUND);
        assert_eq!(IngestError::status(StatusCode::BAD_REQUEST, "x").code, 400);
    }
}
