"""The CustomJob request that runs `python -m ml train-publish` inside the training image, as `trainer`."""

from __future__ import annotations

from dataclasses import dataclass

from ml.environments import Environment
from ml.jobs.machines import check_machine
from ml.records import JsonObject

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


def scheduled_job(env: Environment) -> JsonObject:
    """What Cloud Scheduler posts to `customJobs.create`: the image `make image` last tagged `latest`,
    which Vertex AI resolves when it creates each job, so a newly pushed image reaches the next run."""
    arguments = [f"--budget={env.training.scheduled_budget_s}"]
    return custom_job(env, f"{env.training_image}:{LATEST}", arguments, Machine.of(env), trigger="schedule")


def custom_job(
    env: Environment, image: str, arguments: list[str], machine: Machine, *, trigger: str = "cli"
) -> JsonObject:
    """The CustomJob as Vertex AI's REST API takes it (`projects.locations.customJobs.create`).

    `arguments` are train-publish's own (budget, gate, ...); the job always trains in process,
    writes its report for the caller to read, and runs as the environment's `trainer`.
    `trigger` labels who submitted it: `cli` or `schedule`.
    """
    command = ["train-publish", "--env", env.name, "--runner", "inprocess", "--job-report", *arguments]
    return {
        "displayName": f"{env.prefix}-train-publish",
        "labels": {**env.labels, "trigger": trigger},
        "jobSpec": {
            "workerPoolSpecs": [
                {
                    "machineSpec": machine.check().to_json_object(),
                    "replicaCount": "1",
                    "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100},
                    "containerSpec": {"imageUri": image, "args": command},
                }
            ],
            "serviceAccount": env.service_account_email("trainer"),
            "baseOutputDirectory": {"outputUriPrefix": f"gs://{env.models_bucket}/{JOBS_PREFIX}/"},
        },
    }
