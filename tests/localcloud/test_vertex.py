"""The Vertex AI emulator through the real clients: aiplatform's SDK and GAPIC, Cloud Logging's, and raw REST.

Each test runs the emulator as `make up` does, on free ports, alone: jobs here run small
Python commands, so nothing else of the local cloud is needed.
"""

from __future__ import annotations

import json
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from localcloud.cloud import LocalCloud
from localcloud.services import ServiceSpec
from ml.context import Context
from ml.emulators import LocalEndpoints
from ml.environments import ENVIRONMENTS
from ml.jobs import service
from ml.jobs.service import Job

LOCAL = ENVIRONMENTS["local"]
PARENT = f"projects/{LOCAL.project}/locations/{LOCAL.region}"


class Emulator:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.spec: ServiceSpec = next(s for s in cloud.specs() if s.name == "vertex")

    @property
    def context(self) -> Context:
        return self.cloud.context

    @property
    def url(self) -> str:
        return self.cloud.endpoints.vertex_url

    def start(self) -> None:
        self.cloud.services.start(self.spec)

    def pid(self) -> int:
        running = self.cloud.services.running("vertex")
        assert running is not None
        return running.pid

    def submit(self, script: str, *, pools: tuple[int, ...] = (1,), **job: Any) -> Job:
        """A job whose replicas run `script` with this environment's Python (the image's, here)."""
        container = {"imageUri": "example/image:1", "command": ["python", "-c", textwrap.dedent(script)]}
        specs = [
            {"machineSpec": {"machineType": "n1-standard-4"}, "replicaCount": str(n), "containerSpec": container}
            for n in pools
        ]
        body = {"displayName": "test", "jobSpec": {"workerPoolSpecs": specs, **job}}
        return service.submit(self.context, body)

    def wait(self, job: Job, until: Callable[[Job], bool], timeout_s: float = 60) -> Job:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            current = service.get(self.context, job.id)
            if until(current):
                return current
            time.sleep(0.2)
        raise AssertionError(f"job {job.id} is still {current.state} after {timeout_s} s")

    def lines(self, job: Job) -> list[str]:
        return [line.text for line in service.log_lines(self.context, job)]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory, local_stack_file: Path) -> Iterator[Emulator]:
    endpoints = LocalEndpoints.on_free_ports(tmp_path_factory.mktemp("vertex"))
    emulator = Emulator(LocalCloud(Context(LOCAL, endpoints), local_stack_file))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.cloud.down()


@pytest.fixture
def own_emulator(private_cloud: LocalCloud) -> Emulator:
    """One that this test may kill (private_cloud wipes it afterwards)."""
    emulator = Emulator(private_cloud)
    emulator.start()
    return emulator


