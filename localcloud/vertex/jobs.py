"""JobService's CustomJobs: validated as Vertex validates them, each replica run as a local process.

There is no container runtime here: the project's environment stands in for the training
image, whose entry point (`python -m ml`, see the Dockerfile) the emulator is given at
start. Each replica gets its own process group and the variables Vertex sets
(`CLOUD_ML_JOB_ID`, `CLUSTER_SPEC`, `TF_CONFIG`, `AIP_MODEL_DIR`, ...); its standard output
and error become the job's log lines (INFO and ERROR, as Vertex logs them). A job ends when
its first replica (the chief) exits. A worker (a replica of a later pool) that exits non-zero
is started again, up to `MAX_RESTARTS` times, as Vertex AI restarts a replica after an error it
does not take as permanent; the job fails when a worker exits non-zero once more, or when the
chief does (Vertex would restart the chief too: a restarted chief of this project fails the
job itself, ml/automl/cluster.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from localcloud.vertex.errors import ApiError, invalid, not_found
from localcloud.vertex.models import now
from localcloud.vertex.store import Json, Store
from ml.emulators import free_port
from ml.errors import JobError
from ml.jobs.machine_types import check_machine

JOB = "custom_job"
REPLICAS = "replicas"
TERMINAL = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")
_OUTPUT_ONLY = ("name", "state", "createTime", "startTime", "endTime", "updateTime", "error", "webAccessUris")
_TF_ROLES = ("chief", "worker", "ps", "evaluator")
_CANCEL_GRACE_S = 5.0
MAX_RESTARTS = 5
"""Restarts of one worker replica before its job fails, as on Vertex AI."""
_INTERNAL, _CANCELLED, _INVALID = 13, 1, 3  # google.rpc.Code values Vertex puts in a job's `error`


@dataclass
class _Replica:
    task: str
    pool: int
    index: int
    process: subprocess.Popen[bytes]
    readers: list[threading.Thread] = field(default_factory=list)
    restarts: int = 0


@dataclass
class _Running:
    job: Json
    cluster: dict[str, list[str]]
    replicas: list[_Replica]
    cancel: threading.Event = field(default_factory=threading.Event)
    stopped: str = ""  # why the emulator ended the job as it stopped; it wins over how the replicas exited


class CustomJobs:
    def __init__(self, store: Store, project: str, entrypoint: Sequence[str], workdir: Path) -> None:
        """`entrypoint`: what the image's ENTRYPOINT runs, in this environment (e.g. python -m ml)."""
        self.store, self.project = store, project
        self.entrypoint, self.workdir = tuple(entrypoint), workdir
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    # --- the API -----------------------------------------------------------------------

    def create(self, parent: str, body: Json) -> Json:
        job = validate(body)
        job_id = str(10**18 + secrets.randbelow(9 * 10**18))
        stamp = now()
        job |= {
            "name": f"{parent}/customJobs/{job_id}",
            "state": "JOB_STATE_QUEUED",
            "createTime": stamp,
            "updateTime": stamp,
        }
        self.store.put(JOB, job["name"], parent, job)
        threading.Thread(target=self._run, args=(job["name"],), name=f"job-{job_id}", daemon=True).start()
        return job

    def get(self, name: str) -> Json:
        job = self.store.get(JOB, name)
        if job is None:
            raise not_found(f"CustomJob {name} not found.")
        return job

    def list_jobs(self, parent: str) -> list[Json]:
        """Newest first, as Vertex lists them."""
        return self.store.select(JOB, parent)[::-1]

    def cancel(self, name: str) -> Json:
        """Ends the replicas' process groups (SIGTERM, then SIGKILL); the job turns CANCELLED once they are gone."""
        job = self.get(name)
        if job["state"] in TERMINAL:
            raise ApiError(
                400,
                f"CustomJob {name} is already in state {job['state']} and cannot be cancelled.",
                status="FAILED_PRECONDITION",
            )
        with self._lock:  # against `_run` registering the job: one of the two sees the other
            self._update(name, state="JOB_STATE_CANCELLING")
            running = self._running.get(name)
        if running is not None:
            running.cancel.set()
        return {}

    # --- lifecycle ---------------------------------------------------------------------

    def recover(self) -> list[str]:
        """At start: jobs that were running when the emulator died are FAILED, their leftover replicas ended."""
        failed = []
        for job in self.store.select(JOB):
            if job["state"] in TERMINAL:
                continue
            for replica in (self.store.get(REPLICAS, job["name"]) or {}).get("processes", []):
                _kill_group(replica["pid"], replica["createTime"])
            self._finish(
                job["name"],
                "JOB_STATE_FAILED",
                _INTERNAL,
                "The job was running when the Vertex AI emulator stopped; its replicas were ended. Submit it again.",
            )
            failed.append(job["name"])
        return failed

    def stop_all(self, reason: str) -> None:
        """On the emulator's shutdown: end every replica, and fail their jobs with `reason`."""
        with self._lock:
            running = dict(self._running)
        for name, job in running.items():
            job.stopped = reason
            _end(job.replicas)
            self._finish(name, "JOB_STATE_FAILED", _INTERNAL, reason)

    def _run(self, name: str) -> None:
        job = self.get(name)
        cluster = {
            f"workerpool{i}": [f"127.0.0.1:{free_port()}" for _ in range(int(pool.get("replicaCount", 0)))]
            for i, pool in enumerate(job["jobSpec"]["workerPoolSpecs"])
        }
        try:
            replicas = self._start(job, cluster)
        except OSError as error:
            self._finish(name, "JOB_STATE_FAILED", _INVALID, f"The replicas could not start: {error}.")
            return
        running = _Running(job, cluster, replicas)
        self._record_processes(running)
        with self._lock:
            self._running[name] = running
            if self.get(name)["state"] == "JOB_STATE_CANCELLING":
                running.cancel.set()
            else:
                self._update(name, state="JOB_STATE_RUNNING", startTime=now())
        try:
            state, code, message = self._watch(running)
            _end(replicas)
            if running.stopped:
                state, code, message = "JOB_STATE_FAILED", _INTERNAL, running.stopped
            for replica in replicas:
                for reader in replica.readers:
                    reader.join(timeout=5)  # every line is logged before the job says it ended
            self._finish(name, state, code, message)
        finally:
            with self._lock:
                self._running.pop(name, None)

    def _watch(self, running: _Running) -> tuple[str, int, str]:
        replicas = running.replicas
        while True:
            if running.cancel.is_set():
                return "JOB_STATE_CANCELLED", _CANCELLED, "CANCELED"
            for r, replica in enumerate(replicas):
                code = replica.process.poll()
                if code in (None, 0):
                    continue
                failed = (
                    f"The replica {replica.task} exited with a non-zero status of {code}. "
                    "To find out more about why your job exited please check the logs."
                )
                if replica.pool == 0 or replica.restarts == MAX_RESTARTS:
                    return "JOB_STATE_FAILED", _INVALID, failed
                job_id = running.job["name"].rsplit("/", 1)[1]
                restart = f"{failed} Restarting it ({replica.restarts + 1} of {MAX_RESTARTS})."
                self.store.append_log(self.project, job_id, replica.task, now(), "WARNING", restart)
                pool = running.job["jobSpec"]["workerPoolSpecs"][replica.pool]
                try:
                    again = self._start_replica(running.job, pool, running.cluster, replica.pool, replica.index)
                except OSError as error:
                    return "JOB_STATE_FAILED", _INVALID, f"{failed} It could not start again: {error}."
                again.readers[:0], again.restarts = replica.readers, replica.restarts + 1
                replicas[r] = again
                self._record_processes(running)
            if replicas[0].process.poll() == 0:
                return "JOB_STATE_SUCCEEDED", 0, ""
            running.cancel.wait(0.2)

    def _record_processes(self, running: _Running) -> None:
        """Each replica's pid and start time: what a restarted emulator ends (`recover`)."""
        processes = []
        for r in running.replicas:
            with contextlib.suppress(psutil.NoSuchProcess):
                create_time = psutil.Process(r.process.pid).create_time()
                processes.append({"task": r.task, "pid": r.process.pid, "createTime": create_time})
        name = running.job["name"]
        self.store.put(REPLICAS, name, name, {"processes": processes})

    def _start(self, job: Json, cluster: dict[str, list[str]]) -> list[_Replica]:
        pools = job["jobSpec"]["workerPoolSpecs"]
        replicas: list[_Replica] = []
        try:
            for i, pool in enumerate(pools):
                for index in range(len(cluster[f"workerpool{i}"])):
                    replicas.append(self._start_replica(job, pool, cluster, i, index))
        except OSError:
            _end(replicas)
            raise
        return replicas

    def _start_replica(self, job: Json, pool: Json, cluster: dict[str, list[str]], i: int, index: int) -> _Replica:
        container = pool["containerSpec"]
        command = list(container.get("command") or self.entrypoint)
        if command[0] in ("python", "python3"):
            command[0] = sys.executable  # the image's Python is this environment's
        command += container.get("args", [])
        job_id = job["name"].rsplit("/", 1)[1]
        task = f"workerpool{i}-{index}"
        job_json = json.dumps(job["jobSpec"])
        tf_cluster = {_TF_ROLES[p]: hosts for p, hosts in enumerate(cluster.values()) if hosts}
        environ = {
            **os.environ,
            **{e["name"]: e.get("value", "") for e in container.get("env", [])},
            "CLOUD_ML_JOB_ID": job_id,
            "CLOUD_ML_PROJECT_ID": self.project,
            "CLUSTER_SPEC": json.dumps(
                {
                    "cluster": cluster,
                    "environment": "cloud",
                    "task": {"type": f"workerpool{i}", "index": index},
                    "job": job_json,
                }
            ),
            "TF_CONFIG": json.dumps(
                {
                    "cluster": tf_cluster,
                    "environment": "cloud",
                    "task": {"type": _TF_ROLES[i], "index": index},
                    "job": job_json,
                }
            ),
        }
        if base := job["jobSpec"].get("baseOutputDirectory", {}).get("outputUriPrefix"):
            base = base.rstrip("/")
            environ |= {
                "AIP_MODEL_DIR": f"{base}/model/",
                "AIP_CHECKPOINT_DIR": f"{base}/checkpoints/",
                "AIP_TENSORBOARD_LOG_DIR": f"{base}/logs/",
            }
        process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: cancel ends it and whatever it started
        )
        replica = _Replica(task, i, index, process)
        streams = ((process.stdout, "INFO"), (process.stderr, "ERROR"))
        for stream, severity in streams:
            reader = threading.Thread(target=self._log, args=(job_id, task, stream, severity), daemon=True)
            reader.start()
            replica.readers.append(reader)
        return replica

    def _log(self, job_id: str, task: str, stream: IO[bytes], severity: str) -> None:
        for raw in stream:
            text = raw.decode(errors="replace").rstrip("\r\n")
            if text:
                self.store.append_log(self.project, job_id, task, now(), severity, text)

    def _update(self, name: str, **fields: Any) -> None:
        with self.store.transaction():
            job = self.get(name)
            if job["state"] in TERMINAL:
                return
            job |= fields | {"updateTime": now()}
            self.store.put(JOB, name, name.rsplit("/customJobs/", 1)[0], job)

    def _finish(self, name: str, state: str, code: int, message: str) -> None:
        fields: dict[str, Any] = {"state": state, "endTime": now()}
        if code:
            fields["error"] = {"code": code, "message": message}
        self._update(name, **fields)


