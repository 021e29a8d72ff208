"""The whole pipeline through its command lines, as `make demo` runs it, then a teardown and a recreate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from ml.emulators import LocalEndpoints
from tests.support.cloud import endpoint_variables
from tests.support.data import mnist_dir

pytestmark = pytest.mark.integration  # starts its own emulators through the commands


def test_up_load_train_publish_serve_predict_destroy_up(local_stack_file: Path, tmp_path: Path) -> None:
    endpoints = LocalEndpoints.on_free_ports(tmp_path / "local")
    env = {**os.environ, **endpoint_variables(endpoints), "TF_CPP_MIN_LOG_LEVEL": "2"}

    def run(*argv: str, ok: bool = True) -> dict[str, Any]:
        result = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, env=env, check=False)
        assert (result.returncode == 0) == ok, result.stderr[-3000:]
        return json.loads(result.stdout) if ok and "--json" in argv else {"stderr": result.stderr}

    stack = ("--stack", str(local_stack_file))
    try:
        up = run("ml", "local", "up", *stack, "--json")
        assert {s["name"] for s in up["services"]} == {"bigquery", "storage", "vertex"}  # no model yet: no function
        assert {r["action"] for r in up["resources"]} == {"created"}

        loaded = run("ml", "data", "load", "--mnist-dir", str(mnist_dir()), "--json")
        assert {t: v["rows"] for t, v in loaded["tables"].items()} == {"train": 55000, "valid": 5000, "test": 10000}

        runs = tmp_path / "runs"
        training = ["--budget", "30", "--limit", "3000", "--generators", "dnn", "--runs-dir", str(runs)]
        published = run("ml", "train-publish", *training, "--json")
        assert (published["version"], published["promoted"], published["production"]) == ("1", True, "1")
        assert run("ml", "models", "versions", "mnist", "--json")["versions"][0]["aliases"] == ["default", "production"]

        served = run("ml", "local", "serve", *stack, "--json")
        assert served["url"] == endpoints.function_url

        predicted = run("ml", "predict", "--json")
        assert predicted["model_version"] == "1"
        assert predicted["images"] == 10000
        assert predicted["equal"] is True
        assert predicted["online_accuracy"] == predicted["offline_accuracy"]

        pids = [s["pid"] for s in run("ml", "local", "status", *stack, "--json")["services"] if s["pid"]]
        assert len(pids) == 4
        destroyed = run("ml", "local", "destroy", *stack, "--json")
        assert set(destroyed["stopped"]) == {"function", "bigquery", "storage", "vertex"}
        assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)

        again = run("ml", "local", "up", *stack, "--json")
        assert {s["name"] for s in again["services"]} == {"bigquery", "storage", "vertex"}
        assert {r["action"] for r in again["resources"]} == {"created"}
        assert run("ml", "models", "list", "--json") == {"models": []}
        assert "table 'train' was never loaded" in run("ml", "data", "read", "train", ok=False)["stderr"]
    finally:
        run("ml", "local", "destroy", *stack, "--json")
