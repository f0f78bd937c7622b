//! `aiops`: the AI Ops Dashboard server.

mod api;
mod auth;
mod config;
mod demo;
mod guard;
mod health;
mod listener;
mod metrics;
mod telemetry;

use std::process::ExitCode;
use std::sync::Arc;

use aiops_app::state::WebState;
use aiops_app::{shell, App, BUNDLE_NAME};
use aiops_core::artifacts::open_artifact_store;
use aiops_core::service::{AccessPolicy, AppState};
use aiops_core::serving::{ModelConfig, Serving};
use aiops_core::store::{migrate, open_store, open_store_with, MigrationMode};
use aiops_core::webhooks::delivery::SenderConfig;
use axum::middleware;
use axum::Router;
use std::time::Duration;

use crate::guard::AllowedHosts;
use crate::listener::Limits;
use clap::Parser;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;

use crate::config::{redact_url, Cli, Command, MigrateArgs, ServeArgs, UsersArgs, UsersCommand};

/// jemalloc, purging freed pages in a background thread within about a second (its
/// settings are built in: `.cargo/config.toml`): under glibc's malloc the memory of
/// thousands of closed connections stayed with the process (fragmented per-thread arenas).
/// It is also the process's `malloc` (unprefixed, `server/Cargo.toml`), so SQLite's page
/// caches and sorters on its worker threads are purged the same way: after `bench/scale.py`'s
/// aiops part, 77–78 MiB RSS against 88 MiB with SQLite on glibc's arenas.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            telemetry::init(args.log_format);
            match serve(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "aiops stopped");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Migrate(args) => match migrate(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("aiops migrate: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Demo(args) => {
            telemetry::init(args.serve.log_format);
            match demo::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("aiops demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Users(args) => match users(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("aiops users: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Routes => {
            let (_, table) = api::routes().into_parts();
            let rows = serde_json::json!({
                "rest": table,
                "server_functions": aiops_app::server_fn_table(),
                "pages": aiops_app::page_table(),
            });
            println!("{rows}");
            ExitCode::SUCCESS
        }
    }
}

/// `aiops migrate [--check]`: the schema brought up to date (or only checked) before a
/// rollout, for `AIOPS_MIGRATIONS=check` replicas.
async fn migrate(args: MigrateArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if args.store.database_url.is_none() {
        std::fs::create_dir_all(&args.store.data_dir)?;
    }
    let mode = if args.check {
        MigrationMode::Check
    } else {
        MigrationMode::Auto
    };
    let (_, status) = open_store_with(&args.store.database_url(), mode).await?;
    println!("{}", migrate::describe(&status));
    Ok(ExitCode::SUCCESS)
}

/// `aiops users …`: recovery on the database itself, no server needed.
async fn users(args: UsersArgs) -> Result<(), Box<dyn std::error::Error>> {
    use aiops_core::auth::{secret, validate_password, validate_username};
    use aiops_core::store::auth::AuthStore;
    if args.store.database_url.is_none() {
        std::fs::create_dir_all(&args.store.data_dir)?;
    }
    let store = open_store(&args.store.database_url()).await?;
    let read_password = || -> Result<String, Box<dyn std::error::Error>> {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        validate_password(&password)?;
        Ok(password)
    };
    match args.command {
        UsersCommand::Add { username, admin } => {
            validate_username(&username)?;
            let hash = secret::hash_password(&read_password()?)?;
            let user = store.create_user(&username, &hash, admin).await?;
            println!(
                "added user {} (id {}, admin: {})",
                user.username, user.id, user.is_admin
            );
        }
        UsersCommand::SetPassword { username } => {
            let hash = secret::hash_password(&read_password()?)?;
            store.set_password(&username, &hash).await?;
            println!("password of {username} set; their sessions have ended");
        }
        UsersCommand::SetAdmin { username, no } => {
            store.set_admin(&username, !no).await?;
            println!("{username} is {}an administrator", if no { "not " } else { "" });
        }
        UsersCommand::List => {
            for user in store.list_users().await? {
                println!(
                    "{}\t{}{}",
                    user.id,
                    user.username,
                    if user.is_admin { "\tadmin" } else { "" }
                );
            }
        }
    }
    Ok(())
}

/// The services `serve` and `demo` run on: the store (migrated as `--migrations` says), the
/// artifact store, the access policy, webhooks and the predictor.
async fn services(args: &ServeArgs) -> Result<AppState, Box<dyn std::error::Error>> {
    if args.database_url.is_none() || args.artifacts.is_none() {
        std::fs::create_dir_all(&args.data_dir)?;
    }
    let database_url = args.database_url();
    tracing::info!(database = %redact_url(&database_url), "opening tracking store");
    let (store, schema) = open_store_with(&database_url, args.migrations).await?;
    if schema.newer.is_empty() {
        tracing::info!(schema = %migrate::describe(&schema), "database ready");
    } else {
        tracing::warn!(schema = %migrate::describe(&schema), "database ready");
    }
    let artifacts = open_artifact_store(&args.artifact_root()).await?;
    tracing::info!(artifacts = %artifacts.describe(), "opened artifact store");
    let app = AppState::with_webhooks(
        store,
        artifacts,
        AccessPolicy {
            default_permission: args.default_permission.permission(),
            anonymous_read: args.anonymous_read,
            disabled: args.disable_auth,
            anonymous_inference: args.anonymous_inference,
        },
        SenderConfig {
            allow_private: args.webhook_allow_private,
            allowed_schemes: args.webhook_schemes.clone(),
            max_attempts: i64::from(args.webhook_max_attempts.max(1)),
            ..SenderConfig::default()
        },
    )?;
    metrics::install();
    // ONNX Runtime from ORT_DYLIB_PATH (scripts/lib/tools.sh fetches it; the image ships it).
    Ok(app.with_serving(Serving::new(
        std::env::var_os("ORT_DYLIB_PATH").map(std::path::PathBuf::from),
        ModelConfig {
            sessions: args.model_sessions.max(1),
            intra_threads: 1,
            queue: args.model_queue,
            batching: None,
            inline_below: Duration::from_micros(args.model_inline_us),
        },
    )))
}

/// The first start makes the admin (AIOPS_ADMIN_PASSWORD, or a generated password shown
/// once, here).
async fn bootstrap_admin(app: &AppState) -> Result<(), Box<dyn std::error::Error>> {
    let admin_password = std::env::var("AIOPS_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(generated) = app.bootstrap_admin(admin_password.as_deref()).await? {
        tracing::warn!(
            "created user 'admin' with password {generated} (shown only now; change it on the account page)"
        );
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let base_path = aiops_app::base::normalize(&args.base_path)?;
    aiops_app::base::set(&base_path);
    let app = services(&args).await?;
    let site_root = args.resolve_site_root();
    match &site_root {
        Some(root) => tracing::info!(site_root = %root.display(), "serving web assets"),
        None => tracing::warn!(
            "web assets not found (build with `cargo leptos build`, or pass --site-root); \
             pages render without interactivity"
        ),
    }
    let leptos_options = LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(
            site_root
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "target/site".into()),
        )
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        // cargo-leptos names the bundles by their content hash and lists the names in
        // hash.txt beside the binary; without that file the plain names are served.
        .hash_files(hash_file_present())
        .build();

    // Webhook deliveries queued in the database, this run's and any a restart left behind.
    tokio::spawn(app.sender.clone().run(app.webhooks.clone()));
    // What the database says to serve: at start, then every few seconds, so every replica
    // follows changes made through another.
    let syncing = app.clone();
    tokio::spawn(async move {
        loop {
            syncing.sync_deployments().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    // Monitoring: this replica's inference counts go to the database every 5 s, so the
    // page counts every replica. Once an hour, what is past its retention goes.
    let counting = app.clone();
    tokio::spawn(async move {
        let mut round: u64 = 0;
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            counting.flush_stats().await;
            if round.is_multiple_of(720) {
                counting.prune_history().await;
            }
            round += 1;
        }
    });
    bootstrap_admin(&app).await?;
    if args.disable_auth {
        tracing::warn!("authentication is OFF (--disable-auth): every caller acts as an administrator");
    }
    if args.demo {
        tokio::spawn(demo::in_background(app.clone()));
    }
    let probe_state = app.clone();
    let state = WebState {
        app,
        leptos_options: leptos_options.clone(),
    };
    let allowed_hosts = AllowedHosts::new(args.addr.ip().is_loopback(), &args.allowed_hosts);
    let metrics_token = match args.metrics_token.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) if t.len() < 16 => return Err("--metrics-token must be 16 characters or more".into()),
        Some(t) => Some(Arc::from(t)),
    };
    let app = router(state, allowed_hosts, metrics_token);
    // Under a prefix, the whole app moves there (its middleware and routes see the path
    // without it); the probes also stay at the root for orchestrators.
    let app = if base_path.is_empty() {
        app
    } else {
        tracing::info!(base_path = %base_path, "serving under a path prefix");
        let home = base_path.clone();
        Router::new()
            .route("/health", axum::routing::get(health::health))
            .route(
                &format!("{base_path}/"),
                axum::routing::get(move || async move { axum::response::Redirect::permanent(&home) }),
            )
            .route(
                "/ready",
                axum::routing::get(health::ready).with_state(probe_state),
            )
            .nest(&base_path, app)
    };
    let limits = connection_limits(&args);

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(
        max_connections = limits.max_connections,
        "listening on http://{}",
        listener.local_addr()?
    );
    listener::serve(listener, app, limits, shutdown_signal()).await?;
    Ok(())
}

/// Whether cargo-leptos' hash.txt (the hashed bundle names) sits beside this binary.
fn hash_file_present() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")))
        .is_some_and(|p| p.is_file())
}

