"""The publish flow on the emulators: the gate, aliases, evaluations, manifest, kills and races."""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.commands import main
from localcloud.cloud import LocalCloud
from ml.environments import ENVIRONMENTS
from ml.errors import ArtifactError
from ml.publish.flow import STEPS, artifact_store, publish
from ml.publish.serving_manifest import read_serving_manifest
from ml.registry import PREVIOUS, PRODUCTION
from tests.support.cloud import endpoint_variables, point_cli_at
from tests.support.published import invariants

LOCAL = ENVIRONMENTS["local"]

Cloud = tuple[LocalCloud, dict[str, Any]]


@pytest.fixture
def model() -> str:
    return f"mnist-{secrets.token_hex(3)}"


def test_a_worse_model_is_not_promoted_force_promotes_it_rollback_restores(
    mnist_cloud: Cloud, runs: dict[str, Path], model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, _ = mnist_cloud
    log = io.StringIO()
    first = publish(cloud.context, runs["good"], model=model, log=log)
    assert (first.version, first.promoted, first.production) == ("1", True, "1")
    assert [line.split(":")[0] for line in log.getvalue().splitlines()] == [
        f"step {i}/{len(STEPS)} {s}" for i, s in enumerate(STEPS, 1)
    ]

    worse = publish(cloud.context, runs["worse"], model=model, log=log)
    assert worse.version == "2"
    assert worse.challenger_metrics.accuracy < worse.champion_metrics.accuracy  # type: ignore[union-attr]
    assert (worse.promoted, worse.production, worse.previous) == (False, "1", None)
    assert worse.decision.startswith("kept version 1")

    forced = publish(cloud.context, runs["worse"], model=model, force=True, log=log)
    assert (forced.version, forced.promoted, forced.production, forced.previous) == ("2", True, "2", "1")
    assert forced.manifest is not None
    assert forced.manifest.version == "2"

    point_cli_at(cloud, monkeypatch)
    assert main(["models", "rollback", model, "--json"]) == 0
    assert invariants(cloud, model) == {PRODUCTION: "1", PREVIOUS: "2"}
    manifest = read_serving_manifest(cloud.context, model)
    assert manifest is not None
    assert manifest.version == "1"

    rows = cloud.context.bigquery.query(
        f"SELECT model_version, data_digest FROM `{LOCAL.project}.{LOCAL.dataset_id}.model_evaluations` "
        f"WHERE model = '{model}' ORDER BY model_version"
    )
    evaluated = [(r.model_version, r.data_digest) for r in rows.result()]
    assert {v for v, _ in evaluated} == {"1", "2"}
    assert len({d for _, d in evaluated}) == 1  # both on one test snapshot


def test_a_teardown_that_emptied_the_bucket_leaves_a_stated_case_and_a_deleted_model_starts_afresh(
    mnist_cloud: Cloud, runs: dict[str, Path], model: str
) -> None:
    """The registry outlives an emptied models bucket (a dev teardown before `models delete-all` existed)."""
    cloud, _ = mnist_cloud
    publish(cloud.context, runs["good"], model=model, log=io.StringIO())
    bucket = cloud.context.storage.bucket(LOCAL.models_bucket)
    for blob in list(bucket.list_blobs()):
        if f"{model}/" in blob.name or f"{model}." in blob.name:
            blob.delete()
    # Even a worse run takes production: the champion can be neither evaluated nor served.
    worse = publish(cloud.context, runs["worse"], model=model, log=io.StringIO())
    assert (worse.version, worse.promoted, worse.production, worse.champion) == ("2", True, "2", None)
    assert worse.previous is None  # the lost version is no one's fallback
    assert worse.decision.startswith("promoted: production version 1 can be neither evaluated nor served (")
    assert "has no record" in worse.decision
    manifest = read_serving_manifest(cloud.context, model)
    assert manifest is not None
    assert manifest.version == "2"

    cloud.context.registry.delete_model(model)  # what `models delete-all` does to each model
    assert model not in [m.name for m in cloud.context.registry.list_models()]
    again = publish(cloud.context, runs["good"], model=model, log=io.StringIO())
    assert (again.promoted, again.production, again.previous, again.champion) == (True, again.version, None, None)
    assert [v.version for v in cloud.context.registry.list_versions(model)] == [again.version]


def test_a_version_records_metrics_lineage_and_verified_artifacts(
    mnist_cloud: Cloud, runs: dict[str, Path], model: str
) -> None:
    cloud, _ = mnist_cloud
    publish(cloud.context, runs["good"], model=model, log=io.StringIO())
    version = cloud.context.registry.get(f"{model}@{PRODUCTION}")
    metrics = json.loads((runs["good"] / "metrics.json").read_text())
    assert version.record.metrics.accuracy == metrics["accuracy"]
    assert version.record.run_id == runs["good"].name
    assert set(version.record.lineage.tables) == {"train", "valid", "test"}
    assert len(version.record.lineage.git.commit or "") == 40
    assert set(version.record.artifacts) == {"saved_model", "tflite", "report", "iterations"}
    for artifact in version.record.artifacts.values():
        assert f"/{artifact.sha256}" in artifact.uri  # content-addressed


def test_an_artifact_whose_bytes_changed_is_refused(mnist_cloud: Cloud, runs: dict[str, Path], model: str) -> None:
    cloud, _ = mnist_cloud
    publish(cloud.context, runs["good"], model=model, log=io.StringIO())
    version = cloud.context.registry.get(f"{model}@{PRODUCTION}")
    tflite = version.record.artifacts["tflite"]
    bucket = cloud.context.storage.bucket(LOCAL.models_bucket)
    bucket.blob(tflite.uri.split("/", 3)[3]).upload_from_string(b"not the registered model")
    with pytest.raises(ArtifactError, match=rf"has SHA-256 \w+, not the registered {tflite.sha256}: refusing it"):
        artifact_store(cloud.context, model).verify(tflite)


def _publish_command(cloud: LocalCloud, run: Path, model: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, **endpoint_variables(cloud.endpoints)}
    return [sys.executable, "-m", "ml", "publish", str(run), "--model", model, "--json"], env


@pytest.mark.parametrize("step", range(1, len(STEPS) + 1))
def test_killed_at_any_step_leaves_nothing_half_made_and_a_rerun_completes(
    mnist_cloud: Cloud, runs: dict[str, Path], model: str, step: int
) -> None:
    cloud, _ = mnist_cloud
    publish(cloud.context, runs["good"], model=model, log=io.StringIO())  # a champion to replace
    command, env = _publish_command(cloud, runs["worse"], model)
    process = subprocess.Popen(
        [*command, "--force"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith(f"step {step}/"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL
    invariants(cloud, model)
    rerun = subprocess.run([*command, "--force"], env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["version"] == "2"
    assert invariants(cloud, model) == {PRODUCTION: "2", PREVIOUS: "1"}


def test_two_publishes_at_once_get_distinct_versions_and_one_consistent_production(
    mnist_cloud: Cloud, runs: dict[str, Path], model: str
) -> None:
    cloud, _ = mnist_cloud
    processes = []
    for run in (runs["good"], runs["worse"]):
        command, env = _publish_command(cloud, run, model)
        processes.append(
            subprocess.Popen([*command, "--force"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    results = [p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in results]
    versions = sorted(json.loads(out)["version"] for out, _ in results)
    assert versions == ["1", "2"]
    aliases = invariants(cloud, model)
    assert aliases[PRODUCTION] in versions
    manifest = read_serving_manifest(cloud.context, model)
    assert manifest is not None
    assert manifest.version == aliases[PRODUCTION]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "versions", "no-such-model"], "unknown model 'no-such-model'"),
        (["models", "show", "MODEL@9"], "has no version 9"),
        (["models", "promote", "MODEL", "Prod"], "'Prod' is not a version id"),
        (["models", "delete-version", "MODEL", "1"], "is still default, production: move those aliases"),
        (["models", "rollback", "MODEL"], "has no previous version to roll back to"),
        (["models", "show", "MODEL@Bad_Alias"], "bad alias name 'Bad_Alias'"),
        (["publish", "/nonexistent/run"], "is not a finished training run"),
    ],
    ids=["unknown-model", "unknown-version", "bad-version", "alias-in-use", "no-previous", "bad-alias", "no-run"],
)
def test_commands_fail_in_one_line(
    mnist_cloud: Cloud,
    runs: dict[str, Path],
    model: str,
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cloud, _ = mnist_cloud
    publish(cloud.context, runs["good"], model=model, log=io.StringIO())
    point_cli_at(cloud, monkeypatch)
    capsys.readouterr()
    assert main([a.replace("MODEL", model) for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert message in err
    assert "\n" not in err
