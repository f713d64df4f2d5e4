//! The console's pages, rendered on the server with maud (compile-time
//! templates): overview, topics, a topic, its messages, consumer groups, a
//! group, the broker. Every page is a bookmarkable GET URL; forms for
//! changes post to `/api/v1` through `assets/console.js` (with the CSRF
//! token of the page's `<meta>`), and are left out under `console.read.only`.
//! Charts are inline SVG drawn here; the live parts (tail, group lag) are
//! server-sent events the script applies.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::auth::{Access, Viewer};
use super::messages::{self, BrowseQuery, From as Start};
use super::sampler::{sampler, Sample};
use super::{csrf_token, sources, views, ConsoleError, EndpointState};
use crate::authorizer::Check;

type S = State<Arc<EndpointState>>;
type V = axum::Extension<Viewer>;

/// What every page's frame shows: the read-only switch, the CSRF token the
/// script sends, and who is signed in.
struct Chrome {
    read_only: bool,
    csrf: Arc<str>,
    user: Option<String>,
}

fn chrome(state: &EndpointState, v: &Viewer) -> Chrome {
    Chrome {
        read_only: read_only(state),
        csrf: v.csrf.clone(),
        user: v.user.clone(),
    }
}

/// The pages' routes.
pub fn routes() -> Router<Arc<EndpointState>> {
    Router::new()
        .route("/", get(overview))
        .route("/topics", get(topics))
        .route("/topics/{topic}", get(topic))
        .route("/topics/{topic}/messages", get(messages_page))
        .route("/groups", get(groups))
        .route("/groups/{group}", get(group))
        .route("/broker", get(broker))
}

/// A page's failure, as a page.
struct PageError(ConsoleError);

impl From<ConsoleError> for PageError {
    fn from(e: ConsoleError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Starting | ConsoleError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        };
        let frame = Chrome {
            read_only: true,
            csrf: Arc::from(csrf_token()),
            user: None,
        };
        let body = layout(
            "error",
            "",
            &frame,
            html! { div.problem #error { (self.0.to_string()) } },
        );
        (status, body).into_response()
    }
}

type PageResult = Result<Markup, PageError>;

fn bad<E: std::fmt::Display>(e: E) -> PageError {
    PageError(ConsoleError::BadRequest(e.to_string()))
}

fn read_only(state: &EndpointState) -> bool {
    state.sources().is_some_and(|s| s.config.console_read_only)
}

async fn blocking<T: Send + 'static>(
    state: Arc<EndpointState>,
    f: impl FnOnce(&EndpointState) -> Result<T, ConsoleError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| PageError(ConsoleError::Unavailable(format!("task failed: {e}"))))?
        .map_err(PageError)
}

/// Percent-encodes a path segment or query value.
pub(super) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn layout(title: &str, active: &str, frame: &Chrome, body: Markup) -> Markup {
    let read_only = frame.read_only;
    let nav = [
        ("/", "Overview", "overview"),
        ("/topics", "Topics", "topics"),
        ("/groups", "Consumer groups", "groups"),
        ("/broker", "Broker", "broker"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(frame.csrf);
                meta name="read-only" content=(read_only);
                title { (title) " · strom" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { "strom" }
                    nav {
                        @for (href, label, key) in nav {
                            a href=(href) class=[(key == active).then_some("active")] { (label) }
                        }
                    }
                    @if read_only { span.badge #read-only { "read-only" } }
                    @if let Some(u) = &frame.user {
                        form.signout method="post" action="/signout" {
                            span #signed-in-user { (u) }
                            input type="hidden" name="csrf" value=(frame.csrf);
                            button type="submit" #signout { "Sign out" }
                        }
                    }
                }
                div #flash {}
                main { (body) }
            }
        }
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn duration_ms(ms: i64) -> String {
    if ms < 0 {
        return "forever".into();
    }
    let s = ms / 1000;
    match s {
        s if s % 86_400 == 0 && s > 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        _ => format!("{ms} ms"),
    }
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} d {h} h {m} min")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {s} s")
    }
}

