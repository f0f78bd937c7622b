"""Data for the dashboard's browser tests, logged by the real MLflow client as a data
scientist would: a nested hyperparameter sweep with per-step metrics, a dataset, images
(one large), CSV, JSON, a log, Markdown, a logged scikit-learn model, a run left running,
and a 250-run experiment for the pager. Prints the ids the tests need as JSON.

Usage: MLFLOW_TRACKING_URI=... MLFLOW_TRACKING_USERNAME=... MLFLOW_TRACKING_PASSWORD=... \
       python end2end/seed/sweep.py seed.json
"""

import json
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

DESCRIPTION = """# Iris sweep

A **nested** sweep over the learning rate.

- one child per setting
- [MLflow docs](https://mlflow.org/docs/latest/index.html)

<script>window.__pwned = true</script>
"""


def main():
    stamp = time.strftime("%H%M%S") + f"-{os.getpid()}"
    client = MlflowClient()
    experiment_id = client.create_experiment(f"dashboard-sweep-{stamp}")
    client.set_experiment_tag(experiment_id, "mlflow.note.content", DESCRIPTION)
    mlflow.set_experiment(experiment_id=experiment_id)

    iris = load_iris(as_frame=True)
    frame = iris.frame
    children = []
    with mlflow.start_run(run_name="sweep") as parent:
        mlflow.set_tag("mlflow.note.content", "Parent of the **sweep**.")
        mlflow.log_param("search", "grid")
        for i, lr in enumerate([0.01, 0.03, 0.1, 0.3, 1.0, 3.0]):
            with mlflow.start_run(run_name=f"lr-{lr}", nested=True) as child:
                mlflow.log_params({"lr": lr, "depth": 3 + i % 3, "seed": 7, "model": "logreg"})
                for step in range(30):
                    mlflow.log_metric("loss", (1.0 + i) / (1.0 + step) + 0.01 * i, step=step)
                    mlflow.log_metric("val_loss", (1.2 + i) / (1.0 + step) + 0.02, step=step)
                mlflow.log_metric("accuracy", 0.70 + 0.04 * i)
                mlflow.set_tag("team", "vision")
                children.append(child.info.run_id)
    artifacts_run = children[2]

    # Everything a run page previews, on one child.
    with mlflow.start_run(run_id=artifacts_run):
        mlflow.log_input(mlflow.data.from_pandas(frame, name="iris", targets="target"), context="training")
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([1, 2, 3], [3, 1, 2])
        mlflow.log_figure(fig, "plots/small.png")
        plt.close(fig)
        # A large image (3000 x 2000 px): previewed scaled, loaded from its URL.
        big = plt.figure(figsize=(30, 20), dpi=100)
        rng = np.random.default_rng(0)
        plt.imshow(rng.random((200, 300)), aspect="auto")
        mlflow.log_figure(big, "plots/large.png")
        plt.close(big)
        mlflow.log_text(frame.head(50).to_csv(index=False), "data/sample.csv")
        mlflow.log_dict({"lr": 0.1, "layers": [4, 8, 3]}, "config.json")
        mlflow.log_text("\n".join(f"epoch {e}: loss {1 / (e + 1):.4f}" for e in range(40)), "logs/train.log")
        mlflow.log_text("# Report\n\nAccuracy **0.78**.\n\n<img src=x onerror=alert(1)>\n", "README.md")
        model = LogisticRegression(max_iter=200).fit(iris.data, iris.target)
        logged = mlflow.sklearn.log_model(model, name="model", input_example=iris.data.head(2))
    model_id = logged.model_id

    # A run left running, for the page that refreshes by itself.
    running = client.create_run(experiment_id, run_name="still-training")
    client.log_metric(running.info.run_id, "progress", 0.1, step=0)

    # A 250-run experiment for the pager (log_batch per run, as a sweep driver would).
    big_experiment = client.create_experiment(f"dashboard-many-{stamp}")
    start = int(time.time() * 1000) - 250_000
    for i in range(250):
        run = client.create_run(big_experiment, run_name=f"trial-{i:03d}", start_time=start + i * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("score", i / 250, start + i, 0)],
            params=[Param("trial", str(i))],
            tags=[RunTag("batch", "b" + str(i % 5))],
        )
        client.set_terminated(run.info.run_id)

    ids = {
        "experiment_id": experiment_id,
        "parent_id": parent.info.run_id,
        "child_ids": children,
        "artifacts_run": artifacts_run,
        "model_id": model_id,
        "running_id": running.info.run_id,
        "big_experiment_id": big_experiment,
    }
    with open(sys.argv[1], "w") as out:
        json.dump(ids, out)


if __name__ == "__main__":
    main()
