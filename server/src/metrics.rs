//! Prometheus metrics on `GET /metrics`: the recorder, and HTTP request counts and
//! latencies by route. Triton's inference counters by model and version and the latency
//! histogram per deployment are recorded where inference runs (`aiops_core::serving`).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, Method};
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
            describe();
        }
        Err(e) => tracing::warn!(error = %e, "metrics are off"),
    }
}

/// Help text for every metric (`promtool check metrics` wants it); Triton's as Triton words them.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "aiops_http_requests_total",
        "HTTP requests by method, matched route and status"
    );
    describe_histogram!(
        "aiops_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and matched route"
    );
    describe_histogram!(
        "aiops_inference_latency_seconds",
        Unit::Seconds,
        "Inference request latency by deployment"
    );
    describe_gauge!(
        "aiops_deployments_ready",
        "Deployments this replica serves from a loaded model"
    );
    describe_gauge!(
        "aiops_deployments_failed",
        "Deployments that failed to load on this replica"
    );
    for (name, help) in [
        (
            "nv_inference_request_success",
            "Number of successful inference requests, all batch sizes",
        ),
        (
            "nv_inference_request_failure",
            "Number of failed inference requests, all batch sizes",
        ),
        (
            "nv_inference_count",
            "Number of inferences performed (does not include cached requests)",
        ),
        (
            "nv_inference_exec_count",
            "Number of model executions performed (does not include cached requests)",
        ),
        (
            "nv_inference_request_duration_us",
            "Cumulative inference request duration in microseconds",
        ),
        (
            "nv_inference_queue_duration_us",
            "Cumulative inference queuing duration in microseconds",
        ),
        (
            "nv_inference_compute_infer_duration_us",
            "Cumulative compute inference duration in microseconds",
        ),
    ] {
        describe_counter!(name, help);
    }
}

pub async fn get_metrics() -> Response {
    let body = HANDLE.get().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Counts a request by method, matched route (bounded: never the raw path) and status,
/// and records its latency. Started by `guard::front` once the caller is known.
pub struct HttpTimer {
    method: Method,
    route: Option<MatchedPath>,
    started: Instant,
}

impl HttpTimer {
    pub fn start(req: &Request) -> HttpTimer {
        HttpTimer {
            method: req.method().clone(),
            route: req.extensions().get::<MatchedPath>().cloned(),
            started: Instant::now(),
        }
    }

    pub fn finish(self, response: &Response) {
        let route = self
            .route
            .as_ref()
            .map_or("unmatched", |m| m.as_str())
            .to_string();
        let method = self.method.as_str().to_string();
        let status = response.status().as_u16().to_string();
        metrics::counter!("aiops_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
            .increment(1);
        metrics::histogram!("aiops_http_request_duration_seconds", "method" => method, "route" => route)
            .record(self.started.elapsed().as_secs_f64());
    }
}
