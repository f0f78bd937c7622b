//! The predictor against Python's onnxruntime: each fixture model (made by
//! `fixtures/make_fixtures.py` with scikit-learn and skl2onnx) must give exactly the
//! outputs Python recorded, read its signature from the graph, refuse bad requests before
//! ONNX Runtime sees them, and answer Busy at once when its queue is full.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use aiops_predictor::{DataType, Model, ModelConfig, PredictError, Tensor, TensorData};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// ONNX Runtime from ORT_DYLIB_PATH; a missing library fails the test (scripts/test.sh sets it).
fn runtime() {
    let path = std::env::var("ORT_DYLIB_PATH")
        .expect("ORT_DYLIB_PATH is not set: run via scripts/test.sh (it fetches onnxruntime 1.32.0)");
    aiops_predictor::init(std::path::Path::new(&path)).unwrap();
}

fn load(name: &str, config: ModelConfig) -> (Model, Value) {
    runtime();
    let bytes = std::fs::read(fixtures().join(format!("{name}.onnx"))).unwrap();
    let reference: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join(format!("{name}.json"))).unwrap()).unwrap();
    (Model::load(&bytes, config).unwrap(), reference)
}

fn data_of(datatype: DataType, values: &[Value]) -> TensorData {
    let f = |v: &Value| v.as_f64().unwrap();
    let i = |v: &Value| v.as_i64().unwrap();
    match datatype {
        DataType::Fp32 => TensorData::Fp32(values.iter().map(|v| f(v) as f32).collect()),
        DataType::Fp64 => TensorData::Fp64(values.iter().map(f).collect()),
        DataType::Int64 => TensorData::Int64(values.iter().map(i).collect()),
        DataType::Bytes => TensorData::Bytes(
            values
                .iter()
                .map(|v| v.as_str().unwrap().as_bytes().to_vec())
                .collect(),
        ),
        other => panic!("no fixture uses {other:?}"),
    }
}

fn inputs_of(model: &Model, reference: &Value) -> Vec<Tensor> {
    model
        .inputs()
        .iter()
        .map(|spec| {
            let given = &reference["inputs"][&spec.name];
            Tensor {
                name: spec.name.clone(),
                shape: given["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_i64().unwrap())
                    .collect(),
                data: data_of(spec.datatype, given["data"].as_array().unwrap()),
            }
        })
        .collect()
}

fn assert_matches(outputs: &[Tensor], reference: &Value) {
    let expected = reference["outputs"].as_object().unwrap();
    assert_eq!(outputs.len(), expected.len());
    for out in outputs {
        let want = &expected[&out.name];
        let shape: Vec<i64> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap())
            .collect();
        assert_eq!(out.shape, shape, "{}", out.name);
        let values = want["data"].as_array().unwrap();
        match &out.data {
            // Python's float32 values went through f64 in JSON: compare as f32, bit for bit.
            TensorData::Fp32(v) => {
                let want: Vec<f32> = values.iter().map(|x| x.as_f64().unwrap() as f32).collect();
                assert_eq!(v, &want, "{}", out.name);
            }
            TensorData::Fp64(v) => {
                let want: Vec<f64> = values.iter().map(|x| x.as_f64().unwrap()).collect();
                assert_eq!(v, &want, "{}", out.name);
            }
            TensorData::Int64(v) => {
                let want: Vec<i64> = values.iter().map(|x| x.as_i64().unwrap()).collect();
                assert_eq!(v, &want, "{}", out.name);
            }
            other => panic!("unexpected output type {other:?}"),
        }
    }
}

#[tokio::test]
async fn every_fixture_matches_python_onnxruntime() {
    for name in ["iris_logreg", "iris_forest", "diabetes_linear", "mixed_inputs"] {
        let (model, reference) = load(name, ModelConfig::default());
        let outputs = model
            .infer(inputs_of(&model, &reference), Vec::new())
            .await
            .unwrap();
        assert_matches(&outputs, &reference);
    }
}

#[tokio::test]
async fn the_signature_comes_from_the_graph() {
    let (model, _) = load("iris_logreg", ModelConfig::default());
    let input = &model.inputs()[0];
    assert_eq!(
        (input.name.as_str(), input.datatype, input.shape.clone()),
        ("X", DataType::Fp32, vec![-1, 4])
    );
    let names: Vec<&str> = model.outputs().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["label", "probabilities"]);
    assert_eq!(model.outputs()[0].datatype, DataType::Int64);
    let (mixed, _) = load("mixed_inputs", ModelConfig::default());
    let types: Vec<DataType> = mixed.inputs().iter().map(|i| i.datatype).collect();
    assert_eq!(types, [DataType::Int64, DataType::Bytes]);
}

