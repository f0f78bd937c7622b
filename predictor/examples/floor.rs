//! The serving benchmark's floor: the in-process ONNX Runtime call, through the same
//! `Model::infer` the server uses (bounded session pool; a run goes off the async runtime,
//! or runs inline when it is small and the model's small runs are quick, as in the server),
//! with no HTTP and no JSON. Prints one JSON line per (model, rows): p50 and p99 in µs.
//!
//! Run: `ORT_DYLIB_PATH=… cargo run --release -p aiops-predictor --example floor -- model.onnx …`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use aiops_predictor::{Model, ModelConfig, Tensor, TensorData};

const CALLS: usize = 2000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let library = std::env::var("ORT_DYLIB_PATH").expect("set ORT_DYLIB_PATH");
    aiops_predictor::init(std::path::Path::new(&library)).unwrap();
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        let model = Model::load(&bytes, ModelConfig::default()).unwrap();
        let features = usize::try_from(model.inputs()[0].shape[1]).unwrap();
        for rows in [1usize, 1000] {
            // Uniform in [0, 7) to two decimals, as `bench/serving.py` sends: a forest's run
            // time depends on the paths its inputs take.
            let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
            let data: Vec<f32> = (0..rows * features)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    ((seed >> 40) % 700) as f32 / 100.0
                })
                .collect();
            let input = || Tensor {
                name: model.inputs()[0].name.clone(),
                shape: vec![rows as i64, features as i64],
                data: TensorData::Fp32(data.clone()),
            };
            let calls = if rows == 1 { CALLS } else { CALLS / 10 };
            for _ in 0..calls / 10 {
                model.infer(vec![input()], Vec::new()).await.unwrap();
            }
            let mut micros = Vec::with_capacity(calls);
            for _ in 0..calls {
                let start = Instant::now();
                model.infer(vec![input()], Vec::new()).await.unwrap();
                micros.push(start.elapsed().as_secs_f64() * 1e6);
            }
            micros.sort_by(f64::total_cmp);
            println!(
                "FLOOR {{\"model\": \"{path}\", \"rows\": {rows}, \"p50_us\": {:.1}, \"p99_us\": {:.1}}}",
                percentile(&micros, 0.5),
                percentile(&micros, 0.99)
            );
        }
    }
}
