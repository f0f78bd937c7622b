//! The Open Inference Protocol v2 over REST, as Triton and KServe serve it: server and
//! model metadata, health, readiness, and `infer` with JSON tensors (flat or nested) and
//! Triton's binary tensor extension (`Inference-Header-Content-Length`, `binary_data_size`,
//! `binary_data_output`), which `tritonclient[http]` uses by default. Errors are
//! `{"error": "..."}`: 400 for a bad tensor, 404 for an unknown model or version, 503 when
//! not ready or overloaded.

use aiops_core::service::AppState;
use aiops_core::serving::{wire, Loaded, Tensor, TensorSpec};
use aiops_core::CoreError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::auth::Caller;

/// Triton's header: the length of the JSON part of a body that carries binary tensors.
const HEADER_LENGTH: &str = "inference-header-content-length";

/// An OIP error: a status and `{"error": message}`.
pub struct V2Error(StatusCode, String);

impl V2Error {
    pub fn new(status: StatusCode, message: impl Into<String>) -> V2Error {
        V2Error(status, message.into())
    }

    fn bad(message: impl Into<String>) -> V2Error {
        V2Error(StatusCode::BAD_REQUEST, message.into())
    }
}

impl From<CoreError> for V2Error {
    /// The REST API's mapping (statuses, logging of internal errors), in `{"error"}` form.
    fn from(e: CoreError) -> Self {
        let api = super::error::ApiError::from(e);
        V2Error(api.status, api.message)
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type V2Result<T> = Result<T, V2Error>;

/// An infer reply's JSON part (keys in the order Triton writes them).
#[derive(serde::Serialize)]
struct ReplyJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    model_name: &'a str,
    model_version: String,
    outputs: Vec<OutputJson<'a>>,
}

#[derive(serde::Serialize)]
struct OutputJson<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [i64],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinarySize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<wire::JsonData<'a>>,
}

#[derive(serde::Serialize)]
struct BinarySize {
    binary_data_size: usize,
}

fn version_of(text: Option<&str>) -> V2Result<Option<i64>> {
    text.map(|v| {
        v.parse::<i64>()
            .map_err(|_| V2Error(StatusCode::NOT_FOUND, format!("Unknown model version '{v}'")))
    })
    .transpose()
}

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "aiops",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data", "model_repository"],
    }))
}

pub async fn live() -> StatusCode {
    StatusCode::OK
}