#[tokio::test]
async fn bad_requests_are_refused_before_onnx_runtime() {
    let (model, reference) = load("iris_logreg", ModelConfig::default());
    let good = inputs_of(&model, &reference);
    let with = |f: &dyn Fn(&mut Tensor)| {
        let mut t = good.clone();
        f(&mut t[0]);
        t
    };
    let cases: Vec<(Vec<Tensor>, Vec<String>, &str)> = vec![
        (Vec::new(), Vec::new(), "missing input 'X'"),
        (with(&|t| t.name = "Y".into()), Vec::new(), "missing input 'X'"),
        (with(&|t| t.shape = vec![5, 3]), Vec::new(), "does not fit"),
        (with(&|t| t.shape = vec![20]), Vec::new(), "does not fit"),
        (
            with(&|t| t.shape = vec![4, 4]),
            Vec::new(),
            "holds 16 values but 20 were given",
        ),
        (
            with(&|t| t.data = TensorData::Fp64(vec![0.0; 20])),
            Vec::new(),
            "datatype FP64 where the model takes FP32",
        ),
        (with(&|t| t.shape = vec![-1, 4]), Vec::new(), "does not fit"),
        (
            [good.clone(), good.clone()].concat(),
            Vec::new(),
            "more than once",
        ),
        (good.clone(), vec!["nope".to_string()], "unknown output 'nope'"),
    ];
    for (inputs, requested, message) in cases {
        match model.infer(inputs, requested).await {
            Err(PredictError::BadInput(m)) => assert!(m.contains(message), "{m} (wanted {message})"),
            other => panic!("wanted BadInput({message}), got {other:?}"),
        }
    }
    // A requested output comes alone.
    let only = model.infer(good, vec!["label".into()]).await.unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].name, "label");
}

#[tokio::test]
async fn a_corrupt_model_fails_to_load_with_onnx_runtimes_message() {
    runtime();
    match Model::load(b"this is not an onnx file", ModelConfig::default()) {
        Err(PredictError::Load(message)) => assert!(!message.is_empty()),
        other => panic!("wanted a load error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_busy_at_once() {
    let (model, reference) = load(
        "iris_forest",
        ModelConfig {
            sessions: 1,
            intra_threads: 1,
            queue: 0,
            batching: None,
            // Every run in the pool: an inline run ends before the next task starts.
            inline_below: std::time::Duration::ZERO,
        },
    );
    let model = Arc::new(model);
    let inputs = inputs_of(&model, &reference);
    // 64 at once into one session with no queue: some must be turned away, none may fail otherwise.
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let model = model.clone();
            let inputs = inputs.clone();
            tokio::spawn(async move { model.infer(inputs, Vec::new()).await })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.unwrap());
    }
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(PredictError::Busy)))
        .count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(busy + ok, 64, "{results:?}");
    assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_requests_are_split_back_exactly() {
    use aiops_predictor::Batching;
    let batched = ModelConfig {
        batching: Some(Batching {
            max_batch: 16,
            max_delay: std::time::Duration::from_millis(5),
        }),
        ..ModelConfig::default()
    };
    let (plain, _) = load("iris_forest", ModelConfig::default());
    let (model, _) = load("iris_forest", batched);
    assert!(
        model.batching().is_some(),
        "iris_forest has a dynamic batch dimension"
    );
    let model = Arc::new(model);
    // 40 requests of 1 to 5 rows at once: batches form, and each answer has its own rows.
    let requests: Vec<Tensor> = (0..40)
        .map(|i| {
            let rows = 1 + i % 5;
            Tensor {
                name: "X".into(),
                shape: vec![rows as i64, 4],
                data: TensorData::Fp32((0..rows * 4).map(|k| ((i * 7 + k) % 70) as f32 / 10.0).collect()),
            }
        })
        .collect();
    let calls: Vec<_> = requests
        .iter()
        .cloned()
        .map(|t| {
            let model = model.clone();
            tokio::spawn(async move { model.infer_timed(vec![t], Vec::new()).await })
        })
        .collect();
    let mut executions = 0;
    for (request, call) in requests.into_iter().zip(calls) {
        let (got, timing) = call.await.unwrap().unwrap();
        executions += timing.executions;
        let want = plain.infer(vec![request.clone()], Vec::new()).await.unwrap();
        assert_eq!(got, want, "rows {:?}", request.shape);
    }
    // Triton's exec_count: one per run of the model, not one per request.
    assert!((1..40).contains(&executions), "{executions} runs for 40 requests");
    // A requested output alone, through the batcher too.
    let one = Tensor {
        name: "X".into(),
        shape: vec![1, 4],
        data: TensorData::Fp32(vec![5.1, 3.5, 1.4, 0.2]),
    };
    let got = model.infer(vec![one], vec!["label".into()]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, TensorData::Int64(vec![0]));
}
