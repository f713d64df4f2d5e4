//! Confluent REST Proxy's produce API, so existing REST clients work:
//! - v3: `GET /v3/clusters`, `GET /v3/clusters/{cluster_id}`, and `POST
//!   /v3/clusters/{cluster_id}/topics/{topic}/records` (`application/json`):
//!   one record `{"partition_id", "headers": [{"name", "value": base64}],
//!   "key"/"value": {"type": "BINARY"|"JSON"|"STRING", "data"}, "timestamp"}`,
//!   answered `{"error_code": 200, "cluster_id", "topic_name",
//!   "partition_id", "offset", "timestamp", "key"/"value": {"type", "size"}}`;
//!   several records back to back in one body (the REST Proxy's streaming
//!   mode) answer one such object each, in order.
//! - v2: `POST /topics/{topic}` with `application/vnd.kafka.json.v2+json`
//!   (key and value any JSON) or `application/vnd.kafka.binary.v2+json`
//!   (base64): `{"records": [{"key", "value", "partition"}]}`, answered
//!   `{"key_schema_id": null, "value_schema_id": null, "offsets":
//!   [{"partition", "offset", "error_code", "error"}]}`.
//!
//! Errors use the REST Proxy's status codes and bodies: v3 an `error_code`
//! equal to the status (404 unknown cluster or topic, 400 bad record), v2
//! five digits (40401 topic not found, 40402 partition not found, 42201
//! bad record, 415 other content types). There is no schema registry:
//! AVRO/PROTOBUF/JSONSCHEMA answer 400.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header::CONTENT_TYPE, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{header, peer, rfc3339, IngestError, IngestState};
use crate::protocol::{NewRecord, ProduceError, Produced};

type S = State<Arc<IngestState>>;
type Peer = ConnectInfo<SocketAddr>;

/// The REST Proxy v2 response content type.
const V2_CONTENT_TYPE: &str = "application/vnd.kafka.v2+json";

/// The v3 and v2 routes.
pub fn routes(state: Arc<IngestState>) -> Router {
    Router::new()
        .route("/v3/clusters", get(clusters))
        .route("/v3/clusters/{cluster_id}", get(cluster))
        .route(
            "/v3/clusters/{cluster_id}/topics/{topic}/records",
            post(produce_v3),
        )
        .route("/topics/{topic}", post(produce_v2))
        .with_state(state)
}

fn base_url(headers: &HeaderMap) -> String {
    format!("http://{}", header(headers, "host").unwrap_or("localhost"))
}

fn cluster_json(base: &str, id: &str, broker_id: i32) -> Value {
    let url = format!("{base}/v3/clusters/{id}");
    let related = |tail: &str| json!({"related": format!("{url}/{tail}")});
    json!({
        "kind": "KafkaCluster",
        "metadata": {"self": url, "resource_name": format!("crn:///kafka={id}")},
        "cluster_id": id,
        "controller": related(&format!("brokers/{broker_id}")),
        "acls": related("acls"),
        "brokers": related("brokers"),
        "broker_configs": related("broker-configs"),
        "consumer_groups": related("consumer-groups"),
        "topics": related("topics"),
        "partition_reassignments": related("topics/-/partitions/-/reassignment"),
    })
}

async fn clusters(State(state): S, headers: HeaderMap) -> Result<Json<Value>, IngestError> {
    let s = state.sources()?;
    let base = base_url(&headers);
    Ok(Json(json!({
        "kind": "KafkaClusterList",
        "metadata": {"self": format!("{base}/v3/clusters"), "next": null},
        "data": [cluster_json(&base, &s.broker.cluster_id(), s.config.broker_id)],
    })))
}

/// The cluster id, or the REST Proxy's 404 for another one.
fn check_cluster(state: &IngestState, id: &str) -> Result<(), IngestError> {
    let ours = state.sources()?.broker.cluster_id();
    if id == ours {
        Ok(())
    } else {
        Err(IngestError::status(
            StatusCode::NOT_FOUND,
            format!("Cluster {id} cannot be found."),
        ))
    }
}