/// Ready when the database answers (models load in the background and answer 503 until then).
pub async fn ready(State(state): State<AppState>) -> StatusCode {
    match state.tracking.ping().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn spec_json(s: &TensorSpec) -> Value {
    json!({ "name": s.name, "datatype": s.datatype.name(), "shape": s.shape })
}

fn metadata(name: &str, loaded: &Loaded) -> Value {
    json!({
        "name": name,
        "versions": [loaded.version.to_string()],
        "platform": "onnxruntime_onnx",
        "inputs": loaded.model.inputs().iter().map(spec_json).collect::<Vec<_>>(),
        "outputs": loaded.model.outputs().iter().map(spec_json).collect::<Vec<_>>(),
    })
}

pub async fn model_metadata(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> V2Result<Json<Value>> {
    let loaded = state.model_info(&actor, &name, None)?;
    Ok(Json(metadata(&name, &loaded)))
}

pub async fn version_metadata(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<Json<Value>> {
    let loaded = state.model_info(&actor, &name, version_of(Some(&version))?)?;
    Ok(Json(metadata(&name, &loaded)))
}

pub async fn model_ready(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> V2Result<StatusCode> {
    state.model_info(&actor, &name, None)?;
    Ok(StatusCode::OK)
}

pub async fn version_ready(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<StatusCode> {
    state.model_info(&actor, &name, version_of(Some(&version))?)?;
    Ok(StatusCode::OK)
}

pub async fn infer(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> V2Result<Response> {
    run(state, actor, name, None, headers, body).await
}

pub async fn infer_version(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> V2Result<Response> {
    let version = version_of(Some(&version))?;
    run(state, actor, name, version, headers, body).await
}

async fn run(
    state: AppState,
    actor: aiops_core::auth::Actor,
    name: String,
    version: Option<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> V2Result<Response> {
    let mut parsed = None;
    let done = state
        .infer(&actor, &name, version, |_| {
            let (request, binary) = split_body(&headers, &body)?;
            let inputs = wire::read_inputs(&request, binary)?;
            let requested = wire::read_outputs(&request)?;
            let wanted = requested.iter().map(|(n, _)| n.clone()).collect();
            parsed = Some((request, requested));
            Ok((inputs, wanted))
        })
        .await?;
    let Some((request, requested)) = parsed else {
        return Err(V2Error::bad("the request could not be read"));
    };
    let all_binary = request
        .get("parameters")
        .and_then(|p| p.get("binary_data_output"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    let outputs: Vec<OutputJson> = done
        .outputs
        .iter()
        .map(|t| {
            let binary = all_binary || requested.iter().any(|(n, b)| n == &t.name && *b);
            let (parameters, data) = if binary {
                let blob = wire::to_binary(&t.data);
                let size = blob.len();
                blobs.push(blob);
                (
                    Some(BinarySize {
                        binary_data_size: size,
                    }),
                    None,
                )
            } else {
                (None, Some(wire::JsonData(&t.data)))
            };
            OutputJson {
                name: &t.name,
                datatype: t.data.datatype().name(),
                shape: &t.shape,
                parameters,
                data,
            }
        })
        .collect();
    let reply = ReplyJson {
        id: request.get("id"),
        model_name: &name,
        model_version: done.loaded.version.to_string(),
        outputs,
    };
    // Written straight from the tensors (no JSON tree of the outputs first).
    let head = serde_json::to_string(&reply).unwrap_or_default();
    if blobs.is_empty() {
        return Ok(([(header::CONTENT_TYPE, "application/json")], head).into_response());
    }
    let mut bytes = head.clone().into_bytes();
    for blob in blobs {
        bytes.extend_from_slice(&blob);
    }
    let mut response = ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&head.len().to_string()) {
        response.headers_mut().insert(HEADER_LENGTH, v);
    }
    Ok(response)
}

/// The JSON part of the body and the binary part after it (empty without the header).
fn split_body<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<(Map<String, Value>, &'b [u8]), String> {
    let json_len = match headers.get(HEADER_LENGTH) {
        None => body.len(),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n <= body.len())
            .ok_or("Inference-Header-Content-Length is not a length within the body")?,
    };
    let (head, rest) = body.split_at(json_len);
    match serde_json::from_slice::<Value>(head) {
        Ok(Value::Object(map)) => Ok((map, rest)),
        Ok(_) => Err("the request must be a JSON object".into()),
        Err(e) => Err(format!("the request is not valid JSON: {e}")),
    }
}

/// MLflow's scoring format on `POST /invocations/<name>`: `dataframe_split`,
/// `dataframe_records`, `instances` or `inputs`; replies `{"predictions": …}` (a list for one
/// output, an object of lists by output name for several). Errors in MLflow's format.
pub async fn invocations(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, super::error::ApiError> {
    let done = state
        .infer(&actor, &name, None, |loaded| {
            let request: Map<String, Value> = match serde_json::from_slice(&body) {
                Ok(Value::Object(map)) => map,
                _ => return Err("The body must be a JSON object in MLflow's scoring format".into()),
            };
            Ok((wire::scoring_inputs(&request, loaded.model.inputs())?, Vec::new()))
        })
        .await
        // MLflow's scoring server calls a request it cannot use BAD_REQUEST.
        .map_err(|e| match e {
            CoreError::InvalidParameter(m) => super::error::ApiError::bad_request(m),
            other => other.into(),
        })?;
    let nested = |t: &Tensor| wire::nest(&wire::to_json_data(&t.data), &t.shape);
    let predictions = match done.outputs.as_slice() {
        [one] => nested(one),
        many => Value::Object(many.iter().map(|t| (t.name.clone(), nested(t))).collect()),
    };
    Ok(Json(json!({ "predictions": predictions })))
}
