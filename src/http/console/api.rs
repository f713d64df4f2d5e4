//! The console's JSON API under `/api/v1`, described by
//! `/api/v1/openapi.json` (`assets/openapi.json`). Reads are snapshots of
//! [`super::views`] and [`super::messages`]; changes call the functions the
//! Kafka APIs use ([`crate::protocol::Broker`]'s facade and `produce`, the
//! group coordinator's offset commit and deletions). Every extractor's
//! rejection becomes a [`ConsoleError`] (JSON, 4xx).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use bytes::Bytes;
use kafka_protocol::messages::{
    create_partitions_request::CreatePartitionsTopic,
    delete_records_request::DeleteRecordsPartition, delete_records_request::DeleteRecordsTopic,
    incremental_alter_configs_request::AlterConfigsResource,
    incremental_alter_configs_request::AlterableConfig, CreatePartitionsRequest,
    DeleteRecordsRequest, DeleteTopicsRequest, IncrementalAlterConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};

use super::auth::{Access, Viewer};
use super::messages::{self, BrowseQuery};
use super::sampler::sampler;
use super::{sources, views, ConsoleError, EndpointState};
use crate::authorizer::Check;
use crate::coordinator::CommitPartition;
use crate::protocol::{NewRecord, ProduceError, Produced};

type S = State<Arc<EndpointState>>;
type V = axum::Extension<Viewer>;
type R<T> = Result<Json<T>, ConsoleError>;

/// The API's routes.
pub fn routes() -> Router<Arc<EndpointState>> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/csrf", get(csrf))
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/history", get(history))
        .route("/api/v1/topics", get(list_topics).post(create_topic))
        .route("/api/v1/topics/{topic}", get(topic).delete(delete_topic))
        .route(
            "/api/v1/topics/{topic}/configs",
            axum::routing::patch(alter_configs),
        )
        .route("/api/v1/topics/{topic}/partitions", post(add_partitions))
        .route("/api/v1/topics/{topic}/purge", post(purge))
        .route("/api/v1/topics/{topic}/messages", get(browse).post(produce))
        .route("/api/v1/topics/{topic}/tail", get(tail))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{group}", get(group).delete(delete_group))
        .route("/api/v1/groups/{group}/stream", get(group_stream))
        .route("/api/v1/groups/{group}/reset", post(reset_offsets))
        .route(
            "/api/v1/groups/{group}/offsets/{topic}",
            axum::routing::delete(delete_offsets),
        )
        .route("/api/v1/broker/configs", get(broker_configs))
}

fn bad<E: std::fmt::Display>(e: E) -> ConsoleError {
    ConsoleError::BadRequest(e.to_string())
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ConsoleError> {
    p.map(|Path(v)| v).map_err(bad)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ConsoleError> {
    q.map(|Query(v)| v).map_err(bad)
}

fn json<T>(j: Result<Json<T>, JsonRejection>) -> Result<T, ConsoleError> {
    j.map(|Json(v)| v).map_err(bad)
}

/// Runs a snapshot on the blocking pool (it walks partitions and groups).
async fn blocking<T: Send + 'static>(
    state: Arc<EndpointState>,
    f: impl FnOnce(&EndpointState) -> Result<T, ConsoleError> + Send + 'static,
) -> Result<T, ConsoleError> {
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| ConsoleError::Unavailable(format!("task failed: {e}")))?
}

async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        include_str!("assets/openapi.json"),
    )
        .into_response()
}

#[derive(Serialize)]
struct Csrf {
    token: String,
    header: &'static str,
    read_only: bool,
    /// The signed-in user (none without sign-in).
    user: Option<String>,
}

async fn csrf(State(state): S, axum::Extension(v): V) -> Json<Csrf> {
    Json(Csrf {
        token: v.csrf.to_string(),
        header: super::CSRF_HEADER,
        read_only: state.sources().is_some_and(|s| s.config.console_read_only),
        user: v.user,
    })
}

