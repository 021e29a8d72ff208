"""Shared fixtures: synthesized stacks and private local clouds on free ports."""

from __future__ import annotations

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

from localcloud.cloud import LocalCloud
from ml.context import Context
from ml.data import Dataset
from ml.emulators import LocalEndpoints
from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS
from tests.support.cloud import endpoint_variables
from tests.support.data import mnist_dir

LOCAL = ENVIRONMENTS["local"]
EMULATED = frozenset({"private_cloud", "local_cloud", "emulator", "cnn_cloud", "registry"})
"""The fixtures that start emulators (here and in test modules): a test that uses one, directly or
through another fixture, is `integration` (`make test-fast` leaves it out)."""
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


@pytest.fixture
def private_cloud(tmp_path: Path, local_stack_file: Path) -> Iterator[LocalCloud]:
    """A local cloud of this test's own (not started), wiped afterwards whatever happened."""
    cloud = LocalCloud(Context(LOCAL, LocalEndpoints.on_free_ports(tmp_path / "local")), local_stack_file)
    try:
        yield cloud
    finally:
        cloud.destroy()


@pytest.fixture(scope="session")
def local_cloud(local_stack_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """One running, provisioned local cloud shared by the tests that only read or add data."""
    # Its function re-reads the serving manifest every second, so promotions show quickly.
    endpoints = replace(LocalEndpoints.on_free_ports(tmp_path_factory.mktemp("shared")), function_refresh_s=1.0)
    cloud = LocalCloud(Context(LOCAL, endpoints), local_stack_file)
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.destroy()


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
        budget_s=30, generators=("dnn",), iterations=1, iteration_steps=3, limit=8000, runs_dir=directory
    )
    return {
        name: train(cloud.context, config, log=io.StringIO()).run_dir
        for name, config in (("good", good), ("worse", worse))
    }


@pytest.fixture(scope="module")
def served(mnist_cloud: tuple[LocalCloud, dict[str, Any]], runs: dict[str, Path]) -> Iterator[str]:
    """The function serving `mnist`: version 1 (good) is production, version 2 (worse) is published but not."""
    from ml.publish.flow import publish

    cloud, _ = mnist_cloud
    publish(cloud.context, runs["good"], log=io.StringIO())
    publish(cloud.context, runs["worse"], log=io.StringIO())
    service, _ = cloud.serve()
    yield service.url
    cloud.services.stop("function")


@pytest.fixture(scope="module")
def test_rows(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> Dataset:
    """The first 40 images of `test`, read back from the emulator."""
    from ml.data import read_table

    return read_table(mnist_cloud[0].context, "test", row_filter="key < 40")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if EMULATED & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
