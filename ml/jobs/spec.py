"""The CustomJob requests that run `python -m ml train-publish` (as `trainer`) or `python -m ml monitor`
(as `monitor`) inside the training image."""

from __future__ import annotations

from dataclasses import dataclass

from ml.environments import Environment
from ml.errors import JobError
from ml.jobs.machine_types import check_machine
from ml.records import JsonObject

MONITOR_MACHINE = "e2-standard-4"
"""The monitor's machine: it sends SQL and writes a few metrics; the smallest Vertex AI trains on."""
LATEST = "latest"
"""The tag `make image` moves onto each image it pushes."""
JOBS_PREFIX = "jobs"
"""Under the models bucket: each job's outputs (`jobs/<job id>/report.json`)."""


@dataclass(frozen=True)
class Machine:
    """What each replica runs on."""

    machine_type: str
    accelerator: str | None = None
    accelerator_count: int = 0

    @classmethod
    def of(cls, env: Environment) -> Machine:
        training = env.training
        return cls(training.machine_type, training.accelerator, training.accelerator_count)

    def check(self) -> Machine:
        """Itself, or a JobError naming what Vertex AI would refuse (before anything is submitted)."""
        check_machine(self.machine_type, self.accelerator, self.accelerator_count)
        return self

    def to_json_object(self) -> JsonObject:
        spec: JsonObject = {"machineType": self.machine_type}
        if self.accelerator:
            spec |= {"acceleratorType": self.accelerator, "acceleratorCount": self.accelerator_count}
        return spec


def report_path(job_id: str) -> str:
    """Where in the models bucket a job's train-publish leaves its report (`--job-report`)."""
    return f"{JOBS_PREFIX}/{job_id}/report.json"


def search_prefix(job_id: str) -> str:
    """Where in the models bucket a job's replicas exchange candidates (ml/automl/exchange.py)."""
    return f"{JOBS_PREFIX}/{job_id}/search"


def scheduled_job(env: Environment, trigger: str = "schedule") -> JsonObject:
    """What Cloud Scheduler posts to `customJobs.create`: the image `make image` last tagged `latest`,
    which Vertex AI resolves when it creates each job, so a newly pushed image reaches the next run.
    The monitor submits the same job when it retrains on an alert (`trigger="monitor"`)."""
    arguments = [f"--budget={env.training.scheduled_budget_s}"]
    if env.training.accelerator:  # trains on it, or fails saying so (ml/training/device.py)
        arguments.append("--device=gpu")
    replicas = env.training.replicas
    image = f"{env.training_image}:{LATEST}"
    return custom_job(env, image, arguments, Machine.of(env), replicas=replicas, trigger=trigger)


def monitor_job(env: Environment, image: str | None = None) -> JsonObject:
    """What Cloud Scheduler posts to run the monitor: `python -m ml monitor --publish-metrics` on the
    training image (`latest` unless given), as `monitor`; with `--retrain-on-alert` where the
    environment's `Monitoring.retrain_on_alert` says so."""
    arguments = ["monitor", "--env", env.name, "--publish-metrics"]
    if env.monitoring.retrain_on_alert:
        arguments.append("--retrain-on-alert")
    pool = {
        "machineSpec": Machine(MONITOR_MACHINE).check().to_json_object(),
        "replicaCount": "1",
        "diskSpec": {"bootDiskType": "pd-standard", "bootDiskSizeGb": 100},
        "containerSpec": {"imageUri": image or f"{env.training_image}:{LATEST}", "args": arguments},
    }
    return {
        "displayName": f"{env.prefix}-monitor",
        "labels": {**env.labels, "trigger": "schedule"},
        "jobSpec": {
            "workerPoolSpecs": [pool],
            "serviceAccount": env.service_account_email("monitor"),
            "baseOutputDirectory": {"outputUriPrefix": f"gs://{env.models_bucket}/{JOBS_PREFIX}/"},
        },
    }


def custom_job(
    env: Environment,
    image: str,
    arguments: list[str],
    machine: Machine,
    *,
    replicas: int = 1,
    trigger: str = "cli",
) -> JsonObject:
    """The CustomJob as Vertex AI's REST API takes it (`projects.locations.customJobs.create`).

    `arguments` are train-publish's own (budget, gate, ...); the job always trains in process,
    writes its report for the caller to read, and runs as the environment's `trainer`. With
    `replicas` > 1, a chief pool of one and a worker pool of the rest run the same command and
    learn their part from `CLUSTER_SPEC` (ml/automl/cluster.py); a search `replicas` wide,
    unless `arguments` say otherwise. `trigger` labels who submitted it: `cli`, `schedule` or `monitor`.
    """
    if replicas < 1:
        raise JobError(f"--replicas {replicas}: a job needs at least its chief; give --replicas 1 or more")
    if replicas > 1 and not any(a.startswith("--search-width") for a in arguments):
        arguments = [*arguments, f"--search-width={replicas}"]
    command = ["train-publish", "--env", env.name, "--runner", "inprocess", "--job-report", *arguments]
    machine_spec = machine.check().to_json_object()
    pools = [
        {
            "machineSpec": machine_spec,
            "replicaCount": str(count),
            "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100},
            "containerSpec": {"imageUri": image, "args": command},
        }
        for count in (1, replicas - 1)
        if count
    ]
    return {
        "displayName": f"{env.prefix}-train-publish",
        "labels": {**env.labels, "trigger": trigger},
        "jobSpec": {
            "workerPoolSpecs": pools,
            "serviceAccount": env.service_account_email("trainer"),
            "baseOutputDirectory": {"outputUriPrefix": f"gs://{env.models_bucket}/{JOBS_PREFIX}/"},
        },
    }
