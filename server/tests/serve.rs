//! Runs the built `aiops` binary the way an operator would and checks what it serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aiops_core::artifacts::S3ArtifactStore;

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `aiops serve` in `cwd` with extra arguments and environment; waits for /health.
    async fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = cwd.join(format!("aiops-{port}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_aiops"));
        command
            .arg("serve")
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .current_dir(cwd)
            .env_remove("LEPTOS_SITE_ROOT")
            .env_remove("LEPTOS_OUTPUT_NAME")
            .env_remove("AIOPS_DATABASE_URL")
            .env_remove("AIOPS_ARTIFACTS")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        for (k, v) in env {
            command.env(k, v);
        }
        let server = Server {
            child: command.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = reqwest::get(format!("{}/health", server.base)).await {
                if r.status() == 200 {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiops did not start:\n{}", server.log_text());
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls /ready until it answers `status`, or fails after `limit`.
    async fn wait_ready_status(&self, status: u16, limit: Duration) -> serde_json::Value {
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(self.url("/ready")).await {
                if r.status().as_u16() == status {
                    return r.json().await.unwrap();
                }
            }
            if started.elapsed() > limit {
                panic!("/ready never answered {status}:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serves_the_embedded_default_from_any_working_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start(cwd.path(), &[], &[]).await;

    let health: serde_json::Value = reqwest::get(server.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = server.wait_ready_status(200, Duration::from_secs(10)).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["database"]["backend"], "sqlite");
    assert!(
        cwd.path().join("aiops-data/aiops.db").is_file(),
        "default data dir is ./aiops-data"
    );
    assert!(cwd.path().join("aiops-data/artifacts").is_dir());

    let page = reqwest::get(server.url("/experiments")).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Default"), "the list is rendered on the server");
    assert!(html.contains("New experiment"));
    assert_eq!(
        reqwest::get(server.url("/no/such/page")).await.unwrap().status(),
        404
    );
}

/// A PostgreSQL cluster of this test's own, so it can be stopped and started.
struct PrivatePostgres {
    dir: String,
    port: String,
    url: String,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/lib")
        .join(name)
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let out = Command::new("bash")
            .arg(script("pg-up.sh"))
            .arg("aiops")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg-up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(str::to_string)
                .unwrap()
        };
        PrivatePostgres {
            dir: field("PGTMP"),
            port: field("PGPORT"),
            url: field("DATABASE_URL"),
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pgbin = std::env::var("PGBIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
        let pg_ctl = format!("{pgbin}/pg_ctl");
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let mut command = if is_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &pg_ctl]);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let status = command
            .arg("-D")
            .arg(format!("{}/data", self.dir))
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {args:?} failed");
    }

    fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    fn restart(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port, self.dir
        );
        let log = format!("{}/server.log", self.dir);
        self.pg_ctl(&["-l", &log, "-w", "-t", "30", "-o", &options, "start"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script("pg-down.sh"))
            .arg(&self.dir)
            .status();
    }
}

#[tokio::test]
async fn ready_follows_postgres_with_s3_artifacts_and_logs_no_secrets() {
    let postgres = PrivatePostgres::start();
    let endpoint = std::env::var("AIOPS_TEST_S3_ENDPOINT").expect("run via scripts/test.sh (starts S3)");
    let access_key = std::env::var("AIOPS_TEST_S3_ACCESS_KEY").unwrap();
    let secret_key = std::env::var("AIOPS_TEST_S3_SECRET_KEY").unwrap();
    let bucket = format!("b{}", uuid::Uuid::new_v4().simple());
    S3ArtifactStore::with_static_credentials(&endpoint, &access_key, &secret_key, &bucket, "")
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    // Trust auth ignores the password, which lets us check it never reaches the log.
    let database_url = postgres.url.replacen("postgres@", "postgres:db-pa55word@", 1);
    let artifacts = format!("s3://{bucket}/aiops");
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start(
        cwd.path(),
        &[
            "--database-url",
            &database_url,
            "--artifacts",
            &artifacts,
            "--log-format",
            "json",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret_key.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("RUST_LOG", "debug,hyper=info,h2=info,tower=info"),
        ],
    )
    .await;

    let ready = server.wait_ready_status(200, Duration::from_secs(10)).await;
    assert_eq!(ready["checks"]["database"]["backend"], "postgres");
    assert_eq!(ready["checks"]["artifacts"]["status"], "ok");
    assert!(
        !cwd.path().join("aiops-data").exists(),
        "nothing embedded is made when both are configured"
    );

    postgres.stop();
    let down = server.wait_ready_status(503, Duration::from_secs(30)).await;
    assert_eq!(down["checks"]["database"]["status"], "unavailable");
    assert_eq!(down["checks"]["artifacts"]["status"], "ok");

    postgres.restart();
    server.wait_ready_status(200, Duration::from_secs(30)).await;
    let page = reqwest::get(server.url("/experiments")).await.unwrap();
    assert_eq!(page.status(), 200);

    let log = server.log_text();
    assert!(
        log.lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.starts_with('{')),
        "JSON log lines:\n{log}"
    );
    assert!(log.contains("listening on"));
    assert!(
        !log.contains("db-pa55word"),
        "database password leaked into the log"
    );
    assert!(!log.contains(&secret_key), "S3 secret leaked into the log");
}
