//! Small helpers shared across modules.

/// Kafka's textual form of a UUID (topic ids, cluster ids): the 16 bytes as
/// URL-safe base64 without padding, 22 characters.
pub fn uuid_to_base64(id: uuid::Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs `f` over `items` on `threads` threads, each taking the next item as
/// it finishes one (the caller waits). Results come back in item
/// order; `None` when a thread panicked.
pub fn on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Option<Vec<R>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push((i, f(item)));
        }
        done
    };
    // Every worker runs until the items are exhausted, so when none
    // panicked every item has exactly one result.
    let mut results = std::thread::scope(|scope| {
        let helpers: Vec<_> = (0..threads.clamp(1, items.len().max(1)))
            .map(|_| scope.spawn(worker))
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for h in helpers {
            all.extend(h.join().ok()?);
        }
        Some(all)
    })?;
    results.sort_unstable_by_key(|(i, _)| *i);
    Some(results.into_iter().map(|(_, r)| r).collect())
}

/// Applies a change to one entity's config document (shared by the metadata stores and zk/).
pub fn merge_entity_config(
    config: &mut std::collections::BTreeMap<String, String>,
    set: &std::collections::BTreeMap<String, String>,
    remove: &[String],
) {
    for key in remove {
        config.remove(key);
    }
    for (k, v) in set {
        config.insert(k.clone(), v.clone());
    }
}

/// Kafka's murmur2 (the Java client's `Utils.murmur2`), for keyed partitioning.
pub fn murmur2(data: &[u8]) -> i32 {
    let seed: u32 = 0x9747_b28c;
    let m: u32 = 0x5bd1_e995;
    let r = 24;
    let len = data.len() as u32;
    let mut h: u32 = seed ^ len;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if let Some(&b) = rest.first() {
        h ^= u32::from(b);
        h = h.wrapping_mul(m);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h as i32
}

/// Kafka's partition for a keyed record: `toPositive(murmur2(key)) % n`.
pub fn partition_for_key(key: &[u8], partitions: usize) -> usize {
    let positive = (murmur2(key) & 0x7fff_ffff) as usize;
    positive % partitions.max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(super::murmur2(b"21"), -973_932_308);
        assert_eq!(super::murmur2(b"foobar"), -790_332_482);
        assert_eq!(super::murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(
            super::murmur2(b"a-little-bit-longer-string"),
            -1_486_304_829
        );
        assert_eq!(
            super::murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(super::murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn on_threads_keeps_item_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = super::on_threads(&items, 3, |x| x * 2).unwrap();
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(super::on_threads(&[] as &[u64], 4, |x| *x), Some(vec![]));
    }

    #[test]
    fn on_threads_reports_a_panicking_worker() {
        let items: Vec<u64> = (0..64).collect();
        let out = super::on_threads(&items, 2, |x| {
            assert!(*x != 40, "boom");
            *x
        });
        assert_eq!(out, None);
    }

    #[test]
    fn base64_is_22_chars_url_safe() {
        let id = uuid::Uuid::from_bytes([0xff; 16]);
        assert_eq!(super::uuid_to_base64(id), "_____________________w");
        let zero = uuid::Uuid::nil();
        assert_eq!(super::uuid_to_base64(zero), "AAAAAAAAAAAAAAAAAAAAAA");
    }
}
