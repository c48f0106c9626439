//! The HTTP handlers and their contract.
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `GET /` | | the what-if page |
//! | `GET /healthz` | | `{"status":"ok", ...}` |
//! | `GET /api/scenarios` | | `[{"name", "file", "description", "toml"}]` from the workloads folder |
//! | `POST /api/run` | [`ScenarioRequest`] | `summary.json`, the CLI's bytes |
//! | `POST /api/estimate` | `{}` or [`ScenarioRequest`] | `fleetsim estimate [file] --json` |
//! | `POST /api/plan` | [`ScenarioRequest`] with `[slo]` targets | `fleetsim plan <file> --json` |
//!
//! Errors: `{"error": "..."}` with 400 (bad request or scenario), 408 (body too slow), 413
//! (body too large), 429 (busy; `Retry-After: 1`), 500 (a bug), 504 (wall-time limit).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use crate::cost;
use crate::report::results::summary_json;
use crate::scenario::{self, Overrides, Scenario};

/// The body of `POST /api/run` and `POST /api/estimate`: one scenario plus overrides.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    /// Scenario text, as in a `workloads/*.toml` file.
    #[serde(default)]
    pub scenario_toml: Option<String>,
    /// A scenario from the workloads folder by name (`"bing-search"`), or the same structure
    /// as the TOML written as JSON.
    #[serde(default)]
    pub scenario: Option<ScenarioRef>,
    /// `key=value` overrides applied in order, as `fleetsim run --set`.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// A name the client picks (letters, digits, `-`, `_`; at most 64) to follow the run with
    /// `GET /api/progress/{run_id}` and stop it with `POST /api/cancel/{run_id}`.
    #[serde(default)]
    pub run_id: Option<String>,
}

/// A scenario named or given as a JSON structure.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ScenarioRef {
    /// A name from `GET /api/scenarios`, e.g. `bing-search` or `validation/mm1-rho05`.
    Name(String),
    /// The TOML schema as JSON objects.
    Structure(toml::Table),
}

/// An error answer: a status and a message, sent as `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong and, where possible, how to fix it.
    pub message: String,
}

impl ApiError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        r
    }
}

/// A ready JSON text answered with 200.
fn json_text(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

/// The body as a [`ScenarioRequest`]; an empty body is `{}`.
fn parse_body(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<ScenarioRequest, ApiError> {
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError {
                status,
                message: format!(
                    "request body too large: the limit is {limit} bytes (a scenario is a few KiB \
                     of TOML)"
                ),
            }
        } else {
            ApiError {
                status,
                message: format!("request body: {}", rejection.body_text()),
            }
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ScenarioRequest::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "request body: {e}; expected {{\"scenario_toml\": \"...\"}} or {{\"scenario\": \
             \"<name>\"}}, with optional \"overrides\": [\"servers.count=5\", ...]"
        ))
    })
}

/// One scenario file of the workloads folder.
#[derive(Debug, Clone, Serialize)]
pub struct NamedScenario {
    /// Path under the workloads folder without `.toml`, e.g. `validation/mm1-rho05`.
    pub name: String,
    /// The file as the CLI would be given it, e.g. `workloads/bing-search.toml`.
    pub file: String,
    /// The scenario's `description` (empty if it has none or does not validate).
    pub description: String,
    /// The file's text.
    pub toml: String,
}

/// Every `*.toml` under `dir` (one level of subfolders), sorted by name.
pub fn list_scenarios(dir: &Path) -> Vec<NamedScenario> {
    let mut files = Vec::new();
    let push_dir = |d: &Path, prefix: &str, recurse: bool, files: &mut Vec<_>| {
        let Ok(entries) = std::fs::read_dir(d) else {
            return Vec::new();
        };
        let mut subdirs = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            let Some(stem) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            if p.is_dir() && recurse {
                subdirs.push((p, format!("{prefix}{stem}/")));
            } else if p.extension().is_some_and(|x| x == "toml") {
                files.push((format!("{prefix}{stem}"), p));
            }
        }
        subdirs
    };
    for (sub, prefix) in push_dir(dir, "", true, &mut files) {
        push_dir(&sub, &prefix, false, &mut files);
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|(name, path)| {
            let toml = std::fs::read_to_string(&path).ok()?;
            // Read from the TOML alone: validating would open the files the scenario names.
            let description = toml::from_str::<toml::Table>(&toml)
                .ok()
                .and_then(|t| t.get("description")?.as_str().map(str::to_string))
                .unwrap_or_default();
            Some(NamedScenario {
                name,
                file: path.display().to_string(),
                description,
                toml,
            })
        })
        .collect()
}