@pytest.fixture
def sdk(emulator: Emulator) -> Any:
    """`google.cloud.aiplatform`, the high-level SDK, pointed at the emulator as it is pointed at a region."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    aiplatform.init(
        project=LOCAL.project,
        location=LOCAL.region,
        api_endpoint=emulator.url,
        api_transport="rest",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )
    return aiplatform


def ended(job: Job) -> bool:
    return job.done


def test_a_custom_job_runs_through_the_aiplatform_sdk_with_the_variables_vertex_sets(
    emulator: Emulator, sdk: Any
) -> None:
    aiplatform = sdk
    script = "import os; print(os.environ['CLOUD_ML_JOB_ID'], os.environ['AIP_MODEL_DIR'])"
    job = aiplatform.CustomJob(
        display_name="sdk",
        worker_pool_specs=[
            {
                "machine_spec": {"machine_type": "n1-standard-4"},
                "replica_count": 1,
                "container_spec": {"image_uri": "example/image:1", "command": ["python", "-c", script]},
            }
        ],
        staging_bucket=f"gs://{LOCAL.models_bucket}",
        base_output_dir=f"gs://{LOCAL.models_bucket}/out",
    )
    job.run(sync=True)
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    job_id = job.resource_name.rsplit("/", 1)[1]
    found = service.get(emulator.context, job_id)
    assert emulator.lines(found) == [f"{job_id} gs://{LOCAL.models_bucket}/out/model/"]
    assert found.started is not None
    assert found.ended is not None
    assert found.started <= found.ended


def test_models_upload_and_version_through_the_aiplatform_sdk(sdk: Any) -> None:
    aiplatform = sdk
    image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    first = aiplatform.Model.upload(
        display_name="digits", artifact_uri=f"gs://{LOCAL.models_bucket}/a", serving_container_image_uri=image
    )
    second = aiplatform.Model.upload(
        display_name="digits",
        parent_model=first.resource_name,
        artifact_uri=f"gs://{LOCAL.models_bucket}/b",
        serving_container_image_uri=image,
        is_default_version=False,
        version_aliases=["candidate"],
    )
    assert (first.version_id, first.version_aliases) == ("1", ["default"])
    assert (second.version_id, second.version_aliases) == ("2", ["candidate"])
    assert aiplatform.Model(first.resource_name).version_id == "1"  # the default version
    assert aiplatform.Model(first.resource_name, version="candidate").uri == f"gs://{LOCAL.models_bucket}/b"
    assert "digits" in [m.display_name for m in aiplatform.Model.list()]


def test_every_replica_of_every_pool_learns_its_role_from_cluster_spec(emulator: Emulator, tmp_path: Path) -> None:
    # The job ends when the chief does, and its workers with it: the chief waits for their lines.
    script = f"""
        import json, os, pathlib, time
        spec, tf = json.loads(os.environ["CLUSTER_SPEC"]), json.loads(os.environ["TF_CONFIG"])
        print(json.dumps([spec["task"], tf["task"], sorted(spec["cluster"]), sorted(tf["cluster"])]), flush=True)
        done = pathlib.Path({str(tmp_path)!r})
        (done / f"{{spec['task']['type']}}-{{spec['task']['index']}}").touch()
        while spec["task"]["type"] == "workerpool0" and len(list(done.iterdir())) < 3:
            time.sleep(0.1)
    """
    job = emulator.wait(emulator.submit(script, pools=(1, 2)), ended)
    assert job.state == "SUCCEEDED"
    seen = [json.loads(line) for line in sorted(emulator.lines(job))]
    clusters = [["workerpool0", "workerpool1"], ["chief", "worker"]]
    assert seen == [
        [{"type": "workerpool0", "index": 0}, {"type": "chief", "index": 0}, *clusters],
        [{"type": "workerpool1", "index": 0}, {"type": "worker", "index": 0}, *clusters],
        [{"type": "workerpool1", "index": 1}, {"type": "worker", "index": 1}, *clusters],
    ]


def test_a_failing_replica_fails_the_job_with_its_exit_status_and_its_lines_logged(emulator: Emulator) -> None:
    job = emulator.wait(emulator.submit("import sys; print('no data', file=sys.stderr); sys.exit(3)"), ended)
    assert job.state == "FAILED"
    assert job.error is not None
    assert "workerpool0-0 exited with a non-zero status of 3" in job.error
    (line,) = service.log_lines(emulator.context, job)
    assert (line.text, line.severity, line.task) == ("no data", "ERROR", "workerpool0-0")


def test_cancel_ends_the_replicas_process_groups(emulator: Emulator) -> None:
    script = """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(child.pid, flush=True)
        time.sleep(600)
    """
    job = emulator.submit(script)
    running = emulator.wait(job, lambda j: j.state == "RUNNING" and bool(emulator.lines(j)))
    grandchild = psutil.Process(int(emulator.lines(running)[0]))
    assert service.cancel(emulator.context, job.id).state in ("CANCELLING", "CANCELLED")
    cancelled = emulator.wait(job, ended)
    assert cancelled.state == "CANCELLED"
    grandchild.wait(timeout=10)  # raises TimeoutExpired while the process the replica started lives on


def test_a_job_running_when_the_emulator_dies_is_failed_on_restart_and_its_replicas_ended(
    own_emulator: Emulator,
) -> None:
    emulator = own_emulator
    job = emulator.submit("import os, time; print(os.getpid(), flush=True); time.sleep(600)")
    running = emulator.wait(job, lambda j: j.state == "RUNNING" and bool(emulator.lines(j)))
    replica = psutil.Process(int(emulator.lines(running)[0]))
    crashed = psutil.Process(emulator.pid())
    crashed.send_signal(signal.SIGKILL)  # the emulator crashes; its replica, in its own group, lives on
    crashed.wait(timeout=10)
    assert replica.is_running()

    emulator.start()
    after = service.get(emulator.context, job.id)
    assert after.state == "FAILED"
    assert after.error is not None
    assert "running when the Vertex AI emulator stopped" in after.error
    replica.wait(timeout=10)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (lambda b: b | {"colour": "blue"}, 400, "custom_job.colour"),
        (lambda b: b["jobSpec"]["workerPoolSpecs"][0].update(replicaCounts=1) or b, 400, "[0].replicaCounts"),
        (lambda b: b.pop("displayName") and b, 400, "custom_job.display_name"),
        (lambda b: b["jobSpec"].update(workerPoolSpecs=[]) or b, 400, "custom_job.job_spec.worker_pool_specs"),
        (
            lambda b: b["jobSpec"]["workerPoolSpecs"][0]["machineSpec"].update(machineType="n1-standard-5") or b,
            400,
            "custom_job.job_spec.worker_pool_specs[0].machine_spec",
        ),
        (
            lambda b: b["jobSpec"]["workerPoolSpecs"][0]["containerSpec"].pop("imageUri") and b,
            400,
            "custom_job.job_spec.worker_pool_specs[0].container_spec.image_uri",
        ),
    ],
    ids=["unknown-field", "unknown-nested-field", "no-name", "no-pools", "machine", "no-image"],
)
def test_a_bad_request_is_refused_as_vertex_refuses_it_naming_the_field(
    emulator: Emulator, change: Callable[[dict[str, Any]], dict[str, Any]], status: int, field: str
) -> None:
    """Raw REST, as Cloud Scheduler posts a job: the client libraries cannot send unknown fields."""
    pool = {
        "machineSpec": {"machineType": "n1-standard-4"},
        "replicaCount": 1,
        "containerSpec": {"imageUri": "example/image:1", "command": ["true"]},
    }
    body = change({"displayName": "bad", "jobSpec": {"workerPoolSpecs": [pool]}})
    before = len(service.list_jobs(emulator.context))
    response = requests.post(f"{emulator.url}/v1/{PARENT}/customJobs", json=body, timeout=10)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    (violation,) = error["details"][0]["fieldViolations"]
    assert field in violation["field"]
    assert len(service.list_jobs(emulator.context)) == before  # nothing was created


def test_make_down_during_a_job_ends_its_replicas_and_fails_it_saying_so(own_emulator: Emulator) -> None:
    emulator = own_emulator
    job = emulator.submit("import os, time; print(os.getpid(), flush=True); time.sleep(600)")
    running = emulator.wait(job, lambda j: j.state == "RUNNING" and bool(emulator.lines(j)))
    replica = psutil.Process(int(emulator.lines(running)[0]))
    assert emulator.cloud.down() == ["vertex"]
    replica.wait(timeout=10)

    emulator.start()
    after = service.get(emulator.context, job.id)
    assert after.state == "FAILED"
    assert after.error is not None
    assert "was stopped (`make down`) while the job ran" in after.error
