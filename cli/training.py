"""`python -m ml train`, `publish RUN_DIR` and `train-publish`: a run, and a run into the registry, gated.

`train-publish` trains where `--runner` says: in this process, or as a Vertex AI job that runs
this same command in the training image (ml/jobs/), followed here or left to run (`--detach`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cli.app import Report
from ml.automl.generators import GENERATORS
from ml.context import Context
from ml.emulators import ROOT
from ml.errors import JobError, TrainingError
from ml.native_logs import quiet_stderr
from ml.records import RunReport
from ml.training.device import DEVICES

if TYPE_CHECKING:
    from ml.automl.cluster_spec import Replica
    from ml.automl.exchange import Exchange
    from ml.publish.flow import PublishResult
    from ml.training.run import RunResult, TrainConfig


def training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget", type=float, default=300.0, help="wall-clock seconds, evaluation and export included"
    )
    parser.add_argument("--iterations", type=int, help="AdaNet iterations at most (default: by budget)")
    parser.add_argument("--iteration-steps", type=int, help="train each iteration this many steps (reproducible)")
    names = ",".join(GENERATORS)
    parser.add_argument("--generators", default=names, help=f"subnetwork generators, comma-separated: {names}")
    parser.add_argument(
        "--search-width",
        type=int,
        help="copies of each later iteration's candidates, each from seeds of its own (a job of N replicas: N)",
    )
    parser.add_argument(
        "--device", choices=DEVICES, default="auto", help="auto: a GPU when TensorFlow sees one, else the CPU"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limit", type=int, help="read at most this many rows of each table (quick runs)")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs", help="where run directories are written")


def gate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="registry model name (default: the environment's, mnist)")
    parser.add_argument("--min-gain", type=float, default=0.0, help="accuracy the new version must add to be promoted")
    parser.add_argument("--force", action="store_true", help="promote even if it is not better")


def publish_arguments(parser: argparse.ArgumentParser) -> None:
    gate_arguments(parser)
    parser.add_argument("run_dir", type=Path)


def train_publish_arguments(parser: argparse.ArgumentParser) -> None:
    gate_arguments(parser)
    training_arguments(parser)
    jobs = parser.add_argument_group("where it trains")
    jobs.add_argument(
        "--runner",
        choices=("inprocess", "vertex"),
        help="this machine, or a Vertex AI job (default: the environment's; vertex in the cloud, inprocess on local)",
    )
    jobs.add_argument("--detach", action="store_true", help="vertex: print the job's id and return at once")
    jobs.add_argument("--machine-type", help="vertex: the replica's machine (default: the environment's)")
    jobs.add_argument("--accelerator", help="vertex: e.g. NVIDIA_TESLA_T4 (default: the environment's)")
    jobs.add_argument("--accelerator-count", type=int, help="vertex: how many accelerators")
    jobs.add_argument(
        "--replicas",
        type=int,
        help="vertex: replicas each iteration's candidates are spread over, the chief's included (default: the env's)",
    )
    # Inside a job: leave the report where the command that submitted it reads it (ml/jobs/follow.py).
    jobs.add_argument("--job-report", action="store_true", help=argparse.SUPPRESS)


def train_command(args: argparse.Namespace, context: Context) -> Report:
    report = _train(args, context).report
    lines = [
        f"test accuracy {report.test_accuracy:.4f} in {report.wall_seconds} s of a {args.budget:g} s budget",
        f"ensemble: {', '.join(report.ensemble)}",
        f"run directory: {report.run_dir}",
    ]
    return Report(report.to_json_object(), lines)


def publish_command(args: argparse.Namespace, context: Context) -> Report:
    return _published(_publish(args, context, args.run_dir.resolve()))


def train_publish_command(args: argparse.Namespace, context: Context) -> Report:
    if (args.runner or context.env.training.runner) == "vertex":
        return _on_vertex(args, context)
    if (args.replicas or 1) > 1:
        raise JobError(
            f"--replicas {args.replicas} needs --runner vertex (replicas are a job's); in this process, "
            f"--search-width {args.replicas} trains the same candidates one after another"
        )
    cluster = None
    if args.job_report:  # inside a job, the run directory is scratch: publishing keeps what matters
        args.runs_dir = Path(tempfile.mkdtemp(prefix="runs-"))
        cluster = _cluster(context)
        if cluster is not None and cluster[1].index > 0:
            return _serve(args, context, cluster)
    training: RunReport = _train(args, context, cluster).report
    published = _published(_publish(args, context, Path(training.run_dir)))
    report = Report({**published.data, "training": training.to_json_object()}, published.lines)
    if args.job_report:
        from ml.jobs.follow import write_report

        write_report(context, _job_id(), report.data)
    return report


def _job_id() -> str:
    job_id = os.environ.get("CLOUD_ML_JOB_ID")  # Vertex AI sets it in every replica
    if not job_id:
        raise JobError("--job-report is for train-publish inside a Vertex AI job (CLOUD_ML_JOB_ID is not set)")
    return job_id


def _cluster(context: Context) -> tuple[Exchange, Replica] | None:
    """This replica's place in a job of several, and where the replicas meet; None in a job of one."""
    from ml.automl.cluster_spec import Replica
    from ml.jobs.spec import search_prefix

    replica = Replica.from_environ()
    if replica is None or replica.count == 1:
        return None
    with quiet_stderr():  # TensorFlow's banners, as the trainer imports it (ml/training/run.py)
        from ml.automl.exchange import Exchange
    return Exchange(context.models_bucket, search_prefix(_job_id())), replica


