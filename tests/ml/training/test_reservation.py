"""The time kept back after the search is measured on this machine, and the budget holds when a step is slow."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from ml.training import export, plots
from ml.training.host import cpu_quota, usable_cpus
from ml.training.reservation import MARGIN, PARITY_IMAGES, Cost, PostSearchCost
from ml.training.run import TrainConfig, train

BUDGET_PROMISE = 1.05
"""A run ends within 105% of its budget (issue 20); bench/automl.py measures how close it comes."""


def test_the_reservation_scales_with_the_test_set_and_the_members() -> None:
    cost = PostSearchCost(
        export_s=2.0,
        saved_model=Cost(1.0, 0.01),
        tflite=Cost(0.5, 0.001),
        plots_s=1.0,
        evaluation=Cost(0.8, 0.002),
        measured_in_s=5,
    )
    one = MARGIN * (2.0 + (0.5 + 0.001 * 10_000) + (1.0 + 0.01 * PARITY_IMAGES))
    assert cost.required_s(1, 10_000) == pytest.approx(one)
    assert cost.required_s(3, 10_000) == pytest.approx(3 * one)
    assert cost.evaluation_s(5_000) == pytest.approx(MARGIN * (0.8 + 0.002 * 5_000))


@pytest.mark.serial  # the promise is 105% of the budget: measured alone on the machine
def test_a_slow_export_and_slow_plots_still_end_within_the_budget(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Export made 5 s slower and the plots 10 s slower than this machine makes them: the measured
    reservation shortens the search, and the plots, which no longer fit, are skipped and said.

    The run keeps the promise `--budget` makes, 105% of it: on a shared 2-core machine one export
    can take 15% longer than the one measured before the search (seen in CI: 10.28 s for 10.3 s
    reserved after a search that ended 0.3 s late), while the slowed steps alone add 15 s."""
    real_export, real_curves = export.export, plots.learning_curves

    def slow_export(*args: Any) -> Any:
        time.sleep(5)
        return real_export(*args)

    def slow_curves(*args: Any) -> None:
        time.sleep(10)
        real_curves(*args)

    monkeypatch.setattr(export, "export", slow_export)
    monkeypatch.setattr(plots, "learning_curves", slow_curves)
    budget = 50.0
    config = TrainConfig(budget_s=budget, generators=("dnn",), iterations=1, limit=2000, runs_dir=tmp_path)
    log = io.StringIO()
    report = train(mnist_cloud[0].context, config, log=log).report
    assert report.wall_seconds <= BUDGET_PROMISE * budget, log.getvalue()
    assert (report.reserved_seconds or 0) > 5 * MARGIN
    assert len(report.skipped) == 1
    assert re.match(r"learning_curves.png, confusion_matrix.png: they take about 1[0-9]\.\d s", report.skipped[0])
    assert not Path(report.artifacts["learning_curves"]).exists()
    assert Path(report.artifacts["tflite"]).is_file()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "cgroup": "4:cpu,cpuacct:/bench\n",
                "cpu/bench/cpu.cfs_quota_us": "66000",
                "cpu/bench/cpu.cfs_period_us": "100000",
            },
            0.66,
        ),
        ({"cgroup": "4:cpu,cpuacct:/\n", "cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        ({"cgroup": "0::/job\n", "job/cpu.max": "150000 100000"}, 1.5),
        ({"cgroup": "0::/job\n", "job/cpu.max": "max 100000"}, None),
    ],
)
def test_the_cpu_quota_is_read_from_cgroup_v1_and_v2(
    tmp_path: Path, files: dict[str, str], expected: float | None
) -> None:
    for name, text in files.items():
        path = tmp_path / "root" / name if name != "cgroup" else tmp_path / "cgroup"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert cpu_quota(tmp_path / "cgroup", tmp_path / "root") == expected


@pytest.mark.parametrize(("quota", "expected"), [(None, "cores"), (0.66, 1), (1.5, 2), (1000.0, "cores")])
def test_threads_follow_the_cpu_quota_not_the_cores(quota: float | None, expected: int | str) -> None:
    cores = len(os.sched_getaffinity(0))
    assert usable_cpus(quota) == (cores if expected == "cores" else min(cores, int(expected)))
