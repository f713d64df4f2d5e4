//! The `metrics.listener` routes (default `0.0.0.0:9308`, kafka_exporter's
//! port): `/metrics`, `/health` (the process is alive: always 200) and
//! `/ready` (200 once the logs are recovered, the listeners bound, the broker
//! registered in ZooKeeper when `zookeeper.connect` is set, and the group
//! coordinator loaded; else 503 naming what is missing). Only GET and HEAD.
//! With `metrics.authentication=basic`, `/metrics` asks for HTTP Basic
//! credentials of a broker SASL user (checked as the SASL mechanisms check
//! them, [`crate::security::sasl::SaslUsers::verify`]); `/health` and
//! `/ready` stay open for healthchecks.
//!
//! `/metrics` serves two kinds of metrics:
//! - **Computed at scrape time** from the replica manager and the group
//!   coordinator, under kafka_exporter's names and labels so its Grafana
//!   dashboards work unchanged: `kafka_brokers`, `kafka_topic_partitions`,
//!   `kafka_topic_partition_{current,oldest}_offset`, `…_leader`,
//!   `…_replicas`, `…_in_sync_replica`, `…_leader_is_preferred`,
//!   `…_under_replicated_partition`, `kafka_consumergroup_current_offset(_sum)`,
//!   `kafka_consumergroup_lag(_sum)`, `kafka_consumergroup_members`; plus
//!   `strom_log_size_bytes`. Nothing on the request path maintains them.
//! - **Counted as things happen**: the `strom_*` registry of `metrics`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    HeaderMap, HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use super::{EndpointState, Sources};
use crate::metrics::register;

const PLAIN: &str = "text/plain; charset=utf-8";