def _serve(args: argparse.Namespace, context: Context, cluster: tuple[Exchange, Replica]) -> Report:
    """A worker replica's part: train what the chief's plans give it; the chief publishes."""
    with quiet_stderr():
        from ml.training.worker import serve

    replica = cluster[1]
    trained = serve(context, _config(args), *cluster)
    lines = [f"replica {replica.index}: trained candidates in {trained} iteration(s); the chief publishes"]
    return Report({"replica": replica.index, "task": replica.task, "iterations_trained": trained}, lines)


def _job_arguments(args: argparse.Namespace, accelerated: bool) -> list[str]:
    """The job's own train-publish flags: this command's, but for where it trains."""
    flags = [
        f"--budget={args.budget:g}",
        f"--generators={','.join(_generators(args))}",
        f"--seed={args.seed}",
        f"--min-gain={args.min_gain:g}",
    ]
    if args.search_width is not None:  # else a job of N replicas searches N wide (ml/jobs/spec.py)
        flags.append(f"--search-width={args.search_width}")
    # on a machine with an accelerator a job trains on it, or fails saying why, never on the CPU unnoticed
    device = "gpu" if accelerated and args.device == "auto" else args.device
    if device != "auto":
        flags.append(f"--device={device}")
    for flag, value in (
        ("--iterations", args.iterations),
        ("--iteration-steps", args.iteration_steps),
        ("--limit", args.limit),
        ("--model", args.model),
    ):
        if value is not None:
            flags.append(f"{flag}={value}")
    return [*flags, *(["--force"] if args.force else [])]


