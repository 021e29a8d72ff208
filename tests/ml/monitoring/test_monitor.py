"""`python -m ml monitor` on the real function's prediction log in the emulator.

Each test judges only its own traffic: tests run one after another, so a window that begins when
a test begins holds that test's requests and no other's.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from cli.commands import main
from localcloud.cloud import LocalCloud
from ml.client import InferAPI
from ml.data import Dataset, read_table
from ml.environments import ENVIRONMENTS
from ml.monitoring.metrics import ALERTS_METRIC, publish
from ml.monitoring.monitor import monitor, parse_window
from ml.schemas import PREDICTIONS
from tests.support.cloud import logged_rows, point_cli_at
from tests.support.cloud_monitoring import cloud_monitoring

LOCAL = ENVIRONMENTS["local"]
IMAGES = 1000


class Window:
    """`--window` covering the test's own time so far, from a moment after the previous test's last request."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.since = datetime.now(UTC)
        self.started = time.monotonic()

    def __call__(self) -> str:
        return f"{time.monotonic() - self.started + 0.2:.1f}s"

    def holds(self, rows: int, timeout_s: float = 60) -> None:
        """Wait until the prediction log has written `rows` rows in the window: the function writes
        them in batches up to a second after each request, later on a loaded machine."""
        deadline = time.monotonic() + timeout_s
        while (logged := logged_rows(self.cloud, self.since)) < rows:
            assert time.monotonic() < deadline, f"the prediction log wrote {logged} of {rows} rows in {timeout_s:.0f} s"
            time.sleep(0.5)


