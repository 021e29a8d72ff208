"""The CustomJob request: what the command line submits and Cloud Scheduler posts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from localcloud.vertex.jobs import validate
from ml.environments import ENVIRONMENTS
from ml.errors import JobError
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


def test_a_scheduled_job_on_an_accelerator_trains_on_it_or_fails_saying_so() -> None:
    """`--device gpu`: an image without CUDA stops with one line, never trains on the CPU unnoticed."""
    env = ENVIRONMENTS["dev"]
    training = replace(env.training, machine_type="g2-standard-4", accelerator="NVIDIA_L4", accelerator_count=1)
    accelerated = replace(env, training=training)
    (pool,) = validate(scheduled_job(accelerated))["jobSpec"]["workerPoolSpecs"]
    assert pool["containerSpec"]["args"][-1] == "--device=gpu"
    assert pool["machineSpec"]["acceleratorType"] == "NVIDIA_L4"
    assert "--device=gpu" not in scheduled_job(env)["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"]


def test_a_job_of_several_replicas_has_a_chief_pool_of_one_and_a_worker_pool_of_the_rest() -> None:
    env = ENVIRONMENTS["dev"]
    body = custom_job(env, "example/trainer@sha256:0", ["--budget=60"], Machine("n1-standard-8"), replicas=3)
    chief, workers = validate(body)["jobSpec"]["workerPoolSpecs"]
    assert (chief["replicaCount"], workers["replicaCount"]) == ("1", "2")
    assert chief["containerSpec"] == workers["containerSpec"]  # each learns its part from CLUSTER_SPEC
    assert chief["machineSpec"] == workers["machineSpec"] == {"machineType": "n1-standard-8"}
    assert chief["containerSpec"]["args"][-2:] == ["--budget=60", "--search-width=3"]  # as wide as the pool
    narrow = custom_job(env, "i", ["--search-width=1"], Machine("n1-standard-8"), replicas=3)
    assert narrow["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"][-1] == "--search-width=1"
    with pytest.raises(JobError, match="--replicas 0: a job needs at least its chief"):
        custom_job(env, "i", [], Machine("n1-standard-8"), replicas=0)
