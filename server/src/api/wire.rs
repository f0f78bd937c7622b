//! MLflow's JSON for our domain types: proto3 JSON with snake_case names, int64 as
//! numbers, enums as strings, and empty fields left out.
//!
//! Runs and metrics, the bulk of every search and history reply, are written straight to
//! the output by borrowing views ([`RunOut`], [`MetricOut`]). They were built as trees of
//! `Value` maps first (an allocation and a sorted insert per field): on a page of 100 runs,
//! about 17% of aiops' `perf` samples went to building, writing and dropping those maps.

use aiops_core::artifacts::ArtifactEntry;
use aiops_core::tracking::{DatasetInput, Experiment, Metric, Run, RunInfo, RunInputs, RunOutputs};
use base64::Engine;
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};

/// A double as proto3 JSON writes it: NaN and the infinities as strings.
struct Double(f64);

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            v if v.is_nan() => s.serialize_str("NaN"),
            f64::INFINITY => s.serialize_str("Infinity"),
            f64::NEG_INFINITY => s.serialize_str("-Infinity"),
            v => s.serialize_f64(v),
        }
    }
}

/// Inserts `key: list` only when the list has items.
fn put_list(map: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    if !items.is_empty() {
        map.insert(key.into(), Value::Array(items));
    }
}

/// A param or tag: `value` left out when empty, as proto3 leaves out empty strings.
#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    value: &'a str,
}

fn key_values<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<Value> {
    pairs.map(|(key, value)| json!(KeyValue { key, value })).collect()
}

pub fn experiment(e: &Experiment) -> Value {
    let mut map = Map::new();
    map.insert("experiment_id".into(), json!(e.experiment_id));
    map.insert("name".into(), json!(e.name));
    if !e.artifact_location.is_empty() {
        map.insert("artifact_location".into(), json!(e.artifact_location));
    }
    map.insert("lifecycle_stage".into(), json!(e.lifecycle_stage.as_str()));
    map.insert("last_update_time".into(), json!(e.last_update_time));
    map.insert("creation_time".into(), json!(e.creation_time));
    put_list(
        &mut map,
        "tags",
        key_values(e.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    );
    Value::Object(map)
}

/// A run's info as MLflow writes it.
#[derive(Serialize)]
pub struct RunInfoOut<'a> {
    run_id: &'a str,
    run_uuid: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    run_name: &'a str,
    experiment_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: &'a str,
    lifecycle_stage: &'static str,
}

impl<'a> From<&'a RunInfo> for RunInfoOut<'a> {
    fn from(info: &'a RunInfo) -> Self {
        RunInfoOut {
            run_id: &info.run_id,
            run_uuid: &info.run_id,
            run_name: &info.run_name,
            experiment_id: &info.experiment_id,
            user_id: &info.user_id,
            status: info.status.as_str(),
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: &info.artifact_uri,
            lifecycle_stage: info.lifecycle_stage.as_str(),
        }
    }
}

pub fn run_info(info: &RunInfo) -> Value {
    json!(RunInfoOut::from(info))
}

/// A metric point as MLflow writes it; `run_id` only in bulk-interval replies.
#[derive(Serialize)]
pub struct MetricOut<'a> {
    key: &'a str,
    value: Double,
    timestamp: i64,
    step: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
}

impl<'a> MetricOut<'a> {
    pub fn new(m: &'a Metric, run_id: Option<&'a str>) -> Self {
        MetricOut {
            key: &m.key,
            value: Double(m.value),
            timestamp: m.timestamp,
            step: m.step,
            run_id,
        }
    }
}

/// Serializes points as a list of [`MetricOut`] (for `serialize_with`).
pub fn metrics<S: Serializer>(points: &[Metric], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(points.iter().map(|m| MetricOut::new(m, None)))
}

/// Serializes (run id, point) pairs as a list of [`MetricOut`] with `run_id` set.
pub fn run_metrics<S: Serializer>(points: &[(String, Metric)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(points.iter().map(|(run_id, m)| MetricOut::new(m, Some(run_id))))
}

/// A run as MLflow writes it.
pub struct RunOut<'a>(pub &'a Run);

impl Serialize for RunOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Data<'a> {
            #[serde(skip_serializing_if = "<[_]>::is_empty", serialize_with = "metrics")]
            metrics: &'a [Metric],
            #[serde(skip_serializing_if = "Vec::is_empty")]
            params: Vec<KeyValue<'a>>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            tags: Vec<KeyValue<'a>>,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            info: RunInfoOut<'a>,
            data: Data<'a>,
            inputs: Value,
            outputs: Value,
        }
        let r = self.0;
        Out {
            info: RunInfoOut::from(&r.info),
            data: Data {
                metrics: &r.metrics,
                params: r
                    .params
                    .iter()
                    .map(|p| KeyValue {
                        key: &p.key,
                        value: &p.value,
                    })
                    .collect(),
                tags: r
                    .tags
                    .iter()
                    .map(|t| KeyValue {
                        key: &t.key,
                        value: &t.value,
                    })
                    .collect(),
            },
            // Inputs and outputs are rare and small: their `Value` form serves.
            inputs: run_inputs(&r.inputs),
            outputs: run_outputs(&r.outputs),
        }
        .serialize(s)
    }
}