async fn overview(State(state): S, axum::Extension(v): V) -> R<views::Overview> {
    blocking(state, move |st| {
        let s = sources(st)?;
        let a = Access::new(&s.broker, &v);
        Ok(views::overview(s, &a, st.uptime().as_secs(), sampler()))
    })
    .await
    .map(Json)
}

async fn history() -> Json<Vec<super::sampler::Sample>> {
    Json(sampler().samples())
}

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
}

async fn list_topics(
    State(state): S,
    axum::Extension(v): V,
    q: Result<Query<Search>, QueryRejection>,
) -> R<Vec<views::TopicSummary>> {
    let q = query(q)?;
    blocking(state, move |st| {
        let s = sources(st)?;
        let a = Access::new(&s.broker, &v);
        Ok(views::topics(s, &a, q.q.as_deref(), sampler()))
    })
    .await
    .map(Json)
}

async fn topic(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
) -> R<views::TopicDetail> {
    let name = path(p)?;
    blocking(state, move |st| {
        let s = sources(st)?;
        views::topic(s, &Access::new(&s.broker, &v), &name, sampler())
    })
    .await
    .map(Json)
}

/// A topic to create.
#[derive(Deserialize)]
pub struct NewTopic {
    /// Name (Kafka's legal topic names).
    pub name: String,
    /// Partitions; default `num.partitions`.
    pub partitions: Option<i32>,
    /// Replication factor; default `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Topic configs.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// Most partitions the console creates a topic with (or adds up to): a
/// guard against a typo making a million partition directories; the Kafka
/// API has no such limit.
pub const MAX_CONSOLE_PARTITIONS: i32 = 10_000;

fn check_partitions(n: i32) -> Result<(), ConsoleError> {
    if n > MAX_CONSOLE_PARTITIONS {
        return Err(ConsoleError::BadRequest(format!(
            "{n} partitions: the console creates at most {MAX_CONSOLE_PARTITIONS} (use an admin client for more)"
        )));
    }
    Ok(())
}

#[derive(Serialize)]
struct Created {
    name: String,
    topic_id: String,
    partitions: i32,
}

async fn create_topic(
    State(state): S,
    axum::Extension(v): V,
    body: Result<Json<NewTopic>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Created>), ConsoleError> {
    let t = json(body)?;
    check_partitions(t.partitions.unwrap_or(1))?;
    let s = sources(&state)?;
    let m = s
        .broker
        .create_topic(
            &v.ctx(),
            &t.name,
            t.partitions.unwrap_or(-1),
            t.replication_factor.unwrap_or(-1),
            t.configs,
        )
        .await
        .map_err(|e| ConsoleError::from_kafka(e.error.code(), e.message))?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(Created {
            name: m.name,
            topic_id: crate::util::uuid_to_base64(m.topic_id),
            partitions: m.partitions,
        }),
    ))
}

#[derive(Deserialize)]
struct Confirm {
    confirm: Option<String>,
}

#[derive(Serialize)]
struct Done {
    ok: bool,
    message: String,
}

fn done(message: impl Into<String>) -> Json<Done> {
    Json(Done {
        ok: true,
        message: message.into(),
    })
}

fn kafka_result(code: i16, message: Option<&StrBytes>) -> Result<(), ConsoleError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ConsoleError::from_kafka(
            code,
            message.map(|m| m.to_string()).unwrap_or_default(),
        ))
    }
}

async fn delete_topic(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<Confirm>, QueryRejection>,
) -> R<Done> {
    let name = path(p)?;
    let confirm = query(q)?.confirm;
    if confirm.as_deref() != Some(name.as_str()) {
        return Err(ConsoleError::BadRequest(format!(
            "type the topic's name to confirm: ?confirm={name}"
        )));
    }
    let s = sources(&state)?;
    let request = DeleteTopicsRequest::default()
        .with_topic_names(vec![TopicName(StrBytes::from_string(name.clone()))])
        .with_timeout_ms(30_000);
    let response = s.broker.delete_topics(&v.ctx(), request).await;
    for r in &response.responses {
        kafka_result(r.error_code, r.error_message.as_ref())?;
    }
    Ok(done(format!("deleted topic {name}")))
}

