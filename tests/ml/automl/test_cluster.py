"""A search spread over a job's replicas, on the local cloud's Vertex AI emulator: the same choice
as one process makes from the same candidates, a killed worker dropped, a killed chief failing.

The replicas are real `train-publish` processes started by the emulator, meeting through the
storage emulator; what they left is read through the registry, jobs and logging clients.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from localcloud.cloud import LocalCloud
from ml.automl.cluster import GRACE_MAX_S, grace_s
from ml.automl.cluster_spec import Replica
from ml.errors import ClusterError
from ml.jobs import service
from ml.publish.flow import artifact_store
from tests.support.cloud import endpoint_variables
from tests.support.published import invariants

Cloud = tuple[LocalCloud, dict[str, Any]]
# DNNs only: the first iteration has one candidate (no screen), the second two, four when twice as wide.
TINY = ["--budget", "90", "--iterations", "2", "--iteration-steps", "100", "--limit", "3000", "--generators", "dnn"]


def ml(cloud: LocalCloud, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **endpoint_variables(cloud.endpoints)}
    return subprocess.run([sys.executable, "-m", "ml", *argv], capture_output=True, text=True, env=env, check=False)


def iterations(cloud: LocalCloud, model: str, version: str, tmp_path: Path) -> list[dict[str, Any]]:
    """The iterations.json the job's chief published with `version`."""
    artifact = cloud.context.registry.get_version(model, version).record.artifacts["iterations"]
    path = artifact_store(cloud.context, model).fetch(artifact, tmp_path / f"{model}-{version}.json")
    records: list[dict[str, Any]] = json.loads(path.read_text())
    return records


def replica_process(job_id: str, task: str) -> psutil.Process | None:
    """The process the emulator runs as `task` of the job."""
    for process in psutil.process_iter():
        try:
            environ = process.environ()
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if environ.get("CLOUD_ML_JOB_ID") == job_id and "CLUSTER_SPEC" in environ:
            spec = json.loads(environ["CLUSTER_SPEC"])["task"]
            if f"{spec['type']}-{spec['index']}" == task:
                return process
    return None


