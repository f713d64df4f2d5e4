//! The last hour in a small in-memory ring, for the overview's charts, the
//! topic list's sparklines, the group page's lag chart and the problems
//! panel. Every [`SAMPLE_EVERY`] the sampler task reads the metrics registry
//! (the `strom_*` counters: messages and bytes in/out, requests and latency
//! per API, connections per listener, the ZooKeeper state) and the groups'
//! total lag, and turns the counters into rates.
//!
//! Bounded: [`RING`] samples of a few numbers each; per topic and per group
//! one ring of [`RING`] small numbers, dropped when the topic or group goes.
//! [`Sampler::sample`] takes `now` and its inputs, so tests drive it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::proto::MetricFamily;
use tokio::sync::watch;

use crate::http::EndpointState;

/// How often a sample is taken.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept: one hour.
pub const RING: usize = 360;
/// A group's lag that grew over this many consecutive samples (5 minutes)
/// is a problem.
const GROWING_SAMPLES: usize = 30;

/// One point of the overview charts (rates per second over the interval
/// before `at_ms`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Sample {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Messages in per second.
    pub messages_in: f64,
    /// Bytes in per second.
    pub bytes_in: f64,
    /// Bytes out per second.
    pub bytes_out: f64,
    /// Requests per second, per API.
    pub requests: BTreeMap<String, f64>,
    /// p99 latency in ms, per API with requests in the interval.
    pub p99_ms: BTreeMap<String, f64>,
    /// Open connections per listener.
    pub connections: BTreeMap<String, i64>,
}

/// What one reading of the registry gives.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    /// Cumulative messages in per topic.
    pub topic_messages_in: HashMap<String, u64>,
    /// Cumulative bytes in (all topics).
    pub bytes_in: u64,
    /// Cumulative bytes out (all topics).
    pub bytes_out: u64,
    /// Per API: cumulative requests, and cumulative histogram bucket counts
    /// with their upper bounds (seconds).
    pub requests: HashMap<String, (u64, Vec<(f64, u64)>)>,
    /// Open connections per listener.
    pub connections: BTreeMap<String, i64>,
    /// The ZooKeeper state with value 1, if any.
    pub zookeeper_state: Option<String>,
}

#[derive(Default)]
struct Inner {
    ring: VecDeque<Sample>,
    last: Option<(i64, Reading)>,
    topic_rates: HashMap<String, VecDeque<f32>>,
    group_lags: HashMap<String, VecDeque<i64>>,
    zookeeper_state: Option<String>,
    connections: BTreeMap<String, i64>,
}

/// The ring of samples.
#[derive(Default)]
pub struct Sampler {
    inner: Mutex<Inner>,
}

/// The process's sampler, which the console's pages read.
pub fn sampler() -> &'static Sampler {
    static SAMPLER: LazyLock<Sampler> = LazyLock::new(Sampler::default);
    &SAMPLER
}

fn push<T>(ring: &mut VecDeque<T>, v: T) {
    if ring.len() >= RING {
        ring.pop_front();
    }
    ring.push_back(v);
}

/// The upper bound (ms) of the bucket holding the 99th percentile of the
/// observations between two cumulative histograms.
fn p99_ms(before: &[(f64, u64)], after: &[(f64, u64)]) -> Option<f64> {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, c)| {
            let b = before.iter().find(|(l, _)| l == le).map_or(0, |(_, c)| *c);
            (*le, c.saturating_sub(b))
        })
        .collect();
    let total = delta.last().map(|(_, c)| *c)?;
    if total == 0 {
        return None;
    }
    let want = (total as f64 * 0.99).ceil() as u64;
    delta
        .iter()
        .find(|(_, c)| *c >= want)
        .map(|(le, _)| {
            if le.is_finite() {
                le * 1000.0
            } else {
                f64::NAN
            }
        })
        .filter(|v| v.is_finite())
        .or_else(|| delta.iter().rev().nth(1).map(|(le, _)| le * 1000.0))
}

