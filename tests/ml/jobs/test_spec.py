"""The CustomJob request: what the command line submits and Cloud Scheduler posts."""

from __future__ import annotations

import pytest

from infra.local.vertex.jobs import validate
from ml.environments import ENVIRONMENTS
from ml.jobs.spec import Machine, custom_job, report_path, scheduled_job


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_the_job_runs_train_publish_in_process_as_trainer_with_its_report_in_the_models_bucket(env_name: str) -> None:
    env = ENVIRONMENTS[env_name]
    body = custom_job(env, "example/trainer@sha256:0", ["--budget=60"], Machine("n1-standard-8"))
    (pool,) = body["jobSpec"]["workerPoolSpecs"]
    assert pool["containerSpec"]["args"] == [
        "train-publish", "--env", env_name, "--runner", "inprocess", "--job-report", "--budget=60"
    ]  # fmt: skip
    assert pool["containerSpec"]["imageUri"] == "example/trainer@sha256:0"
    assert body["jobSpec"]["serviceAccount"] == env.service_account_email("trainer")
    assert body["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"] == f"gs://{env.models_bucket}/jobs/"
    assert report_path("123") == "jobs/123/report.json"
    assert body["labels"] == {**env.labels, "trigger": "cli"}


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_the_scheduled_request_is_one_vertex_accepts(env_name: str) -> None:
    """Checked by the emulator's own validation, which refuses what Vertex AI refuses."""
    env = ENVIRONMENTS[env_name]
    body = scheduled_job(env)
    (pool,) = validate(body)["jobSpec"]["workerPoolSpecs"]
    assert pool["containerSpec"]["imageUri"] == f"{env.training_image}:latest"  # resolved when each job starts
    assert pool["machineSpec"] == Machine.of(env).to_json_object()
    assert pool["containerSpec"]["args"][-1] == f"--budget={env.training.scheduled_budget_s}"
    assert body["labels"]["trigger"] == "schedule"
