"""Two finished training runs of the shared local cloud's MNIST: a good one and a deliberately worse one."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from infra.local.cloud import LocalCloud
from ml.environments import ENVIRONMENTS
from ml.training.run import TrainConfig, train

LOCAL = ENVIRONMENTS["local"]


@pytest.fixture(scope="session")
def runs(mnist_cloud: tuple[LocalCloud, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cloud, _ = mnist_cloud
    directory = tmp_path_factory.mktemp("runs")
    good = TrainConfig(budget_s=25, generators=("dnn",), iterations=1, limit=8000, runs_dir=directory)
    worse = TrainConfig(
        budget_s=20, generators=("dnn",), iterations=1, iteration_steps=3, limit=8000, runs_dir=directory
    )
    return {
        name: train(LOCAL, config, local=cloud.endpoints, log=io.StringIO()).run_dir
        for name, config in (("good", good), ("worse", worse))
    }
