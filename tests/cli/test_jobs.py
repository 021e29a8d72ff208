"""`train-publish --runner vertex` and `python -m ml jobs` on `local`, through the Vertex AI emulator.

The job runs train-publish itself in a replica process; these tests read what it left
through the same registry, jobs and logging clients a user's command uses.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from ml.jobs import service
from tests.support.cloud import endpoint_variables
from tests.support.published import invariants

Cloud = tuple[LocalCloud, dict[str, Any]]
# Fixed work on a few thousand rows: a run of seconds on any machine, bounded by the budget.
TINY = ["--budget", "60", "--iteration-steps", "100", "--iterations", "1", "--limit", "3000", "--generators", "dnn"]


def ml(cloud: LocalCloud, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **endpoint_variables(cloud.endpoints)}
    return subprocess.run([sys.executable, "-m", "ml", *argv], capture_output=True, text=True, env=env, check=False)


@pytest.fixture
def model() -> str:
    return f"jobs-{secrets.token_hex(3)}"


def test_train_publish_on_vertex_publishes_a_version_and_the_job_is_listed_succeeded(
    mnist_cloud: Cloud, model: str
) -> None:
    cloud, _ = mnist_cloud
    result = ml(cloud, "train-publish", "--runner", "vertex", *TINY, "--model", model, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    job = report["job"]
    assert (job["state"], report["version"], report["promoted"]) == ("SUCCEEDED", "1", True)
    assert report["training"]["iterations"] == 1
    assert "/runs-" in report["training"]["run_dir"]  # in the job, the run directory is scratch
    # Followed: the state changes and the replica's own lines, on standard error.
    assert f"job {job['id']}: RUNNING" in result.stderr
    assert "[workerpool0-0] step 6/6 promote" in result.stderr
    assert f"job {job['id']}: SUCCEEDED" in result.stderr

    version = cloud.context.registry.get_version(model, "1")
    assert version.aliases == ("default", "production")
    assert invariants(cloud, model) == {"production": "1", "previous": None}

    listed = json.loads(ml(cloud, "jobs", "list", "--json").stdout)["jobs"]
    assert {"id": job["id"], "state": "SUCCEEDED"}.items() <= next(j for j in listed if j["id"] == job["id"]).items()
    lines = json.loads(ml(cloud, "jobs", "logs", job["id"], "--json").stdout)["lines"]
    assert any(line["text"].startswith("step 2/6 register") for line in lines)
    followed = ml(cloud, "jobs", "logs", job["id"], "--follow")  # an ended job: its lines, then its state
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.strip().splitlines()[-2:] == [
        "[workerpool0-0] production: version 1, previous: version None",
        f"job {job['id']}: SUCCEEDED",
    ]


def test_a_job_that_fails_exits_1_with_its_error_and_leaves_no_version(mnist_cloud: Cloud, model: str) -> None:
    cloud, _ = mnist_cloud
    result = ml(cloud, "train-publish", "--runner", "vertex", "--budget", "1", "--model", model)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert re.match(r"error: job \d+ FAILED: The replica workerpool0-0 exited with a non-zero status of 1", last)
    assert "[workerpool0-0] error: " in result.stderr  # the job's own one-line error came through its log
    assert invariants(cloud, model) == {}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--machine-type", "n1-standard-5"], "unknown machine type 'n1-standard-5'"),
        (["--accelerator", "NVIDIA_TESLA_T9"], "unknown accelerator 'NVIDIA_TESLA_T9'"),
        (["--machine-type", "e2-standard-4", "--accelerator", "NVIDIA_TESLA_T4"], "e2-standard-4 cannot take"),
        (["--generators", "cnn,rnn"], "unknown generator(s) ['rnn']"),
    ],
    ids=["machine", "accelerator", "pairing", "generator"],
)
def test_bad_job_input_is_one_line_before_anything_is_submitted(
    mnist_cloud: Cloud, flags: list[str], message: str
) -> None:
    cloud, _ = mnist_cloud
    before = len(service.list_jobs(cloud.context))
    result = ml(cloud, "train-publish", "--runner", "vertex", *flags)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(service.list_jobs(cloud.context)) == before


def test_an_unknown_job_is_one_line(mnist_cloud: Cloud) -> None:
    cloud, _ = mnist_cloud
    for argv in (["jobs", "show", "123"], ["jobs", "logs", "123"], ["jobs", "cancel", "123"]):
        result = ml(cloud, *argv)
        assert result.returncode == 1
        assert result.stderr.strip() == "error: no job 123 in local: see `python -m ml jobs list --env local`"
    assert ml(cloud, "jobs", "show", "latest").stderr.startswith("error: 'latest' is not a job id")


def test_ctrl_c_leaves_the_job_running_and_a_cancel_while_it_publishes_leaves_nothing_half_made(
    mnist_cloud: Cloud, model: str
) -> None:
    cloud, _ = mnist_cloud
    env = {**os.environ, **endpoint_variables(cloud.endpoints)}
    command = [sys.executable, "-m", "ml", "train-publish", "--runner", "vertex", *TINY, "--model", model]
    following = subprocess.Popen(
        command,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        # A shell's background job inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert following.stderr is not None
    for line in following.stderr:
        if running := re.match(r"job (\d+): RUNNING", line):
            following.send_signal(signal.SIGINT)
            break
    assert running is not None
    rest = following.stderr.read()
    assert following.wait(timeout=30) == 130
    job = service.get(cloud.context, running.group(1))
    assert rest.strip().splitlines()[-1] == (
        f"error: stopped following; job {job.id} runs on: `python -m ml jobs logs {job.id} --env local --follow` "
        f"to watch it, `python -m ml jobs cancel {job.id} --env local` to stop it"
    )

    deadline = time.monotonic() + 300
    while not any(line.text.startswith("step 1/6 upload") for line in service.log_lines(cloud.context, job)):
        assert time.monotonic() < deadline, "the job never reached its upload"
        assert not service.get(cloud.context, job.id).done  # it ran on after Ctrl-C
        time.sleep(0.1)
    service.cancel(cloud.context, job.id)  # at once: `python -m ml jobs cancel` takes seconds to start
    while (ended := service.get(cloud.context, job.id)).state == "CANCELLING":
        time.sleep(0.1)
    assert ended.state == "CANCELLED"
    assert not any(line.text.startswith("step 6/6") for line in service.log_lines(cloud.context, ended))
    invariants(cloud, model)

    again = ml(cloud, "jobs", "cancel", job.id)
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: job {job.id} already ended (CANCELLED): nothing to cancel"


def test_jobs_cancel_stops_a_running_job(mnist_cloud: Cloud) -> None:
    cloud, _ = mnist_cloud
    container = {"imageUri": "example/image:1", "command": ["python", "-c", "import time; time.sleep(600)"]}
    pool = {"machineSpec": {"machineType": "n1-standard-4"}, "replicaCount": "1", "containerSpec": container}
    job = service.submit(cloud.context, {"displayName": "sleeper", "jobSpec": {"workerPoolSpecs": [pool]}})
    cancelled = ml(cloud, "jobs", "cancel", job.id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith(f"job {job.id}: CANCELL")
    deadline = time.monotonic() + 30
    while (job := service.get(cloud.context, job.id)).state != "CANCELLED":
        assert time.monotonic() < deadline, f"job {job.id} is still {job.state}"
        time.sleep(0.2)
