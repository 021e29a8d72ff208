"""Shared fixtures: synthesized stacks and private local clouds on free ports."""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.local.cloud import LocalCloud
from ml.cloud import LocalEndpoints
from ml.data import Dataset
from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS

ROOT = Path(__file__).resolve().parent.parent
# jsii runs on the installed Node.js; 20 works but prints a banner on every start.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def synthesized_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each environment's stack as cdktn's `Testing.synth` writes it."""
    from cdktn import Testing

    from infra.stack import PipelineStack

    build_dir = tmp_path_factory.mktemp("build")
    return {
        name: Testing.synth(PipelineStack(Testing.app(), env, build_dir=build_dir))
        for name, env in ENVIRONMENTS.items()
    }


@pytest.fixture(scope="session")
def stacks(synthesized_json: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in synthesized_json.items()}


@pytest.fixture(scope="session")
def bootstrap_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each cloud environment's bootstrap stack, synthesized beside its pipeline stack as main.py does."""
    from cdktn import Testing

    from infra.bootstrap_stack import BootstrapStack
    from infra.stack import PipelineStack

    build_dir = tmp_path_factory.mktemp("build")
    result = {}
    for name in CLOUD_ENVIRONMENTS:
        app = Testing.app()
        pipeline = PipelineStack(app, ENVIRONMENTS[name], build_dir=build_dir)
        result[name] = json.loads(
            Testing.synth(BootstrapStack(app, ENVIRONMENTS[name], pipeline=pipeline, local_state=False))
        )
    return result


@pytest.fixture(scope="session")
def local_stack_file(synthesized_json: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stack") / "cdk.tf.json"
    path.write_text(synthesized_json["local"])
    return path


def endpoint_variables(endpoints: LocalEndpoints) -> dict[str, str]:
    """The variables that point `python -m infra.local` (and `ml`) at `endpoints`."""
    return {
        "LOCAL_CLOUD_DIR": str(endpoints.state_dir),
        "BQ_EMULATOR_PORT": str(endpoints.bigquery_port),
        "BQ_EMULATOR_GRPC_PORT": str(endpoints.bigquery_grpc_port),
        "GCS_EMULATOR_PORT": str(endpoints.storage_port),
        "FUNCTION_PORT": str(endpoints.function_port),
        "FUNCTION_REFRESH_SECONDS": str(endpoints.function_refresh_s),
    }


def point_cli_at(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process command line (`ml.cli.main`) talk to `cloud`."""
    for name, value in endpoint_variables(cloud.endpoints).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def private_cloud(tmp_path: Path, local_stack_file: Path) -> Iterator[LocalCloud]:
    """A local cloud of this test's own (not started), wiped afterwards whatever happened."""
    cloud = LocalCloud(ENVIRONMENTS["local"], local_stack_file, LocalEndpoints.on_free_ports(tmp_path / "local"))
    try:
        yield cloud
    finally:
        cloud.destroy()


@pytest.fixture(scope="session")
def local_cloud(local_stack_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """One running, provisioned local cloud shared by the tests that only read or add data."""
    # Its function re-reads the serving manifest every second, so promotions show quickly.
    endpoints = replace(LocalEndpoints.on_free_ports(tmp_path_factory.mktemp("shared")), function_refresh_s=1.0)
    cloud = LocalCloud(ENVIRONMENTS["local"], local_stack_file, endpoints)
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.destroy()


@functools.cache
def mnist_dir() -> Path:
    """MNIST for the tests: MNIST_DIR, else the team's shared copy beside the clone, else what
    `make load-data` downloads (from MNIST_MIRRORS, comma-separated, if set), checked and cached."""
    from ml.data.sources import MIRRORS, default_cache_dir, mnist_folder

    explicit = Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else None
    mirrors = os.environ["MNIST_MIRRORS"].split(",") if os.environ.get("MNIST_MIRRORS") else MIRRORS
    return mnist_folder(explicit, ROOT.parent / "shared" / "data" / "mnist", mirrors, default_cache_dir())


@pytest.fixture(scope="session")
def mnist_cloud(local_cloud: LocalCloud) -> tuple[LocalCloud, dict[str, Any]]:
    """The shared local cloud with all of MNIST loaded by `python -m ml data load --json`, and its report."""
    result = subprocess.run(
        [sys.executable, "-m", "ml", "data", "load", "--mnist-dir", str(mnist_dir()), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **endpoint_variables(local_cloud.endpoints)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return local_cloud, json.loads(result.stdout)


@pytest.fixture(scope="session")
def runs(mnist_cloud: tuple[LocalCloud, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two finished training runs on the shared MNIST: a good one (300 steps), and a deliberately worse one (3).

    Fixed amounts of work, so that `good` is better than `worse` on any machine, however busy: the
    budgets only bound the runs (a 25 s budget once gave `good` too few steps on a loaded 2-core CI).
    """
    from ml.training.run import TrainConfig, train

    cloud, _ = mnist_cloud
    directory = tmp_path_factory.mktemp("runs")
    good = TrainConfig(
        budget_s=60, generators=("dnn",), iterations=1, iteration_steps=300, limit=8000, runs_dir=directory
    )
    worse = TrainConfig(
        budget_s=20, generators=("dnn",), iterations=1, iteration_steps=3, limit=8000, runs_dir=directory
    )
    local = ENVIRONMENTS["local"]
    return {
        name: train(local, config, local=cloud.endpoints, log=io.StringIO()).run_dir
        for name, config in (("good", good), ("worse", worse))
    }


@pytest.fixture(scope="module")
def served(mnist_cloud: tuple[LocalCloud, dict[str, Any]], runs: dict[str, Path]) -> Iterator[str]:
    """The function serving `mnist`: version 1 (good) is production, version 2 (worse) is published but not."""
    from ml.publish.flow import publish

    cloud, _ = mnist_cloud
    local = ENVIRONMENTS["local"]
    publish(local, runs["good"], local=cloud.endpoints, log=io.StringIO())
    publish(local, runs["worse"], local=cloud.endpoints, log=io.StringIO())
    service, _ = cloud.serve()
    yield service.url
    cloud.services.stop("function")


@pytest.fixture(scope="module")
def test_rows(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> Dataset:
    """The first 40 images of `test`, read back from the emulator."""
    from ml.data import read_table

    return read_table(ENVIRONMENTS["local"], "test", row_filter="key < 40", local=mnist_cloud[0].endpoints)
