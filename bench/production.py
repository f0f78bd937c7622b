"""The production setting for the benchmarks: a throwaway PostgreSQL 15 cluster and an S3
server (s3s-fs), started with the test suite's own helpers (scripts/lib/pg-up.sh, s3-up.sh).
Each server measured gets a database and a bucket of its own on them.

`--production` on bench/scale.py, bench/server_speed.py and bench/artifacts.py runs them
here instead of on SQLite and local folders. Needs psycopg2-binary and boto3 beside the MLflow
server (bench/requirements-production.txt).
"""
import argparse
import contextlib
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _assignments(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class Services:
    def __enter__(self):
        pg = subprocess.run(["bash", os.path.join(ROOT, "scripts/lib/pg-up.sh"), "postgres_admin"],
                            capture_output=True, text=True, check=True)
        self.pg = _assignments(pg.stdout)
        s3 = subprocess.run(["bash", os.path.join(ROOT, "scripts/lib/s3-up.sh")],
                            capture_output=True, text=True, check=True)
        self.s3 = _assignments(s3.stdout)
        self.s3_env = {
            "AWS_ACCESS_KEY_ID": self.s3["S3_ACCESS_KEY"],
            "AWS_SECRET_ACCESS_KEY": self.s3["S3_SECRET_KEY"],
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.s3["S3_ENDPOINT"],
            # boto3's default checksums (aws-chunked uploads with trailers) are not s3s-fs's.
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        }
        return self

    def __exit__(self, *exc):
        subprocess.run(["bash", os.path.join(ROOT, "scripts/lib/s3-down.sh"), self.s3["S3_PID"], self.s3["S3TMP"]],
                       check=False)
        subprocess.run(["bash", os.path.join(ROOT, "scripts/lib/pg-down.sh"), self.pg["PGTMP"]], check=False)

    def database(self, name):
        """A new, empty database: its URL."""
        import psycopg2

        con = psycopg2.connect(self.pg["DATABASE_URL"])
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        con.close()
        return self.pg["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"

    def bucket(self, name):
        """A new bucket (s3s-fs keeps one folder per bucket): its s3:// prefix."""
        os.makedirs(os.path.join(self.s3["S3TMP"], "data", name))
        return f"s3://{name}/artifacts"


def arguments():
    """The options the benchmark scripts share: both servers' binaries and `--production`
    (`args.setting` names the setting for the tables)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--aiops", required=True)
    parser.add_argument("--mlflow", required=True)
    parser.add_argument("--production", action="store_true", help="PostgreSQL and S3 (s3s-fs)")
    args = parser.parse_args()
    args.setting = "PostgreSQL + S3 (s3s-fs)" if args.production else "SQLite + local folder"
    return args


def services(args):
    """PostgreSQL and S3 for `--production`, else nothing (SQLite and local folders)."""
    return Services() if args.production else contextlib.nullcontext()