/// A config change: values to set, names to reset to their default.
#[derive(Deserialize)]
pub struct ConfigChange {
    /// Name → value.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Names whose override is removed.
    #[serde(default)]
    pub delete: Vec<String>,
}

async fn alter_configs(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<ConfigChange>, JsonRejection>,
) -> R<Done> {
    let name = path(p)?;
    let change = json(body)?;
    if change.set.is_empty() && change.delete.is_empty() {
        return Err(ConsoleError::BadRequest("nothing to change".into()));
    }
    let s = sources(&state)?;
    if s.replica_manager.topic(&name).is_none() {
        return Err(ConsoleError::NotFound(format!("no topic {name}")));
    }
    let mut configs: Vec<AlterableConfig> = change
        .set
        .into_iter()
        .map(|(k, v)| {
            AlterableConfig::default()
                .with_name(StrBytes::from_string(k))
                .with_config_operation(0)
                .with_value(Some(StrBytes::from_string(v)))
        })
        .collect();
    configs.extend(change.delete.into_iter().map(|k| {
        AlterableConfig::default()
            .with_name(StrBytes::from_string(k))
            .with_config_operation(1)
    }));
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_string(name.clone()))
            .with_configs(configs),
    ]);
    let response = s.broker.incremental_alter_configs(&v.ctx(), request).await;
    for r in &response.responses {
        kafka_result(r.error_code, r.error_message.as_ref())?;
    }
    Ok(done(format!("configs of {name} changed")))
}

/// The new partition count.
#[derive(Deserialize)]
pub struct PartitionCount {
    /// Total partitions after the change.
    pub count: i32,
}

async fn add_partitions(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<PartitionCount>, JsonRejection>,
) -> R<Done> {
    let name = path(p)?;
    let count = json(body)?.count;
    check_partitions(count)?;
    let s = sources(&state)?;
    let request = CreatePartitionsRequest::default()
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.clone())))
            .with_count(count)
            .with_assignments(None)])
        .with_timeout_ms(30_000);
    let response = s.broker.create_partitions(&v.ctx(), request).await;
    for r in &response.results {
        kafka_result(r.error_code, r.error_message.as_ref())?;
    }
    Ok(done(format!("{name} has {count} partitions")))
}

async fn purge(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
) -> R<Done> {
    let name = path(p)?;
    let s = sources(&state)?;
    let t = s
        .replica_manager
        .topic(&name)
        .ok_or_else(|| ConsoleError::NotFound(format!("no topic {name}")))?;
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            DeleteRecordsPartition::default()
                .with_partition_index(p.index)
                .with_offset(-1)
        })
        .collect();
    let request = DeleteRecordsRequest::default()
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.clone())))
            .with_partitions(partitions)])
        .with_timeout_ms(30_000);
    let response = s.broker.delete_records(&v.ctx(), request).await;
    for t in &response.topics {
        for p in &t.partitions {
            kafka_result(p.error_code, None)?;
        }
    }
    Ok(done(format!("purged {name} to its end offsets")))
}

/// The output format of a browse (read from the same query string).
#[derive(Deserialize)]
struct BrowseFormat {
    /// `json` (a page) or `jsonl` (the page's records, one a line, as a download).
    format: Option<String>,
}

async fn browse(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<BrowseQuery>, QueryRejection>,
    f: Result<Query<BrowseFormat>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let name = path(p)?;
    let bq = query(q)?;
    let jsonl = match query(f)?.format.as_deref() {
        None | Some("json") => false,
        Some("jsonl") => true,
        Some(other) => return Err(ConsoleError::BadRequest(format!("unknown format {other}"))),
    };
    let topic = name.clone();
    let page = blocking(state, move |st| {
        let s = sources(st)?;
        Access::new(&s.broker, &v).require(Check::FetchTopic, &topic)?;
        messages::browse(&s.replica_manager, &topic, &bq)
    })
    .await?;
    if !jsonl {
        return Ok(Json(page).into_response());
    }
    let mut body = String::new();
    for r in &page.records {
        body.push_str(&serde_json::to_string(r).map_err(bad)?);
        body.push('\n');
    }
    let disposition = format!("attachment; filename=\"{}.jsonl\"", name.replace('"', ""));
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            ),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(bad)?,
            ),
        ],
        body,
    )
        .into_response())
}

