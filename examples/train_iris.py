"""Train iris classifiers with scikit-learn and the official MLflow client against aiops.

Each run logs its parameters, per-epoch metrics, a confusion-matrix image and the model as
ONNX (skl2onnx, with zipmap off so outputs are plain tensors); the best run's model is
registered as a new version of `iris-classifier`. The README walks the rest of the loop:
compare the runs, promote the version, deploy it, and test inference.

    pip install 'mlflow==3.17.2' scikit-learn skl2onnx onnx matplotlib
    export MLFLOW_TRACKING_URI=http://127.0.0.1:3000
    export MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=...
    python examples/train_iris.py
"""
import argparse
import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, f1_score, log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def train(alpha, epochs, X_train, y_train, X_test, y_test):
    """One run: an SGD logistic regression trained epoch by epoch, so loss and accuracy have
    a history to chart."""
    model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
    classes = np.unique(y_train)
    for epoch in range(epochs):
        model.partial_fit(X_train, y_train, classes=classes)
        mlflow.log_metrics({
            "train_loss": log_loss(y_train, model.predict_proba(X_train), labels=classes),
            "val_accuracy": accuracy_score(y_test, model.predict(X_test)),
        }, step=epoch)
    predicted = model.predict(X_test)
    accuracy = accuracy_score(y_test, predicted)
    mlflow.log_metrics({"accuracy": accuracy, "f1_macro": f1_score(y_test, predicted, average="macro")})
    with tempfile.TemporaryDirectory() as folder:
        figure, axes = plt.subplots(figsize=(4, 4))
        ConfusionMatrixDisplay.from_predictions(y_test, predicted, ax=axes, colorbar=False)
        path = os.path.join(folder, "confusion_matrix.png")
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        mlflow.log_artifact(path, "plots")
    return model, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="iris-training")
    parser.add_argument("--model-name", default="iris-classifier")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42, stratify=y)
    mlflow.set_experiment(args.experiment)

    best = None
    with mlflow.start_run(run_name="sweep") as parent:
        for alpha in (1e-4, 1e-3, 1e-2, 1e-1):
            with mlflow.start_run(run_name=f"sgd-alpha{alpha:g}", nested=True) as run:
                mlflow.log_params({"model": "SGDClassifier", "loss": "log_loss", "alpha": alpha,
                                   "epochs": args.epochs})
                model, accuracy = train(alpha, args.epochs, X_train, y_train, X_test, y_test)
                onnx = to_onnx(model, X_train[:1], options={id(model): {"zipmap": False}},
                               target_opset=17)
                info = mlflow.onnx.log_model(onnx, name="model", input_example=X_test[:2])
                if best is None or accuracy > best[0]:
                    best = (accuracy, run.info.run_id, info.model_uri)
        mlflow.log_metric("best_accuracy", best[0])

    accuracy, run_id, model_uri = best
    version = mlflow.register_model(model_uri, args.model_name)
    print(f"parent run {parent.info.run_id}")
    print(f"best run {run_id}: accuracy {accuracy:.3f}")
    print(f"registered {args.model_name} version {version.version}")


if __name__ == "__main__":
    main()
