//! Inference monitoring: per deployment and version, requests, errors and a latency
//! histogram in 10-second buckets. Every replica writes its own buckets to the database and
//! the monitoring page merges them, so it counts the traffic of all replicas, not only the
//! one that renders. The types and the histogram compile everywhere (the page uses them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The width of one bucket.
pub const BUCKET_MILLIS: i64 = 10_000;

/// Latency classes: class 0 is up to 10 µs, each next one 25% wider, the last one
/// (about 49 s) takes everything beyond. Quantiles are the upper bound of their class, so
/// they are at most 25% high.
const CLASSES: usize = 71;
const FIRST_US: f64 = 10.0;
const GROWTH: f64 = 1.25;

fn class_of(micros: u64) -> usize {
    if micros as f64 <= FIRST_US {
        return 0;
    }
    let class = ((micros as f64 / FIRST_US).ln() / GROWTH.ln()).ceil();
    (class as usize).min(CLASSES - 1)
}

/// The upper bound of a class, in microseconds.
fn upper_us(class: usize) -> f64 {
    FIRST_US * GROWTH.powi(class as i32)
}

/// A latency histogram (counts per class).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latencies {
    counts: BTreeMap<usize, u64>,
}

impl Latencies {
    pub fn add(&mut self, micros: u64) {
        *self.counts.entry(class_of(micros)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Latencies) {
        for (class, n) in &other.counts {
            *self.counts.entry(*class).or_default() += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The latency (µs) under which a `q` share of the calls finished.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let wanted = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (class, n) in &self.counts {
            seen += n;
            if seen >= wanted {
                return Some(upper_us(*class));
            }
        }
        None
    }

    /// As stored: `class:count` pairs, comma-separated.
    pub fn to_text(&self) -> String {
        self.counts
            .iter()
            .map(|(c, n)| format!("{c}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads [`Latencies::to_text`]; what does not parse is skipped.
    pub fn from_text(text: &str) -> Latencies {
        let mut out = Latencies::default();
        for pair in text.split(',') {
            if let Some((c, n)) = pair.split_once(':') {
                if let (Ok(c), Ok(n)) = (c.parse::<usize>(), n.parse::<u64>()) {
                    *out.counts.entry(c.min(CLASSES - 1)).or_default() += n;
                }
            }
        }
        out
    }
}

/// One replica's (or, merged, every replica's) calls to one deployment version in one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsBucket {
    pub deployment: String,
    pub version: i64,
    /// The bucket's start, in milliseconds since the epoch (a multiple of [`BUCKET_MILLIS`]).
    pub start: i64,
    pub requests: u64,
    pub errors: u64,
    pub latencies: Latencies,
}

/// One bucket of a series, for the charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorPoint {
    pub start: i64,
    pub requests: u64,
    pub errors: u64,
    pub p50_us: Option<f64>,
    pub p95_us: Option<f64>,
    pub p99_us: Option<f64>,
}

/// A deployment version's traffic over a window, every replica counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorSeries {
    pub deployment: String,
    pub version: i64,
    pub requests: u64,
    pub errors: u64,
    /// Requests a second over the window.
    pub rate: f64,
    /// Errors as a share of requests (0 to 1).
    pub error_rate: f64,
    pub p50_us: Option<f64>,
    pub p95_us: Option<f64>,
    pub p99_us: Option<f64>,
    /// Replicas that served it in the window.
    pub replicas: usize,
    pub points: Vec<MonitorPoint>,
}

/// Merges the buckets of every replica into one series per deployment version, over the
/// window `[since, now)`. `rows` are (replica, bucket).
pub fn summarize(rows: &[(String, StatsBucket)], since: i64, now: i64) -> Vec<MonitorSeries> {
    type Key = (String, i64);
    let mut per_bucket: BTreeMap<Key, BTreeMap<i64, StatsBucket>> = BTreeMap::new();
    let mut replicas: BTreeMap<Key, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for (replica, b) in rows.iter().filter(|(_, b)| b.start + BUCKET_MILLIS > since) {
        let key = (b.deployment.clone(), b.version);
        replicas.entry(key.clone()).or_default().insert(replica);
        let merged = per_bucket.entry(key).or_default().entry(b.start).or_default();
        merged.requests += b.requests;
        merged.errors += b.errors;
        merged.latencies.merge(&b.latencies);
    }
    let seconds = ((now - since) as f64 / 1000.0).max(1.0);
    per_bucket
        .into_iter()
        .map(|((deployment, version), buckets)| {
            let mut all = Latencies::default();
            let (mut requests, mut errors) = (0, 0);
            let points = buckets
                .into_iter()
                .map(|(start, b)| {
                    all.merge(&b.latencies);
                    requests += b.requests;
                    errors += b.errors;
                    MonitorPoint {
                        start,
                        requests: b.requests,
                        errors: b.errors,
                        p50_us: b.latencies.quantile(0.5),
                        p95_us: b.latencies.quantile(0.95),
                        p99_us: b.latencies.quantile(0.99),
                    }
                })
                .collect();
            let key = (deployment.clone(), version);
            MonitorSeries {
                replicas: replicas.get(&key).map_or(0, |r| r.len()),
                deployment,
                version,
                requests,
                errors,
                rate: requests as f64 / seconds,
                error_rate: if requests == 0 {
                    0.0
                } else {
                    errors as f64 / requests as f64
                },
                p50_us: all.quantile(0.5),
                p95_us: all.quantile(0.95),
                p99_us: all.quantile(0.99),
                points,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_the_upper_bound_of_their_class() {
        let mut l = Latencies::default();
        for us in 1..=100u64 {
            l.add(us * 100);
        }
        let p50 = l.quantile(0.5).unwrap_or(0.0);
        assert!((5000.0..=5000.0 * GROWTH).contains(&p50), "{p50}");
        let p99 = l.quantile(0.99).unwrap_or(0.0);
        assert!((9900.0..=9900.0 * GROWTH).contains(&p99), "{p99}");
        assert_eq!(Latencies::from_text(&l.to_text()), l);
        assert_eq!(Latencies::default().quantile(0.5), None);
    }

    #[test]
    fn replicas_merge_into_one_series() {
        let bucket = |requests, errors, us| {
            let mut latencies = Latencies::default();
            for _ in 0..requests {
                latencies.add(us);
            }
            StatsBucket {
                deployment: "iris".into(),
                version: 2,
                start: 20_000,
                requests,
                errors,
                latencies,
            }
        };
        let rows = vec![
            ("a".to_string(), bucket(3, 1, 100)),
            ("b".to_string(), bucket(7, 0, 100)),
        ];
        let series = summarize(&rows, 0, 60_000);
        assert_eq!(series.len(), 1);
        assert_eq!(
            (series[0].requests, series[0].errors, series[0].replicas),
            (10, 1, 2)
        );
        assert_eq!(series[0].points.len(), 1);
        assert!((series[0].error_rate - 0.1).abs() < 1e-9);
    }
}
