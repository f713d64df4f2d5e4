//! Connection quotas, as Kafka's `ConnectionQuotas`: `max.connections`
//! broker-wide over every listener, `max.connections.per.ip` with
//! `max.connections.per.ip.overrides`.
//!
//! Kafka's order is kept: an accepted socket first waits for a broker-wide
//! slot (the acceptor accepts nothing else meanwhile), then is counted
//! against its address and closed at once if that address is over its limit.
//!
//! Invariant: a slot and an address count are held by guards that live as
//! long as the connection's task, so closing a connection — by the peer, for
//! idleness, for a bad request or at shutdown — always frees both.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most connections strom holds open at once, whatever `max.connections` says.
pub const CONNECTION_CAP: usize = 10_000;

/// Broker-wide connection limits, shared by every listener.
pub struct ConnectionQuotas {
    slots: Arc<Semaphore>,
    max_connections: usize,
    per_ip_default: usize,
    per_ip_overrides: HashMap<IpAddr, usize>,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnectionQuotas {
    /// Limits from the configuration; `overrides` are already resolved to addresses.
    pub fn new(max_connections: i32, per_ip: i32, overrides: HashMap<IpAddr, usize>) -> Self {
        let max_connections = usize::try_from(max_connections)
            .unwrap_or(CONNECTION_CAP)
            .clamp(1, CONNECTION_CAP);
        ConnectionQuotas {
            slots: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            per_ip_default: usize::try_from(per_ip).unwrap_or(0),
            per_ip_overrides: overrides
                .into_iter()
                .map(|(ip, n)| (canonical(ip), n))
                .collect(),
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Resolves `max.connections.per.ip.overrides` entries (hostnames too,
    /// every address of each, as Kafka's `InetAddress.getByName` does one).
    pub async fn resolve_overrides(entries: &[(String, i32)]) -> HashMap<IpAddr, usize> {
        let mut out = HashMap::new();
        for (host, n) in entries {
            let n = usize::try_from(*n).unwrap_or(0);
            if let Ok(ip) = host.parse::<IpAddr>() {
                out.insert(ip, n);
                continue;
            }
            match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addrs) => {
                    for a in addrs {
                        out.insert(a.ip(), n);
                    }
                }
                Err(e) => tracing::warn!(
                    host = %host, error = %e,
                    "max.connections.per.ip.overrides: cannot resolve host; override not applied"
                ),
            }
        }
        out
    }

    /// `max.connections` in effect.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// A broker-wide slot if one is free now.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Waits for a broker-wide slot (`None` only if the quotas are gone).
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// The limit for connections from `ip`.
    pub fn limit_for(&self, ip: IpAddr) -> usize {
        self.per_ip_overrides
            .get(&canonical(ip))
            .copied()
            .unwrap_or(self.per_ip_default)
    }

    /// Counts a connection from `ip`, or refuses it (with the limit) when
    /// that address already has its limit.
    pub fn admit_ip(&self, ip: IpAddr) -> Result<IpCount, usize> {
        let ip = canonical(ip);
        let max = self.limit_for(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if *n >= max {
            if *n == 0 {
                counts.remove(&ip);
            }
            return Err(max);
        }
        *n += 1;
        Ok(IpCount {
            ip,
            counts: self.counts.clone(),
        })
    }

    /// Connections open from `ip`.
    #[cfg(test)]
    fn count(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(&canonical(ip)).copied().unwrap_or(0)
    }
}

/// One connection counted against its address; uncounted on drop.
pub struct IpCount {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for IpCount {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// An IPv4 client reaching an IPv6 socket counts as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// A log line at most every [`RateLimitedLog::EVERY_MS`], counting what it held back.
pub struct RateLimitedLog {
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimitedLog {
    const EVERY_MS: u64 = 10_000;

    /// A limiter that lets its first line through.
    pub const fn new() -> Self {
        RateLimitedLog {
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` when a line may be logged now.
    pub fn allow(&self, now_ms: u64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Relaxed);
        if (last != 0 && now_ms.saturating_sub(last) < Self::EVERY_MS)
            || self
                .last_ms
                .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn per_ip_limit_and_override() {
        let other: IpAddr = "10.1.2.3".parse().unwrap();
        let q = ConnectionQuotas::new(100, 2, HashMap::from([(other, 3)]));
        let a = q.admit_ip(LOCAL).unwrap();
        let _b = q.admit_ip(LOCAL).unwrap();
        assert_eq!(q.admit_ip(LOCAL).err(), Some(2));
        drop(a);
        let _c = q.admit_ip(LOCAL).unwrap();
        assert_eq!(q.count(LOCAL), 2);
        let o: Vec<_> = (0..3).map(|_| q.admit_ip(other).unwrap()).collect();
        assert_eq!(q.admit_ip(other).err(), Some(3));
        drop(o);
        assert_eq!(q.count(other), 0);
        // An IPv4-mapped IPv6 peer is the same address.
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(q.limit_for(mapped), 3);
    }

    #[test]
    fn zero_refuses_and_leaves_no_entry() {
        let q = ConnectionQuotas::new(100, 0, HashMap::new());
        assert_eq!(q.admit_ip(LOCAL).err(), Some(0));
        assert!(q.counts.lock().unwrap().is_empty());
    }

    #[test]
    fn slots_are_capped_and_freed() {
        let q = ConnectionQuotas::new(2, 10, HashMap::new());
        let a = q.try_slot().unwrap();
        let _b = q.try_slot().unwrap();
        assert!(q.try_slot().is_none());
        drop(a);
        assert!(q.try_slot().is_some());
        assert_eq!(
            ConnectionQuotas::new(i32::MAX, 1, HashMap::new()).max_connections(),
            CONNECTION_CAP
        );
    }

    #[tokio::test]
    async fn overrides_resolve_addresses_and_names() {
        let got = ConnectionQuotas::resolve_overrides(&[
            ("127.0.0.2".to_string(), 5),
            ("localhost".to_string(), 7),
        ])
        .await;
        assert_eq!(got.get(&"127.0.0.2".parse::<IpAddr>().unwrap()), Some(&5));
        assert_eq!(got.get(&LOCAL), Some(&7));
    }

    #[test]
    fn rate_limited_log() {
        let l = RateLimitedLog::new();
        assert_eq!(l.allow(1_000), Some(0));
        assert_eq!(l.allow(2_000), None);
        assert_eq!(l.allow(3_000), None);
        assert_eq!(l.allow(12_000), Some(2));
    }
}