def _on_vertex(args: argparse.Namespace, context: Context) -> Report:
    """Submit train-publish as a Vertex AI job; follow it to its end unless `--detach`."""
    from ml.jobs.follow import follow, read_report
    from ml.jobs.image import training_image
    from ml.jobs.service import submit
    from ml.jobs.spec import Machine, custom_job
    from ml.training.run import default_iterations

    default = Machine.of(context.env)
    machine = Machine(
        args.machine_type or default.machine_type,
        args.accelerator or default.accelerator,
        args.accelerator_count if args.accelerator_count is not None else default.accelerator_count,
    )
    replicas = args.replicas or context.env.training.replicas
    if replicas > 1 and (args.iterations or default_iterations(args.budget)) == 1:
        print(
            f"note: a {args.budget:g} s budget searches one iteration, the screen, which runs on the chief alone: "
            f"the {replicas - 1} worker(s) add cost, not candidates; give --iterations 2 or a budget of 1200 s or more",
            file=sys.stderr,
        )
    image = training_image(context)
    arguments = _job_arguments(args, bool(machine.accelerator))
    job = submit(context, custom_job(context.env, image, arguments, machine, replicas=replicas))
    env = context.env.name
    if args.detach:
        lines = [
            f"submitted job {job.id} ({job.state})",
            f"follow it: python -m ml jobs logs {job.id} --env {env} --follow",
            f"cancel it: python -m ml jobs cancel {job.id} --env {env}",
        ]
        return Report({"job": job.to_json_object()}, lines)
    where = f"{replicas} replicas of {machine.machine_type}" if replicas > 1 else machine.machine_type
    print(f"submitted job {job.id} on {where}; Ctrl-C stops following, not the job", file=sys.stderr)
    try:
        ended, tail = follow(context, job, sys.stderr)
    except KeyboardInterrupt:
        error = (
            f"stopped following; job {job.id} runs on: `python -m ml jobs logs {job.id} --env {env} --follow` "
            f"to watch it, `python -m ml jobs cancel {job.id} --env {env}` to stop it"
        )
        return Report({"job": job.to_json_object()}, [], status=130, error=error)
    data = {"job": ended.to_json_object(), "last_lines": tail}
    if ended.state != "SUCCEEDED":
        error = f"job {ended.id} {ended.state}: {ended.error}; its log: `python -m ml jobs logs {ended.id} --env {env}`"
        return Report(data, [], status=1, error=error)
    report = read_report(context, ended.id) or {}
    return Report({**data, **report}, [f"job {ended.id} SUCCEEDED in {ended.seconds or 0:.0f} s"])


def _train(args: argparse.Namespace, context: Context, cluster: tuple[Exchange, Replica] | None = None) -> RunResult:
    from ml.training.run import train

    return train(context, _config(args), cluster=cluster)


def _config(args: argparse.Namespace) -> TrainConfig:
    from ml.training.run import TrainConfig

    width = 1 if args.search_width is None else args.search_width
    if width < 1:
        raise TrainingError(f"--search-width {width} offers no candidates; give 1 or more")
    return TrainConfig(
        budget_s=args.budget,
        iterations=args.iterations,
        iteration_steps=args.iteration_steps,
        generators=_generators(args),
        seed=args.seed,
        limit=args.limit,
        runs_dir=args.runs_dir.resolve(),
        width=width,
        device=args.device,
    )


def _generators(args: argparse.Namespace) -> tuple[str, ...]:
    generators = tuple(g.strip() for g in args.generators.split(",") if g.strip())
    unknown = sorted(set(generators) - set(GENERATORS))
    if unknown or not generators:
        raise TrainingError(
            f"unknown generator(s) {unknown or generators}; use --generators {','.join(GENERATORS)} (or one of them)"
        )
    return generators


def _publish(args: argparse.Namespace, context: Context, run_dir: Path) -> PublishResult:
    from ml.publish.flow import publish

    actor = os.environ.get("GITHUB_ACTOR")  # who publishes: the GitHub actor in CI, else the flow's user@host
    publisher = f"github:{actor}" if actor else None
    return publish(context, run_dir, model=args.model, min_gain=args.min_gain, force=args.force, published_by=publisher)


def _published(result: PublishResult) -> Report:
    challenger, champion = result.challenger_metrics, result.champion_metrics
    lines = [
        f"{'':<22}{'accuracy':>10}{'loss':>10}",
        f"{'new version ' + result.version:<22}{challenger.accuracy:>10.4f}{challenger.loss:>10.4f}",
    ]
    if champion is not None:
        lines.append(f"{'production ' + str(result.champion):<22}{champion.accuracy:>10.4f}{champion.loss:>10.4f}")
    lines += [result.decision, f"production: version {result.production}, previous: version {result.previous}"]
    return Report(result.to_json_object(), lines)
