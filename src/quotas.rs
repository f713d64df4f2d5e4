//! Client quotas, as Kafka 3.5's `ClientQuotaManager` with the default quota
//! callback: `producer_byte_rate` and `consumer_byte_rate` per user and/or
//! client id, stored as dynamic entity configs in the metadata store
//! (`users/<u>`, `clients/<c>`, `users/<u>/clients/<c>`, `<default>` for a
//! default entity; sanitized names as Kafka's `Sanitizer`), and enforced on
//! Produce and Fetch with `throttle_time_ms`.
//!
//! Enforcement: each (user, client id) metric key has a rate over
//! `quota.window.num` samples of `quota.window.size.seconds` (Kafka's
//! `Rate` over a `SampledStat`). A request is recorded first; if the rate is
//! then above the quota, the throttle time is the time the rate needs to come
//! back under it, `(rate - quota) / quota * window`, at most the whole window.
//! Without authentication every client is the user `ANONYMOUS`.
//!
//! With no quota configured the check is one atomic load.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use parking_lot::Mutex;

/// The principal of unauthenticated clients.
pub const ANONYMOUS: &str = "ANONYMOUS";
/// Kafka's name of a default entity in ZooKeeper paths.
pub const DEFAULT_ENTITY: &str = "<default>";
/// Quota config keys Kafka accepts for users and client ids, and whether
/// their values are integral (LONG) rather than DOUBLE.
pub const QUOTA_KEYS: &[(&str, bool)] = &[
    ("producer_byte_rate", true),
    ("consumer_byte_rate", true),
    ("request_percentage", false),
    ("controller_mutation_rate", false),
];
/// `ClientQuotaEntity.USER`.
pub const USER: &str = "user";
/// `ClientQuotaEntity.CLIENT_ID`.
pub const CLIENT_ID: &str = "client-id";

/// Which byte rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaType {
    /// `producer_byte_rate`, on Produce request bytes.
    Produce,
    /// `consumer_byte_rate`, on Fetch response bytes.
    Fetch,
}

impl QuotaType {
    fn key(self) -> &'static str {
        match self {
            QuotaType::Produce => "producer_byte_rate",
            QuotaType::Fetch => "consumer_byte_rate",
        }
    }
}

/// Kafka's `Sanitizer.sanitize`: URL encoding with `*` and space percent-encoded.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Kafka's `Sanitizer.desanitize`: percent-decoding (malformed escapes kept).
pub fn desanitize(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A quota entity: a user and/or a client id, each a name or the default (`None`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuotaEntity {
    pub user: Option<Option<String>>,
    pub client_id: Option<Option<String>>,
}

fn path_name(name: &Option<String>) -> String {
    name.as_deref().map_or(DEFAULT_ENTITY.to_string(), sanitize)
}

fn from_path_name(s: &str) -> Option<String> {
    (s != DEFAULT_ENTITY).then(|| desanitize(s))
}

impl QuotaEntity {
    /// The entity path of Kafka's ZooKeeper layout under `/config`, or
    /// `None` for an entity with neither part.
    pub fn path(&self) -> Option<String> {
        match (&self.user, &self.client_id) {
            (Some(u), Some(c)) => Some(format!("users/{}/clients/{}", path_name(u), path_name(c))),
            (Some(u), None) => Some(format!("users/{}", path_name(u))),
            (None, Some(c)) => Some(format!("clients/{}", path_name(c))),
            (None, None) => None,
        }
    }

    /// The entity of an entity path (`users/a`, `clients/b`, `users/a/clients/b`).
    pub fn from_path(path: &str) -> Option<QuotaEntity> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["users", u] => Some(QuotaEntity {
                user: Some(from_path_name(u)),
                client_id: None,
            }),
            ["clients", c] => Some(QuotaEntity {
                user: None,
                client_id: Some(from_path_name(c)),
            }),
            ["users", u, "clients", c] => Some(QuotaEntity {
                user: Some(from_path_name(u)),
                client_id: Some(from_path_name(c)),
            }),
            _ => None,
        }
    }
}

/// Kafka's `Rate` over a `SampledStat`: samples of `window_ms`, at most `samples` kept.
#[derive(Debug)]
struct Rate {
    /// (window start ms, value), in ring order.
    samples: Vec<(i64, f64)>,
    current: usize,
}

impl Rate {
    fn new(now_ms: i64) -> Rate {
        Rate {
            samples: vec![(now_ms, 0.0)],
            current: 0,
        }
    }