@pytest.fixture
def window(mnist_cloud: tuple[LocalCloud, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Window:
    point_cli_at(mnist_cloud[0], monkeypatch)
    time.sleep(0.5)
    return Window(mnist_cloud[0])


@pytest.fixture(scope="module")
def images(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> Dataset:
    return read_table(mnist_cloud[0].context, "test", row_filter=f"key < {IMAGES}")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main([*argv, "--json"])
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_test_images_raise_no_alert_and_inverted_ones_raise_the_drift_alert(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]],
    served: str,
    window: Window,
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = mnist_cloud[0].context
    status, sent = run(capsys, "predict", "--n", str(IMAGES))
    assert status == 0
    assert sent["model_version"] == "1"
    window.holds(IMAGES)
    status, report = run(capsys, "monitor", "--window", window())
    assert status == 0, report["alerts"]
    [version] = report["versions"]
    assert (version["version"], version["instances"], version["requests"]) == ("1", IMAGES, IMAGES // 100)
    assert version["class_drift"]["js"] < LOCAL.monitoring.class_drift_js
    assert len(version["class_drift"]["baseline"]) == len(version["class_drift"]["observed"]) == 10
    assert sum(version["confidence"]["drift"]["observed"]) == pytest.approx(1)
    assert version["latency_ms"]["p50"] <= version["latency_ms"]["p95"] <= version["latency_ms"]["p99"]

    status, _ = run(capsys, "predict", "--n", str(IMAGES), "--transform", "invert")
    assert status == 0
    window.holds(2 * IMAGES)
    status, report = run(capsys, "monitor", "--window", window())
    assert status == 3
    [version] = report["versions"]
    assert version["instances"] == 2 * IMAGES
    assert "class_drift.js" in {a["figure"] for a in report["alerts"]}
    assert version["class_drift"]["js"] > LOCAL.monitoring.class_drift_js

    # A drift alert retrains: the scheduled train-publish job, submitted to Vertex AI (the emulator).
    from ml.jobs.service import cancel, get
    from ml.jobs.spec import scheduled_job

    status, report = run(capsys, "monitor", "--window", window(), "--retrain-on-alert")
    assert status == 3
    job = get(context, report["retraining_job"].rsplit("/", 1)[1])
    assert job.labels == {**scheduled_job(LOCAL)["labels"], "trigger": "monitor"}
    cancel(context, job.id)  # the job itself is train-publish, tested in tests/cli/test_jobs.py

    # What the scheduled monitor writes for the cloud's alert policy, through the real client.
    with cloud_monitoring() as (client, received):
        written = publish(monitor(context, parse_window(window()), version="1"), client, "p", "local")
    series = [s for request in received for s in request.time_series]
    assert len(series) == written
    alerts = {
        s.metric.labels["figure"]: s.points[0].value.double_value for s in series if s.metric.type == ALERTS_METRIC
    }
    assert alerts["class_drift.js"] == 1.0
    assert alerts["latency_ms.p95"] == 0.0
    [js] = [s for s in series if s.metric.type.endswith("/class_drift_js")]
    assert js.points[0].value.double_value > LOCAL.monitoring.class_drift_js
    assert (js.resource.type, dict(js.metric.labels)) == ("global", {"env": "local", "model": "mnist", "version": "1"})


def test_online_accuracy_is_the_accuracy_on_the_instances_with_feedback(
    served: str, window: Window, images: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    api = InferAPI(served, project=LOCAL.project, model=LOCAL.model_name)
    answer = api.predict(images.images, batch_size=50, progress=False)
    labelled = 300  # six requests of 50
    known = np.where(np.arange(IMAGES) < labelled, images.labels, -1)
    known[labelled - 1] = -1  # one instance of a labelled request left without a label
    assert api.feedback(answer["request_ids"], known) == labelled - 1
    predicted = np.asarray(answer["class_ids"])
    judged = known >= 0
    direct = float((predicted[judged] == images.labels[judged]).mean())
    window.holds(IMAGES)

    _, report = run(capsys, "monitor", "--window", window())
    [version] = report["versions"]
    assert version["feedback"]["labelled"] == labelled - 1
    assert version["feedback"]["online_accuracy"] == pytest.approx(direct, abs=1e-6)
    recall = version["feedback"]["recall"]
    for label in np.unique(images.labels[judged]):
        mine = images.labels[judged] == label
        assert recall[str(label)]["n"] == int(mine.sum())
        assert recall[str(label)]["recall"] == pytest.approx(float((predicted[judged][mine] == label).mean()), abs=1e-6)


def test_no_traffic_is_reported_with_exit_0_and_an_unknown_version_is_one_line(
    served: str, window: Window, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = run(capsys, "monitor", "--window", window())
    assert (status, report["versions"], report["alerts"]) == (0, [], [])
    assert main(["monitor", "--window", "1h", "--version", "99"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "no version '99'" in error[0]
    assert main(["monitor", "--window", "yesterday"]) == 1
    assert main(["monitor", "--publish-metrics"]) == 1  # no Cloud Monitoring here: said before any query
    assert "Cloud Monitoring has no emulator" in capsys.readouterr().err


def test_a_monitor_that_cannot_reach_bigquery_exits_1_not_3(
    served: str, window: Window, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml.emulators import free_port

    monkeypatch.setenv("BQ_EMULATOR_PORT", str(free_port()))  # nothing listens there
    assert main(["monitor", "--window", "1h"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "cannot read the local BigQuery emulator" in error[0], error


def test_predictions_the_log_could_not_write_raise_an_alert(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]],
    served: str,
    images: Dataset,
    window: Window,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The function's failed writes reach the monitor as Cloud Run's log lines would (the emulator serves them)."""
    from datetime import timedelta

    from infra.terraform_json import load_stack
    from ml.monitoring.monitor import failed_rows

    cloud = mnist_cloud[0]
    started = datetime.now(UTC) - timedelta(seconds=1)
    cloud.context.bigquery.delete_table(LOCAL.table(PREDICTIONS))
    try:
        InferAPI(served, project=LOCAL.project, model=LOCAL.model_name).predict(images.images[:3], progress=False)
        deadline = time.monotonic() + 30
        while (failed := failed_rows(cloud.context, started, datetime.now(UTC))) < 3:
            assert time.monotonic() < deadline, f"{failed} failed rows logged"
            time.sleep(0.5)
    finally:
        cloud.provisioner().apply(load_stack(cloud.stack_file))  # as `make up` would: the table again, empty
    status, report = run(capsys, "monitor", "--window", window())
    assert status == 3
    assert report["prediction_log"] == {"failed_rows": 3}
    assert [a["figure"] for a in report["alerts"]] == ["prediction_log.failed_rows"]
