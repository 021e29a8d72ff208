"""Every command of `python -m ml`, in one table."""

from __future__ import annotations

from cli import cloud, data, iam, jobs, local, models, monitor, predict, training
from cli.app import Command
from cli.app import main as run_table
from ml.contracts import SERVING_ALIAS

COMMANDS: tuple[Command, ...] = (
    Command(("data", "load"), "load the IDX files into train/valid/test", data.load_tables, data.load_arguments),
    Command(("data", "read"), "read a table and print its lineage", data.read, data.read_arguments),
    Command(
        ("train",),
        "train AdaNet on train/valid, evaluate on test",
        training.train_command,
        training.training_arguments,
    ),
    Command(("publish",), "publish a finished run directory", training.publish_command, training.publish_arguments),
    Command(
        ("train-publish",),
        "train, then publish the run",
        training.train_publish_command,
        training.train_publish_arguments,
    ),
    Command(("jobs", "list"), "the environment's training jobs, newest first", jobs.list_jobs),
    Command(("jobs", "show"), "one training job", jobs.show, jobs.job_argument),
    Command(("jobs", "logs"), "a training job's log lines", jobs.logs, jobs.logs_arguments),
    Command(("jobs", "cancel"), "stop a training job", jobs.cancel, jobs.job_argument),
    Command(("image",), "build and push the training image (Cloud Build)", jobs.image, jobs.image_arguments),
    Command(("models", "list"), "every model", models.list_models),
    Command(("models", "versions"), "a model's versions, oldest first", models.versions, models.model_argument),
    Command(("models", "show"), "one version: NAME@ALIAS or NAME@VERSION", models.show, models.reference_argument),
    Command(
        ("models", "promote"), f"move {SERVING_ALIAS} to VERSION", models.promote_version, models.version_arguments
    ),
    Command(("models", "rollback"), f"move {SERVING_ALIAS} back to previous", models.roll_back, models.model_argument),
    Command(
        ("models", "delete-version"),
        "delete a version no alias names",
        models.delete_version,
        models.version_arguments,
    ),
    Command(
        ("models", "delete-all"),
        "delete every model and version (a teardown-friendly environment's teardown runs it)",
        models.delete_all,
    ),
    Command(("predict",), "send the test table through the endpoint", predict.predict, predict.arguments),
    Command(
        ("monitor",),
        "traffic, drift and online accuracy of the served versions; exit 3 on an alert",
        monitor.monitor_command,
        monitor.arguments,
    ),
    Command(
        ("report",),
        "one HTML page: versions, evaluations, charts of the served traffic",
        monitor.report_command,
        monitor.report_arguments,
    ),
    Command(("local", "up"), "start the emulators and create the stack's resources", local.up, local.stack_argument),
    Command(("local", "down"), "stop the emulators, keep their data", local.down, local.stack_argument),
    Command(("local", "destroy"), "stop the emulators and delete their data", local.destroy, local.stack_argument),
    Command(("local", "status"), "what runs, and which resources exist", local.status, local.stack_argument),
    Command(("local", "serve"), "start the predict function", local.serve, local.stack_argument),
    Command(("iam",), "who may do what: each service account's grants, and why", iam.iam, iam.arguments),
    Command(("preflight",), "check the tools and credentials a cloud deploy needs", cloud.preflight),
    Command(("bootstrap",), "create or update a cloud environment's bootstrap", cloud.bootstrap),
    Command(("smoke",), "after a deploy: does every resource answer?", cloud.smoke, cloud.smoke_arguments),
)


def main(argv: list[str] | None = None) -> int:
    return run_table(COMMANDS, "The MNIST pipeline: data, training, registry, endpoint and environments.", argv)
