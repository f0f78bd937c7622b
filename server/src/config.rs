//! Command line and environment configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
}

impl ServeArgs {
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("aiops.db").display()),
        }
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
    fn parses_defaults() {
        let cli = Cli::parse_from(["aiops", "serve"]);
        let Command::Serve(args) = cli.command;
        assert_eq!(args.addr.to_string(), "127.0.0.1:3000");
        assert!(args.database_url().starts_with("sqlite://"));
        assert!(args.artifact_root().ends_with("artifacts"));
    }
}