/// The connection limits, with the cap kept below the file descriptors this process may
/// open (raised to its hard limit first), so accepting never starves the database or files.
fn connection_limits(args: &ServeArgs) -> Limits {
    const RESERVED_FDS: u64 = 128;
    let fd_limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let fd_cap = fd_limit.saturating_sub(RESERVED_FDS).max(16) as usize;
    Limits {
        max_connections: args.max_connections.clamp(1, fd_cap),
        header_read_timeout: Duration::from_secs(args.header_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        crowded_idle_timeout: Duration::from_secs(2),
        body_grace: Duration::from_secs(10),
        body_min_rate: args.body_min_rate,
    }
}

fn router(state: WebState, allowed_hosts: AllowedHosts, metrics_token: Option<Arc<str>>) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let app_context = move || provide_context(context_state.clone());
    let shell_options = state.leptos_options.clone();
    Router::new()
        .merge(api::routes().into_parts().0.with_state(state.app.clone()))
        .leptos_routes(&state, routes, move || shell(shell_options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<WebState, _>(
            app_context,
            shell,
        ))
        .layer(middleware::from_fn_with_state(
            guard::Front {
                allowed: allowed_hosts,
                app: state.app.clone(),
                metrics_token,
            },
            guard::front,
        ))
        .layer(response_compression())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                // Microseconds: most API answers take well under a millisecond.
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .with_state(state)
}

/// Gzip at the fastest level, and only above 4 KiB: setting up a gzip stream costs about
/// 0.2 ms, more than a small API reply takes to build, and buys nothing on a short body.
/// Downloaded files that are not text go out as stored: models, archives and the like
/// rarely shrink, and gzip (about 80 MiB/s here) would bound a 1 GiB download.
fn response_compression() -> CompressionLayer<impl tower_http::compression::Predicate> {
    let predicate = SizeAbove::new(4096)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(
            |_: axum::http::StatusCode,
             _: axum::http::Version,
             headers: &axum::http::HeaderMap,
             _: &axum::http::Extensions| !binary_download(headers),
        );
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(predicate)
}

/// An attachment whose type is neither text nor JSON.
fn binary_download(headers: &axum::http::HeaderMap) -> bool {
    let attachment = headers
        .get(axum::http::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("attachment"));
    let textual = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/") || t.contains("json"));
    attachment && !textual
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