def validate(body: Json) -> Json:
    """The CustomJob as Vertex accepts it, or the ApiError it answers; output-only fields are dropped."""
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import json_format

    try:
        message = json_format.Parse(json.dumps(body), types.CustomJob.pb(types.CustomJob()))
    except json_format.ParseError as error:
        raise _parse_error(str(error)) from None
    job = json_format.MessageToDict(message)
    for key in _OUTPUT_ONLY:
        job.pop(key, None)
    if not job.get("displayName"):
        raise invalid("custom_job.display_name", "CustomJob.display_name is required.")
    pools = job.get("jobSpec", {}).get("workerPoolSpecs", [])
    if not pools:
        raise invalid("custom_job.job_spec.worker_pool_specs", "At least one worker pool is required.")
    for i, pool in enumerate(pools):
        where = f"custom_job.job_spec.worker_pool_specs[{i}]"
        replicas = int(pool.get("replicaCount", 0))
        if i == 0 and replicas != 1:
            raise invalid(f"{where}.replica_count", "The first worker pool must have exactly 1 replica.")
        if replicas == 0:
            continue
        machine = pool.get("machineSpec", {})
        try:
            accelerator = machine.get("acceleratorType")
            check_machine(machine.get("machineType", ""), accelerator, int(machine.get("acceleratorCount", 0)))
        except JobError as error:
            raise invalid(f"{where}.machine_spec", str(error)) from None
        if "pythonPackageSpec" in pool:
            raise ApiError(501, "This emulator runs container specs only (containerSpec.imageUri).", field=where)
        if not pool.get("containerSpec", {}).get("imageUri"):
            raise invalid(f"{where}.container_spec.image_uri", "containerSpec.imageUri is required.")
    return job


def _parse_error(message: str) -> ApiError:
    """protobuf's ParseError as Google words an unknown field: the name and where it was."""
    found = re.search(r'no field named "([^"]+)" at "([^"]+)"', message)
    if found is None:
        return invalid("custom_job", f"Invalid JSON payload received. {message.splitlines()[0]}")
    name, at = found.groups()
    path = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), at.replace("CustomJob", "custom_job", 1))
    return invalid(
        f"{path}.{name}", f"Invalid JSON payload received. Unknown name \"{name}\" at '{path}': Cannot find field."
    )


def _end(replicas: list[_Replica]) -> None:
    """SIGTERM to each replica's process group, SIGKILL after the grace Vertex gives."""
    live = [r for r in replicas if r.process.poll() is None]
    for replica in replicas:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(replica.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _CANCEL_GRACE_S
    for replica in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            replica.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for replica in replicas:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(replica.process.pid, signal.SIGKILL)
        replica.process.wait()


def _kill_group(pid: int, create_time: float) -> None:
    """End the process group of a replica left by an emulator that died, if that process still runs."""
    try:
        if abs(psutil.Process(pid).create_time() - create_time) > 0.01:
            return  # the pid was reused: not ours
    except psutil.Error:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
