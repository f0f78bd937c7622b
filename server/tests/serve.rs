//! Runs the built `aiops` binary the way an operator would and checks what it serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aiops_core::artifacts::S3ArtifactStore;

/// The first admin's password in every server these tests start.
const ADMIN_PASSWORD: &str = "serve-test-admin-password";

fn basic_header() -> String {
    use base64::Engine;
    let pair = format!("admin:{ADMIN_PASSWORD}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `aiops serve` in `cwd` with extra arguments and environment; waits for /health.
    async fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_wrapped(cwd, &[], args, env).await
    }

    /// Like `start`, run under `wrapper` (such as `prlimit --nofile=1024`).
    async fn start_wrapped(cwd: &Path, wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = cwd.join(format!("aiops-{port}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(env!("CARGO_BIN_EXE_aiops"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_aiops")),
        };
        command
            .arg("serve")
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .current_dir(cwd)
            .env_remove("LEPTOS_SITE_ROOT")
            .env_remove("LEPTOS_OUTPUT_NAME")
            .env_remove("AIOPS_DATABASE_URL")
            .env_remove("AIOPS_ARTIFACTS")
            .env("AIOPS_ADMIN_PASSWORD", ADMIN_PASSWORD)
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

    /// A GET signed in as the admin.
    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url(path))
            .header("Authorization", basic_header())
            .send()
            .await
            .unwrap()
    }

    /// A GET signed in as the admin, read as JSON.
    async fn get_json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `path` (signed in as the admin) until it answers `status`, or fails after `limit`.
    async fn wait_status(&self, path: &str, status: u16, limit: Duration) {
        let started = Instant::now();
        while self.get(path).await.status().as_u16() != status {
            if started.elapsed() > limit {
                panic!("{path} never answered {status}:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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

    let page = server.get("/experiments").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Default"), "the list is rendered on the server");
    assert!(html.contains("New experiment"));
    assert_eq!(server.get("/no/such/page").await.status(), 404);
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

/// A new bucket on the test S3 server: (endpoint, access key, secret key, bucket).
async fn s3_bucket() -> (String, String, String, String) {
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
    (endpoint, access_key, secret_key, bucket)
}

#[tokio::test]
async fn ready_follows_postgres_with_s3_artifacts_and_logs_no_secrets() {
    let postgres = PrivatePostgres::start();
    let (endpoint, access_key, secret_key, bucket) = s3_bucket().await;

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
    let page = server.get("/experiments").await;
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

// --- connections: timeouts, the cap, memory ---------------------------------------------

use std::io::{Read, Write};
use std::net::TcpStream;

/// This test process opens thousands of sockets: lift its own descriptor limit first.
fn room_for_sockets() {
    let _ = rlimit::increase_nofile_limit(8192);
}

fn addr_of(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection or `limit` passes; returns what was read
/// and whether the server closed it.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&got).into_owned(), true)
            }
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

#[tokio::test]
async fn stalled_headers_slow_bodies_and_idle_connections_are_closed() {
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start(cwd.path(), &["--header-timeout", "2", "--idle-timeout", "3"], &[]).await;
    let addr = addr_of(&server);
    let (a, b, c) = (addr.clone(), addr.clone(), addr.clone());

    // Headers that never finish.
    let stalled = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&a).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .unwrap();
        read_until_closed(&mut s, Duration::from_secs(30))
    });
    // A body at one byte per second.
    let trickle = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&b).unwrap();
        s.write_all(
            b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
        )
        .unwrap();
        let started = Instant::now();
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let mut buf = [0u8; 4096];
        while started.elapsed() < Duration::from_secs(40) {
            if s.write_all(b" ").is_err() {
                return (String::new(), true, started.elapsed());
            }
            match s.read(&mut buf) {
                Ok(0) => return (String::new(), true, started.elapsed()),
                Ok(n) => {
                    return (
                        String::from_utf8_lossy(&buf[..n]).into_owned(),
                        true,
                        started.elapsed(),
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_secs(1)),
            }
        }
        (String::new(), false, started.elapsed())
    });
    // A keep-alive connection left idle after one request.
    let idle = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&c).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        read_until_closed(&mut s, Duration::from_secs(30))
    });

    let (_, closed) = stalled.join().unwrap();
    assert!(
        closed,
        "a connection that never finished its headers was held open"
    );
    let (reply, closed, after) = trickle.join().unwrap();
    assert!(closed, "a body trickling at 1 byte/s was read for {after:?}");
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 4"), "{reply}");
    let (reply, closed) = idle.join().unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(closed, "an idle keep-alive connection was held open");
    assert_eq!(reqwest::get(server.url("/health")).await.unwrap().status(), 200);
}