async fn cluster(
    State(state): S,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, IngestError> {
    check_cluster(&state, &id)?;
    let s = state.sources()?;
    Ok(Json(cluster_json(
        &base_url(&headers),
        &id,
        s.config.broker_id,
    )))
}

#[derive(Debug, Deserialize)]
struct V3Record {
    partition_id: Option<i32>,
    #[serde(default)]
    headers: Vec<V3Header>,
    key: Option<V3Data>,
    value: Option<V3Data>,
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
struct V3Header {
    name: String,
    /// Base64.
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct V3Data {
    #[serde(rename = "type")]
    ty: Option<String>,
    data: Option<Value>,
}

fn base64(s: &str, what: &str) -> Result<Bytes, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map(Bytes::from)
        .map_err(|e| format!("{what} is not base64: {e}"))
}

/// The bytes of a v3 key or value, and its type as answered.
fn v3_data(d: Option<V3Data>, what: &str) -> Result<(Option<Bytes>, &'static str), String> {
    let Some(d) = d else {
        return Ok((None, "JSON"));
    };
    let ty = d.ty.as_deref().unwrap_or("JSON").to_ascii_uppercase();
    let data = match d.data {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    };
    match ty.as_str() {
        "BINARY" => match data {
            None => Ok((None, "BINARY")),
            Some(Value::String(s)) => Ok((Some(base64(&s, what)?), "BINARY")),
            Some(_) => Err(format!("{what}: BINARY data must be a base64 string")),
        },
        "STRING" => match data {
            None => Ok((None, "STRING")),
            Some(Value::String(s)) => Ok((Some(Bytes::from(s)), "STRING")),
            Some(_) => Err(format!("{what}: STRING data must be a string")),
        },
        "JSON" => Ok((
            data.map(|v| Bytes::from(serde_json::to_vec(&v).unwrap_or_default())),
            "JSON",
        )),
        other => Err(format!(
            "{what}: type {other} needs a schema registry, which strom does not have; use BINARY, JSON or STRING"
        )),
    }
}

/// One parsed v3 record, with the types to answer.
struct V3Parsed {
    record: NewRecord,
    key_type: &'static str,
    value_type: &'static str,
}

fn parse_v3(v: Value) -> Result<V3Parsed, String> {
    let r: V3Record = serde_json::from_value(v).map_err(|e| format!("bad record: {e}"))?;
    let (key, key_type) = v3_data(r.key, "key")?;
    let (value, value_type) = v3_data(r.value, "value")?;
    let headers = r
        .headers
        .into_iter()
        .map(|h| {
            let v = h.value.map(|v| base64(&v, "header value")).transpose()?;
            Ok((h.name, v))
        })
        .collect::<Result<_, String>>()?;
    let timestamp = match r.timestamp {
        None => None,
        Some(t) => Some(
            super::parse_rfc3339(&t)
                .ok_or_else(|| format!("timestamp '{t}' is not an RFC 3339 time"))?,
        ),
    };
    Ok(V3Parsed {
        record: NewRecord {
            partition: r.partition_id,
            key,
            value,
            headers,
            timestamp,
        },
        key_type,
        value_type,
    })
}

/// The REST Proxy's status and message for a produce error.
fn produce_status(e: &ProduceError) -> (StatusCode, String) {
    let e = match e {
        ProduceError::SameBatch(inner) => inner.as_ref(),
        e => e,
    };
    match e {
        ProduceError::UnknownTopic(_) | ProduceError::UnknownPartition { .. } => (
            StatusCode::NOT_FOUND,
            "This server does not host this topic-partition.".to_string(),
        ),
        _ if e.is_client_error() => (StatusCode::BAD_REQUEST, e.to_string()),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn produce_v3(
    State(state): S,
    Path((cluster_id, topic)): Path<(String, String)>,
    connect: Peer,
    body: Body,
) -> Result<Response, IngestError> {
    let body = state.admit(peer(connect), body).await?;
    check_cluster(&state, &cluster_id)?;
    let s = state.sources()?;
    if s.replica_manager.topic(&topic).is_none() {
        return Err(IngestError::status(
            StatusCode::NOT_FOUND,
            "This server does not host this topic-partition.",
        ));
    }
    // One JSON object, or several back to back (streaming mode).
    let mut parsed = Vec::new();
    for v in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
        let v =
            v.map_err(|e| IngestError::status(StatusCode::BAD_REQUEST, format!("bad JSON: {e}")))?;
        parsed.push(parse_v3(v));
    }
    if parsed.is_empty() {
        return Err(IngestError::status(
            StatusCode::BAD_REQUEST,
            "the body holds no record",
        ));
    }
    let single = parsed.len() == 1;
    let (good, slots): (Vec<_>, Vec<_>) = parsed
        .into_iter()
        .map(|p| match p {
            Ok(p) => (Some(p.record), Ok::<_, String>((p.key_type, p.value_type))),
            Err(e) => (None, Err(e)),
        })
        .unzip();
    let sizes: Vec<(Option<usize>, Option<usize>)> = good
        .iter()
        .map(|r| {
            r.as_ref().map_or((None, None), |r| {
                (
                    r.key.as_ref().map(Bytes::len),
                    r.value.as_ref().map(Bytes::len),
                )
            })
        })
        .collect();
    let records: Vec<NewRecord> = good.into_iter().flatten().collect();
    let mut results = s.broker.produce_many(&topic, records).await.into_iter();
    let mut answers = Vec::new();
    for (slot, (key_size, value_size)) in slots.into_iter().zip(sizes) {
        let answer = match slot {
            Err(message) => Err((StatusCode::BAD_REQUEST, message)),
            Ok(types) => match results.next() {
                Some(Ok(p)) => Ok(v3_answer(
                    &cluster_id,
                    &topic,
                    &p,
                    types,
                    key_size,
                    value_size,
                )),
                Some(Err(e)) => Err(produce_status(&e)),
                None => Err((StatusCode::INTERNAL_SERVER_ERROR, "no result".to_string())),
            },
        };
        answers.push(answer);
    }
    if single {
        return match answers.pop() {
            Some(Ok(v)) => Ok(Json(v).into_response()),
            Some(Err((status, message))) => Err(IngestError::status(status, message)),
            None => Err(IngestError::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no result",
            )),
        };
    }
    let mut out = Vec::new();
    for a in answers {
        let v = match a {
            Ok(v) => v,
            Err((status, message)) => json!({"error_code": status.as_u16(), "message": message}),
        };
        out.extend_from_slice(&serde_json::to_vec(&v).unwrap_or_default());
        out.push(b'\n');
    }
    Ok(([(CONTENT_TYPE, "application/json")], out).into_response())
}

fn v3_answer(
    cluster_id: &str,
    topic: &str,
    p: &Produced,
    (key_type, value_type): (&str, &str),
    key_size: Option<usize>,
    value_size: Option<usize>,
) -> Value {
    let side = |ty: &str, size: Option<usize>| match size {
        Some(n) => json!({"type": ty, "size": n}),
        None => Value::Null,
    };
    json!({
        "error_code": 200,
        "cluster_id": cluster_id,
        "topic_name": topic,
        "partition_id": p.partition,
        "offset": p.offset,
        "timestamp": rfc3339(p.timestamp),
        "key": side(key_type, key_size),
        "value": side(value_type, value_size),
    })
}

#[derive(Debug, Deserialize)]
struct V2Body {
    records: Vec<V2Record>,
}

#[derive(Debug, Deserialize)]
struct V2Record {
    key: Option<Value>,
    value: Option<Value>,
    partition: Option<i32>,
}

/// The v2 embedded formats.
#[derive(Clone, Copy, PartialEq, Eq)]
enum V2Format {
    Json,
    Binary,
}

fn v2_field(v: Option<Value>, format: V2Format, what: &str) -> Result<Option<Bytes>, String> {
    match (v, format) {
        (None | Some(Value::Null), _) => Ok(None),
        (Some(v), V2Format::Json) => Ok(Some(Bytes::from(
            serde_json::to_vec(&v).unwrap_or_default(),
        ))),
        (Some(Value::String(s)), V2Format::Binary) => base64(&s, what).map(Some),
        (Some(_), V2Format::Binary) => Err(format!("{what} must be a base64 string")),
    }
}

fn v2_error(status: StatusCode, code: u32, message: impl Into<String>) -> IngestError {
    IngestError::new(status, code, message)
}

async fn produce_v2(
    State(state): S,
    Path(topic): Path<String>,
    headers: HeaderMap,
    connect: Peer,
    body: Body,
) -> Result<Response, IngestError> {
    let content_type = header(&headers, "content-type").unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let format = match media {
        "application/vnd.kafka.json.v2+json" => V2Format::Json,
        "application/vnd.kafka.binary.v2+json" => V2Format::Binary,
        _ => {
            return Err(v2_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                415,
                "HTTP 415 Unsupported Media Type",
            ))
        }
    };
    let body = state.admit(peer(connect), body).await?;
    let s = state.sources()?;
    let Some(t) = s.replica_manager.topic(&topic) else {
        return Err(v2_error(StatusCode::NOT_FOUND, 40401, "Topic not found."));
    };
    let parsed: V2Body = serde_json::from_slice(&body).map_err(|e| {
        v2_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            format!("bad request body: {e}"),
        )
    })?;
    let partitions = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
    let mut records = Vec::with_capacity(parsed.records.len());
    for r in parsed.records {
        if r.partition.is_some_and(|p| p < 0 || p >= partitions) {
            return Err(v2_error(
                StatusCode::NOT_FOUND,
                40402,
                "Partition not found.",
            ));
        }
        let bad = |e: String| v2_error(StatusCode::UNPROCESSABLE_ENTITY, 42201, e);
        records.push(NewRecord {
            partition: r.partition,
            key: v2_field(r.key, format, "key").map_err(bad)?,
            value: v2_field(r.value, format, "value").map_err(bad)?,
            headers: Vec::new(),
            timestamp: None,
        });
    }
    let results = s.broker.produce_many(&topic, records).await;
    let offsets: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(p) => json!({"partition": p.partition, "offset": p.offset, "error_code": null, "error": null}),
            Err(e) => {
                let code = if e.is_client_error() { 42202 } else { 50002 };
                json!({"partition": null, "offset": null, "error_code": code, "error": e.to_string()})
            }
        })
        .collect();
    let body = json!({"key_schema_id": null, "value_schema_id": null, "offsets": offsets});
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(V2_CONTENT_TYPE));
    Ok(response)
}