impl Sampler {
    /// Adds the sample for `now_ms` from `reading` and the groups' total lag.
    pub fn sample(&self, now_ms: i64, reading: Reading, lags: BTreeMap<String, i64>) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        if let Some((at, last)) = &inner.last {
            let secs = ((now_ms - at) as f64 / 1000.0).max(0.001);
            let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
            let mut s = Sample {
                at_ms: now_ms,
                bytes_in: rate(reading.bytes_in, last.bytes_in),
                bytes_out: rate(reading.bytes_out, last.bytes_out),
                connections: reading.connections.clone(),
                ..Default::default()
            };
            let mut total_in = 0.0;
            for (topic, n) in &reading.topic_messages_in {
                let before = last.topic_messages_in.get(topic).copied().unwrap_or(0);
                let r = rate(*n, before);
                total_in += r;
                push(
                    inner.topic_rates.entry(topic.clone()).or_default(),
                    r as f32,
                );
            }
            inner
                .topic_rates
                .retain(|t, _| reading.topic_messages_in.contains_key(t));
            s.messages_in = total_in;
            for (api, (n, buckets)) in &reading.requests {
                let (before_n, before_b) = last
                    .requests
                    .get(api)
                    .map_or((0, &[][..]), |(n, b)| (*n, b.as_slice()));
                let r = rate(*n, before_n);
                if r > 0.0 {
                    s.requests.insert(api.clone(), r);
                    if let Some(p) = p99_ms(before_b, buckets) {
                        s.p99_ms.insert(api.clone(), p);
                    }
                }
            }
            push(&mut inner.ring, s);
        }
        for (g, lag) in &lags {
            push(inner.group_lags.entry(g.clone()).or_default(), *lag);
        }
        inner.group_lags.retain(|g, _| lags.contains_key(g));
        inner.zookeeper_state = reading.zookeeper_state.clone();
        inner.connections = reading.connections.clone();
        inner.last = Some((now_ms, reading));
    }

    /// The samples of the last hour, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.inner.lock().ring.iter().cloned().collect()
    }

    /// Messages in per second of one topic over the last hour.
    pub fn topic_rate(&self, topic: &str) -> Vec<f64> {
        self.inner
            .lock()
            .topic_rates
            .get(topic)
            .map(|r| r.iter().map(|v| f64::from(*v)).collect())
            .unwrap_or_default()
    }

    /// A group's total lag over the last hour.
    pub fn group_lag_history(&self, group: &str) -> Vec<f64> {
        self.inner
            .lock()
            .group_lags
            .get(group)
            .map(|r| r.iter().map(|v| *v as f64).collect())
            .unwrap_or_default()
    }

    /// Groups whose lag grew at every one of the last 5 minutes' samples.
    pub fn groups_with_growing_lag(&self) -> Vec<String> {
        let inner = self.inner.lock();
        let mut out: Vec<String> = inner
            .group_lags
            .iter()
            .filter(|(_, r)| {
                r.len() > GROWING_SAMPLES && {
                    let tail: Vec<i64> =
                        r.iter().rev().take(GROWING_SAMPLES + 1).copied().collect();
                    tail.windows(2).all(|w| w[0] > w[1])
                }
            })
            .map(|(g, _)| g.clone())
            .collect();
        out.sort();
        out
    }

    /// The ZooKeeper state last read (`connected` …; `unknown` before).
    pub fn zookeeper_state(&self) -> String {
        self.inner
            .lock()
            .zookeeper_state
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    /// Open connections per listener, as last read.
    pub fn connections_now(&self) -> BTreeMap<String, i64> {
        self.inner.lock().connections.clone()
    }
}

fn label<'a>(m: &'a prometheus::proto::Metric, name: &str) -> Option<&'a str> {
    m.get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
}

