//! Prometheus metrics on `GET /metrics`: Triton's inference counters by model and version
//! (`nv_inference_request_success`, `_failure`, `nv_inference_count`, `_exec_count`,
//! `nv_inference_request_duration_us`, `_queue_duration_us`, `_compute_infer_duration_us`),
//! a latency histogram per deployment, and HTTP request counts and latencies by route.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds: 50 µs to 10 s.
const BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Installs the process's recorder (once).
pub fn install() {
    if HANDLE.get().is_some() {
        return;
    }
    let built = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .and_then(|b| b.install_recorder());
    match built {
        Ok(handle) => {
            let _ = HANDLE.set(handle);
        }
        Err(e) => tracing::warn!(error = %e, "metrics are off"),
    }
}

pub async fn get_metrics() -> Response {
    let body = HANDLE.get().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Counts every request by method, matched route (bounded: never the raw path) and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("aiops_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("aiops_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// One inference request's outcome, as Triton counts it.
pub fn record_inference(
    model: &str,
    version: i64,
    outcome: Result<(u64, Duration, Duration), ()>,
    total: Duration,
) {
    let labels = [("model", model.to_string()), ("version", version.to_string())];
    match outcome {
        Ok((rows, queue, compute)) => {
            metrics::counter!("nv_inference_request_success", &labels).increment(1);
            metrics::counter!("nv_inference_count", &labels).increment(rows);
            metrics::counter!("nv_inference_exec_count", &labels).increment(1);
            metrics::counter!("nv_inference_queue_duration_us", &labels).increment(queue.as_micros() as u64);
            metrics::counter!("nv_inference_compute_infer_duration_us", &labels)
                .increment(compute.as_micros() as u64);
        }
        Err(()) => metrics::counter!("nv_inference_request_failure", &labels).increment(1),
    }
    metrics::counter!("nv_inference_request_duration_us", &labels).increment(total.as_micros() as u64);
    metrics::histogram!("aiops_inference_latency_seconds", "deployment" => model.to_string())
        .record(total.as_secs_f64());
}
