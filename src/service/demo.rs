//! Demo data for a first run (`aiops demo`, `aiops serve --demo`): an experiment of
//! training runs with real metric histories, a registered model with versions in
//! Production and Staging (real ONNX files: the predictor's scikit-learn fixtures), a
//! deployment that follows Production, and inference traffic through it, so every page
//! and every Grafana panel shows something true. Everything goes through the service
//! operations as an administrator, like a user's own calls.
//!
//! Idempotent: what exists is left alone, so running it again (or on several replicas at
//! once) adds nothing twice.

use bytes::Bytes;

use crate::artifacts::ArtifactPath;
use crate::auth::Actor;
use crate::deployments::Follows;
use crate::registry::{NewModelVersion, Stage, Tag};
use crate::tracking::{ExperimentTag, Metric, NewRun, Param, RunStatus, RunTag, RunUpdate};
use crate::{now_millis, CoreError, CoreResult};

use super::AppState;

pub const EXPERIMENT: &str = "Demo: iris classifiers";
pub const MODEL: &str = "iris-classifier";
pub const DEPLOYMENT: &str = "iris";

/// The two models, made with scikit-learn and skl2onnx (`predictor/fixtures/make_fixtures.py`).
const LOGREG_ONNX: &[u8] = include_bytes!("../../predictor/fixtures/iris_logreg.onnx");
const FOREST_ONNX: &[u8] = include_bytes!("../../predictor/fixtures/iris_forest.onnx");

/// Runs in the sweep, and steps in each run's metric histories.
const RUNS: usize = 36;
const STEPS: i64 = 40;

/// What `fill` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoReport {
    pub experiment_id: String,
    pub runs_created: usize,
    pub versions_created: usize,
    pub deployment_created: bool,
}

/// A small deterministic generator, so every demo looks the same.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
}

fn tag(key: &str, value: impl Into<String>) -> RunTag {
    RunTag {
        key: key.into(),
        value: value.into(),
    }
}

fn param(key: &str, value: impl ToString) -> Param {
    Param {
        key: key.into(),
        value: value.to_string(),
    }
}