const COLORS: [&str; 6] = [
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
];

/// An SVG line chart of `series` (name, points oldest first).
fn chart(title: &str, unit: &str, series: &[(String, Vec<f64>)]) -> Markup {
    let (w, h) = (560.0, 120.0);
    let n = series.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
    let max = series
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let scale = if max > 0.0 { max } else { 1.0 };
    let line = |points: &[f64]| -> String {
        let step = if n > 1 { w / (n - 1) as f64 } else { w };
        points
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let x = (n - points.len() + i) as f64 * step;
                let y = h - (v.max(0.0) / scale) * (h - 4.0) - 2.0;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        figure.chart {
            figcaption { (title) " " span.muted { "max " (format!("{max:.1}")) " " (unit) } }
            svg viewBox=(format!("0 0 {w} {h}")) preserveAspectRatio="none" role="img" aria-label=(title) {
                rect x="0" y="0" width=(w) height=(h) fill="none" stroke="#e5e7eb" {}
                @for (i, (_, points)) in series.iter().enumerate() {
                    @if points.len() > 1 {
                        polyline fill="none" stroke=(COLORS[i % COLORS.len()]) stroke-width="1.5" points=(line(points)) {}
                    }
                }
            }
            @if n < 2 { p.muted { "collecting samples (one every 10 s)…" } }
            ul.legend {
                @for (i, (name, _)) in series.iter().enumerate() {
                    li { span.swatch style=(format!("background:{}", COLORS[i % COLORS.len()])) {} (name) }
                }
            }
        }
    }
}

/// A small SVG sparkline.
fn sparkline(points: &[f64]) -> Markup {
    let (w, h) = (100.0, 20.0);
    let max = points.iter().copied().fold(0.0f64, f64::max);
    let scale = if max > 0.0 { max } else { 1.0 };
    let step = if points.len() > 1 {
        w / (points.len() - 1) as f64
    } else {
        w
    };
    let pts: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                h - v.max(0.0) / scale * (h - 2.0) - 1.0
            )
        })
        .collect();
    html! {
        svg.spark viewBox=(format!("0 0 {w} {h}")) width="100" height="20" preserveAspectRatio="none" {
            @if pts.len() > 1 { polyline fill="none" stroke="#2563eb" stroke-width="1" points=(pts.join(" ")) {} }
        }
    }
}

/// The top few keys of the samples' maps by total, each as a series.
fn top_series(
    samples: &[Sample],
    get: impl Fn(&Sample) -> Vec<(String, f64)>,
    top: usize,
) -> Vec<(String, Vec<f64>)> {
    let mut totals: std::collections::BTreeMap<String, f64> = Default::default();
    for s in samples {
        for (k, v) in get(s) {
            *totals.entry(k).or_default() += v;
        }
    }
    let mut keys: Vec<(String, f64)> = totals.into_iter().collect();
    keys.sort_by(|a, b| b.1.total_cmp(&a.1));
    keys.into_iter()
        .take(top)
        .map(|(k, _)| {
            let points = samples
                .iter()
                .map(|s| {
                    get(s)
                        .into_iter()
                        .find(|(n, _)| *n == k)
                        .map_or(0.0, |(_, v)| v)
                })
                .collect();
            (k, points)
        })
        .collect()
}