/// Serializes runs as a list of [`RunOut`] (for `serialize_with`).
pub fn runs<S: Serializer>(runs: &[Run], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(runs.iter().map(RunOut))
}

pub fn run(r: &Run) -> Value {
    json!(RunOut(r))
}

fn dataset_input(input: &DatasetInput) -> Value {
    let d = &input.dataset;
    let mut dataset = Map::new();
    dataset.insert("name".into(), json!(d.name));
    dataset.insert("digest".into(), json!(d.digest));
    dataset.insert("source_type".into(), json!(d.source_type));
    dataset.insert("source".into(), json!(d.source));
    if let Some(schema) = &d.schema {
        dataset.insert("schema".into(), json!(schema));
    }
    if let Some(profile) = &d.profile {
        dataset.insert("profile".into(), json!(profile));
    }
    let mut map = Map::new();
    put_list(
        &mut map,
        "tags",
        key_values(input.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    );
    map.insert("dataset".into(), Value::Object(dataset));
    Value::Object(map)
}

fn run_inputs(inputs: &RunInputs) -> Value {
    let mut map = Map::new();
    put_list(
        &mut map,
        "dataset_inputs",
        inputs.dataset_inputs.iter().map(dataset_input).collect(),
    );
    put_list(
        &mut map,
        "model_inputs",
        inputs
            .model_inputs
            .iter()
            .map(|id| json!({ "model_id": id }))
            .collect(),
    );
    Value::Object(map)
}

fn run_outputs(outputs: &RunOutputs) -> Value {
    let mut map = Map::new();
    put_list(
        &mut map,
        "model_outputs",
        outputs
            .model_outputs
            .iter()
            .map(|m| json!({ "model_id": m.model_id, "step": m.step }))
            .collect(),
    );
    Value::Object(map)
}

/// A file entry with `path` made relative to `base` (a directory path, "" for the root).
pub fn file_info(entry: &ArtifactEntry, base: &str) -> Value {
    let path = if base.is_empty() {
        entry.path.as_str()
    } else {
        entry
            .path
            .strip_prefix(base)
            .map(|p| p.trim_start_matches('/'))
            .unwrap_or(&entry.path)
    };
    let mut map = Map::new();
    map.insert("path".into(), json!(path));
    map.insert("is_dir".into(), json!(entry.is_dir));
    if let Some(size) = entry.file_size {
        map.insert("file_size".into(), json!(size));
    }
    Value::Object(map)
}

/// MLflow's page token: base64 of `{"offset": N}`. Opaque to clients.
pub fn page_token(offset: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(json!({ "offset": offset }).to_string())
}

/// `{"<key>": [items], "next_page_token": …}`: a page of an offset-paged list, with the
/// token only when more follow.
pub fn paged(key: &str, items: Vec<Value>, has_more: bool, next_offset: i64) -> Value {
    let mut body = serde_json::Map::new();
    body.insert(key.into(), Value::Array(items));
    if has_more {
        body.insert("next_page_token".into(), json!(page_token(next_offset)));
    }
    Value::Object(body)
}

/// A runs search's next page: the offset (what MLflow's tokens hold), and in the default
/// order also the last row's `(start_time, run_id)`, so the next page starts there by
/// keyset and costs the same at any depth.
pub fn run_page_token(offset: i64, after: Option<(i64, &str)>) -> String {
    let body = match after {
        Some((start_time, run_id)) => json!({ "offset": offset, "after": [start_time, run_id] }),
        None => json!({ "offset": offset }),
    };
    base64::engine::general_purpose::STANDARD.encode(body.to_string())
}

/// The keyset cursor a [`run_page_token`] carries, if any (a token without one, or from
/// MLflow itself, pages by offset).
pub fn parse_run_page_cursor(token: Option<&str>) -> ApiResult<Option<(i64, String)>> {
    let Some((after, bad)) = token_cursor(token)? else {
        return Ok(None);
    };
    match after.as_slice() {
        [Value::Number(t), Value::String(id)] => Ok(Some((t.as_i64().ok_or_else(bad)?, id.clone()))),
        _ => Err(bad()),
    }
}

/// A metric history's next page: the offset, and the last point sent (step, timestamp and
/// the value's bits, so it compares exactly), where the next page starts by keyset.
pub fn history_page_token(offset: i64, last: &aiops_core::tracking::Metric) -> String {
    let after = json!([last.step, last.timestamp, last.value.to_bits().to_string()]);
    base64::engine::general_purpose::STANDARD.encode(json!({ "offset": offset, "after": after }).to_string())
}

/// The point a [`history_page_token`] carries, as a metric of `key`, if any.
pub fn parse_history_cursor(
    token: Option<&str>,
    key: &str,
) -> ApiResult<Option<aiops_core::tracking::Metric>> {
    let Some((after, bad)) = token_cursor(token)? else {
        return Ok(None);
    };
    match after.as_slice() {
        [Value::Number(step), Value::Number(timestamp), Value::String(bits)] => {
            Ok(Some(aiops_core::tracking::Metric {
                key: key.to_string(),
                value: f64::from_bits(bits.parse().map_err(|_| bad())?),
                timestamp: timestamp.as_i64().ok_or_else(&bad)?,
                step: step.as_i64().ok_or_else(&bad)?,
            }))
        }
        _ => Err(bad()),
    }
}

/// A page token's `after` array (none without a token or without one in it), with the
/// error a malformed token gets.
#[allow(clippy::type_complexity)]
fn token_cursor(token: Option<&str>) -> ApiResult<Option<(Vec<Value>, impl Fn() -> ApiError + '_)>> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bad = move || ApiError::invalid(format!("Invalid page token '{token}'"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match value.get("after") {
        None => Ok(None),
        Some(Value::Array(after)) => Ok(Some((after.clone(), bad))),
        Some(_) => Err(bad()),
    }
}