/// A header of a record to produce.
#[derive(Deserialize)]
pub struct HeaderIn {
    /// Key.
    pub key: String,
    /// Value (null: a null value).
    pub value: Option<String>,
}

/// A record to produce.
#[derive(Deserialize)]
pub struct ProduceIn {
    /// Partition; default: murmur2 of the key, or a random one without a key.
    pub partition: Option<i32>,
    /// Key (null: none).
    pub key: Option<String>,
    /// Value (null: a tombstone).
    pub value: Option<String>,
    /// `text` (default) or `base64`, for key and value.
    pub encoding: Option<String>,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<HeaderIn>,
    /// Timestamp (ms); default now.
    pub timestamp: Option<i64>,
}

fn decode(v: Option<String>, base64: bool) -> Result<Option<Bytes>, ConsoleError> {
    v.map(|s| {
        if base64 {
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map(Bytes::from)
                .map_err(|e| ConsoleError::BadRequest(format!("not base64: {e}")))
        } else {
            Ok(Bytes::from(s))
        }
    })
    .transpose()
}

/// The console's produce: the record as given, through [`crate::protocol::Broker::produce`].
pub fn produce_error(e: ProduceError) -> ConsoleError {
    match &e {
        ProduceError::UnknownTopic(_) | ProduceError::UnknownPartition { .. } => {
            ConsoleError::NotFound(e.to_string())
        }
        _ if e.is_client_error() => ConsoleError::BadRequest(e.to_string()),
        _ => ConsoleError::Unavailable(e.to_string()),
    }
}

async fn produce(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<ProduceIn>, JsonRejection>,
) -> R<Produced> {
    let name = path(p)?;
    let r = json(body)?;
    let b64 = match r.encoding.as_deref() {
        None | Some("text") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ConsoleError::BadRequest(format!(
                "unknown encoding {other}: text or base64"
            )))
        }
    };
    let record = NewRecord {
        partition: r.partition,
        key: decode(r.key, b64)?,
        value: decode(r.value, b64)?,
        headers: r
            .headers
            .into_iter()
            .map(|h| Ok((h.key, decode(h.value, b64)?)))
            .collect::<Result<_, ConsoleError>>()?,
        timestamp: r.timestamp,
    };
    let s = sources(&state)?;
    Access::new(&s.broker, &v).require(Check::ProduceTopic, &name)?;
    s.broker
        .produce(&name, record)
        .await
        .map(Json)
        .map_err(produce_error)
}

#[derive(Deserialize)]
struct TailQuery {
    partition: Option<i32>,
}

/// How long a live tail waits for appends before looking again.
const TAIL_POLL: Duration = Duration::from_secs(5);