async fn overview(State(state): S, axum::Extension(v): V) -> PageResult {
    let frame = chrome(&state, &v);
    let o = blocking(state, move |st| {
        let s = sources(st)?;
        let a = Access::new(&s.broker, &v);
        Ok(views::overview(s, &a, st.uptime().as_secs(), sampler()))
    })
    .await?;
    let samples = sampler().samples();
    let col = |f: fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<f64>>();
    let requests = top_series(
        &samples,
        |s| s.requests.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        6,
    );
    let p99 = top_series(
        &samples,
        |s| s.p99_ms.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        6,
    );
    let connections = top_series(
        &samples,
        |s| {
            s.connections
                .iter()
                .map(|(k, v)| (k.clone(), *v as f64))
                .collect()
        },
        6,
    );
    let body = html! {
        h1 { "Overview" }
        section.problems #problems {
            h2 { "Problems" }
            @if o.problems.is_empty() { p.ok { "No problems." } }
            @else { ul { @for p in &o.problems { li.problem { (p) } } } }
        }
        section.cards {
            div.card { span.label { "Broker id" } span.value #broker-id { (o.broker_id) } }
            div.card { span.label { "Version" } span.value #version { (o.version) } }
            div.card { span.label { "Uptime" } span.value #uptime { (uptime(o.uptime_seconds)) } }
            div.card { span.label { "Cluster id" } span.value #cluster-id { (o.cluster_id) } }
            div.card { span.label { "Controller" } span.value #controller { (o.controller_id) } }
            div.card { span.label { "ZooKeeper" } span.value #zookeeper { (o.zookeeper_state) @if let Some(z) = &o.zookeeper_connect { " (" (z) ")" } } }
            div.card { span.label { "Topics" } span.value #topic-count { (o.topics) } }
            div.card { span.label { "Partitions" } span.value #partition-count { (o.partitions) } }
            div.card { span.label { "Consumer groups" } span.value #group-count { (o.groups) } }
            div.card { span.label { "Resident memory" } span.value #rss { (bytes(o.rss_bytes)) } }
        }
        h2 { "Listeners" }
        table #listeners {
            thead { tr { th { "Name" } th { "Bind" } th { "Advertised" } th { "Connections" } } }
            tbody { @for l in &o.listeners { tr { td { (l.name) } td { (l.bind) } td { (l.advertised) } td.num { (l.connections) } } } }
        }
        h2 { "Log dirs" }
        table #log-dirs {
            thead { tr { th { "Directory" } th { "Used" } th { "Free" } th { "Total" } th { "State" } } }
            tbody { @for d in &o.log_dirs {
                tr { td { (d.log_dir) } td.num { (bytes(d.used_bytes)) } td.num { (bytes(d.free_bytes)) } td.num { (bytes(d.total_bytes)) } td { @if d.offline { "offline" } @else { "online" } } }
            } }
        }
        h2 { "Last hour" }
        div.charts #charts {
            (chart("Messages in", "msg/s", &[("in".to_string(), col(|s| s.messages_in))]))
            (chart("Bytes in / out", "B/s", &[("in".to_string(), col(|s| s.bytes_in)), ("out".to_string(), col(|s| s.bytes_out))]))
            (chart("Requests by API", "req/s", &requests))
            (chart("p99 latency by API", "ms", &p99))
            (chart("Connections by listener", "", &connections))
        }
    };
    Ok(layout("Overview", "overview", &frame, body))
}

#[derive(Deserialize)]
struct TopicsQuery {
    q: Option<String>,
}

async fn topics(
    State(state): S,
    axum::Extension(v): V,
    q: Result<Query<TopicsQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q.map_err(bad)?;
    let frame = chrome(&state, &v);
    let ro = frame.read_only;
    let search = q.q.clone().unwrap_or_default();
    let list = blocking(state, move |st| {
        let s = sources(st)?;
        let a = Access::new(&s.broker, &v);
        Ok(views::topics(s, &a, q.q.as_deref(), sampler()))
    })
    .await?;
    let body = html! {
        h1 { "Topics" }
        form.search method="get" action="/topics" {
            input type="search" name="q" value=(search) placeholder="Search topics" #topic-search;
            button type="submit" { "Search" }
        }
        @if !ro {
            details.form #create-topic {
                summary { "Create a topic" }
                form data-api="/api/v1/topics" data-method="POST" data-kind="create-topic" data-then="/topics/{name}" {
                    label { "Name " input name="name" required #new-topic-name; }
                    label { "Partitions " input name="partitions" type="number" min="1" value="1" #new-topic-partitions; }
                    label { "Configs (one name=value a line) " textarea name="configs" rows="3" #new-topic-configs {} }
                    button type="submit" #create-topic-submit { "Create" }
                }
            }
        }
        table #topics-table {
            thead { tr { th { "Name" } th { "Partitions" } th { "RF" } th { "Messages" } th { "Size" } th { "Retention" } th { "Cleanup" } th { "In (1 h)" } th { "Consumer groups (lag)" } } }
            tbody {
                @for t in &list {
                    tr data-topic=(t.name) {
                        td { a href=(format!("/topics/{}", enc(&t.name))) { (t.name) } @if t.internal { " " span.badge { "internal" } } }
                        td.num { (t.partitions) }
                        td.num { (t.replication_factor) }
                        td.num.messages { (t.messages) }
                        td.num { (bytes(t.size_bytes)) }
                        td { (duration_ms(t.retention_ms)) }
                        td { (t.cleanup_policy) }
                        td { (sparkline(&t.rate)) }
                        td { @for g in &t.groups { a.group href=(format!("/groups/{}", enc(&g.group))) { (g.group) " (" (g.lag) ")" } " " } }
                    }
                }
            }
        }
        @if list.is_empty() { p.muted #no-topics { "No topics." } }
    };
    Ok(layout("Topics", "topics", &frame, body))
}

async fn topic(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
) -> PageResult {
    let Path(name) = p.map_err(bad)?;
    let frame = chrome(&state, &v);
    let ro = frame.read_only;
    let n = name.clone();
    let t = blocking(state, move |st| {
        let s = sources(st)?;
        views::topic(s, &Access::new(&s.broker, &v), &n, sampler())
    })
    .await?;
    let e = enc(&name);
    let body = html! {
        h1 { "Topic " span #topic-name { (name) } }
        p { a.button href=(format!("/topics/{e}/messages")) #browse-messages { "Messages" } }
        section.cards {
            div.card { span.label { "Partitions" } span.value { (t.summary.partitions) } }
            div.card { span.label { "Messages" } span.value #topic-messages { (t.summary.messages) } }
            div.card { span.label { "Size" } span.value { (bytes(t.summary.size_bytes)) } }
            div.card { span.label { "Topic id" } span.value { (t.topic_id) } }
        }
        h2 { "Partitions" }
        table #partitions {
            thead { tr { th { "Partition" } th { "Start offset" } th { "End offset" } th { "Size" } th { "Segments" } } }
            tbody { @for p in &t.partition_list {
                tr data-partition=(p.partition) { td.num { (p.partition) } td.num.start { (p.start_offset) } td.num.end { (p.end_offset) } td.num { (bytes(p.size_bytes)) } td.num { (p.segments) } }
            } }
        }
        h2 { "Consumer groups" }
        @if t.summary.groups.is_empty() { p.muted { "No group has committed offsets on this topic." } }
        ul #topic-groups { @for g in &t.summary.groups { li { a href=(format!("/groups/{}", enc(&g.group))) { (g.group) } " lag " (g.lag) } } }
        h2 { "Configs" }
        table #configs {
            thead { tr { th { "Name" } th { "Value" } th { "Source" } } }
            tbody { @for c in &t.configs {
                tr data-config=(c.name) class=[(c.source == "topic").then_some("override")] {
                    td title=[c.documentation.as_deref()] { (c.name) } td.value { (c.value.as_deref().unwrap_or("")) } td.source { (c.source) }
                }
            } }
        }
        @if !ro {
            section.actions {
                details.form #edit-config {
                    summary { "Edit a config" }
                    form data-api=(format!("/api/v1/topics/{e}/configs")) data-method="PATCH" data-kind="config" data-then="reload" {
                        label { "Name " input name="name" required list="config-names" #config-name; }
                        datalist #config-names { @for c in &t.configs { option value=(c.name) {} } }
                        label { "Value (empty: back to the default) " input name="value" #config-value; }
                        button type="submit" #config-submit { "Apply" }
                    }
                }
                details.form #add-partitions {
                    summary { "Add partitions" }
                    form data-api=(format!("/api/v1/topics/{e}/partitions")) data-method="POST" data-kind="json" data-then="reload" {
                        label { "New total " input name="count" type="number" min=(t.summary.partitions + 1) value=(t.summary.partitions + 1) #partition-count; }
                        button type="submit" { "Add" }
                    }
                }
                details.form #purge {
                    summary { "Purge" }
                    form data-api=(format!("/api/v1/topics/{e}/purge")) data-method="POST" data-kind="json" data-then="reload" data-confirm="Delete every record of this topic (DeleteRecords to the end offsets)?" {
                        button type="submit" .danger #purge-submit { "Purge all records" }
                    }
                }
                details.form #delete-topic {
                    summary { "Delete" }
                    form data-api=(format!("/api/v1/topics/{e}")) data-method="DELETE" data-kind="delete-topic" data-name=(name) data-then="/topics" {
                        label { "Type the topic's name to confirm " input name="confirm" autocomplete="off" #delete-confirm; }
                        button type="submit" .danger #delete-submit { "Delete topic" }
                    }
                }
            }
        }
    };
    Ok(layout(&name, "topics", &frame, body))
}

fn page_link(topic: &str, q: &BrowseQuery, cursor: &str) -> String {
    let mut s = format!("/topics/{}/messages?cursor={}", enc(topic), enc(cursor));
    if let Some(p) = q.partition {
        s.push_str(&format!("&partition={p}"));
    }
    if let Some(l) = q.limit {
        s.push_str(&format!("&limit={l}"));
    }
    if let Some(v) = q.q.as_deref().filter(|v| !v.is_empty()) {
        s.push_str(&format!("&q={}", enc(v)));
    }
    if let Some(v) = q.filter.as_deref().filter(|v| !v.is_empty()) {
        s.push_str(&format!("&filter={}", enc(v)));
    }
    s
}

fn export_link(topic: &str, raw_query: &str) -> String {
    if raw_query.is_empty() {
        format!("/api/v1/topics/{}/messages?format=jsonl", enc(topic))
    } else {
        format!(
            "/api/v1/topics/{}/messages?{raw_query}&format=jsonl",
            enc(topic)
        )
    }
}

/// The messages page's query (the browse query, with empty fields allowed
/// as a plain HTML form sends them).
#[derive(Deserialize, Default)]
struct MessagesForm {
    partition: Option<String>,
    from: Option<String>,
    offset: Option<String>,
    timestamp: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    q: Option<String>,
    filter: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn num<T: std::str::FromStr>(v: &Option<String>, what: &str) -> Result<Option<T>, PageError> {
    non_empty(v)
        .map(|s| {
            s.parse()
                .map_err(|_| bad(format!("{what} must be a number: {s:?}")))
        })
        .transpose()
}

impl MessagesForm {
    fn query(&self) -> Result<BrowseQuery, PageError> {
        let from = match non_empty(&self.from) {
            None | Some("oldest") => Start::Oldest,
            Some("newest") => Start::Newest,
            Some("offset") => Start::Offset,
            Some("timestamp") => Start::Timestamp,
            Some(other) => return Err(bad(format!("unknown start {other:?}"))),
        };
        Ok(BrowseQuery {
            partition: num(&self.partition, "partition")?,
            from,
            offset: num(&self.offset, "offset")?,
            timestamp: num(&self.timestamp, "timestamp")?,
            cursor: non_empty(&self.cursor).map(str::to_string),
            limit: num(&self.limit, "limit")?,
            q: non_empty(&self.q).map(str::to_string),
            filter: non_empty(&self.filter).map(str::to_string),
        })
    }

    fn raw(&self) -> String {
        let mut parts = Vec::new();
        let fields = [
            ("partition", &self.partition),
            ("from", &self.from),
            ("offset", &self.offset),
            ("timestamp", &self.timestamp),
            ("cursor", &self.cursor),
            ("limit", &self.limit),
            ("q", &self.q),
            ("filter", &self.filter),
        ];
        for (k, v) in fields {
            if let Some(v) = non_empty(v) {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        parts.join("&")
    }
}

fn record_row(r: &messages::RecordView) -> Markup {
    html! {
        tr data-partition=(r.partition) data-offset=(r.offset) {
            td.num { (r.partition) }
            td.num.offset { (r.offset) }
            td.ts data-ts=(r.timestamp) { (r.timestamp) }
            td.key data-encoding=(r.key_encoding) { @if let Some(k) = &r.key { (k) } @else { span.muted { "null" } } }
            td.headers { @for h in &r.headers { span.header { (h.key) "=" (h.value.as_deref().unwrap_or("null")) } " " } }
            td.value data-encoding=(r.value_encoding) { @if let Some(v) = &r.value { (v) } @else { span.muted { "null" } } }
        }
    }
}

async fn messages_page(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<MessagesForm>, QueryRejection>,
) -> PageResult {
    let Path(name) = p.map_err(bad)?;
    let Query(form) = q.map_err(bad)?;
    let frame = chrome(&state, &v);
    let ro = frame.read_only;
    let bq = form.query()?;
    let (n, q2) = (name.clone(), bq.clone());
    let (page, partitions) = blocking(state, move |st| {
        let s = sources(st)?;
        Access::new(&s.broker, &v).require(Check::FetchTopic, &n)?;
        let page = messages::browse(&s.replica_manager, &n, &q2)?;
        let parts = s
            .replica_manager
            .topic(&n)
            .map_or(0, |t| t.metadata.partitions);
        Ok((page, parts))
    })
    .await?;
    let e = enc(&name);
    let sel = |v: &str| non_empty(&form.from).unwrap_or("oldest") == v;
    let body = html! {
        h1 { "Messages of " a href=(format!("/topics/{e}")) #topic-name { (name) } }
        form.browse method="get" action=(format!("/topics/{e}/messages")) #browse-form {
            label { "Partition "
                select name="partition" #partition {
                    option value="" { "all" }
                    @for i in 0..partitions { option value=(i) selected[bq.partition == Some(i)] { (i) } }
                }
            }
            label { "From "
                select name="from" #from {
                    option value="oldest" selected[sel("oldest")] { "oldest" }
                    option value="newest" selected[sel("newest")] { "newest" }
                    option value="offset" selected[sel("offset")] { "offset" }
                    option value="timestamp" selected[sel("timestamp")] { "timestamp (ms)" }
                }
            }
            label { "Offset " input name="offset" type="number" value=[bq.offset] #offset; }
            label { "Timestamp " input name="timestamp" type="number" value=[bq.timestamp] #timestamp; }
            label { "Search " input name="q" type="search" value=[bq.q.as_deref()] #search; }
            label { "JSON filter " input name="filter" placeholder="field = value" value=[bq.filter.as_deref()] #filter; }
            label { "Limit " input name="limit" type="number" min="1" max="500" value=(bq.limit.unwrap_or(messages::DEFAULT_LIMIT)) #limit; }
            button type="submit" #browse-submit { "Show" }
        }
        div.toolbar {
            @if let Some(prev) = &page.prev_cursor { a.button href=(page_link(&name, &bq, prev)) #prev-page { "← Previous" } }
            @if !page.end_reached { a.button href=(page_link(&name, &bq, &page.next_cursor)) #next-page { "Next →" } }
            a.button href=(export_link(&name, &form.raw())) #export download=(format!("{name}.jsonl")) { "Export JSON lines" }
            label { "Binary as " select #binary-format { option value="base64" { "base64" } option value="hex" { "hex" } } }
            span.muted #scan-status {
                (page.records.len()) " records, " (bytes(page.scanned_bytes as u64)) " scanned"
                @if page.budget_exhausted { "; stopped at " (messages::format_cursor(&page.stopped_at)) " (scan limit) — Next continues there" }
            }
        }
        table.records #messages-table {
            thead { tr { th { "Partition" } th { "Offset" } th { "Timestamp" } th { "Key" } th { "Headers" } th { "Value" } } }
            tbody { @for r in &page.records { (record_row(r)) } }
        }
        @if page.records.is_empty() { p.muted #no-messages { "No messages here." } }
        h2 { "Live tail" }
        div.toolbar {
            button type="button" #tail-start data-src=(format!("/api/v1/topics/{e}/tail{}", bq.partition.map(|p| format!("?partition={p}")).unwrap_or_default())) { "Start live tail" }
            button type="button" #tail-pause disabled { "Pause" }
            span.muted #tail-status { "stopped" }
        }
        table.records #tail-table {
            thead { tr { th { "Partition" } th { "Offset" } th { "Timestamp" } th { "Key" } th { "Headers" } th { "Value" } } }
            tbody {}
        }
        @if !ro {
            h2 { "Produce" }
            form.produce data-api=(format!("/api/v1/topics/{e}/messages")) data-method="POST" data-kind="produce" #produce-form {
                label { "Partition " select name="partition" #produce-partition { option value="" { "by key" } @for i in 0..partitions { option value=(i) { (i) } } } }
                label { "Key " input name="key" #produce-key; }
                label { "Headers (one name=value a line) " textarea name="headers" rows="2" #produce-headers {} }
                label { "Value " textarea name="value" rows="4" #produce-value {} }
                button type="submit" #produce-submit { "Produce" }
            }
            p #produce-result {}
        }
    };
    Ok(layout(&format!("{name} messages"), "topics", &frame, body))
}

async fn groups(State(state): S, axum::Extension(v): V) -> PageResult {
    let frame = chrome(&state, &v);
    let list = blocking(state, move |st| {
        let s = sources(st)?;
        views::groups(s, &Access::new(&s.broker, &v))
    })
    .await?;
    let body = html! {
        h1 { "Consumer groups" }
        table #groups-table {
            thead { tr { th { "Group" } th { "State" } th { "Members" } th { "Topics" } th { "Lag" } } }
            tbody { @for g in &list {
                tr data-group=(g.group) {
                    td { a href=(format!("/groups/{}", enc(&g.group))) { (g.group) } }
                    td.state { (g.state) }
                    td.num.members { (g.members) }
                    td { @for t in &g.topics { a href=(format!("/topics/{}", enc(t))) { (t) } " " } }
                    td.num.lag { (g.lag) }
                }
            } }
        }
        @if list.is_empty() { p.muted #no-groups { "No consumer groups." } }
    };
    Ok(layout("Consumer groups", "groups", &frame, body))
}

async fn group(
    State(state): S,
    axum::Extension(v): V,
    p: Result<Path<String>, PathRejection>,
) -> PageResult {
    let Path(id) = p.map_err(bad)?;
    let frame = chrome(&state, &v);
    let ro = frame.read_only;
    let g2 = id.clone();
    let g = blocking(state, move |st| {
        let s = sources(st)?;
        views::group(s, &Access::new(&s.broker, &v), &g2, sampler())
    })
    .await?;
    let e = enc(&id);
    let mut topics: Vec<&str> = g.offsets.iter().map(|o| o.topic.as_str()).collect();
    topics.extend(
        g.members
            .iter()
            .flat_map(|m| m.assignment.keys().map(String::as_str)),
    );
    topics.sort();
    topics.dedup();
    let body = html! {
        h1 { "Group " span #group-id { (id) } }
        section.cards {
            div.card { span.label { "State" } span.value #group-state { (g.state) } }
            div.card { span.label { "Members" } span.value #group-members { (g.members.len()) } }
            div.card { span.label { "Assignor" } span.value { (g.protocol) } }
            div.card { span.label { "Total lag" } span.value #group-lag { (g.lag) } }
        }
        div #group-live data-src=(format!("/api/v1/groups/{e}/stream")) {}
        figure.chart {
            figcaption { "Total lag (live)" }
            svg #lag-chart viewBox="0 0 560 120" preserveAspectRatio="none" data-history=(serde_json::to_string(&g.lag_history).unwrap_or_default()) {
                rect x="0" y="0" width="560" height="120" fill="none" stroke="#e5e7eb" {}
                polyline #lag-line fill="none" stroke="#dc2626" stroke-width="1.5" points="" {}
            }
        }
        h2 { "Members" }
        table #members {
            thead { tr { th { "Member" } th { "Client id" } th { "Host" } th { "Assignment" } } }
            tbody { @for m in &g.members {
                tr { td { (m.member_id) } td { (m.client_id) } td { (m.client_host) }
                     td { @for (t, ps) in &m.assignment { (t) ": " (ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")) " " } } }
            } }
        }
        h2 { "Offsets" }
        table #group-offsets {
            thead { tr { th { "Topic" } th { "Partition" } th { "Committed" } th { "End offset" } th { "Lag" } th { "Member" } } }
            tbody { @for o in &g.offsets {
                tr data-tp=(format!("{}/{}", o.topic, o.partition)) {
                    td { a href=(format!("/topics/{}", enc(&o.topic))) { (o.topic) } } td.num { (o.partition) }
                    td.num.committed { (o.committed) } td.num.end { (o.end_offset) } td.num.lag { (o.lag) }
                    td.member { (o.member.as_deref().unwrap_or("")) }
                }
            } }
        }
        @if !ro {
            section.actions {
                details.form #reset-offsets open[g.members.is_empty()] {
                    summary { "Reset offsets" }
                    @if !g.members.is_empty() { p.muted { "Offsets can be reset only while the group is empty (stop its consumers)." } }
                    form data-api=(format!("/api/v1/groups/{e}/reset")) data-method="POST" data-kind="reset" #reset-form {
                        label { "Topic " select name="topic" #reset-topic { @for t in &topics { option value=(t) { (t) } } } }
                        label { "To "
                            select name="to" #reset-to {
                                option value="earliest" { "earliest" } option value="latest" { "latest" }
                                option value="timestamp" { "timestamp (ms)" } option value="offset" { "offset" } option value="shift" { "shift by N" }
                            }
                        }
                        label { "Value " input name="value" type="number" #reset-value; }
                        button type="submit" name="action" value="preview" #reset-preview { "Preview" }
                        button type="submit" name="action" value="execute" #reset-execute disabled { "Execute" }
                    }
                    table #reset-preview-table { thead { tr { th { "Partition" } th { "Current" } th { "Target" } } } tbody {} }
                }
                details.form #delete-offsets {
                    summary { "Delete offsets for a topic" }
                    form data-api=(format!("/api/v1/groups/{e}/offsets/")) data-method="DELETE" data-kind="delete-offsets" data-then="reload" {
                        label { "Topic " select name="topic" { @for t in &topics { option value=(t) { (t) } } } }
                        button type="submit" .danger { "Delete offsets" }
                    }
                }
                details.form #delete-group {
                    summary { "Delete group" }
                    form data-api=(format!("/api/v1/groups/{e}")) data-method="DELETE" data-kind="json" data-then="/groups" data-confirm="Delete this group and its committed offsets?" {
                        button type="submit" .danger #delete-group-submit { "Delete group" }
                    }
                }
            }
        }
    };
    Ok(layout(&id, "groups", &frame, body))
}

async fn broker(State(state): S, axum::Extension(v): V) -> PageResult {
    let frame = chrome(&state, &v);
    let s = sources(&state)?;
    let configs = views::broker_configs(s, &Access::new(&s.broker, &v))?;
    let body = html! {
        h1 { "Broker " (s.config.broker_id) }
        input type="search" placeholder="Filter properties" #config-filter;
        table #broker-configs {
            thead { tr { th { "Property" } th { "Value" } th { "Source" } } }
            tbody { @for c in &configs {
                tr data-config=(c.name) {
                    td title=[c.documentation.as_deref()] { (c.name) }
                    td.value { @if c.sensitive { span.masked { (c.value.as_deref().unwrap_or("")) } } @else { (c.value.as_deref().unwrap_or("")) } }
                    td.source { (c.source) }
                }
            } }
        }
    };
    Ok(layout("Broker", "broker", &frame, body))
}
