"""`python -m ml train`, `publish RUN_DIR` and `train-publish`: a run, and a run into the registry, gated."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cli.app import Report
from ml.automl.generators import GENERATORS
from ml.context import Context
from ml.endpoints import ROOT
from ml.errors import TrainingError
from ml.records import RunReport

if TYPE_CHECKING:
    from ml.publish.flow import PublishResult
    from ml.training.run import RunResult


def training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget", type=float, default=300.0, help="wall-clock seconds, evaluation and export included"
    )
    parser.add_argument("--iterations", type=int, help="AdaNet iterations at most (default: by budget)")
    parser.add_argument("--iteration-steps", type=int, help="train each iteration this many steps (reproducible)")
    names = ",".join(GENERATORS)
    parser.add_argument("--generators", default=names, help=f"subnetwork generators, comma-separated: {names}")
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
    training: RunReport = _train(args, context).report
    published = _published(_publish(args, context, Path(training.run_dir)))
    return Report({**published.data, "training": training.to_json_object()}, published.lines)


def _train(args: argparse.Namespace, context: Context) -> RunResult:
    from ml.training.run import TrainConfig, train

    generators = tuple(g.strip() for g in args.generators.split(",") if g.strip())
    unknown = sorted(set(generators) - set(GENERATORS))
    if unknown or not generators:
        raise TrainingError(
            f"unknown generator(s) {unknown or generators}; use --generators {','.join(GENERATORS)} (or one of them)"
        )
    config = TrainConfig(
        budget_s=args.budget,
        iterations=args.iterations,
        iteration_steps=args.iteration_steps,
        generators=generators,
        seed=args.seed,
        limit=args.limit,
        runs_dir=args.runs_dir.resolve(),
    )
    return train(context, config)


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
