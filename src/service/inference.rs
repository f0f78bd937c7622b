//! The inference page's operations: a served deployment's signature with form fields and
//! an example row, and a test call from a table (the form, a CSV upload) or a request in
//! the Open Inference Protocol's JSON. Both go through [`AppState::infer`], as the REST API
//! does, so they are checked and counted the same way.

use serde_json::{Map, Value};

use super::AppState;
use crate::artifacts::{read_head, ArtifactPath};
use crate::auth::{Access, Actor};
use crate::deployments::{csv_line, InferenceOutcome, InferenceOutput, InferenceTarget, SignatureTensor};
use crate::serving::{wire, TensorData, TensorSpec};
use crate::{CoreError, CoreResult};

/// MLflow's example file, next to MLmodel.
const EXAMPLE_FILE: &str = "input_example.json";
const EXAMPLE_CAP: usize = 256 * 1024;

fn signature(specs: &[TensorSpec]) -> Vec<SignatureTensor> {
    specs
        .iter()
        .map(|s| SignatureTensor {
            name: s.name.clone(),
            datatype: s.datatype.name().to_string(),
            shape: s.shape.clone(),
        })
        .collect()
}

/// Column names and the first row of an `input_example.json` in any of MLflow's forms:
/// pandas split (`{"columns", "data"}`, also under `dataframe_split`), records, or
/// `{"inputs": [[…]]}` / a list of rows.
fn example_row(example: &Value) -> (Vec<String>, Vec<Value>) {
    let split = example.get("dataframe_split").unwrap_or(example);
    if let (Some(columns), Some(data)) = (split.get("columns"), split.get("data")) {
        let columns = columns
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let first = data.get(0).and_then(Value::as_array).cloned().unwrap_or_default();
        return (columns, first);
    }
    let rows = example
        .get("inputs")
        .or(example.get("instances"))
        .unwrap_or(example);
    match rows.get(0) {
        Some(Value::Object(record)) => (
            record.keys().cloned().collect(),
            record.values().cloned().collect(),
        ),
        Some(Value::Array(row)) => (Vec::new(), row.clone()),
        _ => (Vec::new(), Vec::new()),
    }
}

/// A starting value for a field of `spec`'s type.
fn zero(spec: &TensorSpec) -> String {
    match spec.datatype {
        crate::serving::DataType::Bytes => "text".into(),
        crate::serving::DataType::Bool => "false".into(),
        _ => "0".into(),
    }
}

/// The example row as a request in the protocol's JSON (empty when it does not read).
fn example_request(inputs: &[TensorSpec], row: &[String]) -> String {
    let csv = format!("{}\n", csv_line(row));
    let Ok(tensors) = wire::csv_inputs(&csv, inputs) else {
        return String::new();
    };
    let items: Vec<Value> = tensors
        .iter()
        .map(|t| {
            serde_json::json!({
                "name": t.name, "datatype": t.data.datatype().name(), "shape": t.shape,
                "data": wire::to_json_data(&t.data),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "inputs": items })).unwrap_or_default()
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn output_view(name: &str, shape: &[i64], data: &TensorData) -> InferenceOutput {
    let json = wire::to_json_data(data);
    let items = json.as_array().cloned().unwrap_or_default();
    InferenceOutput {
        name: name.to_string(),
        datatype: data.datatype().name().to_string(),
        shape: shape.to_vec(),
        values: items.iter().map(cell_text).collect(),
        numbers: if matches!(data, TensorData::Bytes(_)) {
            Vec::new()
        } else {
            items.iter().filter_map(Value::as_f64).collect()
        },
    }
}

impl AppState {
    /// The deployment's signature, with one form field per feature and the version's
    /// example row when it has one that fits.
    pub async fn inference_target(&self, actor: &Actor, name: &str) -> CoreResult<InferenceTarget> {
        self.require(actor, None, Access::Read, || "deployments".to_string())?;
        let loaded = self.served(name, None)?;
        let inputs = loaded.model.inputs();
        let mut fields: Vec<String> = match inputs {
            [one] if one.shape.len() == 2 && one.shape[1] > 0 => {
                (0..one.shape[1]).map(|i| format!("{}[{i}]", one.name)).collect()
            }
            many => many.iter().map(|s| s.name.clone()).collect(),
        };
        let mut example = Vec::new();
        if let Ok((columns, row)) = self.example(actor, &loaded.model_name, loaded.version).await {
            if row.len() == fields.len() {
                example = row.iter().map(cell_text).collect();
                if columns.len() == fields.len() && inputs.len() == 1 {
                    fields = columns;
                }
            }
        }
        let has_example = !example.is_empty();
        if !has_example {
            example = match inputs {
                [one] => vec![zero(one); fields.len()],
                many => many.iter().map(zero).collect(),
            };
        }
        let example_request = example_request(inputs, &example);
        Ok(InferenceTarget {
            deployment: name.to_string(),
            model_name: loaded.model_name.clone(),
            version: loaded.version,
            inputs: signature(inputs),
            outputs: signature(loaded.model.outputs()),
            fields,
            example,
            has_example,
            example_request,
        })
    }

    /// The version's example row (columns and values), if it has `input_example.json`.
    async fn example(
        &self,
        actor: &Actor,
        model: &str,
        version: i64,
    ) -> CoreResult<(Vec<String>, Vec<Value>)> {
        let super::VersionFiles { entries, .. } = self
            .list_version_files(actor, model, version, &ArtifactPath::root())
            .await?;
        let file = entries
            .iter()
            .find(|e| !e.is_dir && e.path.rsplit('/').next() == Some(EXAMPLE_FILE))
            .ok_or_else(|| CoreError::NotFound("no example".into()))?;
        let stream = self.artifacts.get(&ArtifactPath::parse_file(&file.path)?).await?;
        let bytes = read_head(stream, EXAMPLE_CAP).await?;
        let example: Value = serde_json::from_slice(&bytes)
            .map_err(|e| CoreError::InvalidParameter(format!("{EXAMPLE_FILE}: {e}")))?;
        Ok(example_row(&example))
    }

    /// A test call from the inference page: `json` (a request in the protocol's JSON) when
    /// given, else `csv` (the form's row, or an uploaded table).
    pub async fn test_inference(
        &self,
        actor: &Actor,
        name: &str,
        csv: &str,
        json: &str,
    ) -> CoreResult<InferenceOutcome> {
        let done = self
            .infer(actor, name, None, |loaded| {
                if json.trim().is_empty() {
                    return Ok((wire::csv_inputs(csv, loaded.model.inputs())?, Vec::new()));
                }
                let request: Map<String, Value> = match serde_json::from_str(json) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => return Err("the request must be a JSON object".into()),
                    Err(e) => return Err(format!("the request is not valid JSON: {e}")),
                };
                let inputs = wire::read_inputs(&request, &[])?;
                let outputs = wire::read_outputs(&request)?;
                Ok((inputs, outputs.into_iter().map(|(n, _)| n).collect()))
            })
            .await?;
        let micros = |d: std::time::Duration| d.as_secs_f64() * 1e6;
        Ok(InferenceOutcome {
            version: done.loaded.version,
            outputs: done
                .outputs
                .iter()
                .map(|t| output_view(&t.name, &t.shape, &t.data))
                .collect(),
            latency_us: micros(done.total),
            compute_us: micros(done.timing.compute),
            queue_us: micros(done.timing.queue),
        })
    }
}
