//! `fleetsim serve`: a JSON API and a what-if page over HTTP (axum on tokio), in front of the
//! same library calls the CLI makes.
//!
//! Layout:
//! - [`limiter`]: admission control (N simulations at once, a short waiting line, 429 beyond).
//! - [`api`]: the handlers and the request/response contract.
//! - `page.html`: the page at `/`, one self-contained file (inline CSS and JS, no CDN).
//!
//! Where tokio stops: handlers parse and validate on the async executor (cheap), then every
//! simulation runs inside [`tokio::task::spawn_blocking`] holding a limiter permit. The
//! simulation core stays synchronous and never sees tokio; replications still spread over
//! rayon's pool inside [`crate::drivers::run::run`], so results are the CLI's bytes.
//!
//! Error policy: user mistakes are 4xx with a JSON body `{"error": "..."}` whose text for a
//! bad scenario is the CLI's message (the [`crate::scenario::ScenarioError`] display). No
//! handler unwraps anything derived from a request; a panic inside a simulation (a bug) is
//! caught by `spawn_blocking`'s join handle and answered 500, and the server keeps serving.
//!
//! Known limitation: a run that exceeds the wall-time limit is answered 504 but cannot be
//! stopped (the event loop has no cancellation point, by design); it finishes in the
//! background and keeps its permit until then, so the concurrency limit still holds.

pub mod api;
pub mod limiter;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use api::{ApiError, ScenarioRef, ScenarioRequest};
pub use limiter::{Busy, Limiter};

/// Default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default cap on simulated requests per call (rate x duration x replications).
pub const DEFAULT_MAX_REQUESTS: u64 = 5_000_000;
/// Default wall-time limit of one call, in seconds.
pub const DEFAULT_TIMEOUT_S: f64 = 60.0;
/// Default limit on a request body: a scenario is a few KiB of TOML.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Default cap on open connections: well under the usual 1,024 file descriptors, so slow
/// clients cannot exhaust them; beyond it new connections wait in the kernel's backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default time a client has to send a request's headers, in seconds.
pub const DEFAULT_HEADER_TIMEOUT_S: f64 = 10.0;
/// Default time a client has to send a request's body, in seconds.
pub const DEFAULT_BODY_TIMEOUT_S: f64 = 30.0;

/// Limits and folders of a running service.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Simulations running at once.
    pub max_concurrent: usize,
    /// Calls waiting for a free simulation slot; beyond them a call gets 429.
    pub max_waiting: usize,
    /// Most simulated requests one call may ask for (rate x duration x replications).
    pub max_requests: u64,
    /// Wall-time limit of one call (waiting for a slot included); 504 past it.
    pub timeout: Duration,
    /// Folder trace files may be read from; `None`: a scenario may not name any file.
    pub allowed_traces: Option<PathBuf>,
    /// Folder of named scenarios (`GET /api/scenarios`, `{"scenario": "<name>"}`).
    pub workloads: PathBuf,
    /// Largest request body accepted; 413 beyond.
    pub max_body_bytes: usize,
    /// Connections open at once; further clients wait until one closes.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; the connection is closed past it.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body; 408 past it.
    pub body_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        ServeConfig {
            max_concurrent: cores,
            max_waiting: cores,
            max_requests: DEFAULT_MAX_REQUESTS,
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_S),
            allowed_traces: None,
            workloads: PathBuf::from("workloads"),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: Duration::from_secs_f64(DEFAULT_HEADER_TIMEOUT_S),
            body_timeout: Duration::from_secs_f64(DEFAULT_BODY_TIMEOUT_S),
        }
    }
}

/// What every handler shares: the limits and the simulation limiter.
#[derive(Debug)]
pub struct AppState {
    /// The limits.
    pub config: ServeConfig,
    /// Admission control for simulations.
    pub limiter: Limiter,
    /// Runs started with a `run_id`: their progress and cancel flag, with the replication
    /// count.
    pub runs:
        std::sync::Mutex<std::collections::HashMap<String, (Arc<crate::fleet::RunControl>, u32)>>,
}

impl AppState {
    /// State for `config`, with a limiter of its sizes.
    pub fn new(config: ServeConfig) -> Arc<Self> {
        let limiter = Limiter::new(config.max_concurrent, config.max_waiting);
        Arc::new(AppState {
            config,
            limiter,
            runs: Default::default(),
        })
    }
}

/// The service's routes (usable in-process, e.g. with `tower::ServiceExt::oneshot`).
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/", get(api::page))
        .route("/healthz", get(api::healthz))
        .route("/api/scenarios", get(api::scenarios))
        .route("/api/run", post(api::run))
        .route("/api/estimate", post(api::estimate))
        .route("/api/plan", post(api::plan))
        .route("/api/progress/{run_id}", get(api::progress))
        .route("/api/cancel/{run_id}", post(api::cancel))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            (state.config.body_timeout, limit),
            body_deadline,
        ))
        .with_state(state)
}

/// Reads the whole body within the body timeout (408 past it) and the size limit (413),
/// so a client trickling its body cannot hold a connection for ever.
async fn body_deadline(
    axum::extract::State((timeout, limit)): axum::extract::State<(Duration, usize)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => {
            next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                .await
        }
        Ok(Err(_)) => ApiError {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            message: format!(
                "request body too large (or cut off): the limit is {limit} bytes (a scenario \
                 is a few KiB of TOML)"
            ),
        }
        .into_response(),
        Err(_) => ApiError {
            status: axum::http::StatusCode::REQUEST_TIMEOUT,
            message: format!(
                "the request body did not arrive within {:.0} s",
                timeout.as_secs_f64()
            ),
        }
        .into_response(),
    }
}

/// Serves on an already bound listener until `shutdown` completes.
///
/// At most `config.max_connections` connections are open at once (the rest wait in the
/// kernel's backlog), each must send its headers within `config.header_timeout`, and a
/// failed accept (for example no file descriptor left) is retried after a short pause
/// instead of stopping the server. On shutdown, open connections get 5 s to finish.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = config.header_timeout;
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let app = router(AppState::new(config));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // EMFILE and friends: back off and keep serving.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout);
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// `fleetsim serve`: binds `listen` and serves until Ctrl-C, on a runtime of its own.
///
/// Prints a warning on stderr when `listen` is not a loopback address: the service has no
/// authentication, and anyone who can reach the port can use the CPU.
pub fn serve(listen: SocketAddr, config: ServeConfig) -> Result<()> {
    if !listen.ip().is_loopback() {
        eprintln!(
            "warning: listening on {listen}, which is not a loopback address: the service has \
             no authentication; anyone who can reach it can run simulations"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fleetsim-serve")
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("--listen {listen}: cannot bind"))?;
        let local = listener.local_addr().unwrap_or(listen);
        eprintln!(
            "fleetsim serve: http://{local}/  ({} simulations at once, {} waiting, {} \
             connections, at most {} simulated requests and {:.0} s per call; Ctrl-C stops)",
            config.max_concurrent,
            config.max_waiting,
            config.max_connections,
            config.max_requests,
            config.timeout.as_secs_f64()
        );
        serve_on(listener, config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving HTTP")
    })
}