pub fn parse_page_token(token: Option<&str>) -> ApiResult<i64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || ApiError::invalid(format!("Invalid page token '{token}'"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    value
        .get("offset")
        .and_then(Value::as_i64)
        .filter(|o| (0..=MAX_PAGE_OFFSET).contains(o))
        .ok_or_else(bad)
}

/// Largest offset a page token may hold: far past any store, and small enough that the
/// next page's offset (this one plus a page) cannot overflow.
pub const MAX_PAGE_OFFSET: i64 = 1 << 53;

pub fn logged_model(m: &aiops_core::tracking::LoggedModel) -> Value {
    let mut info = Map::new();
    info.insert("model_id".into(), json!(m.model_id));
    info.insert("experiment_id".into(), json!(m.experiment_id));
    info.insert("name".into(), json!(m.name));
    info.insert("creation_timestamp_ms".into(), json!(m.creation_timestamp_ms));
    info.insert(
        "last_updated_timestamp_ms".into(),
        json!(m.last_updated_timestamp_ms),
    );
    info.insert("artifact_uri".into(), json!(m.artifact_uri));
    info.insert("status".into(), json!(m.status));
    if !m.model_type.is_empty() {
        info.insert("model_type".into(), json!(m.model_type));
    }
    if !m.source_run_id.is_empty() {
        info.insert("source_run_id".into(), json!(m.source_run_id));
    }
    put_list(
        &mut info,
        "tags",
        key_values(m.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    );
    let mut data = Map::new();
    put_list(
        &mut data,
        "params",
        key_values(m.params.iter().map(|p| (p.key.as_str(), p.value.as_str()))),
    );
    json!({ "info": info, "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_page_tokens_carry_a_cursor() {
        let token = run_page_token(200, Some((1_700_000_000_000, "abc")));
        assert_eq!(parse_page_token(Some(&token)).unwrap(), 200);
        assert_eq!(
            parse_run_page_cursor(Some(&token)).unwrap(),
            Some((1_700_000_000_000, "abc".to_string()))
        );
        assert_eq!(parse_run_page_cursor(Some(&page_token(5))).unwrap(), None);
        let bad = base64::engine::general_purpose::STANDARD.encode("{\"offset\": 1, \"after\": [\"x\", 1]}");
        assert!(parse_run_page_cursor(Some(&bad)).is_err());
    }

    #[test]
    fn page_offsets_are_bounded() {
        let at = |o: i64| base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {o}}}"));
        assert_eq!(
            parse_page_token(Some(&at(MAX_PAGE_OFFSET))).unwrap(),
            MAX_PAGE_OFFSET
        );
        assert!(parse_page_token(Some(&at(MAX_PAGE_OFFSET + 1))).is_err());
        assert!(parse_page_token(Some(&at(i64::MAX))).is_err());
    }

    #[test]
    fn page_tokens_round_trip() {
        assert_eq!(parse_page_token(Some(&page_token(1500))).unwrap(), 1500);
        assert_eq!(parse_page_token(None).unwrap(), 0);
        assert!(parse_page_token(Some("not base64!")).is_err());
        assert!(parse_page_token(Some(
            &base64::engine::general_purpose::STANDARD.encode("{\"offset\": -1}")
        ))
        .is_err());
    }

    #[test]
    fn doubles_follow_proto3_json() {
        assert_eq!(json!(Double(f64::NAN)), json!("NaN"));
        assert_eq!(json!(Double(f64::INFINITY)), json!("Infinity"));
        assert_eq!(json!(Double(f64::NEG_INFINITY)), json!("-Infinity"));
        assert_eq!(json!(Double(0.5)), json!(0.5));
    }
}
