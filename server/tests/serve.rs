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
