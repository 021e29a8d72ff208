"""`python -m ml jobs list|show|logs|cancel`: the environment's Vertex AI training jobs."""

from __future__ import annotations

import argparse
import sys

from cli.app import Report
from ml.context import Context
from ml.jobs import service
from ml.jobs.follow import follow


def job_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="the job's id (`python -m ml jobs list`)")


def logs_arguments(parser: argparse.ArgumentParser) -> None:
    job_argument(parser)
    parser.add_argument("--follow", action="store_true", help="keep printing until the job ends")


def list_jobs(args: argparse.Namespace, context: Context) -> Report:
    jobs = service.list_jobs(context)
    lines = [f"{'id':<20}{'state':<11}{'created':<22}{'seconds':>8}  name"]
    for job in jobs:
        seconds = "" if job.seconds is None else f"{job.seconds:.0f}"
        lines.append(f"{job.id:<20}{job.state:<11}{job.created[:19]:<22}{seconds:>8}  {job.display_name}")
    return Report(
        {"jobs": [j.to_json_object() for j in jobs]},
        lines if jobs else [f"no jobs yet: `make train-publish ENV={context.env.name} RUNNER=vertex`"],
    )


def show(args: argparse.Namespace, context: Context) -> Report:
    job = service.get(context, args.job)
    lines = [f"{k}: {v}" for k, v in job.to_json_object().items() if v not in (None, {}, "")]
    return Report(job.to_json_object(), lines)


def logs(args: argparse.Namespace, context: Context) -> Report:
    job = service.get(context, args.job)
    if args.follow:
        try:
            job, _ = follow(context, job, sys.stdout if not args.json else sys.stderr)
        except KeyboardInterrupt:
            return Report(
                {"job": job.to_json_object()}, [], status=130, error=f"stopped following; job {job.id} runs on"
            )
        return Report({"job": job.to_json_object()}, [])
    lines = list(service.log_lines(context, job))
    return Report(
        {"job": job.to_json_object(), "lines": [line.__dict__ for line in lines]},
        [f"[{line.task}] {line.text}" for line in lines] or [f"job {job.id} ({job.state}) has no log lines yet"],
    )


def cancel(args: argparse.Namespace, context: Context) -> Report:
    job = service.cancel(context, args.job)
    return Report(job.to_json_object(), [f"job {job.id}: {job.state}; its replicas are being stopped"])


def image_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="build only when the repository has no image yet (`make deploy` runs it, so schedules never lack one)",
    )


def image(args: argparse.Namespace, context: Context) -> Report:
    """`make image`: build the training image with Cloud Build and push it; jobs submitted from now on run it."""
    from ml.jobs.image import build_and_push, ensure_image

    if args.if_missing:
        digest, built = ensure_image(context, _tag())
        if not built:
            return Report({"image": digest}, [f"the training image is there: {digest}"])
    else:
        digest = build_and_push(context, _tag())
    lines = [
        f"pushed {digest}",
        "commands submitted from now on run it; the retraining schedule runs it from its next run (tag latest)",
    ]
    return Report({"image": digest}, lines)


def _tag() -> str:
    """The commit the image is built from, marked when the working tree differs from it."""
    from datetime import UTC, datetime

    from ml.emulators import ROOT
    from ml.records import GitState

    git = GitState.of(ROOT)
    commit = git.commit[:12] if git.commit else "untracked"
    return f"{commit}-dirty-{datetime.now(UTC):%Y%m%dt%H%M%S}" if git.dirty else commit