async fn tail(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<TailQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let name = path(p)?;
    let partition = query(q)?.partition;
    let s = sources(&state)?;
    Access::new(&s.broker, &v).require(Check::FetchTopic, &name)?;
    let rm = s.replica_manager.clone();
    let cursor = messages::end_cursor(&rm, &name, partition)?;
    let appends = rm.subscribe_appends();
    let stream = futures_util::stream::unfold(
        (rm, name, cursor, appends, true),
        |(rm, name, cursor, mut appends, first)| async move {
            if !first {
                let _ = tokio::time::timeout(TAIL_POLL, appends.changed()).await;
            }
            let (rm2, name2) = (rm.clone(), name.clone());
            let mut c = cursor;
            let result = tokio::task::spawn_blocking(move || {
                let r = messages::tail(&rm2, &name2, &mut c);
                (r, c)
            })
            .await;
            let Ok((result, cursor)) = result else {
                return None;
            };
            let event = match result {
                Ok(records) => Event::default()
                    .event("records")
                    .json_data(&records)
                    .unwrap_or_else(|_| Event::default().comment("encoding failed")),
                // The topic went away: end the stream.
                Err(_) => return None,
            };
            Some((
                Ok::<Event, Infallible>(event),
                (rm, name, cursor, appends, false),
            ))
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn list_groups(State(state): S, axum::Extension(v): V) -> R<Vec<views::GroupSummaryView>> {
    blocking(state, move |st| {
        let s = sources(st)?;
        views::groups(s, &Access::new(&s.broker, &v))
    })
    .await
    .map(Json)
}

async fn group(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
) -> R<views::GroupDetail> {
    let id = path(p)?;
    blocking(state, move |st| {
        let s = sources(st)?;
        views::group(s, &Access::new(&s.broker, &v), &id, sampler())
    })
    .await
    .map(Json)
}

/// How often the group page's stream sends the group.
const GROUP_EVERY: Duration = Duration::from_secs(1);

async fn group_stream(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(p)?;
    let s = sources(&state)?;
    Access::new(&s.broker, &v).require(Check::DescribeGroups, &id)?;
    let start = (state, id, v, true);
    let stream = futures_util::stream::unfold(start, |(state, id, v, first)| async move {
        if !first {
            tokio::time::sleep(GROUP_EVERY).await;
        }
        let (st, g, v2) = (state.clone(), id.clone(), v.clone());
        let detail = blocking(st, move |st| {
            let s = sources(st)?;
            views::group(s, &Access::new(&s.broker, &v2), &g, sampler())
        })
        .await;
        let event = match detail {
            Ok(d) => Event::default()
                .event("group")
                .json_data(&d)
                .unwrap_or_else(|_| Event::default().comment("encoding failed")),
            Err(e) => Event::default().event("gone").data(e.to_string()),
        };
        Some((Ok::<Event, Infallible>(event), (state, id, v, false)))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn delete_group(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
) -> R<Done> {
    let id = path(p)?;
    let s = sources(&state)?;
    Access::new(&s.broker, &v).require(Check::DeleteGroups, &id)?;
    s.coordinator
        .delete_group(&id)
        .await
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
    Ok(done(format!("deleted group {id}")))
}

async fn delete_offsets(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<(String, String)>, PathRejection>,
) -> R<Done> {
    let (id, topic) = path(p)?;
    let s = sources(&state)?;
    let a = Access::new(&s.broker, &v);
    a.require(Check::OffsetDeleteGroup, &id)?;
    a.require(Check::OffsetDeleteTopic, &topic)?;
    let committed = s
        .coordinator
        .fetch_offsets(&id, None)
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
    let parts: Vec<i32> = committed
        .iter()
        .filter(|(t, _)| *t == topic)
        .flat_map(|(_, ps)| ps.iter().filter(|(_, v)| v.is_some()).map(|(p, _)| *p))
        .collect();
    if parts.is_empty() {
        return Err(ConsoleError::NotFound(format!(
            "group {id} has no committed offsets for {topic}"
        )));
    }
    let results = s
        .coordinator
        .delete_offsets(&id, vec![(topic.clone(), parts)])
        .await
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
    for (_, ps) in results {
        for (_, r) in ps {
            r.map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
        }
    }
    Ok(done(format!(
        "deleted the offsets of group {id} for {topic}"
    )))
}

/// Where to reset a group's offsets to (Kafka's `kafka-consumer-groups --reset-offsets`).
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ResetTo {
    /// `--to-earliest`.
    Earliest,
    /// `--to-latest`.
    Latest,
    /// `--to-datetime` (`value`: ms since the epoch).
    Timestamp,
    /// `--to-offset` (`value`).
    Offset,
    /// `--shift-by` (`value`, may be negative).
    Shift,
}

/// An offset reset.
#[derive(Deserialize)]
pub struct ResetIn {
    /// The topic.
    pub topic: String,
    /// Partitions; default all.
    pub partitions: Option<Vec<i32>>,
    /// Where to.
    pub to: ResetTo,
    /// For `timestamp`, `offset` and `shift`.
    pub value: Option<i64>,
    /// `false` (default): a preview; `true`: commit.
    #[serde(default)]
    pub execute: bool,
}

/// One partition of a reset.
#[derive(Serialize)]
pub struct ResetRow {
    /// Partition.
    pub partition: i32,
    /// Committed now (-1: none).
    pub current: i64,
    /// After the reset.
    pub target: i64,
}

/// A reset's outcome (or preview).
#[derive(Serialize)]
pub struct ResetOut {
    /// Whether it was committed.
    pub executed: bool,
    /// Group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Per partition.
    pub partitions: Vec<ResetRow>,
}

async fn reset_offsets(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<ResetIn>, JsonRejection>,
) -> R<ResetOut> {
    let id = path(p)?;
    let r = json(body)?;
    let s = sources(&state)?;
    // What Kafka's reset tool needs: an OffsetCommit of the group's topic.
    let a = Access::new(&s.broker, &v);
    a.require(Check::OffsetCommitGroup, &id)?;
    a.require(Check::OffsetCommitTopic, &r.topic)?;
    let desc = s
        .coordinator
        .describe_group(&id)
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
    if !desc.members.is_empty() || !matches!(desc.state.as_str(), "Empty" | "Dead") {
        return Err(ConsoleError::Conflict(format!(
            "group {id} is {} with {} member(s): offsets can be reset only while the group is empty (stop its consumers first)",
            desc.state,
            desc.members.len()
        )));
    }
    let t = s
        .replica_manager
        .topic(&r.topic)
        .ok_or_else(|| ConsoleError::NotFound(format!("no topic {}", r.topic)))?;
    let value = || {
        r.value
            .ok_or_else(|| ConsoleError::BadRequest(format!("to={:?} needs a value", r.to)))
    };
    let committed: BTreeMap<i32, i64> = s
        .coordinator
        .fetch_offsets(&id, None)
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?
        .into_iter()
        .filter(|(topic, _)| *topic == r.topic)
        .flat_map(|(_, ps)| ps.into_iter().filter_map(|(p, v)| Some((p, v?.offset))))
        .collect();
    let wanted: Vec<i32> = match &r.partitions {
        Some(ps) => ps.clone(),
        None => t.partitions.iter().map(|p| p.index).collect(),
    };
    let mut rows = Vec::with_capacity(wanted.len());
    for p in wanted {
        let part = t.partition(p).ok_or_else(|| {
            ConsoleError::NotFound(format!("topic {} has no partition {p}", r.topic))
        })?;
        let o = part.offsets();
        let (start, end) = (o.log_start_offset, o.high_watermark);
        let current = committed.get(&p).copied();
        let target = match r.to {
            ResetTo::Earliest => start,
            ResetTo::Latest => end,
            ResetTo::Offset => value()?,
            ResetTo::Shift => current.unwrap_or(end).saturating_add(value()?),
            ResetTo::Timestamp => {
                let ts = value()?;
                part.with_log(|l| l.offset_for_timestamp(ts))
                    .ok()
                    .flatten()
                    .map_or(end, |(o, _)| o)
            }
        };
        rows.push(ResetRow {
            partition: p,
            current: current.unwrap_or(-1),
            // As Kafka's tool: out-of-range targets move to the nearest end.
            target: target.clamp(start, end),
        });
    }
    if r.execute {
        let commits = rows
            .iter()
            .map(|row| CommitPartition {
                partition: row.partition,
                offset: row.target,
                leader_epoch: -1,
                metadata: None,
                commit_timestamp: -1,
            })
            .collect();
        // An admin commit (generation -1, no member), as Kafka's reset
        // tool sends it: the coordinator accepts it only for an empty group.
        let results = s
            .coordinator
            .commit_offsets(&id, -1, "", None, vec![(r.topic.clone(), commits)])
            .await;
        for (_, ps) in results {
            for (_, res) in ps {
                res.map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
            }
        }
    }
    Ok(Json(ResetOut {
        executed: r.execute,
        group: id,
        topic: r.topic,
        partitions: rows,
    }))
}

async fn broker_configs(State(state): S, axum::Extension(v): V) -> R<Vec<views::BrokerConfigView>> {
    let s = sources(&state)?;
    views::broker_configs(s, &Access::new(&s.broker, &v)).map(Json)
}