/// Scenario text and the label its messages carry, from a request.
fn scenario_source(
    state: &AppState,
    req: &ScenarioRequest,
) -> Result<Option<(String, PathBuf)>, ApiError> {
    match (&req.scenario_toml, &req.scenario) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give either \"scenario_toml\" or \"scenario\", not both",
        )),
        (None, None) => Ok(None),
        (Some(text), None) => Ok(Some((text.clone(), Scenario::inline_path()))),
        (None, Some(ScenarioRef::Structure(table))) => toml::to_string(table)
            .map(|text| Some((text, Scenario::inline_path())))
            .map_err(|e| ApiError::bad_request(format!("\"scenario\" as JSON: {e}"))),
        (None, Some(ScenarioRef::Name(name))) => {
            // Looked up in the listing, never joined onto a path: a name cannot escape the
            // workloads folder.
            let found = list_scenarios(&state.config.workloads)
                .into_iter()
                .find(|s| &s.name == name);
            match found {
                Some(s) => Ok(Some((s.toml, PathBuf::from(s.file)))),
                None => Err(ApiError::bad_request(format!(
                    "no scenario named {name:?} in {}; GET /api/scenarios lists them",
                    state.config.workloads.display()
                ))),
            }
        }
    }
}

/// Refuses any `path` key (at any depth, after overrides) that is not a file inside the
/// allowed traces folder. With no folder configured, every `path` key is refused.
pub fn check_file_keys(table: &toml::Table, allowed: Option<&Path>) -> Result<(), String> {
    fn walk(v: &toml::Value, key: &str, allowed: Option<&Path>, out: &mut Result<(), String>) {
        if out.is_err() {
            return;
        }
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let dotted = if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    };
                    if k == "path" {
                        if let Err(e) = check_one(v, &dotted, allowed) {
                            *out = Err(e);
                            return;
                        }
                    } else {
                        walk(v, &dotted, allowed, out);
                    }
                }
            }
            toml::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{key}[{i}]"), allowed, out);
                }
            }
            _ => {}
        }
    }
    fn check_one(v: &toml::Value, key: &str, allowed: Option<&Path>) -> Result<(), String> {
        let Some(dir) = allowed else {
            return Err(format!(
                "key `{key}`: scenarios sent to the service may not read files (start the \
                 server with --allowed-traces DIR to allow trace files from that folder)"
            ));
        };
        let refuse = |why: &str| {
            Err(format!(
                "key `{key}`: {why}; only files inside {} are allowed",
                dir.display()
            ))
        };
        let Some(p) = v.as_str() else {
            return refuse("a path must be a string");
        };
        let p = Path::new(p);
        if p.components().any(|c| matches!(c, Component::ParentDir)) {
            return refuse("`..` is not allowed");
        }
        // Resolved as the CLI would open it (relative to the working directory), then
        // compared after following links.
        match (p.canonicalize(), dir.canonicalize()) {
            (Ok(file), Ok(dir)) if file.starts_with(&dir) && file.is_file() => Ok(()),
            _ => refuse("no such file in the allowed folder"),
        }
    }
    let mut out = Ok(());
    walk(&toml::Value::Table(table.clone()), "", allowed, &mut out);
    out
}

/// The files a scenario sent to the service may read: none, or those inside `allowed`.
pub fn file_access(allowed: Option<&Path>) -> scenario::FileAccess {
    match allowed {
        Some(dir) => scenario::FileAccess::Within(dir.to_path_buf()),
        None => scenario::FileAccess::Nothing,
    }
}

/// Parses, checks and validates the request's scenario; `None` when the request names none.
fn load_scenario(
    state: &AppState,
    req: &ScenarioRequest,
) -> Result<Option<(Scenario, PathBuf)>, ApiError> {
    let Some((text, label)) = scenario_source(state, req)? else {
        if !req.overrides.is_empty() {
            return Err(ApiError::bad_request(
                "\"overrides\" given without a scenario",
            ));
        }
        return Ok(None);
    };
    let overrides = Overrides {
        set: req.overrides.clone(),
    };
    // If the text does not parse, `parse` below reports it with the CLI's message.
    if let Ok(table) = scenario::table_with_overrides(&text, &label, &overrides) {
        check_file_keys(&table, state.config.allowed_traces.as_deref())
            .map_err(|m| ApiError::bad_request(format!("{}: {m}", label.display())))?;
    }
    let access = file_access(state.config.allowed_traces.as_deref());
    let s = scenario::parse_with_access(&text, &label, &overrides, &access)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The gate above checked every open; this checks the outcome too, whatever the key.
    for read in s.files_read() {
        access
            .check(read.key, &read.path.to_string_lossy(), &read.path)
            .map_err(|m| {
                ApiError::bad_request(format!("{}: key `{}`: {m}", label.display(), read.key))
            })?;
    }
    Ok(Some((s, label)))
}

