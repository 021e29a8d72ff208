"""`python -m ml report` on the shared local cloud: one page, self-contained, uploaded."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.commands import main
from localcloud.cloud import LocalCloud
from ml.client import InferAPI
from ml.data import Dataset
from ml.environments import ENVIRONMENTS
from ml.monitoring.monitor import monitor
from ml.monitoring.report import report_object
from tests.support.cloud import point_cli_at

LOCAL = ENVIRONMENTS["local"]


def test_the_page_holds_versions_evaluations_and_traffic_and_is_uploaded(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]],
    served: str,
    test_rows: Dataset,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cloud, _ = mnist_cloud
    point_cli_at(cloud, monkeypatch)
    InferAPI(served, project=LOCAL.project, model=LOCAL.model_name).predict(test_rows.images, progress=False)
    deadline = time.monotonic() + 30
    while not monitor(cloud.context, timedelta(hours=1)).versions:  # the prediction log writes once a second
        assert time.monotonic() < deadline, "the predictions were not logged"
        time.sleep(0.5)
    page = tmp_path / "page.html"
    assert main(["report", "--out", str(page), "--days", "2", "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert reported["uri"] == f"gs://{LOCAL.models_bucket}/{report_object(LOCAL.model_name)}"
    text = page.read_text()
    assert cloud.context.models_bucket.blob(report_object(LOCAL.model_name)).download_as_text() == text

    # Self-contained: every image inline, nothing fetched from elsewhere.
    assert not re.search(r"""(src|href)=['"](?!data:)""", text)
    versions = re.search(r"<h2>Versions</h2>(.*?)</section>", text, re.S)
    assert versions is not None
    assert re.search(r"<td>1</td><td>[^<]*production[^<]*</td>", versions.group(1))
    assert "<td>2</td>" in versions.group(1)
    for version in ("1", "2"):
        section = re.search(rf"<h2>Version {version}</h2>(.*?)</section>", text, re.S)
        assert section is not None
        assert section.group(1).count("data:image/png;base64,") == 2  # confusion matrix and learning curves
    traffic = re.search(r"<h2>Served traffic.*?</h2>(.*?)</section>", text, re.S)
    assert traffic is not None
    assert traffic.group(1).count("data:image/png;base64,") == 5
    assert "<h2>Evaluations</h2>" in text