/// Swallows "already exists": another replica (or an earlier run) made it first.
fn created<T>(result: CoreResult<T>) -> CoreResult<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(CoreError::AlreadyExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl AppState {
    /// The administrator the demo acts as: the first one (`bootstrap_admin` makes one).
    pub async fn demo_admin(&self) -> CoreResult<Actor> {
        let users = self.auth.list_users().await?;
        let admin = users
            .into_iter()
            .filter(|u| u.is_admin)
            .min_by_key(|u| u.id)
            .ok_or_else(|| CoreError::Config("there is no administrator to fill the demo as".into()))?;
        Ok(Actor {
            user_id: Some(admin.id),
            username: admin.username,
            is_admin: true,
        })
    }

    /// Fills the demo where it is missing.
    pub async fn fill_demo(&self, actor: &Actor) -> CoreResult<DemoReport> {
        let mut report = DemoReport::default();
        let experiment = match self.get_experiment_by_name(actor, EXPERIMENT).await {
            Ok(e) => Some(e.experiment_id),
            Err(CoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let (experiment_id, model_runs) = match experiment {
            Some(id) => (id, None),
            None => {
                let description = "A hyperparameter sweep over two scikit-learn classifiers on the iris \
                    data set, made by `aiops demo`. The best of each kind logged its model as ONNX; both \
                    are registered as **iris-classifier**.";
                let tags = [ExperimentTag {
                    key: "mlflow.note.content".into(),
                    value: description.into(),
                }];
                match created(self.create_experiment(actor, EXPERIMENT, None, &tags).await)? {
                    Some(id) => {
                        let runs = self.demo_runs(actor, &id).await?;
                        report.runs_created = RUNS;
                        (id, Some(runs))
                    }
                    // Another replica is filling it now.
                    None => return Ok(report),
                }
            }
        };
        report.experiment_id = experiment_id;
        if let Some((logreg_run, forest_run)) = model_runs {
            report.versions_created = self.demo_registry(actor, &logreg_run, &forest_run).await?;
        }
        if self.get_deployment(actor, DEPLOYMENT).await.is_err()
            && self.get_registered_model(actor, MODEL).await.is_ok()
        {
            let made = self
                .create_deployment(
                    actor,
                    DEPLOYMENT,
                    MODEL,
                    Follows::Stage(Stage::Production),
                    None,
                    (0, 0),
                )
                .await;
            report.deployment_created = created(made)?.is_some();
        }
        Ok(report)
    }

    /// The sweep: logistic regressions over C and random forests over depth and size, each
    /// with per-step loss and accuracy. Returns the runs that log the two models.
    async fn demo_runs(&self, actor: &Actor, experiment_id: &str) -> CoreResult<(String, String)> {
        let mut rng = Lcg(0x5eed);
        let now = now_millis();
        let mut best: [(f64, String); 2] = [(-1.0, String::new()), (-1.0, String::new())];
        for i in 0..RUNS {
            let forest = i % 2 == 1;
            let (name, params, skill) = if forest {
                let depth = [2, 3, 4, 6, 8, 12][(i / 2) % 6];
                let trees = [10, 50, 100][(i / 12) % 3];
                let skill = 0.86 + 0.1 * (1.0 - 1.0 / f64::from(depth)) + 0.01 * f64::from(trees / 50);
                (
                    format!("forest-d{depth}-n{trees}"),
                    vec![
                        param("model", "RandomForestClassifier"),
                        param("max_depth", depth),
                        param("n_estimators", trees),
                    ],
                    skill,
                )
            } else {
                let c: f64 = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0][(i / 2) % 6];
                let solver = ["lbfgs", "saga", "liblinear"][(i / 12) % 3];
                let skill = 0.8 + 0.17 * (1.0 - (-c * 4.0).exp());
                (
                    format!("logreg-C{c}-{solver}"),
                    vec![
                        param("model", "LogisticRegression"),
                        param("C", c),
                        param("solver", solver),
                    ],
                    skill,
                )
            };
            let start = now - (RUNS - i) as i64 * 3_600_000;
            let run = self
                .create_run(
                    actor,
                    NewRun {
                        experiment_id: experiment_id.to_string(),
                        user_id: actor.username.clone(),
                        run_name: Some(name.clone()),
                        start_time: start,
                        tags: vec![
                            tag("mlflow.source.name", "examples/train_iris.py"),
                            tag("mlflow.source.type", "LOCAL"),
                            tag("mlflow.user", actor.username.clone()),
                        ],
                    },
                )
                .await?;
            let run_id = run.info.run_id.clone();
            let mut metrics = Vec::with_capacity(2 * STEPS as usize + 2);
            let mut accuracy = 0.0;
            for step in 0..STEPS {
                let progress = 1.0 - (-(step as f64) / 8.0).exp();
                let noise = (rng.next() - 0.5) * 0.03;
                let loss = 1.1 * (1.0 - progress) + (1.0 - skill) * 0.8 + noise.abs();
                accuracy = (0.33 + (skill - 0.33) * progress + noise).clamp(0.0, 1.0);
                let timestamp = start + step * 15_000;
                metrics.push(Metric {
                    key: "train_loss".into(),
                    value: loss,
                    timestamp,
                    step,
                });
                metrics.push(Metric {
                    key: "val_accuracy".into(),
                    value: accuracy,
                    timestamp,
                    step,
                });
            }
            let end = start + STEPS * 15_000;
            metrics.push(Metric {
                key: "accuracy".into(),
                value: accuracy,
                timestamp: end,
                step: 0,
            });
            metrics.push(Metric {
                key: "f1_macro".into(),
                value: (accuracy - 0.01 * rng.next()).max(0.0),
                timestamp: end,
                step: 0,
            });
            self.log_batch(actor, &run_id, &metrics, &params, &[]).await?;
            self.update_run(
                actor,
                &run_id,
                RunUpdate {
                    status: Some(RunStatus::Finished),
                    end_time: Some(end),
                    run_name: None,
                },
            )
            .await?;
            let kind = usize::from(forest);
            if accuracy > best[kind].0 {
                best[kind] = (accuracy, run_id);
            }
        }
        let [(_, logreg), (_, forest)] = best;
        for (run_id, onnx, flavor) in [
            (&logreg, LOGREG_ONNX, "LogisticRegression"),
            (&forest, FOREST_ONNX, "RandomForestClassifier"),
        ] {
            self.demo_model_files(actor, experiment_id, run_id, onnx, flavor)
                .await?;
        }
        Ok((logreg, forest))
    }

    /// The model folder MLflow's ONNX flavor writes: `model/model.onnx` and `model/MLmodel`.
    async fn demo_model_files(
        &self,
        actor: &Actor,
        experiment_id: &str,
        run_id: &str,
        onnx: &'static [u8],
        estimator: &str,
    ) -> CoreResult<()> {
        let mlmodel = format!(
            "artifact_path: model\nflavors:\n  onnx:\n    code: null\n    data: model.onnx\n    \
             onnx_version: 1.17.0\n    providers:\n    - CPUExecutionProvider\n  python_function:\n    \
             data: model.onnx\n    env:\n      virtualenv: python_env.yaml\n    loader_module: mlflow.onnx\n    \
             python_version: 3.11.7\nmlflow_version: 3.17.2\nmodel_size_bytes: {}\nrun_id: {run_id}\n\
             signature:\n  inputs: '[{{\"type\": \"tensor\", \"tensor-spec\": {{\"dtype\": \"float32\", \"shape\": [-1, 4]}}}}]'\n\
             # {estimator} on the four iris measurements\n",
            onnx.len()
        );
        for (file, bytes) in [
            ("model.onnx", Bytes::from_static(onnx)),
            ("MLmodel", Bytes::from(mlmodel)),
        ] {
            let path = ArtifactPath::parse_file(&format!("{experiment_id}/{run_id}/artifacts/model/{file}"))?;
            let body: crate::artifacts::ByteStream =
                Box::pin(futures::stream::once(async move { Ok(bytes) }));
            self.put_artifact(actor, &path, body).await?;
        }
        Ok(())
    }

    /// `iris-classifier`: version 1 (logistic regression) in Production with the alias
    /// `champion`, version 2 (random forest) in Staging as `challenger`.
    async fn demo_registry(&self, actor: &Actor, logreg_run: &str, forest_run: &str) -> CoreResult<usize> {
        let description = "Classifies iris flowers from four measurements (sepal and petal length and \
            width, in cm). Input `X`: float32 [n, 4]. Outputs: `label` and `probabilities`.";
        let tags = [Tag {
            key: "task".into(),
            value: "classification".into(),
        }];
        if created(
            self.create_registered_model(actor, MODEL, description, &tags)
                .await,
        )?
        .is_none()
        {
            return Ok(0);
        }
        let mut made = 0;
        for (run_id, stage, alias, about) in [
            (
                logreg_run,
                Stage::Production,
                "champion",
                "Logistic regression: small and fast.",
            ),
            (
                forest_run,
                Stage::Staging,
                "challenger",
                "Random forest: being evaluated.",
            ),
        ] {
            let version = self
                .create_model_version(
                    actor,
                    NewModelVersion {
                        name: MODEL.into(),
                        source: format!("runs:/{run_id}/model"),
                        run_id: run_id.to_string(),
                        run_link: String::new(),
                        model_id: String::new(),
                        description: about.into(),
                        user_id: actor.username.clone(),
                        tags: Vec::new(),
                    },
                )
                .await?;
            let number = version.version;
            self.transition_stage(actor, MODEL, number, stage, false, "promoted by aiops demo")
                .await?;
            self.set_alias(actor, MODEL, alias, number).await?;
            made += 1;
        }
        Ok(made)
    }

    /// `requests` inference calls on the demo deployment, in process: rows spread over the
    /// three species. Returns how many succeeded, and the first failure.
    pub async fn demo_traffic(
        &self,
        actor: &Actor,
        requests: usize,
        seed: u64,
    ) -> (usize, Option<CoreError>) {
        let mut rng = Lcg(seed);
        let (mut ok, mut first_error) = (0, None);
        for _ in 0..requests {
            let n = 1 + (rng.next() * 4.0) as usize;
            let csv: String = demo_rows(&mut rng, n)
                .iter()
                .map(|row| format!("{},{},{},{}\n", row[0], row[1], row[2], row[3]))
                .collect();
            match self.test_inference(actor, DEPLOYMENT, &csv, "").await {
                Ok(_) => ok += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        (ok, first_error)
    }
}

/// `n` iris-like rows: measurements around each species' means, in cm to one decimal.
fn demo_rows(rng: &mut Lcg, n: usize) -> Vec<[f64; 4]> {
    const MEANS: [[f64; 4]; 3] = [[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]];
    (0..n)
        .map(|_| {
            let species = MEANS[(rng.next() * 3.0) as usize % 3];
            species.map(|m| ((m + (rng.next() - 0.5) * 0.6).max(0.1) * 10.0).round() / 10.0)
        })
        .collect()
}

/// The rows the HTTP traffic of `aiops demo --url` sends, as an Open Inference Protocol request.
pub fn demo_request(seed: u64) -> serde_json::Value {
    let mut rng = Lcg(seed);
    let rows = demo_rows(&mut rng, 1 + (seed % 4) as usize);
    let data: Vec<f64> = rows.iter().flatten().copied().collect();
    serde_json::json!({
        "inputs": [{ "name": "X", "shape": [rows.len(), 4], "datatype": "FP32", "data": data }]
    })
}