    fn record(&mut self, value: f64, now_ms: i64, window_ms: i64, samples: usize) {
        let complete = self
            .samples
            .get(self.current)
            .is_none_or(|s| now_ms - s.0 >= window_ms);
        if complete {
            self.current = (self.current + 1) % samples.max(1);
            if self.current >= self.samples.len() {
                self.samples.push((now_ms, 0.0));
            } else if let Some(s) = self.samples.get_mut(self.current) {
                *s = (now_ms, 0.0);
            }
        }
        if let Some(s) = self.samples.get_mut(self.current) {
            s.1 += value;
        }
    }

    /// (bytes per second, window in ms) as Kafka's `Rate.measure` and `windowSize`.
    fn measure(&mut self, now_ms: i64, window_ms: i64, samples: usize) -> (f64, i64) {
        let expire = window_ms * samples as i64;
        for s in &mut self.samples {
            if now_ms - s.0 >= expire {
                *s = (now_ms, 0.0);
            }
        }
        let total: f64 = self.samples.iter().map(|s| s.1).sum();
        let oldest = self.samples.iter().map(|s| s.0).min().unwrap_or(now_ms);
        let mut elapsed = now_ms - oldest;
        let full = elapsed / window_ms.max(1);
        let min_full = samples as i64 - 1;
        if full < min_full {
            elapsed += (min_full - full) * window_ms;
        }
        let elapsed = elapsed.max(1);
        (total / (elapsed as f64 / 1000.0), elapsed)
    }
}

/// Entity path → (producer_byte_rate, consumer_byte_rate).
type QuotaTable = HashMap<String, (Option<f64>, Option<f64>)>;

/// The quotas in force and the rates of the clients they apply to.
pub struct ClientQuotaManager {
    window_ms: i64,
    samples: usize,
    /// Entity path → (producer_byte_rate, consumer_byte_rate).
    quotas: ArcSwap<QuotaTable>,
    any: AtomicBool,
    rates: Mutex<HashMap<(QuotaType, String, String), Rate>>,
}