/// With the file descriptors of a default `ulimit -n` (1,024), a thousand idle sockets must
/// not keep `/health` from answering (before: every descriptor held, /health never answered).
#[tokio::test]
async fn a_thousand_idle_sockets_cannot_starve_health() {
    room_for_sockets();
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start_wrapped(cwd.path(), &["prlimit", "--nofile=1024:1024"], &[], &[]).await;
    let addr = addr_of(&server);
    let idle: Vec<TcpStream> = (0..1000).filter_map(|_| TcpStream::connect(&addr).ok()).collect();
    assert!(idle.len() >= 900, "only {} sockets connected", idle.len());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut answered = false;
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = client.get(server.url("/health")).send().await {
            answered = r.status() == 200;
            if answered {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        answered,
        "/health never answered beside 1,000 idle sockets:\n{}",
        server.log_text()
    );
    drop(idle);
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Idle sockets cost little memory, and it comes back when they close (before: ~139 KiB
/// per idle socket, never returned).
#[tokio::test]
async fn idle_connections_cost_little_memory_and_give_it_back() {
    room_for_sockets();
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start(cwd.path(), &[], &[]).await;
    let addr = addr_of(&server);
    let pid = server.child.id();
    // Warm up: the runtime's worker threads and the first connection's allocations.
    for _ in 0..20 {
        reqwest::get(server.url("/health")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    const N: u64 = 2000;
    let mut idle: Vec<TcpStream> = (0..N).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // Each sends one request and keeps the connection, as a keep-alive client would.
    for s in &mut idle {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
    }
    for s in &mut idle {
        let mut buf = [0u8; 1024];
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.read(&mut buf).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = rss_kib(pid);
    let per_socket = during.saturating_sub(before) / N;
    drop(idle);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid);
    eprintln!("RSS before {before} KiB, with {N} idle sockets {during} KiB ({per_socket} KiB each), after {after} KiB");
    assert!(per_socket <= 40, "{per_socket} KiB per idle socket");
    assert!(
        after <= before + (during - before) / 2,
        "memory did not come back: before {before} KiB, during {during} KiB, after {after} KiB"
    );
}

/// A `kill -9` in the middle of an upload leaves no partial file behind once the server is
/// back, and nothing of it shows in the listing.
#[tokio::test]
async fn a_killed_upload_leaves_nothing_behind() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    let data_arg = data.display().to_string();
    let mut server = Server::start(cwd.path(), &["--data-dir", &data_arg], &[]).await;
    let mut s = TcpStream::connect(addr_of(&server)).unwrap();
    s.write_all(
        format!(
            "PUT /api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: {}\r\nContent-Length: 10000000\r\n\r\n",
            basic_header()
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&vec![7u8; 1_000_000]).unwrap();
    let uploads = data.join("artifacts/.aiops-uploads");
    let started = Instant::now();
    while std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no upload in progress"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    drop(s);
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        1,
        "the partial upload is on disk"
    );

    let server = Server::start(cwd.path(), &["--data-dir", &data_arg], &[]).await;
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0, "swept at start");
    assert!(!data.join("artifacts/0/r/artifacts/big.bin").exists());
    let listing: serde_json::Value = server
        .get("/api/2.0/mlflow-artifacts/artifacts?path=0/r/artifacts")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listing
            .get("files")
            .is_none_or(|f| f.as_array().is_some_and(|a| a.is_empty())),
        "{listing}"
    );
    let root: serde_json::Value = server
        .get("/api/2.0/mlflow-artifacts/artifacts")
        .await
        .json()
        .await
        .unwrap();
    assert!(!root.to_string().contains(".aiops-uploads"), "{root}");
}

/// Nothing but probes and the login page answers without credentials; a page view goes to
/// the login page, an API call gets 401 with a Basic challenge. The admin's password is
/// never logged nor shown by `--help`; a generated one is shown once, at the first start.
#[tokio::test]
async fn signing_in_is_required_and_no_password_is_logged() {
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start(cwd.path(), &[], &[]).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = plain.get(server.url("/experiments?q=x")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"].to_str().unwrap(),
        "/login?next=%2Fexperiments%3Fq%3Dx"
    );
    assert_eq!(
        plain.get(server.url("/login")).send().await.unwrap().status(),
        200
    );
    let api = plain
        .get(server.url("/api/2.0/mlflow/experiments/get?experiment_id=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    assert!(api.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let wrong = plain
        .get(server.url("/api/2.0/mlflow/experiments/get?experiment_id=0"))
        .basic_auth("admin", Some(format!("{ADMIN_PASSWORD}x")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        server
            .get("/api/2.0/mlflow/experiments/get?experiment_id=0")
            .await
            .status(),
        200
    );
    let log = server.log_text();
    assert!(
        !log.contains(ADMIN_PASSWORD),
        "the admin password leaked into the log:\n{log}"
    );
    assert!(!log.contains("argon2"), "a password hash leaked into the log");
    let help = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--help"])
        .env("AIOPS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--anonymous-read"));
    assert!(!help.contains(ADMIN_PASSWORD));
    drop(server);

    // No password configured: one is made and shown once; a second start shows none.
    let fresh = tempfile::tempdir().unwrap();
    let server = Server::start(fresh.path(), &[], &[("AIOPS_ADMIN_PASSWORD", "")]).await;
    let log = server.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("created user 'admin' with password"))
        .unwrap_or_else(|| panic!("no generated password in the log:\n{log}"));
    let generated = line
        .split("with password ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let signed_in = reqwest::Client::new()
        .get(server.url("/api/2.0/mlflow/users/current"))
        .basic_auth("admin", Some(&generated))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    drop(server);
    let again = Server::start(fresh.path(), &[], &[("AIOPS_ADMIN_PASSWORD", "")]).await;
    assert!(!again.log_text().contains("created user 'admin'"));
}

/// Recovery without a server: `aiops users` adds, lists, re-passwords and demotes users
/// on the database directly, and the server then honours what it wrote.
#[tokio::test]
async fn users_are_managed_offline() {
    use std::io::Write as _;
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    let data_arg = data.display().to_string();
    let users = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .arg("users")
            .args(["--data-dir", &data_arg])
            .args(args)
            .env_remove("AIOPS_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = users(&["add", "ops", "--admin"], "first-password-1\n");
    assert!(ok, "{out}");
    let (ok, out) = users(&["add", "ops"], "first-password-1\n");
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = users(&["add", "short"], "x\n");
    assert!(!ok && out.contains("at least 8"), "{out}");
    let (ok, out) = users(&["set-password", "ops"], "second-password-2\n");
    assert!(ok, "{out}");
    let (ok, out) = users(&["list"], "");
    assert!(ok && out.contains("ops\tadmin"), "{out}");

    // The admin made offline counts as the first admin: no `admin` user is made.
    let server = Server::start(cwd.path(), &["--data-dir", &data_arg], &[]).await;
    let as_ops = |password: &'static str| {
        reqwest::Client::new()
            .get(server.url("/api/2.0/mlflow/users/current"))
            .basic_auth("ops", Some(password))
            .send()
    };
    assert_eq!(as_ops("first-password-1").await.unwrap().status(), 401);
    let me: serde_json::Value = as_ops("second-password-2").await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["is_admin"], true);
    assert_eq!(server.get("/api/2.0/mlflow/users/current").await.status(), 401);
    let (ok, out) = users(&["set-admin", "ops", "--no"], "");
    assert!(ok, "{out}");
    // The running server sees the change at once (the user row is read on every request).
    let me: serde_json::Value = as_ops("second-password-2").await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["is_admin"], false);
}

/// `--anonymous-read`: callers without credentials read pages and the API, and nothing else.
#[tokio::test]
async fn anonymous_read_allows_reads_only() {
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start(cwd.path(), &["--anonymous-read"], &[]).await;
    let plain = reqwest::Client::new();
    let page = plain.get(server.url("/experiments")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let read = plain
        .get(server.url("/api/2.0/mlflow/experiments/get?experiment_id=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = plain
        .post(server.url("/api/2.0/mlflow/experiments/create"))
        .json(&serde_json::json!({ "name": "anonymous" }))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 401);
    let users = plain
        .get(server.url("/api/2.0/mlflow/users/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 401);
    let after: serde_json::Value = server
        .get("/api/2.0/mlflow/experiments/search?max_results=100")
        .await
        .json()
        .await
        .unwrap();
    assert!(!after.to_string().contains("anonymous"), "{after}");
}

/// A webhook receiver on a local port: records every delivery, answers 500 to the first
/// `fail_first` of them and 200 after.
struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(listener: tokio::net::TcpListener, fail_first: usize) -> Receiver {
        use axum::http::StatusCode;
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push((headers, body));
                    if seen.len() <= fail_first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, got, task }
    }

    /// Waits until `n` deliveries came in (failed ones included) and returns them.
    async fn wait_for(
        &self,
        n: usize,
        server: &Server,
        limit: Duration,
    ) -> Vec<(axum::http::HeaderMap, String)> {
        let started = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            if started.elapsed() > limit {
                panic!("{} of {n} deliveries arrived:\n{}", got.len(), server.log_text());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// MLflow's check of a delivery, as its documentation tells receivers to do it.
fn signature_is_valid(headers: &axum::http::HeaderMap, body: &str, secret: &str) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (id, timestamp) = (header("x-mlflow-delivery-id"), header("x-mlflow-timestamp"));
    let Some(signature) = header("x-mlflow-signature").strip_prefix("v1,") else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let fresh = timestamp
        .parse::<u64>()
        .is_ok_and(|t| t.abs_diff(aiops_core::now_millis() as u64 / 1000) < 300);
    !id.is_empty() && fresh && expected == signature
}

impl Server {
    /// An admin's JSON request; returns the status and the body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .request(method, self.url(path))
            .header("Authorization", basic_header())
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, reply) = self.call(reqwest::Method::POST, path, body).await;
        assert_eq!(status, 200, "{path}: {reply}");
        reply
    }

    /// Waits until the model's deliveries satisfy `done`, and returns them.
    async fn deliveries_until(
        &self,
        model: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let started = Instant::now();
        loop {
            let reply: serde_json::Value = self
                .get(&format!(
                    "/api/2.0/aiops/registry/webhook-deliveries?name={model}"
                ))
                .await
                .json()
                .await
                .unwrap();
            let items = reply["deliveries"].as_array().cloned().unwrap_or_default();
            if done(&items) {
                return items;
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!("deliveries never settled: {items:?}\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn webhooks_are_signed_retried_kept_across_restarts_and_kept_off_private_addresses() {
    use serde_json::json;
    let cwd = tempfile::tempdir().unwrap();
    let private_ok = ["--webhook-allow-private", "--webhook-schemes", "http"];
    let server = Server::start(cwd.path(), &private_ok, &[]).await;
    let receiver = Receiver::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), 1).await;
    let secret = "whsec-test-1234";
    let created = server
        .post(
            "/api/2.0/mlflow/webhooks",
            json!({
                "name": "ci", "url": receiver.url, "secret": secret,
                "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"},
                           {"entity": "MODEL_VERSION", "action": "CREATED"}],
                "aiops_events": ["model_version.stage_transitioned"],
            }),
        )
        .await;
    let hook = &created["webhook"];
    assert!(hook.get("secret").is_none(), "{created}");
    assert_eq!(hook["aiops_events"], json!(["model_version.stage_transitioned"]));
    let hook_id = hook["webhook_id"].as_str().unwrap().to_string();

    let exp = server
        .post("/api/2.0/mlflow/experiments/create", json!({"name": "wh"}))
        .await["experiment_id"]
        .clone();
    let run = server
        .post("/api/2.0/mlflow/runs/create", json!({"experiment_id": exp}))
        .await["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .post("/api/2.0/mlflow/registered-models/create", json!({"name": "wh"}))
        .await;
    let version = json!({"name": "wh", "source": format!("runs:/{run}/model"), "run_id": run});
    server
        .post("/api/2.0/mlflow/model-versions/create", version.clone())
        .await;
    server
        .post(
            "/api/2.0/mlflow/model-versions/transition-stage",
            json!({"name": "wh", "version": "1", "stage": "Staging", "archive_existing_versions": false}),
        )
        .await;
    // Three events; the first try of the first one got a 500 and was tried again.
    let got = receiver.wait_for(4, &server, Duration::from_secs(30)).await;
    assert!(
        got.iter().all(|(h, b)| signature_is_valid(h, b, secret)),
        "{got:?}"
    );
    let ids: Vec<&str> = got
        .iter()
        .map(|(h, _)| h["x-mlflow-delivery-id"].to_str().unwrap())
        .collect();
    assert_eq!(
        ids.iter().filter(|id| **id == ids[0]).count(),
        2,
        "the try answered 500 came again with its delivery id: {ids:?}"
    );
    let bodies: Vec<serde_json::Value> = got
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let events: std::collections::BTreeSet<String> = bodies
        .iter()
        .map(|b| {
            format!(
                "{}.{}",
                b["entity"].as_str().unwrap(),
                b["action"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        events.into_iter().collect::<Vec<_>>(),
        [
            "model_version.created",
            "model_version.stage_transitioned",
            "registered_model.created"
        ]
    );
    let moved = bodies
        .iter()
        .find(|b| b["action"] == "stage_transitioned")
        .unwrap();
    assert_eq!(moved["data"]["to_stage"], "Staging");
    assert_eq!(moved["data"]["user"], "admin");
    let listed = server
        .deliveries_until("wh", |d| {
            d.len() == 3 && d.iter().all(|d| d["status"] == "DELIVERED")
        })
        .await;
    assert!(
        listed
            .iter()
            .any(|d| d["attempts"] == 2 && d["last_status"] == 200),
        "{listed:?}"
    );

    // A receiver that is down: the delivery waits in the database through a restart.
    let parked = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_addr = parked.local_addr().unwrap();
    drop(parked);
    let (status, _) = server
        .call(
            reqwest::Method::PATCH,
            &format!("/api/2.0/mlflow/webhooks/{hook_id}"),
            json!({"url": format!("http://{down_addr}/hook"),
                   "events": [{"entity": "MODEL_VERSION", "action": "CREATED"},
                              {"entity": "MODEL_VERSION_TAG", "action": "SET"}]}),
        )
        .await;
    assert_eq!(status, 200);
    server
        .post("/api/2.0/mlflow/model-versions/create", version.clone())
        .await;
    server
        .deliveries_until("wh", |d| {
            // A try that ended (its error recorded), not one under way.
            d.iter()
                .any(|d| d["status"] == "PENDING" && d["last_error"] != "")
        })
        .await;
    drop(server);
    let late = Receiver::start(tokio::net::TcpListener::bind(down_addr).await.unwrap(), 0).await;
    let server = Server::start(cwd.path(), &private_ok, &[]).await;
    // Within the next try's wait, or, had the server been killed in the middle of a try, once
    // that try's lease (its 30 s timeout and 30 s more) ran out.
    let got = late.wait_for(1, &server, Duration::from_secs(90)).await;
    let body: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(body["data"]["version"], "2");
    assert!(signature_is_valid(&got[0].0, &got[0].1, secret));
    drop(server);

    // Without --webhook-allow-private: loopback is refused when saved, and at connect time
    // for a webhook saved earlier (the address is checked on every connection).
    let server = Server::start(cwd.path(), &["--webhook-schemes", "http"], &[]).await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
    ] {
        let (status, reply) = server
            .call(
                reqwest::Method::POST,
                "/api/2.0/mlflow/webhooks",
                json!({"name": "inside", "url": url, "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}),
            )
            .await;
        assert_eq!(status, 400, "{url}: {reply}");
        assert_eq!(reply["error_code"], "INVALID_PARAMETER_VALUE");
    }
    server
        .post(
            "/api/2.0/mlflow/model-versions/set-tag",
            json!({"name": "wh", "version": "2", "key": "k", "value": "v"}),
        )
        .await;
    let listed = server
        .deliveries_until("wh", |d| {
            d.iter()
                .any(|d| d["event"] == "model_version_tag.set" && d["status"] == "FAILED")
        })
        .await;
    let refused = listed
        .iter()
        .find(|d| d["event"] == "model_version_tag.set")
        .unwrap();
    assert_eq!(refused["attempts"], 1, "a refused address is not tried again");
    assert!(
        refused["last_error"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{refused}"
    );
    assert_eq!(
        late.got.lock().unwrap().len(),
        1,
        "nothing reached the loopback receiver"
    );
}

/// Registers the iris fixture as version 1 of `model` through `server` and deploys it.
async fn deploy_iris(server: &Server, model: &str) {
    let api = "/api/2.0/mlflow";
    let exp = server
        .post(
            &format!("{api}/experiments/create"),
            serde_json::json!({ "name": model }),
        )
        .await["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = server
        .post(
            &format!("{api}/runs/create"),
            serde_json::json!({ "experiment_id": exp }),
        )
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let onnx = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../predictor/fixtures/iris_logreg.onnx"),
    )
    .unwrap();
    let put = reqwest::Client::new()
        .put(server.url(&format!(
            "/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/model/model.onnx"
        )))
        .header("Authorization", basic_header())
        .body(onnx)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    server
        .post(
            &format!("{api}/registered-models/create"),
            serde_json::json!({ "name": model }),
        )
        .await;
    server
        .post(
            &format!("{api}/model-versions/create"),
            serde_json::json!({ "name": model, "source": format!("runs:/{run_id}/model"), "run_id": run_id }),
        )
        .await;
    let d = server
        .post(
            "/api/2.0/aiops/deployments/create",
            serde_json::json!({ "name": model, "model_name": model, "version": "1" }),
        )
        .await;
    assert_eq!(d["deployment"]["status"], "READY", "{d}");
}

#[tokio::test]
async fn replicas_serve_the_same_deployments_and_monitoring_counts_them_all() {
    let postgres = PrivatePostgres::start();
    assert!(
        std::env::var("ORT_DYLIB_PATH").is_ok(),
        "ORT_DYLIB_PATH is not set: run via scripts/test.sh"
    );
    let (endpoint, access_key, secret_key, bucket) = s3_bucket().await;
    let artifacts = format!("s3://{bucket}/aiops");
    let args = [
        "--database-url",
        postgres.url.as_str(),
        "--artifacts",
        artifacts.as_str(),
    ];
    let env = [
        ("AWS_ACCESS_KEY_ID", access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret_key.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let cwd = tempfile::tempdir().unwrap();
    let a = Server::start(cwd.path(), &args, &env).await;
    let b = Server::start(cwd.path(), &args, &env).await;
    deploy_iris(&a, "iris").await;

    // The other replica loads what the database says within its sync period.
    b.wait_status("/v2/models/iris/ready", 200, Duration::from_secs(20))
        .await;
    let row = serde_json::json!({ "inputs": [{ "name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2] }] });
    for (server, calls) in [(&a, 3), (&b, 4)] {
        for _ in 0..calls {
            let reply = server.post("/v2/models/iris/infer", row.clone()).await;
            assert_eq!(reply["outputs"][0]["data"], serde_json::json!([0]), "{reply}");
        }
    }

    // Replica a's monitoring counts b's calls too (b writes its counts every 5 s).
    let started = Instant::now();
    loop {
        let reply: serde_json::Value = a
            .get("/api/2.0/aiops/deployments/monitoring?minutes=5")
            .await
            .json()
            .await
            .unwrap();
        let series = &reply["series"][0];
        if series["requests"] == 7 {
            assert_eq!(series["replicas"], 2, "{reply}");
            assert_eq!(series["errors"], 0, "{reply}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "monitoring never counted both replicas: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A replica started later serves the same deployment from the database.
    drop(b);
    let c = Server::start(cwd.path(), &args, &env).await;
    c.wait_status("/v2/models/iris/ready", 200, Duration::from_secs(20))
        .await;
    // Undeployed on one replica, gone from the others at their next sync.
    a.post(
        "/api/2.0/aiops/deployments/delete",
        serde_json::json!({ "name": "iris" }),
    )
    .await;
    c.wait_status("/v2/models/iris", 404, Duration::from_secs(20))
        .await;
}

/// `aiops migrate [--check]` and `AIOPS_MIGRATIONS`: `check` refuses to start on a schema
/// with pending migrations and names the command that applies them; after it, `check` starts.
#[tokio::test]
async fn migrations_are_applied_by_command_and_checked_at_start() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data").display().to_string();
    let migrate = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .arg("migrate")
            .args(["--data-dir", &data])
            .args(args)
            .env_remove("AIOPS_DATABASE_URL")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = migrate(&["--check"]);
    assert!(
        !ok && out.contains("pending") && out.contains("aiops migrate"),
        "{out}"
    );

    // A server told to check exits at once, saying why.
    let refused = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir", &data])
        .env("AIOPS_MIGRATIONS", "check")
        .env_remove("AIOPS_DATABASE_URL")
        .env_remove("AIOPS_ARTIFACTS")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&refused.stdout).to_string() + &String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && text.contains("pending"), "{text}");
    let bad = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--migrations", "sometimes"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("auto, check or off"));

    let (ok, out) = migrate(&[]);
    assert!(ok && out.contains("applied migrations 1, 2"), "{out}");
    let (ok, out) = migrate(&["--check"]);
    assert!(ok && out.contains("schema up to date"), "{out}");
    let server = Server::start(
        cwd.path(),
        &["--data-dir", &data],
        &[("AIOPS_MIGRATIONS", "check")],
    )
    .await;
    server.wait_ready_status(200, Duration::from_secs(20)).await;
}

/// Four replicas started at the same moment on an empty PostgreSQL database: one migrates
/// under the lock, the others wait for it, and all four become ready.
#[tokio::test]
async fn four_replicas_started_at_once_on_an_empty_database_all_become_ready() {
    let postgres = PrivatePostgres::start();
    let cwd = tempfile::tempdir().unwrap();
    let args = ["--database-url", postgres.url.as_str()];
    let starts = (0..4).map(|i| {
        let data = cwd.path().join(format!("replica-{i}")).display().to_string();
        let dir = cwd.path().to_path_buf();
        async move {
            let mut all = args.to_vec();
            all.extend(["--data-dir", data.as_str()]);
            Server::start(&dir, &all, &[]).await
        }
    });
    let servers = futures::future::join_all(starts).await;
    for server in &servers {
        server.wait_ready_status(200, Duration::from_secs(30)).await;
    }
    let applied = servers
        .iter()
        .filter(|s| s.log_text().contains("applied migrations"))
        .count();
    assert_eq!(applied, 1, "exactly one replica applies the migrations");
}

/// `--metrics-token`: Prometheus scrapes `/metrics` with it and no account; the token opens
/// nothing else, and without it `/metrics` needs a signed-in user.
#[tokio::test]
async fn the_metrics_token_opens_metrics_alone() {
    let cwd = tempfile::tempdir().unwrap();
    let token = "scrape-token-0123456789";
    let server = Server::start(cwd.path(), &[], &[("AIOPS_METRICS_TOKEN", token)]).await;
    let client = reqwest::Client::new();
    let get = |path: &str, auth: Option<&str>| {
        let mut r = client.get(server.url(path));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send()
    };
    assert_eq!(get("/metrics", None).await.unwrap().status(), 401);
    assert_eq!(
        get("/metrics", Some("Bearer scrape-token-0123456780"))
            .await
            .unwrap()
            .status(),
        401
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get("/api/2.0/mlflow/experiments/search", Some(&bearer))
            .await
            .unwrap()
            .status(),
        401
    );
    // The deployment gauges are set by the first sync, at start.
    let started = Instant::now();
    loop {
        let reply = get("/metrics", Some(&bearer)).await.unwrap();
        assert_eq!(reply.status(), 200);
        let text = reply.text().await.unwrap();
        if text.contains("aiops_deployments_ready 0") {
            assert!(text.contains("aiops_deployments_failed 0"), "{text}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A signed-in user still reads it.
    assert_eq!(server.get("/metrics").await.status(), 200);
    // A short token is refused at start.
    let out = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(cwd.path().join("short"))
        .env("AIOPS_METRICS_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("16 characters"),
        "{out:?}"
    );
}

/// `aiops demo` fills an experiment of runs with histories, a registered model with versions
/// in Production and Staging, and a deployment following Production, and sends it traffic
/// the monitoring page counts; a second run adds nothing. `serve --demo` does the same at
/// start, and its own /metrics counts the traffic.
#[tokio::test]
async fn the_demo_fills_once_and_its_deployment_serves_traffic() {
    assert!(
        std::env::var("ORT_DYLIB_PATH").is_ok(),
        "ORT_DYLIB_PATH is not set: run via scripts/test.sh"
    );
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data").display().to_string();
    let demo = || {
        let out = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["demo", "--requests", "30", "--data-dir", &data])
            .env("AIOPS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("AIOPS_DATABASE_URL")
            .env_remove("AIOPS_ARTIFACTS")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let first = demo();
    assert!(
        first.contains("36 runs, 2 model versions, deployment `iris` created"),
        "{first}"
    );
    assert!(first.contains("sent 30 of 30"), "{first}");
    let second = demo();
    assert!(
        second.contains("already there") && second.contains("sent 30 of 30"),
        "{second}"
    );

    let server = Server::start(cwd.path(), &["--data-dir", &data], &[]).await;
    let api = "/api/2.0/mlflow";
    let exp = server
        .get_json(&format!(
            "{api}/experiments/get-by-name?experiment_name=Demo:%20iris%20classifiers"
        ))
        .await;
    let exp_id = exp["experiment"]["experiment_id"].as_str().unwrap().to_string();
    let runs = server
        .post(
            &format!("{api}/runs/search"),
            serde_json::json!({ "experiment_ids": [exp_id], "max_results": 100, "order_by": ["metrics.accuracy DESC"] }),
        )
        .await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 36);
    let best = runs[0]["info"]["run_id"].as_str().unwrap();
    let history = server
        .get_json(&format!(
            "{api}/metrics/get-history?run_id={best}&metric_key=val_accuracy"
        ))
        .await;
    assert_eq!(history["metrics"].as_array().unwrap().len(), 40);
    let versions = server
        .post(
            &format!("{api}/registered-models/get-latest-versions"),
            serde_json::json!({ "name": "iris-classifier" }),
        )
        .await;
    let mut stages: Vec<&str> = versions["model_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["current_stage"].as_str().unwrap())
        .collect();
    stages.sort_unstable();
    assert_eq!(stages, ["Production", "Staging"]);
    let monitoring = server
        .get_json("/api/2.0/aiops/deployments/monitoring?minutes=60")
        .await;
    assert_eq!(monitoring["series"][0]["requests"], 60, "{monitoring}");
    server
        .wait_status("/v2/models/iris/ready", 200, Duration::from_secs(20))
        .await;
    drop(server);

    // `serve --demo` on an empty folder: filled at start, and traffic this replica counts.
    let fresh = cwd.path().join("fresh").display().to_string();
    let server = Server::start(cwd.path(), &["--demo", "--data-dir", &fresh], &[]).await;
    let started = Instant::now();
    loop {
        let text = server.get("/metrics").await.text().await.unwrap();
        if text.lines().any(|l| {
            l.starts_with("nv_inference_request_success{")
                && l.contains("model=\"iris\"")
                && !l.ends_with(" 0")
        }) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `--base-path /aiops`: everything moves under the prefix (pages with their links and
/// assets, the MLflow API, server functions, sign-in redirects); the probes also answer at
/// the root; a malformed prefix is refused at start. (The browser side: base-path.spec.ts.)
#[tokio::test]
async fn a_base_path_moves_everything_under_it_and_keeps_probes_at_the_root() {
    let cwd = tempfile::tempdir().unwrap();
    let server = Server::start(cwd.path(), &["--base-path", "/aiops/"], &[]).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = |path: &'static str| {
        let request = plain
            .get(server.url(path))
            .header("Authorization", basic_header());
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for path in [
        "/health",
        "/ready",
        "/aiops/health",
        "/aiops/ready",
        "/aiops",
        "/aiops/experiments",
    ] {
        assert_eq!(status(path).await, 200, "{path}");
    }
    assert_eq!(
        status("/aiops/api/2.0/mlflow/experiments/search?max_results=1").await,
        200
    );
    for path in ["/experiments", "/api/2.0/mlflow/experiments/search", "/metrics"] {
        assert_eq!(status(path).await, 404, "{path} answers outside the prefix");
    }
    assert_eq!(status("/aiops/").await, 308);

    // The page's links, assets and the browser's own prefix all carry it.
    let html = server.get("/aiops/experiments").await.text().await.unwrap();
    assert!(html.contains(r#"<meta name="aiops-base" content="/aiops">"#));
    for link in ["/aiops/models", "/aiops/favicon.svg"] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link} missing");
    }
    // The bundles, by their hashed names when cargo-leptos wrote hash.txt.
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    for ext in [".css", ".js"] {
        assert!(
            hrefs
                .iter()
                .any(|h| h.starts_with("/aiops/pkg/aiops") && h.ends_with(ext)),
            "no /aiops/pkg bundle ending {ext} in {hrefs:?}"
        );
    }
    assert!(!html.contains("href=\"/experiments\"") && !html.contains("href=\"/pkg/"));

    // Signed out: to the login page under the prefix; signing in comes back under it.
    let login = plain.get(server.url("/aiops/models")).send().await.unwrap();
    assert_eq!(
        login.headers()["location"].to_str().unwrap(),
        "/aiops/login?next=%2Fmodels"
    );
    let signed_in = plain
        .post(server.url("/aiops/_app/sign_in"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/models"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.headers()["location"].to_str().unwrap(), "/aiops/models");

    for bad in ["aiops", "/a/../b", "/a b"] {
        let out = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["serve", "--addr", "127.0.0.1:0", "--base-path", bad, "--data-dir"])
            .arg(cwd.path().join("bad"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("--base-path"),
            "{out:?}"
        );
    }
}