impl EndpointState {
    /// The text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut families = crate::metrics::gather()?;
        if let Some(sources) = self.sources() {
            families.extend(scrape(sources)?.gather());
        }
        // /ready as a metric, for the alert rules (docker/prometheus/alerts.yml).
        let ready = Registry::new();
        register(
            &ready,
            prometheus::IntGauge::new(
                "strom_ready",
                "1 while /ready answers 200, else 0 (/ready names what is missing).",
            )?,
        )?
        .set(i64::from(self.readiness().is_ok()));
        families.extend(ready.gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new().encode(&families, &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Builds the scrape-time metrics in a registry of their own.
fn scrape(s: &Sources) -> Result<Registry, prometheus::Error> {
    let r = Registry::new();
    let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
        register(&r, IntGauge::new(name, help)?)
    };
    let vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, prometheus::Error> {
        register(&r, IntGaugeVec::new(Opts::new(name, help), labels)?)
    };
    const TP: &[&str] = &["topic", "partition"];
    const GTP: &[&str] = &["consumergroup", "topic", "partition"];
    const GT: &[&str] = &["consumergroup", "topic"];

    gauge("kafka_brokers", "Number of Brokers in the Kafka Cluster.")?.set(1);
    let partitions = vec(
        "kafka_topic_partitions",
        "Number of partitions for this Topic",
        &["topic"],
    )?;
    let current = vec(
        "kafka_topic_partition_current_offset",
        "Current Offset of a Broker at Topic/Partition",
        TP,
    )?;
    let oldest = vec(
        "kafka_topic_partition_oldest_offset",
        "Oldest Offset of a Broker at Topic/Partition",
        TP,
    )?;
    let leader = vec(
        "kafka_topic_partition_leader",
        "Leader Broker ID of this Topic/Partition",
        TP,
    )?;
    let replicas = vec(
        "kafka_topic_partition_replicas",
        "Number of Replicas for this Topic/Partition",
        TP,
    )?;
    let isr = vec(
        "kafka_topic_partition_in_sync_replica",
        "Number of In-Sync Replicas for this Topic/Partition",
        TP,
    )?;
    let preferred = vec(
        "kafka_topic_partition_leader_is_preferred",
        "1 if Topic/Partition is using the Preferred Broker",
        TP,
    )?;
    let under = vec(
        "kafka_topic_partition_under_replicated_partition",
        "1 if Topic/Partition is under Replicated",
        TP,
    )?;
    let size = vec(
        "strom_log_size_bytes",
        "Size of a partition's log segments on disk.",
        TP,
    )?;

    let topics = s.replica_manager.topics();
    let mut high_watermarks: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for (name, topic) in topics.iter() {
        partitions
            .with_label_values(&[name.as_str()])
            .set(i64::from(topic.metadata.partitions));
        for p in &topic.partitions {
            let index = p.index.to_string();
            let labels = [name.as_str(), index.as_str()];
            let offsets = p.offsets();
            high_watermarks.insert((name.as_str(), p.index), offsets.high_watermark);
            current
                .with_label_values(&labels)
                .set(offsets.high_watermark);
            oldest
                .with_label_values(&labels)
                .set(offsets.log_start_offset);
            leader
                .with_label_values(&labels)
                .set(i64::from(s.config.broker_id));
            replicas.with_label_values(&labels).set(1);
            isr.with_label_values(&labels).set(1);
            preferred.with_label_values(&labels).set(1);
            under.with_label_values(&labels).set(0);
            let bytes = p.with_log(|l| l.size_bytes());
            size.with_label_values(&labels)
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }

    let group_offset = vec(
        "kafka_consumergroup_current_offset",
        "Current Offset of a ConsumerGroup at Topic/Partition",
        GTP,
    )?;
    let group_offset_sum = vec(
        "kafka_consumergroup_current_offset_sum",
        "Current Offset of a ConsumerGroup at Topic for all partitions",
        GT,
    )?;
    let lag = vec(
        "kafka_consumergroup_lag",
        "Current Approximate Lag of a ConsumerGroup at Topic/Partition",
        GTP,
    )?;
    let lag_sum = vec(
        "kafka_consumergroup_lag_sum",
        "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
        GT,
    )?;
    let members = vec(
        "kafka_consumergroup_members",
        "Amount of members in a consumer group",
        &["consumergroup"],
    )?;
    // Until the coordinator has loaded, the group metrics are left out.
    let groups = s.coordinator.list_groups(&[]).unwrap_or_default();
    for (group, _, _) in groups {
        if let Ok(summary) = s.coordinator.describe_group(&group) {
            members
                .with_label_values(&[group.as_str()])
                .set(i64::try_from(summary.members.len()).unwrap_or(i64::MAX));
        }
        let Ok(committed) = s.coordinator.fetch_offsets(&group, None) else {
            continue;
        };
        for (topic, parts) in committed {
            let (mut offset_sum, mut lag_total) = (0i64, 0i64);
            for (partition, value) in parts {
                let Some(value) = value else { continue };
                let index = partition.to_string();
                let labels = [group.as_str(), topic.as_str(), index.as_str()];
                group_offset.with_label_values(&labels).set(value.offset);
                offset_sum = offset_sum.saturating_add(value.offset);
                // As kafka_exporter: lag against the high watermark, for
                // partitions that still exist.
                if let Some(hw) = high_watermarks.get(&(topic.as_str(), partition)) {
                    let l = hw.saturating_sub(value.offset);
                    lag.with_label_values(&labels).set(l);
                    lag_total = lag_total.saturating_add(l);
                }
            }
            let labels = [group.as_str(), topic.as_str()];
            group_offset_sum.with_label_values(&labels).set(offset_sum);
            lag_sum.with_label_values(&labels).set(lag_total);
        }
    }
    Ok(r)
}

/// The routes of the `metrics.listener` endpoint.
pub fn router(state: Arc<EndpointState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route(
            "/health",
            get(|| async { text(StatusCode::OK, "ok\n", PLAIN) }),
        )
        .route("/ready", get(ready))
        .route(
            "/",
            get(|| async {
                text(
                    StatusCode::OK,
                    "strom metrics endpoint: /metrics /health /ready\n",
                    PLAIN,
                )
            }),
        )
        .fallback(|| async {
            text(
                StatusCode::NOT_FOUND,
                "not found: try /metrics, /health or /ready\n",
                PLAIN,
            )
        })
        .layer(axum::middleware::from_fn(get_or_head))
        .with_state(state)
}

/// Everything but GET and HEAD is refused before routing, on every path.
async fn get_or_head(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n", PLAIN);
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    next.run(req).await
}

fn text(status: StatusCode, body: impl Into<String>, content_type: &'static str) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.into(),
    )
        .into_response()
}

/// The realm `/metrics` names in its `WWW-Authenticate` challenge.
const REALM: &str = "Basic realm=\"strom metrics\", charset=\"UTF-8\"";

/// Most HTTP Basic checks running at once (each may derive a SCRAM salted
/// password).
const MAX_CONCURRENT_CHECKS: usize = 2;

fn challenge(message: &str) -> Response {
    let mut r = text(StatusCode::UNAUTHORIZED, format!("{message}\n"), PLAIN);
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    r
}

/// The user and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// `metrics.authentication=basic`: the request's HTTP Basic credentials
/// must be a broker SASL user's (the checks the SASL mechanisms make).
/// `Err` is the answer: 401 with a challenge, or 503 before the logs are
/// loaded (the users' SCRAM credentials are not known yet).
async fn authenticate(state: &EndpointState, headers: &HeaderMap) -> Result<(), Response> {
    static CHECKS: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(MAX_CONCURRENT_CHECKS);
    let Some(s) = state.sources() else {
        return Err(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: /metrics authenticates once the logs are loaded\n",
            PLAIN,
        ));
    };
    let Some((user, password)) = basic_credentials(headers) else {
        return Err(challenge(
            "authentication required (metrics.authentication=basic)",
        ));
    };
    let Ok(_permit) = CHECKS.acquire().await else {
        return Err(challenge("authentication failed"));
    };
    let (users, broker, who) = (s.sasl_users.clone(), s.broker.clone(), user.clone());
    let principal = tokio::task::spawn_blocking(move || {
        users.verify(&who, &password, broker.scram_credentials())
    })
    .await
    .ok()
    .flatten();
    match principal {
        Some(_) => Ok(()),
        None => {
            tracing::info!(user = %user, "/metrics: authentication failed");
            Err(challenge("authentication failed"))
        }
    }
}

async fn metrics(State(state): State<Arc<EndpointState>>, headers: HeaderMap) -> Response {
    if state.metrics_authentication() {
        if let Err(refused) = authenticate(&state, &headers).await {
            return refused;
        }
    }
    // Walks every partition and group: off the reactor.
    match tokio::task::spawn_blocking(move || state.render()).await {
        Ok(Ok(body)) => text(
            StatusCode::OK,
            body,
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN),
    }
}

async fn ready(State(state): State<Arc<EndpointState>>) -> Response {
    match state.readiness() {
        Ok(()) => text(StatusCode::OK, "ready\n", PLAIN),
        Err(missing) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", missing.join(", ")),
            PLAIN,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{fetched, produced, set_zookeeper_state, topic_deleted, ZooKeeperState};
    use std::time::Duration;

    #[test]
    fn topic_counters_and_exposition() {
        crate::metrics::register_apis([kafka_protocol::messages::ApiKey::Produce]);
        crate::metrics::request_done(0, Duration::from_millis(1), false);
        produced("metrics-unit-topic", 100, 7);
        fetched("metrics-unit-topic", 40);
        set_zookeeper_state(ZooKeeperState::Disconnected);
        let text = EndpointState::new(false).render().unwrap();
        assert!(text.contains("strom_topic_messages_in_total{topic=\"metrics-unit-topic\"} 7"));
        assert!(text.contains("strom_topic_bytes_in_total{topic=\"metrics-unit-topic\"} 100"));
        assert!(text.contains("strom_topic_bytes_out_total{topic=\"metrics-unit-topic\"} 40"));
        assert!(text.contains("strom_zookeeper_session_state{state=\"disconnected\"} 1"));
        assert!(text.contains("strom_zookeeper_session_state{state=\"connected\"} 0"));
        assert!(text.contains("# TYPE strom_request_duration_seconds histogram"));
        topic_deleted("metrics-unit-topic");
        let text = EndpointState::new(false).render().unwrap();
        assert!(!text.contains("metrics-unit-topic"));
    }

    #[test]
    fn readiness_names_what_is_missing() {
        let s = EndpointState::new(true);
        let missing = s.readiness().unwrap_err();
        assert_eq!(
            missing,
            [
                "logs not recovered",
                "listeners not bound",
                "not registered in ZooKeeper"
            ]
        );
        s.listeners_bound();
        s.zookeeper_registered(true);
        assert_eq!(s.readiness().unwrap_err(), ["logs not recovered"]);
        assert_eq!(
            EndpointState::new(false).readiness().unwrap_err(),
            ["logs not recovered", "listeners not bound"]
        );
    }
}