/// Work a run of `s` asks for, in simulated requests: per replication, rate x duration x
/// rounds per session, plus one per server (building and closing a replication costs about
/// that much per server, even with no traffic); times the replications.
pub fn simulated_requests(s: &Scenario) -> f64 {
    let rounds = s.request.as_ref().map_or(1, |r| r.rounds);
    let servers = s
        .autoscale
        .as_ref()
        .map_or(s.servers.count, |a| a.max_servers.max(s.servers.count));
    let per_replication =
        s.traffic.requests_per_s * s.traffic.duration_s * f64::from(rounds) + f64::from(servers);
    per_replication * f64::from(s.run.replications)
}

/// `GET /`: the what-if page.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

/// `GET /healthz`: the service is up; also how busy it is.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let running = state
        .config
        .max_concurrent
        .saturating_sub(state.limiter.available());
    axum::Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "running": running,
        "waiting": state.limiter.waiting(),
        "max_concurrent": state.config.max_concurrent,
        "max_waiting": state.config.max_waiting,
    }))
    .into_response()
}

/// `GET /api/scenarios`: the scenarios of the workloads folder, with their text.
pub async fn scenarios(State(state): State<Arc<AppState>>) -> Response {
    let dir = state.config.workloads.clone();
    match tokio::task::spawn_blocking(move || list_scenarios(&dir)).await {
        Ok(list) => axum::Json(list).into_response(),
        Err(e) => ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("listing scenarios failed: {e}"),
        }
        .into_response(),
    }
}

/// `POST /api/run`: simulates the scenario; the answer is the CLI's `summary.json`.
pub async fn run(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req = parse_body(body, state.config.max_body_bytes)?;
    let Some((s, _label)) = load_scenario(&state, &req)? else {
        return Err(ApiError::bad_request(
            "no scenario: send {\"scenario_toml\": \"...\"} or {\"scenario\": \"<name>\"}",
        ));
    };
    let asked = simulated_requests(&s);
    let cap = state.config.max_requests;
    if asked.is_nan() || asked > cap as f64 {
        return Err(ApiError::bad_request(format!(
            "this run would simulate about {asked:.0} requests ((traffic.requests_per_s x \
             traffic.duration_s + servers.count) x run.replications); the service allows at most \
             {cap} per call: \
             lower one of them, or run it with the CLI"
        )));
    }

    let limit = state.config.timeout;
    let deadline = tokio::time::Instant::now() + limit;
    let permit = match tokio::time::timeout_at(deadline, state.limiter.acquire()).await {
        Ok(Ok(p)) => p,
        Ok(Err(super::Busy)) => {
            return Err(ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "busy: {} simulations are running and {} are waiting; try again shortly",
                    state.config.max_concurrent, state.config.max_waiting
                ),
            });
        }
        Err(_) => {
            return Err(ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "busy: no simulation slot came free within {:.1} s; try again shortly",
                    limit.as_secs_f64()
                ),
            });
        }
    };
    if let Some(id) = &req.run_id
        && (id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(ApiError::bad_request(
            "run_id: 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    // A control for progress and cancellation, registered under the client's run id.
    let ctl = Arc::new(crate::fleet::RunControl::new());
    let run_id = req.run_id.clone();
    if let Some(id) = &run_id {
        let mut runs = state.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.insert(id.clone(), (ctl.clone(), s.run.replications));
    }
    // The permit moves into the blocking task: it is released when the simulation ends,
    // even if this request has been answered 504 or the client has gone away.
    let task_ctl = ctl.clone();
    let task_state = state.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let json = summary_json(&crate::drivers::run::run_with(&s, None, &task_ctl).summary);
        if let Some(id) = run_id {
            let mut runs = task_state.runs.lock().unwrap_or_else(|e| e.into_inner());
            runs.remove(&id);
        }
        json
    });
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(json)) => Ok(json_text(json)),
        Ok(Err(e)) => Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("the simulation failed (a bug; please report it): {e}"),
        }),
        Err(_) => {
            // Stop the simulation at its next check, so its slot frees soon.
            ctl.cancel();
            Err(ApiError {
                status: StatusCode::GATEWAY_TIMEOUT,
                message: format!(
                    "the run took longer than the {:.1} s limit and was cancelled. Shorten \
                     traffic.duration_s or lower run.replications",
                    limit.as_secs_f64()
                ),
            })
        }
    }
}

