//! The monitoring page: per deployment and version, request rate, error rate and latency
//! p50/p95/p99 over the last minutes (`?minutes=` in the URL), with charts of requests and
//! p95 latency per 10 seconds. It refreshes by itself every 5 seconds, and the figures
//! count the traffic of every replica (each writes its counts to the database).

use aiops_core::monitoring::MonitorSeries;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::number;

/// Seconds between refreshes.
const REFRESH_SECS: u64 = 5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitoringData {
    pub minutes: i64,
    pub series: Vec<MonitorSeries>,
    /// Requests per 10 s, and p95 latency (ms), per deployment version (SVG).
    pub requests_svg: String,
    pub latency_svg: String,
}

#[server(prefix = "/_app", endpoint = "monitoring_view")]
pub async fn monitoring_view(minutes: i64) -> Result<MonitoringData, AppError> {
    let (state, actor) = crate::state::caller()?;
    let series = state.monitoring(&actor, minutes).await?;
    let (requests_svg, latency_svg) = ssr::charts(&series, minutes)?;
    Ok(MonitoringData {
        minutes,
        series,
        requests_svg,
        latency_svg,
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use aiops_core::monitoring::{MonitorPoint, MonitorSeries};

    use crate::charts::{chart_failed, line_chart, LineOptions, Series};
    use crate::error::AppError;

    /// Minutes before now, for the x axis.
    fn ago(start: i64, now: i64) -> f64 {
        (start - now) as f64 / 60_000.0
    }

    pub fn charts(series: &[MonitorSeries], _minutes: i64) -> Result<(String, String), AppError> {
        if series.is_empty() {
            return Ok((String::new(), String::new()));
        }
        let now = aiops_core::now_millis();
        let label = |s: &MonitorSeries| format!("{} v{}", s.deployment, s.version);
        // One line per deployment version, of whatever `y` reads off a point.
        let lines = |y: &dyn Fn(&MonitorPoint) -> Option<f64>| -> Vec<Series> {
            series
                .iter()
                .map(|s| Series {
                    label: label(s),
                    points: s
                        .points
                        .iter()
                        .filter_map(|p| y(p).map(|v| (ago(p.start, now), v)))
                        .collect(),
                })
                .collect()
        };
        let requests = lines(&|p| Some(p.requests as f64));
        let latency = lines(&|p| p.p95_us.map(|us| us / 1000.0));
        let options = |y_label| LineOptions {
            x_label: "minutes ago",
            y_label,
            log_y: false,
            width: 560,
            height: 260,
            x_zoom: None,
        };
        let requests_svg = line_chart(&requests, &options("requests per 10 s")).map_err(chart_failed)?;
        let latency_svg = line_chart(&latency, &options("p95 latency (ms)")).map_err(chart_failed)?;
        Ok((requests_svg.svg, latency_svg.svg))
    }
}

fn ms(us: Option<f64>) -> String {
    match us {
        Some(us) if us < 1000.0 => format!("{} µs", number(us.round())),
        Some(us) => format!("{} ms", number(us / 1000.0)),
        None => "–".into(),
    }
}

#[component]
pub fn MonitoringPage() -> impl IntoView {
    let query = use_query_map();
    let minutes = move || {
        query
            .read()
            .get("minutes")
            .and_then(|m| m.parse::<i64>().ok())
            .unwrap_or(15)
    };
    let tick = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(REFRESH_SECS),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    let data = Resource::new(move || (minutes(), tick.get()), |(m, _)| monitoring_view(m));
    view! {
        <Title text="Monitoring"/>
        <section class="page">
            <header class="page-header">
                <h1>"Monitoring"</h1>
                <nav class="segmented" aria-label="Window">
                    {[5i64, 15, 60, 360].into_iter().map(|m| view! {
                        <a href=format!("?minutes={m}") class:active=move || minutes() == m>{format!("{m} min")}</a>
                    }).collect_view()}
                </nav>
            </header>
            <p class="muted">{format!("Every replica's traffic; refreshes every {REFRESH_SECS} s.")}</p>
            <Transition fallback=|| view! { <p class="loading">"Loading figures…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(view) if view.series.is_empty() => view! {
                        <p class="empty">{format!("No inference requests in the last {} minutes.", view.minutes)}</p>
                    }.into_any(),
                    Ok(view) => view! {
                        <div class="table-scroll">
                        <table class="table" id="monitoring-table">
                            <thead><tr>
                                <th scope="col">"Deployment"</th><th scope="col">"Version"</th>
                                <th scope="col">"Requests"</th><th scope="col">"Rate"</th>
                                <th scope="col">"Errors"</th><th scope="col">"p50"</th>
                                <th scope="col">"p95"</th><th scope="col">"p99"</th>
                                <th scope="col">"Replicas"</th>
                            </tr></thead>
                            <tbody>
                                {view.series.iter().map(|s| view! {
                                    <tr data-deployment=s.deployment.clone() data-version=s.version>
                                        <td class="mono"><a href=crate::base::url(&format!("/inference?deployment={}", crate::view_state::encode(&s.deployment)))>{s.deployment.clone()}</a></td>
                                        <td>{format!("v{}", s.version)}</td>
                                        <td data-testid="requests">{s.requests}</td>
                                        <td>{format!("{}/s", number(s.rate))}</td>
                                        <td class:error-rate={s.errors > 0}>{format!("{} ({}%)", s.errors, number(s.error_rate * 100.0))}</td>
                                        <td>{ms(s.p50_us)}</td><td>{ms(s.p95_us)}</td><td>{ms(s.p99_us)}</td>
                                        <td>{s.replicas}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                        <div class="chart-grid">
                            <figure class="card"><figcaption>"Requests"</figcaption><div class="svg" inner_html=view.requests_svg.clone()></div></figure>
                            <figure class="card"><figcaption>"p95 latency"</figcaption><div class="svg" inner_html=view.latency_svg.clone()></div></figure>
                        </div>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
