"""A 1 GiB artifact through the artifact proxy, with the MLflow client, beside `mlflow server`.

aiops (release build) and `mlflow server` with 1 worker: on local folders, and with
`--production` on S3 (s3s-fs) with PostgreSQL. The MLflow client logs one 1 GiB file to a
run (`log_artifact`: one streamed PUT through the server) and downloads it again
(`download_artifacts`), and the copy is compared with the original. Printed: seconds and
MiB/s each way, and the server's peak RSS while it streams (sampled every 10 ms) beside its
RSS before.

Usage: python bench/artifacts.py --aiops target/release/aiops --mlflow .tools/mlflow-venv/bin/mlflow [--production]
"""
import filecmp
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import bench  # noqa: E402
import production  # noqa: E402

SIZE = 1 << 30


def big_file(work):
    path = os.path.join(work, "big.bin")
    block = os.urandom(16 << 20)
    with open(path, "wb") as f:
        for _ in range(SIZE // len(block)):
            f.write(block)
    return path


def measure(server, path, work):
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(server.url)
    exp = client.create_experiment(f"artifacts-{os.getpid()}-{server.name.replace(' ', '')}")
    run_id = client.create_run(exp).info.run_id
    out = {"server RSS before (MiB)": bench.rss_kib(server.proc.pid) / 1024}
    with bench.PeakRss(server.proc.pid) as rss:
        start = time.perf_counter()
        client.log_artifact(run_id, path)
        up = time.perf_counter() - start
    out["upload (s)"], out["upload (MiB/s)"] = up, SIZE / up / (1 << 20)
    out["server peak RSS, upload (MiB)"] = rss.peak / 1024
    dst = tempfile.mkdtemp(dir=work)
    with bench.PeakRss(server.proc.pid) as rss:
        start = time.perf_counter()
        got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="big.bin", dst_path=dst,
                                                  tracking_uri=server.url)
        down = time.perf_counter() - start
    out["download (s)"], out["download (MiB/s)"] = down, SIZE / down / (1 << 20)
    out["server peak RSS, download (MiB)"] = rss.peak / 1024
    assert filecmp.cmp(path, got, shallow=False), "the downloaded copy differs"
    os.remove(got)
    return out


def main():
    args = production.arguments()
    setting = args.setting
    results = {}
    with tempfile.TemporaryDirectory(prefix="aiops-artifacts-") as work, \
            production.services(args) as services:
        path = big_file(work)
        servers = bench.start_servers(args.aiops, args.mlflow, work, services, workers=(1,))
        try:
            for server in servers:
                print(f"... {server.name}: 1 GiB up and down ({setting})", file=sys.stderr, flush=True)
                results[server.name] = measure(server, path, work)
        finally:
            for server in servers:
                server.stop()
    names = list(results)
    print(f"\n1 GiB artifact through the proxy with the MLflow client ({setting})")
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for figure in results["aiops"]:
        print(f"| {figure} | " + " | ".join(f"{results[n][figure]:,.1f}" for n in names) + " |")


if __name__ == "__main__":
    main()