/// `GET /api/progress/{run_id}`: replications finished of a run started with that id.
pub async fn progress(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(run_id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let runs = state.runs.lock().unwrap_or_else(|e| e.into_inner());
    match runs.get(&run_id) {
        Some((ctl, total)) => Ok(axum::Json(serde_json::json!({
            "run_id": run_id,
            "replications_done": ctl.replications_done(),
            "replications": total,
            "cancelled": ctl.is_cancelled(),
        }))
        .into_response()),
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no run {run_id:?} is going (it may have finished)"),
        }),
    }
}

/// `POST /api/cancel/{run_id}`: stops a run started with that id at its next check (within a
/// few thousand simulated events); the run's own call then answers with `stable: false` and
/// the cancellation in `overload`.
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(run_id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let runs = state.runs.lock().unwrap_or_else(|e| e.into_inner());
    match runs.get(&run_id) {
        Some((ctl, _)) => {
            ctl.cancel();
            Ok(
                axum::Json(serde_json::json!({ "run_id": run_id, "cancelled": true }))
                    .into_response(),
            )
        }
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no run {run_id:?} is going (it may have finished)"),
        }),
    }
}

/// `POST /api/estimate`: `{}` gives every report's estimates; a scenario gives R1's formula
/// applied to it. The answer is `fleetsim estimate [file] --json`'s output.
pub async fn estimate(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req = parse_body(body, state.config.max_body_bytes)?;
    let estimates = match load_scenario(&state, &req)? {
        None => cost::all_estimates(),
        Some((s, label)) => {
            let e = cost::estimate_for_scenario(&s).ok_or_else(|| {
                ApiError::bad_request(cost::not_llm_message(&label.display().to_string()))
            })?;
            vec![e]
        }
    };
    // The CLI prints it with a newline; so does the service, so the bytes match.
    Ok(json_text(format!(
        "{}\n",
        cost::render_estimates_json(&estimates)
    )))
}

/// `POST /api/plan`: the fewest servers meeting the scenario's `[slo]` targets, as
/// `fleetsim plan <file> --json` prints it. Each plan runs several fleet sizes, so the
/// request cap applies to one size times the search's typical number of points (8).
pub async fn plan(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    const SEARCH_POINTS: f64 = 8.0;
    let req = parse_body(body, state.config.max_body_bytes)?;
    let Some((s, label)) = load_scenario(&state, &req)? else {
        return Err(ApiError::bad_request(
            "no scenario: send {\"scenario_toml\": \"...\"} or {\"scenario\": \"<name>\"}",
        ));
    };
    // A scenario without run.replications lets plan choose up to its bound per count.
    let asked = simulated_requests(&s) / f64::from(s.run.replications.max(1))
        * f64::from(crate::drivers::plan::replications_bound(&s))
        * SEARCH_POINTS;
    let cap = state.config.max_requests;
    if asked.is_nan() || asked > cap as f64 {
        return Err(ApiError::bad_request(format!(
            "this plan would simulate about {asked:.0} requests (rate x duration x replications \
             x ~{SEARCH_POINTS} fleet sizes); the service allows at most {cap} per call: shorten \
             the scenario, or plan it with the CLI"
        )));
    }
    let limit = state.config.timeout;
    let deadline = tokio::time::Instant::now() + limit;
    let permit = match tokio::time::timeout_at(deadline, state.limiter.acquire()).await {
        Ok(Ok(p)) => p,
        _ => {
            return Err(ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "busy: {} simulations are running and {} are waiting; try again shortly",
                    state.config.max_concurrent, state.config.max_waiting
                ),
            });
        }
    };
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        crate::drivers::plan::plan(&s, None)
            .map(|outcome| summary_json(&outcome))
            .map_err(|e| format!("{}: {e}", label.display()))
    });
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(Ok(json))) => Ok(json_text(json)),
        Ok(Ok(Err(message))) => Err(ApiError::bad_request(message)),
        Ok(Err(e)) => Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("the plan failed (a bug; please report it): {e}"),
        }),
        Err(_) => Err(ApiError {
            status: StatusCode::GATEWAY_TIMEOUT,
            message: format!(
                "the plan took longer than the {:.1} s limit; it finishes in the background \
                 and its result is discarded",
                limit.as_secs_f64()
            ),
        }),
    }
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such route; see GET / for the page, /api/scenarios, /api/run, /api/estimate"
            .into(),
    }
}
