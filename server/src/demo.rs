//! `aiops demo` and `aiops serve --demo`: fill the demo data (`aiops_core::service::demo`)
//! and send the demo deployment inference traffic, in this process or over HTTP to a running
//! aiops (`--url`, so replicas behind a proxy count it in their own metrics).

use std::time::{Duration, Instant};

use aiops_core::service::{demo_request, AppState, DemoReport, DEMO_DEPLOYMENT as DEPLOYMENT};

use crate::config::DemoArgs;

fn describe(report: &DemoReport) -> String {
    if report.runs_created == 0 && report.versions_created == 0 && !report.deployment_created {
        return "the demo data is already there".into();
    }
    format!(
        "demo: experiment {} with {} runs, {} model versions, deployment `{DEPLOYMENT}`{}",
        report.experiment_id,
        report.runs_created,
        report.versions_created,
        if report.deployment_created {
            " created"
        } else {
            " already there"
        }
    )
}

/// `aiops demo`.
pub async fn run(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let app = crate::services(&args.serve).await?;
    crate::bootstrap_admin(&app).await?;
    let actor = app.demo_admin().await?;
    let report = app.fill_demo(&actor).await?;
    println!("{}", describe(&report));
    let sent = match &args.url {
        Some(url) => http_traffic(url, args.requests).await?,
        None => {
            // Loads what the database says to serve, the demo deployment among it.
            app.sync_deployments().await;
            let (ok, error) = app.demo_traffic(&actor, args.requests, 1).await;
            // The monitoring page reads the counts from the database.
            app.flush_stats().await;
            if let Some(e) = error {
                eprintln!("inference failed: {e}");
            }
            ok
        }
    };
    println!(
        "sent {sent} of {} inference requests to `{DEPLOYMENT}`",
        args.requests
    );
    Ok(())
}

/// `serve --demo`: fills, waits for this replica to load the deployment, then sends a
/// request every 250 ms for a minute, so the charts have a line, not a dot.
pub async fn in_background(app: AppState) {
    let filled = match app.demo_admin().await {
        Ok(actor) => app.fill_demo(&actor).await.map(|r| (actor, r)),
        Err(e) => Err(e),
    };
    let actor = match filled {
        Ok((actor, report)) => {
            tracing::info!("{}", describe(&report));
            actor
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not fill the demo data");
            return;
        }
    };
    let started = Instant::now();
    let mut sent = 0;
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(90) && sent < 240 {
        round += 1;
        sent += app.demo_traffic(&actor, 1, round).await.0;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tracing::info!(requests = sent, "demo inference traffic sent");
}

/// Inference over HTTP as `admin`: waits up to a minute for the deployment to be ready
/// behind `url` (replicas load it within their sync period), then sends `requests` calls.
async fn http_traffic(url: &str, requests: usize) -> Result<usize, Box<dyn std::error::Error>> {
    let password = std::env::var("AIOPS_ADMIN_PASSWORD")
        .map_err(|_| "--url needs AIOPS_ADMIN_PASSWORD (the admin's password) to sign in")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = url.trim_end_matches('/');
    let ready = format!("{base}/v2/models/{DEPLOYMENT}/ready");
    let started = Instant::now();
    loop {
        let answer = client
            .get(&ready)
            .basic_auth("admin", Some(&password))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("{ready} was not ready within 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let infer = format!("{base}/v2/models/{DEPLOYMENT}/infer");
    let mut ok = 0;
    for i in 0..requests {
        let reply = client
            .post(&infer)
            .basic_auth("admin", Some(&password))
            .json(&demo_request(i as u64 + 1))
            .send()
            .await?;
        if reply.status().is_success() {
            ok += 1;
        }
    }
    Ok(ok)
}
