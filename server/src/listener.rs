//! The HTTP listener: accepts connections under a cap, closes the ones that idle, stall
//! in their headers or trickle their body, and sheds idle keep-alive connections first
//! when the server is crowded, so a crowd of idle sockets can never starve `/health`.
//!
//! `axum::serve` offers none of these knobs, so connections are served here with
//! hyper-util's auto (HTTP/1.1 + h2c) builder.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// How long connections and bodies may take. Defaults are set in `config.rs`.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may sit without a request.
    pub idle_timeout: Duration,
    /// The idle time allowed once more than three quarters of `max_connections` are open.
    pub crowded_idle_timeout: Duration,
    /// A body may start slowly for this long, then must keep up `body_min_rate`.
    pub body_grace: Duration,
    /// Bytes per second a request body must average after `body_grace`.
    pub body_min_rate: u64,
}

/// Counts open connections; the count drops when a connection's task ends.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Shared {
    open: AtomicUsize,
    epoch: Instant,
    limits: Limits,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// One connection's activity, updated by its requests and read by its watcher.
struct Activity {
    in_flight: AtomicUsize,
    last_active_ms: AtomicU64,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        open: AtomicUsize::new(0),
        epoch: Instant::now(),
        limits,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a reset in the queue: wait, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if shared.open.load(Ordering::Relaxed) >= limits.max_connections {
            // Closed at once: the client sees a reset it can retry, not a hang.
            drop(stream);
            continue;
        }
        shared.open.fetch_add(1, Ordering::Relaxed);
        let open = Open(shared.clone());
        tokio::spawn(serve_connection(
            stream,
            app.clone(),
            builder.clone(),
            stop_rx.clone(),
            open,
        ));
    }
    let _ = stop_tx.send(true);
    // Requests in flight finish; give them a bounded time.
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.open.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    builder: Arc<Builder<TokioExecutor>>,
    mut stop: watch::Receiver<bool>,
    open: Open,
) {
    let shared = open.0.clone();
    let _ = stream.set_nodelay(true);
    // The peer address, for per-client sign-in throttling (axum's `ConnectInfo`).
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        last_active_ms: AtomicU64::new(shared.now_ms()),
    });
    let service = {
        let activity = activity.clone();
        let shared = shared.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let app = app.clone();
            let activity = activity.clone();
            let shared = shared.clone();
            activity.in_flight.fetch_add(1, Ordering::Relaxed);
            activity.last_active_ms.store(shared.now_ms(), Ordering::Relaxed);
            async move {
                let limits = shared.limits;
                let mut req: Request = req
                    .map(|body| Body::new(MinRateBody::new(body, limits.body_grace, limits.body_min_rate)));
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                let response = app.oneshot(req).await;
                activity.in_flight.fetch_sub(1, Ordering::Relaxed);
                activity.last_active_ms.store(shared.now_ms(), Ordering::Relaxed);
                response
            }
        })
    };
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = tick.tick(), if !closing => {
                if is_idle_too_long(&shared, &activity) {
                    // Graceful: an idle connection closes now, a busy one after its reply.
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = stop.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
    drop(open);
}

fn is_idle_too_long(shared: &Shared, activity: &Activity) -> bool {
    if activity.in_flight.load(Ordering::Relaxed) > 0 {
        return false;
    }
    let limits = &shared.limits;
    let crowded = shared.open.load(Ordering::Relaxed) * 4 > limits.max_connections * 3;
    let allowed = if crowded {
        limits.crowded_idle_timeout
    } else {
        limits.idle_timeout
    };
    let idle_ms = shared
        .now_ms()
        .saturating_sub(activity.last_active_ms.load(Ordering::Relaxed));
    Duration::from_millis(idle_ms) >= allowed
}

pin_project_lite::pin_project! {
    /// A request body that must keep pace: after a grace period it has to average at
    /// least `min_rate` bytes per second, or reading it fails (a slow-body attack holds
    /// a connection no longer than that).
    struct MinRateBody {
        #[pin]
        inner: Incoming,
        #[pin]
        deadline: tokio::time::Sleep,
        start: tokio::time::Instant,
        grace: Duration,
        min_rate: u64,
        received: u64,
    }
}

impl MinRateBody {
    fn new(inner: Incoming, grace: Duration, min_rate: u64) -> Self {
        let start = tokio::time::Instant::now();
        MinRateBody {
            inner,
            deadline: tokio::time::sleep_until(start + grace),
            start,
            grace,
            min_rate: min_rate.max(1),
            received: 0,
        }
    }
}

impl HttpBody for MinRateBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.received += data.len() as u64;
                    let earned = Duration::from_secs_f64(*this.received as f64 / *this.min_rate as f64);
                    this.deadline.as_mut().reset(*this.start + *this.grace + earned);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err("the request body arrived too slowly".into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