impl ClientQuotaManager {
    /// No quotas yet; `quota.window.num` samples of `quota.window.size.seconds`.
    pub fn new(window_num: i32, window_size_seconds: i32) -> ClientQuotaManager {
        ClientQuotaManager {
            window_ms: i64::from(window_size_seconds.max(1)) * 1000,
            samples: usize::try_from(window_num.max(1)).unwrap_or(11),
            quotas: ArcSwap::from_pointee(HashMap::new()),
            any: AtomicBool::new(false),
            rates: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the quotas with those in `configs` (entity path → config).
    pub fn set_quotas(&self, configs: &BTreeMap<String, BTreeMap<String, String>>) {
        let rate = |c: &BTreeMap<String, String>, key: &str| {
            c.get(key).and_then(|v| v.trim().parse::<f64>().ok())
        };
        let table: QuotaTable = configs
            .iter()
            .filter(|(path, _)| QuotaEntity::from_path(path).is_some())
            .map(|(path, c)| {
                (
                    path.clone(),
                    (rate(c, "producer_byte_rate"), rate(c, "consumer_byte_rate")),
                )
            })
            .filter(|(_, (p, f))| p.is_some() || f.is_some())
            .collect();
        self.any.store(!table.is_empty(), Ordering::Release);
        self.quotas.store(std::sync::Arc::new(table));
    }

    /// The quota of `kind` for `user`/`client_id` and the metric key it is
    /// counted under, by Kafka's precedence (most specific first).
    fn quota_for(
        &self,
        kind: QuotaType,
        user: &str,
        client_id: &str,
    ) -> Option<(f64, String, String)> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let table = self.quotas.load();
        let (u, c) = (sanitize(user), sanitize(client_id));
        let d = DEFAULT_ENTITY;
        let candidates = [
            (format!("users/{u}/clients/{c}"), true, true),
            (format!("users/{u}/clients/{d}"), true, true),
            (format!("users/{u}"), true, false),
            (format!("users/{d}/clients/{c}"), true, true),
            (format!("users/{d}/clients/{d}"), true, true),
            (format!("users/{d}"), true, false),
            (format!("clients/{c}"), false, true),
            (format!("clients/{d}"), false, true),
        ];
        candidates
            .into_iter()
            .find_map(|(path, by_user, by_client)| {
                let (produce, fetch) = table.get(&path)?;
                let quota = match kind {
                    QuotaType::Produce => (*produce)?,
                    QuotaType::Fetch => (*fetch)?,
                };
                let key_user = if by_user {
                    user.to_string()
                } else {
                    String::new()
                };
                let key_client = if by_client {
                    client_id.to_string()
                } else {
                    String::new()
                };
                Some((quota, key_user, key_client))
            })
    }

    /// Records `bytes` for the client and returns the throttle time in ms (0
    /// when within its quota or without one).
    pub fn record(
        &self,
        kind: QuotaType,
        user: &str,
        client_id: &str,
        bytes: usize,
        now_ms: i64,
    ) -> u64 {
        let Some((quota, key_user, key_client)) = self.quota_for(kind, user, client_id) else {
            return 0;
        };
        let mut rates = self.rates.lock();
        let rate = rates
            .entry((kind, key_user, key_client))
            .or_insert_with(|| Rate::new(now_ms));
        rate.record(bytes as f64, now_ms, self.window_ms, self.samples);
        let (value, window) = rate.measure(now_ms, self.window_ms, self.samples);
        if value <= quota || quota <= 0.0 {
            return 0;
        }
        let throttle = ((value - quota) / quota * window as f64).round();
        let max = (self.window_ms * self.samples as i64) as f64;
        throttle.clamp(0.0, max) as u64
    }

    /// Takes back bytes recorded for a response that is not sent (a throttled
    /// fetch answers empty, as Kafka's `unrecordQuotaSensor`).
    pub fn unrecord(
        &self,
        kind: QuotaType,
        user: &str,
        client_id: &str,
        bytes: usize,
        now_ms: i64,
    ) {
        let Some((_, key_user, key_client)) = self.quota_for(kind, user, client_id) else {
            return;
        };
        if let Some(rate) = self.rates.lock().get_mut(&(kind, key_user, key_client)) {
            rate.record(-(bytes as f64), now_ms, self.window_ms, self.samples);
        }
    }

    /// Kafka's `getMaxValueInQuotaWindow`: the most a client may fetch in one
    /// response, `quota × (samples − 1) × window`; `None` without a quota.
    pub fn max_value_in_window(
        &self,
        kind: QuotaType,
        user: &str,
        client_id: &str,
    ) -> Option<usize> {
        let (quota, _, _) = self.quota_for(kind, user, client_id)?;
        let bytes = quota
            * (self.samples.saturating_sub(1).max(1) as f64)
            * (self.window_ms as f64 / 1000.0);
        Some(bytes.max(1.0).min(usize::MAX as f64) as usize)
    }

    /// The config key of `kind`.
    pub fn key(kind: QuotaType) -> &'static str {
        kind.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_as_kafka_does() {
        assert_eq!(sanitize("alice"), "alice");
        assert_eq!(sanitize("CN=a b*"), "CN%3Da%20b%2A");
        assert_eq!(desanitize("CN%3Da%20b%2A"), "CN=a b*");
        let e = QuotaEntity {
            user: Some(Some("u@x".into())),
            client_id: Some(None),
        };
        assert_eq!(e.path().unwrap(), "users/u%40x/clients/<default>");
        assert_eq!(QuotaEntity::from_path(&e.path().unwrap()), Some(e));
        assert_eq!(QuotaEntity::from_path("topics/t"), None);
    }

    #[test]
    fn precedence_and_throttle_time() {
        let m = ClientQuotaManager::new(11, 1);
        assert_eq!(
            m.record(QuotaType::Produce, ANONYMOUS, "app", 1 << 30, 0),
            0
        );
        let configs = BTreeMap::from([
            (
                "clients/<default>".to_string(),
                BTreeMap::from([("producer_byte_rate".to_string(), "1000".to_string())]),
            ),
            (
                "clients/app".to_string(),
                BTreeMap::from([("producer_byte_rate".to_string(), "100".to_string())]),
            ),
            (
                "users/ANONYMOUS".to_string(),
                BTreeMap::from([("SCRAM-SHA-256".to_string(), "x".to_string())]),
            ),
        ]);
        m.set_quotas(&configs);
        assert_eq!(
            m.quota_for(QuotaType::Produce, ANONYMOUS, "app").unwrap().0,
            100.0
        );
        assert_eq!(
            m.quota_for(QuotaType::Produce, ANONYMOUS, "other")
                .unwrap()
                .0,
            1000.0
        );
        assert!(m.quota_for(QuotaType::Fetch, ANONYMOUS, "app").is_none());
        // 10 s window at first (samples - 1): 1000 bytes at 100 B/s is in quota, 2000 is not.
        assert_eq!(m.record(QuotaType::Produce, ANONYMOUS, "app", 1000, 0), 0);
        let t = m.record(QuotaType::Produce, ANONYMOUS, "app", 1000, 0);
        // rate = 2000 B / 10 s = 200 B/s: (200 - 100) / 100 × 10 s = 10 s.
        assert_eq!(t, 10_000);
        assert_eq!(
            m.max_value_in_window(QuotaType::Produce, ANONYMOUS, "app"),
            Some(1000)
        );
        m.unrecord(QuotaType::Produce, ANONYMOUS, "app", 1000, 0);
        assert_eq!(m.record(QuotaType::Produce, ANONYMOUS, "app", 0, 0), 0);
    }
}
