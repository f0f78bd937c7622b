//! The Open Inference Protocol v2 over REST, as Triton and KServe serve it: server and
//! model metadata, health, readiness, and `infer` with JSON tensors (flat or nested) and
//! Triton's binary tensor extension (`Inference-Header-Content-Length`, `binary_data_size`,
//! `binary_data_output`), which `tritonclient[http]` uses by default. Errors are
//! `{"error": "..."}`: 400 for a bad tensor, 404 for an unknown model or version, 503 when
//! not ready or overloaded.

use aiops_core::service::AppState;
use aiops_core::serving::{DataType, Loaded, PredictError, Tensor, TensorData, TensorSpec};
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

impl From<PredictError> for V2Error {
    fn from(e: PredictError) -> Self {
        match e {
            PredictError::BadInput(m) => V2Error::bad(m),
            PredictError::Busy => V2Error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            other => {
                tracing::error!(error = %other, "inference failed");
                V2Error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("inference failed: {other}"),
                )
            }
        }
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type V2Result<T> = Result<T, V2Error>;

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
    let loaded = state.model_for_inference(&actor, &name, None)?;
    Ok(Json(metadata(&name, &loaded)))
}

pub async fn version_metadata(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<Json<Value>> {
    let loaded = state.model_for_inference(&actor, &name, version_of(Some(&version))?)?;
    Ok(Json(metadata(&name, &loaded)))
}

pub async fn model_ready(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> V2Result<StatusCode> {
    state.model_for_inference(&actor, &name, None)?;
    Ok(StatusCode::OK)
}

pub async fn version_ready(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<StatusCode> {
    state.model_for_inference(&actor, &name, version_of(Some(&version))?)?;
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
    let loaded = state.model_for_inference(&actor, &name, version)?;
    let started = std::time::Instant::now();
    let parsed = split_body(&headers, &body).and_then(|(request, binary)| {
        let inputs = read_inputs(&request, binary)?;
        let requested = read_outputs(&request)?;
        Ok((request, inputs, requested))
    });
    let (request, inputs, requested) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            crate::metrics::record_inference(&name, loaded.version, Err(()), started.elapsed());
            return Err(e);
        }
    };
    let outputs = timed(
        &name,
        &loaded,
        inputs,
        requested.iter().map(|(n, _)| n.clone()).collect(),
        started,
    )
    .await?;
    let all_binary = request
        .get("parameters")
        .and_then(|p| p.get("binary_data_output"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    let outputs_json: Vec<Value> = outputs
        .iter()
        .map(|t| {
            let binary = all_binary || requested.iter().any(|(n, b)| n == &t.name && *b);
            let mut out = json!({ "name": t.name, "datatype": t.data.datatype().name(), "shape": t.shape });
            if binary {
                let blob = to_binary(&t.data);
                out["parameters"] = json!({ "binary_data_size": blob.len() });
                blobs.push(blob);
            } else {
                out["data"] = to_json_data(&t.data);
            }
            out
        })
        .collect();
    let mut reply = json!({
        "model_name": name,
        "model_version": loaded.version.to_string(),
        "outputs": outputs_json,
    });
    if let Some(id) = request.get("id") {
        reply["id"] = id.clone();
    }
    let head = reply.to_string();
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

/// Runs a request and counts it (Triton's metrics) whatever the outcome.
async fn timed(
    name: &str,
    loaded: &Loaded,
    inputs: Vec<Tensor>,
    requested: Vec<String>,
    started: std::time::Instant,
) -> Result<Vec<Tensor>, PredictError> {
    let rows = inputs
        .first()
        .and_then(|t| t.shape.first())
        .map(|d| u64::try_from(*d).unwrap_or(0))
        .unwrap_or(1);
    let result = loaded.model.infer_timed(inputs, requested).await;
    let outcome = match &result {
        Ok((_, timing)) => Ok((rows, timing.queue, timing.compute)),
        Err(_) => Err(()),
    };
    crate::metrics::record_inference(name, loaded.version, outcome, started.elapsed());
    result.map(|(outputs, _)| outputs)
}

/// The JSON part of the body and the binary part after it (empty without the header).
fn split_body<'b>(headers: &HeaderMap, body: &'b [u8]) -> V2Result<(Map<String, Value>, &'b [u8])> {
    let json_len = match headers.get(HEADER_LENGTH) {
        None => body.len(),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n <= body.len())
            .ok_or_else(|| V2Error::bad("Inference-Header-Content-Length is not a length within the body"))?,
    };
    let (head, rest) = body.split_at(json_len);
    match serde_json::from_slice::<Value>(head) {
        Ok(Value::Object(map)) => Ok((map, rest)),
        Ok(_) => Err(V2Error::bad("the request must be a JSON object")),
        Err(e) => Err(V2Error::bad(format!("the request is not valid JSON: {e}"))),
    }
}

/// (name, binary) of each requested output; none means every output, as JSON.
fn read_outputs(request: &Map<String, Value>) -> V2Result<Vec<(String, bool)>> {
    let Some(list) = request.get("outputs") else {
        return Ok(Vec::new());
    };
    let items = list
        .as_array()
        .ok_or_else(|| V2Error::bad("'outputs' must be a list"))?;
    let mut out = Vec::new();
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| V2Error::bad("each requested output needs a 'name'"))?;
        let binary = item
            .get("parameters")
            .and_then(|p| p.get("binary_data"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out.push((name.to_string(), binary));
    }
    Ok(out)
}

fn read_inputs(request: &Map<String, Value>, mut binary: &[u8]) -> V2Result<Vec<Tensor>> {
    let items = request
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| V2Error::bad("the request needs an 'inputs' list"))?;
    let mut tensors = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| V2Error::bad("each input needs a 'name'"))?;
        let bad = |why: String| V2Error::bad(format!("input '{name}': {why}"));
        let datatype_text = item
            .get("datatype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("needs a 'datatype'".into()))?;
        let datatype = DataType::parse(datatype_text)
            .ok_or_else(|| bad(format!("unknown datatype '{datatype_text}'")))?;
        let shape: Vec<i64> = item
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("needs a 'shape' list".into()))?
            .iter()
            .map(|d| d.as_i64().filter(|d| *d >= 0))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("the shape must be non-negative integers".into()))?;
        let count = Tensor::element_count(&shape).ok_or_else(|| bad("the shape is too large".into()))?;
        let binary_size = item
            .get("parameters")
            .and_then(|p| p.get("binary_data_size"))
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| bad("binary_data_size must be a byte count".into()))
            })
            .transpose()?;
        let data = match binary_size {
            Some(size) => {
                let size = usize::try_from(size).map_err(|_| bad("binary_data_size too large".into()))?;
                if size > binary.len() {
                    return Err(bad(format!(
                        "binary_data_size {size} is past the end of the body"
                    )));
                }
                let (blob, rest) = binary.split_at(size);
                binary = rest;
                from_binary(datatype, blob, count).map_err(bad)?
            }
            None => {
                let data = item
                    .get("data")
                    .ok_or_else(|| bad("needs 'data' (or binary_data_size)".into()))?;
                let mut flat = Vec::new();
                flatten(data, &mut flat);
                from_json(datatype, &flat).map_err(bad)?
            }
        };
        tensors.push(Tensor {
            name: name.to_string(),
            shape,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(V2Error::bad(format!(
            "{} bytes of binary data follow the inputs that no input claims",
            binary.len()
        )));
    }
    Ok(tensors)
}

fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other),
    }
}

fn from_json(datatype: DataType, values: &[&Value]) -> Result<TensorData, String> {
    fn ints<T: TryFrom<i64>>(values: &[&Value], name: &str) -> Result<Vec<T>, String> {
        values
            .iter()
            .map(|v| {
                v.as_i64()
                    .and_then(|i| T::try_from(i).ok())
                    .ok_or_else(|| format!("{v} is not a {name} value"))
            })
            .collect()
    }
    fn uints<T: TryFrom<u64>>(values: &[&Value], name: &str) -> Result<Vec<T>, String> {
        values
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|i| T::try_from(i).ok())
                    .ok_or_else(|| format!("{v} is not a {name} value"))
            })
            .collect()
    }
    let floats = || -> Result<Vec<f64>, String> {
        values
            .iter()
            .map(|v| v.as_f64().ok_or_else(|| format!("{v} is not a number")))
            .collect()
    };
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(
            values
                .iter()
                .map(|v| v.as_bool().ok_or_else(|| format!("{v} is not true or false")))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Uint8 => TensorData::Uint8(uints(values, "UINT8")?),
        DataType::Uint16 => TensorData::Uint16(uints(values, "UINT16")?),
        DataType::Uint32 => TensorData::Uint32(uints(values, "UINT32")?),
        DataType::Uint64 => TensorData::Uint64(uints(values, "UINT64")?),
        DataType::Int8 => TensorData::Int8(ints(values, "INT8")?),
        DataType::Int16 => TensorData::Int16(ints(values, "INT16")?),
        DataType::Int32 => TensorData::Int32(ints(values, "INT32")?),
        DataType::Int64 => TensorData::Int64(ints(values, "INT64")?),
        DataType::Fp16 => TensorData::Fp16(floats()?.into_iter().map(half::f16::from_f64).collect()),
        DataType::Fp32 => TensorData::Fp32(floats()?.into_iter().map(|f| f as f32).collect()),
        DataType::Fp64 => TensorData::Fp64(floats()?),
        DataType::Bytes => TensorData::Bytes(
            values
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(|s| s.as_bytes().to_vec())
                        .ok_or_else(|| format!("{v} is not a string"))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn to_json_data(data: &TensorData) -> Value {
    match data {
        TensorData::Bool(v) => json!(v),
        TensorData::Uint8(v) => json!(v),
        TensorData::Uint16(v) => json!(v),
        TensorData::Uint32(v) => json!(v),
        TensorData::Uint64(v) => json!(v),
        TensorData::Int8(v) => json!(v),
        TensorData::Int16(v) => json!(v),
        TensorData::Int32(v) => json!(v),
        TensorData::Int64(v) => json!(v),
        TensorData::Fp16(v) => json!(v.iter().map(|x| x.to_f64()).collect::<Vec<_>>()),
        TensorData::Fp32(v) => json!(v),
        TensorData::Fp64(v) => json!(v),
        TensorData::Bytes(v) => json!(v
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()),
    }
}

/// Little-endian elements; BYTES as a 4-byte length and the bytes, each.
fn to_binary(data: &TensorData) -> Vec<u8> {
    macro_rules! le {
        ($v:expr) => {
            $v.iter().flat_map(|x| x.to_le_bytes()).collect()
        };
    }
    match data {
        TensorData::Bool(v) => v.iter().map(|b| u8::from(*b)).collect(),
        TensorData::Uint8(v) => v.clone(),
        TensorData::Uint16(v) => le!(v),
        TensorData::Uint32(v) => le!(v),
        TensorData::Uint64(v) => le!(v),
        TensorData::Int8(v) => le!(v),
        TensorData::Int16(v) => le!(v),
        TensorData::Int32(v) => le!(v),
        TensorData::Int64(v) => le!(v),
        TensorData::Fp16(v) => le!(v),
        TensorData::Fp32(v) => le!(v),
        TensorData::Fp64(v) => le!(v),
        TensorData::Bytes(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend_from_slice(&(item.len() as u32).to_le_bytes());
                out.extend_from_slice(item);
            }
            out
        }
    }
}

fn from_binary(datatype: DataType, blob: &[u8], count: usize) -> Result<TensorData, String> {
    let Some(size) = datatype.size() else {
        let mut items = Vec::new();
        let mut rest = blob;
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or("BYTES data ends inside an element's length")?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > tail.len() {
                return Err("BYTES data ends inside an element".into());
            }
            items.push(tail[..len].to_vec());
            rest = &tail[len..];
        }
        return Ok(TensorData::Bytes(items));
    };
    if count.checked_mul(size) != Some(blob.len()) {
        return Err(format!(
            "{} bytes of binary data for {count} {} values ({} bytes)",
            blob.len(),
            datatype.name(),
            count.saturating_mul(size)
        ));
    }
    macro_rules! le {
        ($t:ty, $variant:ident) => {
            TensorData::$variant(
                blob.chunks_exact(size)
                    .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect(),
            )
        };
    }
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(blob.iter().map(|b| *b != 0).collect()),
        DataType::Uint8 => TensorData::Uint8(blob.to_vec()),
        DataType::Uint16 => le!(u16, Uint16),
        DataType::Uint32 => le!(u32, Uint32),
        DataType::Uint64 => le!(u64, Uint64),
        DataType::Int8 => le!(i8, Int8),
        DataType::Int16 => le!(i16, Int16),
        DataType::Int32 => le!(i32, Int32),
        DataType::Int64 => le!(i64, Int64),
        DataType::Fp16 => le!(half::f16, Fp16),
        DataType::Fp32 => le!(f32, Fp32),
        DataType::Fp64 => le!(f64, Fp64),
        DataType::Bytes => TensorData::Bytes(Vec::new()),
    })
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
    use super::error::ApiError;
    let loaded = state.model_for_inference(&actor, &name, None)?;
    let request: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(ApiError::bad_request(
                "The body must be a JSON object in MLflow's scoring format",
            ))
        }
    };
    let specs = loaded.model.inputs();
    let inputs = scoring_inputs(&request, specs).map_err(ApiError::bad_request)?;
    let started = std::time::Instant::now();
    let outputs = timed(&name, &loaded, inputs, Vec::new(), started)
        .await
        .map_err(|e| match e {
            PredictError::BadInput(m) => ApiError::bad_request(m),
            PredictError::Busy => ApiError::unavailable(),
            other => {
                tracing::error!(error = %other, "inference failed");
                ApiError::internal()
            }
        })?;
    let nested = |t: &Tensor| nest(&to_json_data(&t.data), &t.shape);
    let predictions = match outputs.as_slice() {
        [one] => nested(one),
        many => Value::Object(many.iter().map(|t| (t.name.clone(), nested(t))).collect()),
    };
    Ok(Json(json!({ "predictions": predictions })))
}

