//! GitHub webhooks: `POST /webhooks/github/{topic}` writes one record per
//! delivery to `topic`.
//!
//! - `X-Hub-Signature-256` must be `sha256=` and the HMAC-SHA256 of the body
//!   under `webhook.github.secret` (compared in constant time); a missing or
//!   wrong one answers 401 and writes nothing. Without a secret the route
//!   answers 503.
//! - Key: the value at the JSON pointer `webhook.github.key.pointer`
//!   (default `/repository/name`, so one repository's deliveries keep their
//!   order in one partition); a string as its text, anything else as JSON,
//!   missing as null. Headers: `X-GitHub-Event`, `X-GitHub-Delivery`.
//! - Value: `webhook.github.format=raw` (default) is the body byte for byte;
//!   `deployment-event` a compact JSON object with `event_type`,
//!   `repo_name`, `repo_full_name`, `branch`, `commit`, `github_event`,
//!   `github_delivery_id`, `timestamp`, `triggered_by`.
//! - 202 only once the record is as durable as the topic asks.
//! - Redeliveries (the same `X-GitHub-Delivery`) within
//!   `webhook.github.dedupe.window.ms` answer 202 and write nothing; two
//!   copies arriving together write once (the second waits for the first).
//!   The deliveries seen survive a restart: the first delivery to a topic
//!   rebuilds them from the `X-GitHub-Delivery` headers of the topic's
//!   records younger than the window.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::watch;

use super::{header, peer, rfc3339, IngestError, IngestState};
use crate::protocol::NewRecord;
use crate::records::{records, records_section, BatchHeader, Codec, MAX_DECOMPRESSED_BATCH_BYTES};
use crate::replica_manager::ReplicaManager;

/// Deliveries after which expired entries are dropped.
const PRUNE_EVERY: usize = 4096;
/// Bytes one rebuild read asks the log for.
const READ_CHUNK: usize = 1 << 20;

/// A delivery id's state.
enum Seen {
    /// Being written; the value turns `Some(written)` when done.
    Pending(watch::Receiver<Option<bool>>),
    /// Written; remembered until this time (ms).
    Until(i64),
}

/// The deliveries seen, by topic and `X-GitHub-Delivery`.
#[derive(Default)]
pub struct Deliveries {
    seen: Mutex<HashMap<(String, String), Seen>>,
    /// Topics whose deliveries were rebuilt from their records.
    loaded: Mutex<HashSet<String>>,
    inserts: std::sync::atomic::AtomicUsize,
}

/// What [`Deliveries::claim`] decided.
enum Claim {
    /// Already written.
    Duplicate,
    /// Write it, then report through the sender.
    Write(watch::Sender<Option<bool>>),
}

impl Deliveries {
    async fn claim(&self, topic: &str, id: &str, now: i64) -> Claim {
        let key = (topic.to_string(), id.to_string());
        loop {
            let mut wait = {
                let mut seen = self.seen.lock();
                match seen.get(&key) {
                    Some(Seen::Until(t)) if *t > now => return Claim::Duplicate,
                    Some(Seen::Pending(rx)) => rx.clone(),
                    _ => {
                        let (tx, rx) = watch::channel(None);
                        seen.insert(key, Seen::Pending(rx));
                        return Claim::Write(tx);
                    }
                }
            };
            // Another copy is being written: its outcome decides.
            let outcome = wait.wait_for(Option::is_some).await.map(|v| *v);
            if let Ok(Some(true)) = outcome {
                return Claim::Duplicate;
            }
            // It failed: take over (the entry is gone or expired).
            let mut seen = self.seen.lock();
            if matches!(seen.get(&key), Some(Seen::Pending(rx)) if rx.same_channel(&wait)) {
                seen.remove(&key);
            }
        }
    }

    fn done(&self, topic: &str, id: &str, until: Option<i64>, tx: watch::Sender<Option<bool>>) {
        let key = (topic.to_string(), id.to_string());
        {
            let mut seen = self.seen.lock();
            match until {
                Some(t) => {
                    seen.insert(key, Seen::Until(t));
                }
                None => {
                    seen.remove(&key);
                }
            }
        }
        let _ = tx.send(Some(until.is_some()));
        let n = self
            .inserts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 {
            let now = crate::util::now_ms();
            self.seen
                .lock()
                .retain(|_, s| !matches!(s, Seen::Until(t) if *t <= now));
        }
    }

    /// Rebuilds `topic`'s deliveries from its records once (blocking reads
    /// on the blocking pool).
    async fn ensure_loaded(&self, rm: &Arc<ReplicaManager>, topic: &str, window_ms: i64) {
        if self.loaded.lock().contains(topic) {
            return;
        }
        let rm = rm.clone();
        let name = topic.to_string();
        let since = crate::util::now_ms().saturating_sub(window_ms);
        let found = tokio::task::spawn_blocking(move || deliveries_in(&rm, &name, since))
            .await
            .unwrap_or_default();
        let mut loaded = self.loaded.lock();
        if loaded.insert(topic.to_string()) {
            let mut seen = self.seen.lock();
            for (id, ts) in found {
                seen.entry((topic.to_string(), id))
                    .or_insert(Seen::Until(ts.saturating_add(window_ms)));
            }
        }
    }
}

