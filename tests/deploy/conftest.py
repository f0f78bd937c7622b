"""Checks of the deployment files (compose, nginx, Prometheus, Grafana, the Helm chart) with
the real tools, and an end-to-end run of two aiops replicas behind Debian's nginx on one
PostgreSQL and one S3 server, scraped by Debian's Prometheus. scripts/test.sh runs them with
the services it started; the tools come from tests/deploy/requirements.txt and Debian.
"""
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def required_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run via scripts/test.sh")
    return value


def required_tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: scripts/test.sh installs it (Debian package)")
    return path