/// A flat JSON list shaped as `shape` (rows of a matrix, and so on).
fn nest(flat: &Value, shape: &[i64]) -> Value {
    let Some(items) = flat.as_array() else {
        return flat.clone();
    };
    if shape.len() <= 1 {
        return flat.clone();
    }
    let inner: usize = shape[1..]
        .iter()
        .map(|d| usize::try_from(*d).unwrap_or(0))
        .product();
    if inner == 0 {
        return json!([]);
    }
    Value::Array(
        items
            .chunks(inner)
            .map(|chunk| nest(&Value::Array(chunk.to_vec()), &shape[1..]))
            .collect(),
    )
}

/// Tensors from a scoring request. One input of shape [-1, F] takes rows of F values; a
/// model with several inputs takes one column per input, by name.
fn scoring_inputs(request: &Map<String, Value>, specs: &[TensorSpec]) -> Result<Vec<Tensor>, String> {
    let keys: Vec<&str> = request.keys().map(String::as_str).collect();
    let (columns, rows): (Option<Vec<String>>, Vec<Value>) = match keys.as_slice() {
        ["dataframe_split"] => {
            let split = &request["dataframe_split"];
            let columns = split
                .get("columns")
                .and_then(Value::as_array)
                .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
            let data = split
                .get("data")
                .and_then(Value::as_array)
                .ok_or("dataframe_split needs 'data', a list of rows")?;
            (columns, data.clone())
        }
        ["dataframe_records"] => {
            let records = request["dataframe_records"]
                .as_array()
                .ok_or("dataframe_records must be a list of objects")?;
            if specs.len() < 2 {
                return Err(
                    "dataframe_records needs a model with one input per column; use dataframe_split for this model"
                        .into(),
                );
            }
            let columns: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
            let rows = records
                .iter()
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| r.get(c).cloned().ok_or_else(|| format!("a record has no '{c}'")))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Value::Array)
                })
                .collect::<Result<Vec<_>, _>>()?;
            (Some(columns), rows)
        }
        ["instances"] | ["inputs"] => {
            let value = &request[keys[0]];
            if let Some(named) = value.as_object() {
                // {"inputs": {"X": [[…]], …}}: tensors by name.
                return specs
                    .iter()
                    .map(|spec| {
                        let given = named
                            .get(&spec.name)
                            .ok_or_else(|| format!("missing input '{}'", spec.name))?;
                        tensor_from_nested(&spec.name, spec.datatype, given)
                    })
                    .collect();
            }
            let rows = value
                .as_array()
                .ok_or("instances/inputs must be a list of rows")?;
            (None, rows.clone())
        }
        _ => {
            return Err(
                "The body must have exactly one of dataframe_split, dataframe_records, instances or inputs"
                    .into(),
            )
        }
    };
    match specs {
        [spec] => {
            let n = rows.len() as i64;
            let mut flat = Vec::new();
            for row in &rows {
                flatten(row, &mut flat);
            }
            let width = if n > 0 { flat.len() as i64 / n } else { 0 };
            let shape = if spec.shape.len() == 1 {
                vec![n]
            } else {
                vec![n, width]
            };
            Ok(vec![Tensor {
                name: spec.name.clone(),
                shape,
                data: from_json(spec.datatype, &flat)?,
            }])
        }
        many => {
            let columns =
                columns.ok_or("this model takes named columns: use dataframe_split with 'columns'")?;
            many.iter()
                .map(|spec| {
                    let i = columns
                        .iter()
                        .position(|c| c == &spec.name)
                        .ok_or_else(|| format!("missing column '{}'", spec.name))?;
                    let values = rows
                        .iter()
                        .map(|r| {
                            r.get(i)
                                .ok_or_else(|| format!("a row has no value for '{}'", spec.name))
                        })
                        .collect::<Result<Vec<&Value>, String>>()?;
                    Ok(Tensor {
                        name: spec.name.clone(),
                        shape: vec![values.len() as i64, 1],
                        data: from_json(spec.datatype, &values)?,
                    })
                })
                .collect()
        }
    }
}

fn tensor_from_nested(name: &str, datatype: DataType, value: &Value) -> Result<Tensor, String> {
    let mut shape = Vec::new();
    let mut probe = value;
    while let Some(items) = probe.as_array() {
        shape.push(items.len() as i64);
        match items.first() {
            Some(first) => probe = first,
            None => break,
        }
    }
    let mut flat = Vec::new();
    flatten(value, &mut flat);
    Ok(Tensor {
        name: name.to_string(),
        shape,
        data: from_json(datatype, &flat)?,
    })
}