/// The `X-GitHub-Delivery` header values of `topic`'s records with a
/// timestamp at or after `since`, with their timestamps.
fn deliveries_in(rm: &ReplicaManager, topic: &str, since: i64) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let Some(t) = rm.topic(topic) else { return out };
    for partition in &t.partitions {
        let (offsets, _) = rm.read(partition, 0, 0, false);
        let mut next = offsets.log_start_offset;
        let end = offsets.high_watermark;
        while next < end {
            let (_, data) = rm.read(partition, next, READ_CHUNK, true);
            let Ok(data) = data else { break };
            if data.is_empty() {
                break;
            }
            let before = next;
            let mut pos = 0;
            while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
                let Ok(h) = BatchHeader::parse(rest) else {
                    break;
                };
                let Some(batch) = rest.get(..h.total_size()) else {
                    break;
                };
                pos += h.total_size();
                next = next.max(h.last_offset() + 1);
                if h.is_control() || h.max_timestamp < since {
                    continue;
                }
                let Ok(raw) = records_section(batch, &h) else {
                    continue;
                };
                let section = match Codec::from_attributes(h.attributes) {
                    Ok(Codec::None) => std::borrow::Cow::Borrowed(raw),
                    Ok(codec) => match codec.decompress(raw, MAX_DECOMPRESSED_BATCH_BYTES) {
                        Ok(v) => std::borrow::Cow::Owned(v),
                        Err(_) => continue,
                    },
                    Err(_) => continue,
                };
                let Ok(iter) = records(&section, h.record_count) else {
                    continue;
                };
                for r in iter.flatten() {
                    let ts = h.record_timestamp(r.timestamp_delta);
                    if ts < since {
                        continue;
                    }
                    for (k, v) in r.headers() {
                        if k.eq_ignore_ascii_case(b"X-GitHub-Delivery") {
                            if let Some(id) = v.and_then(|v| std::str::from_utf8(v).ok()) {
                                out.push((id.to_string(), ts));
                            }
                        }
                    }
                }
            }
            if next <= before {
                break;
            }
        }
    }
    out
}