/// Reads the counters the sampler follows out of the registry's families.
pub fn read(families: &[MetricFamily]) -> Reading {
    let mut r = Reading::default();
    for f in families {
        match f.name() {
            "strom_topic_messages_in_total" => {
                for m in f.get_metric() {
                    if let Some(t) = label(m, "topic") {
                        r.topic_messages_in
                            .insert(t.to_string(), m.get_counter().get_value() as u64);
                    }
                }
            }
            "strom_topic_bytes_in_total" => {
                r.bytes_in = f
                    .get_metric()
                    .iter()
                    .map(|m| m.get_counter().get_value() as u64)
                    .sum();
            }
            "strom_topic_bytes_out_total" => {
                r.bytes_out = f
                    .get_metric()
                    .iter()
                    .map(|m| m.get_counter().get_value() as u64)
                    .sum();
            }
            "strom_request_duration_seconds" => {
                for m in f.get_metric() {
                    let Some(api) = label(m, "api") else { continue };
                    let h = m.get_histogram();
                    let mut buckets: Vec<(f64, u64)> = h
                        .get_bucket()
                        .iter()
                        .map(|b| (b.upper_bound(), b.cumulative_count()))
                        .collect();
                    buckets.push((f64::INFINITY, h.get_sample_count()));
                    r.requests
                        .insert(api.to_string(), (h.get_sample_count(), buckets));
                }
            }
            "strom_connections" => {
                for m in f.get_metric() {
                    if let Some(l) = label(m, "listener") {
                        r.connections
                            .insert(l.to_string(), m.get_gauge().get_value() as i64);
                    }
                }
            }
            "strom_zookeeper_session_state" => {
                for m in f.get_metric() {
                    if m.get_gauge().get_value() >= 1.0 {
                        r.zookeeper_state = label(m, "state").map(str::to_string);
                    }
                }
            }
            _ => {}
        }
    }
    r
}

/// Takes one sample now.
pub fn sample_now(state: &EndpointState) {
    let Some(sources) = state.sources() else {
        return;
    };
    let reading = crate::metrics::gather()
        .map(|f| read(&f))
        .unwrap_or_default();
    let lags = super::views::group_lags(sources);
    sampler().sample(crate::util::now_ms(), reading, lags);
}

/// The sampler task: a sample every [`SAMPLE_EVERY`] on the blocking pool
/// (it walks every group and partition), until shutdown.
pub async fn run(state: Arc<EndpointState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || sample_now(&s)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(messages: u64, requests: u64) -> Reading {
        let mut r = Reading::default();
        r.topic_messages_in.insert("t".into(), messages);
        r.bytes_in = messages * 100;
        let buckets = vec![
            (0.001, requests * 98 / 100),
            (0.01, requests),
            (f64::INFINITY, requests),
        ];
        r.requests.insert("Produce".into(), (requests, buckets));
        r
    }

    #[test]
    fn rates_p99_and_growing_lag() {
        let s = Sampler::default();
        let mut lag = BTreeMap::new();
        lag.insert("g".to_string(), 0);
        s.sample(0, reading(0, 0), lag.clone());
        assert!(s.samples().is_empty());
        lag.insert("g".to_string(), 5);
        s.sample(10_000, reading(100, 1000), lag.clone());
        let samples = s.samples();
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].messages_in, 10.0);
        assert_eq!(samples[0].bytes_in, 1000.0);
        assert_eq!(samples[0].requests["Produce"], 100.0);
        assert_eq!(samples[0].p99_ms["Produce"], 10.0);
        assert_eq!(s.topic_rate("t"), vec![10.0]);
        assert!(s.groups_with_growing_lag().is_empty());
        for i in 0..GROWING_SAMPLES as i64 {
            lag.insert("g".to_string(), 10 + i);
            s.sample(20_000 + i * 10_000, reading(100, 1000), lag.clone());
        }
        assert_eq!(s.groups_with_growing_lag(), ["g"]);
        lag.insert("g".to_string(), 0);
        s.sample(1_000_000, reading(100, 1000), lag);
        assert!(s.groups_with_growing_lag().is_empty());
        assert_eq!(s.group_lag_history("g").last(), Some(&0.0));
    }
}