def wait_for_line(cloud: LocalCloud, job: service.Job, task: str, start: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any(line.task == task and line.text.startswith(start) for line in service.log_lines(cloud.context, job)):
        assert time.monotonic() < deadline, f"{task} never logged {start!r}"
        assert not service.get(cloud.context, job.id).done, service.get(cloud.context, job.id)
        time.sleep(0.1)


def wait_for_end(cloud: LocalCloud, job: service.Job, timeout: float = 300) -> service.Job:
    deadline = time.monotonic() + timeout
    while not (ended := service.get(cloud.context, job.id)).done:
        assert time.monotonic() < deadline, f"job {job.id} is still {ended.state}"
        time.sleep(0.2)
    return ended


def submit(cloud: LocalCloud, model: str, *flags: str) -> service.Job:
    result = ml(cloud, "train-publish", "--runner", "vertex", "--replicas", "2", *flags, "--model", model, "--detach")
    assert result.returncode == 0, result.stderr
    return service.get(cloud.context, result.stdout.split()[2])


def test_two_replicas_choose_the_ensemble_one_process_chooses_from_the_same_candidates(
    mnist_cloud: Cloud, tmp_path: Path
) -> None:
    cloud, _ = mnist_cloud
    model = "cluster-same"
    result = ml(cloud, "train-publish", "--runner", "vertex", "--replicas", "2", *TINY, "--model", model, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["job"]["state"] == "SUCCEEDED"
    assert "[workerpool1-0] iteration 2: training t1_dnn_2x256, t1_dnn_2x256_s1" in result.stderr
    spread = iterations(cloud, model, report["version"], tmp_path)
    second = spread[1]
    trained = [c for c in second["candidates"] if c["name"] != "previous ensemble"]
    # twice the generators' two candidates, candidate i on replica i mod 2
    assert [(c["name"], c["replica"]) for c in trained] == [
        ("t1_dnn_1x256", 0), ("t1_dnn_2x256", 1), ("t1_dnn_1x256_s1", 0), ("t1_dnn_2x256_s1", 1)
    ]  # fmt: skip
    assert all(c["steps"] == 100 for c in trained)
    assert (second["replicas"], second["dropped"]) == (2, [])
    assert second["coordination_seconds"] >= 0

    together = ml(cloud, "train", *TINY, "--search-width", "2", "--runs-dir", str(tmp_path / "runs"), "--json")
    assert together.returncode == 0, together.stderr[-3000:]
    alone = json.loads((Path(json.loads(together.stdout)["run_dir"]) / "iterations.json").read_text())
    for theirs, ours in zip(spread, alone, strict=True):
        assert (theirs["kept"], theirs["members"]) == (ours["kept"], ours["members"])
        scores = [(c["name"], c["objective"], c["valid_accuracy"]) for c in theirs["candidates"]]
        assert scores == [(c["name"], c["objective"], c["valid_accuracy"]) for c in ours["candidates"]]
    assert report["training"]["test_accuracy"] == json.loads(together.stdout)["test_accuracy"]


def test_a_killed_worker_is_dropped_with_why_rejoins_and_the_job_publishes(mnist_cloud: Cloud, tmp_path: Path) -> None:
    """Killed while it trains the second iteration: the emulator starts it again, as Vertex AI does;
    the restarted worker tells the chief that iteration's work is lost, then trains in the third."""
    cloud, _ = mnist_cloud
    model = "cluster-worker"
    flags = ["--budget", "150", "--iterations", "3", "--iteration-steps", "800", "--limit", "3000"]
    job = submit(cloud, model, *flags, "--generators", "dnn")
    wait_for_line(cloud, job, "workerpool1-0", "iteration 2: training")
    worker = replica_process(job.id, "workerpool1-0")
    assert worker is not None
    worker.kill()

    ended = wait_for_end(cloud, job)
    assert ended.state == "SUCCEEDED", ended
    lines = [(line.task, line.text) for line in service.log_lines(cloud.context, ended)]
    assert any(task == "workerpool1-0" and "Restarting it (1 of 5)" in text for task, text in lines)
    version = cloud.context.registry.list_versions(model)[-1].version
    _, second, third = iterations(cloud, model, version, tmp_path)
    assert {c["replica"] for c in second["candidates"]} == {0}
    assert [(d["name"], d["replica"]) for d in second["dropped"]] == [("t1_dnn_2x256", 1), ("t1_dnn_2x256_s1", 1)]
    assert second["dropped"][0]["reason"] == "workerpool1-0 restarted (start 2); what it was training is lost"
    assert third["dropped"] == []
    assert {c["replica"] for c in third["candidates"] if c["steps"]} == {0, 1}  # it trained again
    assert invariants(cloud, model)["production"] == version


def test_a_killed_chief_fails_the_job_and_publishes_nothing(mnist_cloud: Cloud) -> None:
    cloud, _ = mnist_cloud
    model = "cluster-chief"
    job = submit(cloud, model, *TINY)
    wait_for_line(cloud, job, "workerpool1-0", "replica 1 of 2: waiting for the chief's plans")
    chief = replica_process(job.id, "workerpool0-0")
    assert chief is not None
    chief.kill()

    ended = wait_for_end(cloud, job, timeout=60)
    assert ended.state == "FAILED"
    assert ended.error is not None
    assert ended.error.startswith("The replica workerpool0-0 exited with a non-zero status of -9")
    assert replica_process(job.id, "workerpool1-0") is None  # the job ended its worker
    assert invariants(cloud, model) == {}


def test_replicas_outside_a_job_are_refused_in_one_line(mnist_cloud: Cloud) -> None:
    cloud, _ = mnist_cloud
    result = ml(cloud, "train-publish", "--runner", "inprocess", "--replicas", "2")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: --replicas 2 needs --runner vertex (replicas are a job's); in this process, "
        "--search-width 2 trains the same candidates one after another"
    )


def test_replicas_for_a_search_of_one_iteration_are_noted_as_cost_without_candidates(mnist_cloud: Cloud) -> None:
    cloud, _ = mnist_cloud
    result = ml(cloud, "train-publish", "--runner", "vertex", "--replicas", "3", "--budget", "600", "--detach")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == (
        "note: a 600 s budget searches one iteration, the screen, which runs on the chief alone: the 2 worker(s) "
        "add cost, not candidates; give --iterations 2 or a budget of 1200 s or more"
    )
    job = service.get(cloud.context, result.stdout.split()[2])
    service.cancel(cloud.context, job.id)
    assert wait_for_end(cloud, job, timeout=60).state == "CANCELLED"


def test_the_chiefs_grace_is_bounded() -> None:
    assert grace_s(0) == 5.0
    assert grace_s(100) == 10.0
    assert grace_s(10_000) == GRACE_MAX_S


def test_a_chief_that_restarts_refuses_to_resume(mnist_cloud: Cloud) -> None:
    """Vertex AI may start a failed chief again: a search cannot resume, so it fails the job."""
    from ml.automl.cluster import ChiefPool
    from ml.automl.exchange import Exchange

    cloud, _ = mnist_cloud
    exchange = Exchange(cloud.context.models_bucket, f"jobs/test-{time.time_ns()}/search")
    ChiefPool(exchange, Replica(0, 2), {})
    with pytest.raises(ClusterError, match=r"the chief restarted \(start 2\).*publishes nothing"):
        ChiefPool(exchange, Replica(0, 2), {})