/// The webhook route.
pub fn routes(state: Arc<IngestState>) -> Router {
    Router::new()
        .route("/webhooks/github/{topic}", post(webhook))
        .with_state(state)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body`.
pub fn signature_ok(secret: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(sig) = signature
        .and_then(|s| s.trim().strip_prefix("sha256="))
        .and_then(unhex)
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The record key at `pointer`: a string as its text, other values as JSON.
fn key_at(payload: &Value, pointer: &str) -> Option<Bytes> {
    match payload.pointer(pointer)? {
        Value::Null => None,
        Value::String(s) => Some(Bytes::from(s.clone())),
        v => Some(Bytes::from(v.to_string())),
    }
}

/// The compact deployment event of a delivery.
pub fn deployment_event(payload: &Value, event: &str, delivery: &str, now_ms: i64) -> Value {
    let s = |p: &str| payload.pointer(p).and_then(Value::as_str);
    let branch = s("/ref")
        .map(|r| r.strip_prefix("refs/heads/").unwrap_or(r))
        .or_else(|| s("/deployment/ref"))
        .or_else(|| s("/pull_request/head/ref"))
        .or_else(|| s("/workflow_run/head_branch"))
        .or_else(|| s("/check_suite/head_branch"));
    let commit = s("/after")
        .or_else(|| s("/deployment/sha"))
        .or_else(|| s("/pull_request/head/sha"))
        .or_else(|| s("/workflow_run/head_sha"))
        .or_else(|| s("/check_suite/head_sha"))
        .or_else(|| s("/head_commit/id"));
    let event_type = match s("/action") {
        Some(action) => format!("{event}.{action}"),
        None => event.to_string(),
    };
    json!({
        "event_type": event_type,
        "repo_name": s("/repository/name"),
        "repo_full_name": s("/repository/full_name"),
        "branch": branch,
        "commit": commit,
        "github_event": event,
        "github_delivery_id": delivery,
        "timestamp": rfc3339(now_ms),
        "triggered_by": s("/sender/login").or_else(|| s("/pusher/name")),
    })
}

async fn webhook(
    State(state): State<Arc<IngestState>>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    connect: ConnectInfo<SocketAddr>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), IngestError> {
    let body: Bytes = state.admit(peer(connect), body).await?;
    let s = state.sources()?;
    let config = &s.config;
    let Some(secret) = &config.webhook_github_secret else {
        return Err(IngestError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhook.github.secret is not set",
        ));
    };
    if !signature_ok(
        secret.as_bytes(),
        &body,
        header(&headers, "x-hub-signature-256"),
    ) {
        return Err(IngestError::status(
            StatusCode::UNAUTHORIZED,
            "X-Hub-Signature-256 is missing or does not match webhook.github.secret",
        ));
    }
    if s.replica_manager.topic(&topic).is_none() {
        return Err(IngestError::status(
            StatusCode::NOT_FOUND,
            format!("topic {topic} does not exist"),
        ));
    }
    let payload: Value = serde_json::from_slice(&body).map_err(|e| {
        IngestError::status(
            StatusCode::BAD_REQUEST,
            format!(
                "the payload is not JSON (set the webhook's content type to application/json): {e}"
            ),
        )
    })?;
    let event = header(&headers, "x-github-event").unwrap_or("").to_string();
    let delivery = header(&headers, "x-github-delivery").map(str::to_string);
    let window = config.webhook_github_dedupe_window_ms;
    let now = crate::util::now_ms();
    let claim = match &delivery {
        Some(id) if window > 0 => {
            state
                .github
                .ensure_loaded(&s.replica_manager, &topic, window)
                .await;
            Some(state.github.claim(&topic, id, now).await)
        }
        _ => None,
    };
    let tx = match claim {
        Some(Claim::Duplicate) => {
            return Ok((
                StatusCode::ACCEPTED,
                Json(json!({"topic": topic, "duplicate": true, "delivery": delivery})),
            ))
        }
        Some(Claim::Write(tx)) => Some(tx),
        None => None,
    };
    let value = if config.webhook_github_format == "deployment-event" {
        let e = deployment_event(&payload, &event, delivery.as_deref().unwrap_or(""), now);
        Bytes::from(e.to_string())
    } else {
        body.clone()
    };
    let mut record_headers = vec![("X-GitHub-Event".to_string(), Some(Bytes::from(event)))];
    if let Some(id) = &delivery {
        record_headers.push((
            "X-GitHub-Delivery".to_string(),
            Some(Bytes::from(id.clone())),
        ));
    }
    let record = NewRecord {
        partition: None,
        key: key_at(&payload, &config.webhook_github_key_pointer),
        value: Some(value),
        headers: record_headers,
        timestamp: Some(now),
    };
    let result = s.broker.produce(&topic, record).await;
    if let (Some(tx), Some(id)) = (tx, &delivery) {
        let until = result.is_ok().then(|| now.saturating_add(window));
        state.github.done(&topic, id, until, tx);
    }
    match result {
        Ok(p) => Ok((
            StatusCode::ACCEPTED,
            Json(
                json!({"topic": topic, "partition": p.partition, "offset": p.offset, "delivery": delivery}),
            ),
        )),
        Err(e) => {
            let status = if e.is_client_error() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            Err(IngestError::status(status, e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked() {
        // GitHub's documented example: secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let secret = b"It's a Secret to Everybody";
        assert!(signature_ok(secret, b"Hello, World!", Some(sig)));
        assert!(!signature_ok(secret, b"Hello, World?", Some(sig)));
        assert!(!signature_ok(b"other", b"Hello, World!", Some(sig)));
        assert!(!signature_ok(secret, b"Hello, World!", None));
        assert!(!signature_ok(secret, b"Hello, World!", Some("sha1=00")));
        assert!(!signature_ok(secret, b"Hello, World!", Some("sha256=zz")));
    }

    #[test]
    fn deployment_events_from_a_push() {
        let payload = json!({
            "ref": "refs/heads/main", "after": "abc123",
            "repository": {"name": "app", "full_name": "me/app"},
            "sender": {"login": "octocat"}
        });
        let e = deployment_event(&payload, "push", "d-1", 0);
        assert_eq!(
            e,
            json!({"event_type": "push", "repo_name": "app", "repo_full_name": "me/app",
                   "branch": "main", "commit": "abc123", "github_event": "push",
                   "github_delivery_id": "d-1", "timestamp": "1970-01-01T00:00:00.000Z",
                   "triggered_by": "octocat"})
        );
        assert_eq!(
            key_at(&payload, "/repository/name").as_deref(),
            Some(&b"app"[..])
        );
        assert_eq!(key_at(&payload, "/nope"), None);
    }

    #[tokio::test]
    async fn a_delivery_is_claimed_once() {
        let d = Deliveries::default();
        d.loaded.lock().insert("t".into());
        let Claim::Write(tx) = d.claim("t", "id", 0).await else {
            panic!("first claim")
        };
        d.done("t", "id", Some(1000), tx);
        assert!(matches!(d.claim("t", "id", 10).await, Claim::Duplicate));
        // Expired: written again.
        assert!(matches!(d.claim("t", "id", 2000).await, Claim::Write(_)));
    }
}
