//! Command line and environment configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use aiops_core::store::MigrationMode;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "aiops",
    version,
    about = "AI Ops Dashboard: an MLflow-compatible tracking server with a dashboard, in one binary",
    long_about = "AI Ops Dashboard: an MLflow-compatible tracking server with a dashboard, in one binary.\n\n\
        Point the MLflow client at it with MLFLOW_TRACKING_URI=http://<addr>. With no options it keeps \
        everything in ./aiops-data (SQLite and an artifact folder)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: REST APIs, the dashboard, /health and /ready.
    Serve(ServeArgs),
    /// Manage users directly in the database (recovery; works with the server stopped).
    Users(UsersArgs),
    /// Fill demo data (an experiment of runs, a registered model in Production and Staging,
    /// a deployment) and send it some inference traffic. Idempotent.
    Demo(DemoArgs),
    /// Apply the pending database migrations and exit (or, with --check, only report them).
    Migrate(MigrateArgs),
    /// Print every route with its access class, as JSON (used by the refusal test).
    #[command(hide = true)]
    Routes,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Send the inference traffic to this running aiops (or the proxy in front of replicas)
    /// as `admin` with AIOPS_ADMIN_PASSWORD, instead of in this process.
    #[arg(long, env = "AIOPS_DEMO_URL")]
    pub url: Option<String>,
    /// Inference requests to send.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Where the data goes, as for `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Apply nothing: exit 1 when migrations are pending.
    #[arg(long)]
    pub check: bool,
}

/// Where the database is, for commands that only need it.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Folder of the embedded SQLite database (when no --database-url is given).
    #[arg(long, env = "AIOPS_DATA_DIR", default_value = "./aiops-data")]
    pub data_dir: PathBuf,
    /// Database URL: sqlite:///path/to/file.db or postgres://user:password@host:port/db.
    #[arg(long, env = "AIOPS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub fn database_url(&self) -> String {
        database_url(self.database_url.as_ref(), &self.data_dir)
    }
}

fn database_url(url: Option<&String>, data_dir: &Path) -> String {
    match url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=rwc", data_dir.join("aiops.db").display()),
    }
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user. The password is read from standard input (one line).
    Add {
        username: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password, read from standard input (one line). Ends their sessions.
    SetPassword { username: String },
    /// Make a user an administrator (or not, with --no).
    SetAdmin {
        username: String,
        #[arg(long)]
        no: bool,
    },
    /// List users.
    List,
}

/// MLflow's permission names, for `--default-permission`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DefaultPermission {
    Read,
    Use,
    Edit,
    Manage,
    NoPermissions,
}

