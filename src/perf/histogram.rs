//! A fixed-size log-linear latency histogram in microseconds: exact below
//! 2,048 µs, then 1,024 sub-buckets per power of two (≤ 0.1 % error), so
//! recording is a few instructions and never allocates.

/// Values below this are counted exactly.
const LINEAR: u64 = 2048;
/// Sub-buckets per power of two above `LINEAR`.
const SUB_BITS: u32 = 10;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two covered above `LINEAR` (up to 2^52 µs).
const OCTAVES: usize = 42;

/// Latencies in microseconds.
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; LINEAR as usize + OCTAVES * SUB as usize],
            total: 0,
            sum: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - v.leading_zeros() - SUB_BITS; // ≥ 1
    let sub = (v >> e) - SUB; // 0..SUB
    let i = LINEAR + u64::from(e - 1) * SUB + sub;
    (i as usize).min(LINEAR as usize + OCTAVES * SUB as usize - 1)
}

/// The largest value that falls into bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let e = (i - LINEAR) / SUB + 1;
    let sub = (i - LINEAR) % SUB;
    ((SUB + sub + 1) << e) - 1
}

impl Histogram {
    /// Counts one latency of `micros`.
    pub fn record(&mut self, micros: u64) {
        self.record_n(micros, 1);
    }

    /// Counts `n` latencies of `micros` each.
    pub fn record_n(&mut self, micros: u64, n: u64) {
        if let Some(c) = self.counts.get_mut(index(micros)) {
            *c += n;
        }
        self.total += n;
        self.sum += u128::from(micros) * u128::from(n);
        self.max = self.max.max(micros);
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean, in microseconds.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0..=1): the smallest bucket bound with at
    /// least `q` of the values at or below it.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..5_000_000u64).step_by(7).chain([u64::MAX / 4]) {
            let i = index(v);
            assert!(i >= last, "{v}");
            last = i;
            assert!(upper(i) >= v.min(upper(i)), "{v}");
            if v < 1 << 40 {
                assert!(
                    upper(i) >= v && upper(i) - v <= v / 1000 + 1,
                    "{v} {}",
                    upper(i)
                );
            }
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 500);
        assert_eq!(h.quantile(0.99), 990);
        assert_eq!(h.quantile(1.0), 1000);
        assert_eq!(h.max(), 1000);
        h.record_n(1_000_000, 1000);
        let p = h.quantile(0.999);
        assert!((999_000..=1_001_000).contains(&p), "{p}");
        assert!((h.mean() - 500_250.25).abs() < 1.0);
    }
}