impl DefaultPermission {
    pub fn permission(self) -> aiops_core::auth::Permission {
        use aiops_core::auth::Permission;
        match self {
            DefaultPermission::Read => Permission::Read,
            DefaultPermission::Use => Permission::Use,
            DefaultPermission::Edit => Permission::Edit,
            DefaultPermission::Manage => Permission::Manage,
            DefaultPermission::NoPermissions => Permission::NoPermissions,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "AIOPS_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Folder for the embedded defaults: the SQLite database and the artifact folder.
    #[arg(long, env = "AIOPS_DATA_DIR", default_value = "./aiops-data")]
    pub data_dir: PathBuf,

    /// Database URL: sqlite:///path/to/file.db or postgres://user:password@host:port/db.
    /// Default: SQLite at <data-dir>/aiops.db.
    #[arg(long, env = "AIOPS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The schema at start: `auto` applies pending migrations; `check` refuses to start while
    /// any are pending (apply them with `aiops migrate`); `off` leaves the schema alone.
    #[arg(long, env = "AIOPS_MIGRATIONS", default_value = "auto")]
    pub migrations: MigrationMode,

    /// Artifact store: a folder path, or s3://bucket/prefix (credentials from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION; AWS_ENDPOINT_URL for MinIO or another S3-compatible server).
    /// Default: <data-dir>/artifacts.
    #[arg(long, env = "AIOPS_ARTIFACTS")]
    pub artifacts: Option<String>,

    /// Folder holding the built web assets (pkg/aiops.js, pkg/aiops.wasm, pkg/aiops.css).
    /// Default: found beside the binary (../site from target/<profile>/aiops).
    #[arg(long, env = "AIOPS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// Log line format.
    #[arg(long, env = "AIOPS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Host names answered besides the loopback names (comma-separated; `*` for any). Bound to a
    /// loopback address, only localhost, 127.0.0.1 and [::1] are answered unless listed here;
    /// bound elsewhere with none listed, any Host is answered.
    #[arg(long, env = "AIOPS_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Most connections open at once (further ones are closed on accept). Capped below the
    /// process's file-descriptor limit.
    #[arg(long, env = "AIOPS_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers.
    #[arg(long, env = "AIOPS_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,

    /// Seconds a keep-alive connection may sit idle (2 s once the server is crowded).
    #[arg(long, env = "AIOPS_IDLE_TIMEOUT", default_value_t = 30)]
    pub idle_timeout: u64,

    /// Bytes per second a request body must average after its first 10 seconds.
    #[arg(long, env = "AIOPS_BODY_MIN_RATE", default_value_t = 1024)]
    pub body_min_rate: u64,

    /// Let callers without credentials read everything (nothing else is ever anonymous).
    #[arg(long, env = "AIOPS_ANONYMOUS_READ")]
    pub anonymous_read: bool,

    /// No authentication: every caller acts as an administrator. Only for a trusted
    /// single-user machine (and for measuring what authentication costs).
    #[arg(long, env = "AIOPS_DISABLE_AUTH")]
    pub disable_auth: bool,

    /// What signed-in users may do on experiments and models they hold no grant on.
    #[arg(long, env = "AIOPS_DEFAULT_PERMISSION", value_enum, default_value = "READ")]
    pub default_permission: DefaultPermission,

    /// Let callers without credentials run inference (`/v2/...`); nothing else.
    #[arg(long, env = "AIOPS_ANONYMOUS_INFERENCE")]
    pub anonymous_inference: bool,

    /// Sessions per deployed model that run at once (each with one intra-op thread).
    #[arg(long, env = "AIOPS_MODEL_SESSIONS", default_value_t = 2)]
    pub model_sessions: usize,

    /// Requests a deployed model queues beyond its running sessions; past that, 503 at once.
    #[arg(long, env = "AIOPS_MODEL_QUEUE", default_value_t = 256)]
    pub model_queue: usize,

    /// A request of a few values runs on its own thread, not the session pool's, when the
    /// model's small runs take less than this many µs (0: every run goes to the pool).
    #[arg(long, env = "AIOPS_MODEL_INLINE_US", default_value_t = 50)]
    pub model_inline_us: u64,

    /// Serve everything under this path prefix (`/aiops`: the dashboard at /aiops/, the
    /// MLflow API at /aiops/api/…, inference at /aiops/v2/…), for a proxy that forwards one
    /// path of its site here unchanged. /health and /ready answer at the root as well.
    #[arg(long, env = "AIOPS_BASE_PATH", default_value = "")]
    pub base_path: String,

    /// Fill the demo data at start (idempotent) and send the demo deployment some inference
    /// traffic (`scripts/run.sh` passes it on an empty data folder).
    #[arg(long, env = "AIOPS_DEMO")]
    pub demo: bool,

    /// A bearer token that opens `GET /metrics` alone, for Prometheus (16 characters or more).
    /// Without it, /metrics needs a signed-in user like every other route.
    #[arg(long, env = "AIOPS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Let webhooks deliver to loopback, private and link-local addresses (refused by
    /// default, as MLflow refuses them, so a webhook cannot reach into the server's network).
    #[arg(long, env = "AIOPS_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// URL schemes webhooks may use, comma-separated (MLflow allows only https by default).
    #[arg(
        long,
        env = "AIOPS_WEBHOOK_SCHEMES",
        value_delimiter = ',',
        default_value = "https"
    )]
    pub webhook_schemes: Vec<String>,

    /// Tries per webhook delivery before it is marked FAILED (waits of 1, 2, 4 … seconds between).
    #[arg(long, env = "AIOPS_WEBHOOK_MAX_ATTEMPTS", default_value_t = 5)]
    pub webhook_max_attempts: u32,
}

impl ServeArgs {
    pub fn database_url(&self) -> String {
        database_url(self.database_url.as_ref(), &self.data_dir)
    }

    pub fn artifact_root(&self) -> String {
        match &self.artifacts {
            Some(spec) => spec.clone(),
            None => self.data_dir.join("artifacts").display().to_string(),
        }
    }

    /// The first folder that holds the built bundle: the flag, cargo-leptos's variable,
    /// then places relative to the binary, then the build tree it was compiled in.
    pub fn resolve_site_root(&self) -> Option<PathBuf> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(root) = &self.site_root {
            return Some(root.clone());
        }
        if let Some(root) = std::env::var_os("LEPTOS_SITE_ROOT") {
            candidates.push(PathBuf::from(root));
        }
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        {
            candidates.push(dir.join("site"));
            candidates.push(dir.join("../site"));
        }
        candidates.push(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/site"
        )));
        candidates
            .into_iter()
            .find(|root| {
                root.join("pkg")
                    .join(format!("{}.js", aiops_app::BUNDLE_NAME))
                    .is_file()
            })
            .map(|root| root.canonicalize().unwrap_or(root))
    }
}

/// A URL safe to log: any password is replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let slash = if rest.contains('/') { "/" } else { "" };
    format!("{scheme}://{user}:***@{host}{slash}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://h:5432/db"), "postgres://h:5432/db");
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }

    #[test]
    fn parses_defaults() -> Result<(), &'static str> {
        let cli = Cli::parse_from(["aiops", "serve"]);
        let Command::Serve(args) = cli.command else {
            return Err("`aiops serve` did not parse as serve");
        };
        assert_eq!(args.addr.to_string(), "127.0.0.1:3000");
        assert!(args.database_url().starts_with("sqlite://"));
        assert!(args.artifact_root().ends_with("artifacts"));
        Ok(())
    }
}
