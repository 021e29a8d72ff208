"""`python -m ml publish RUN_DIR` and `python -m ml train-publish`: a run into the registry, gated."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ml.cli import Report
from ml.environments import get_environment
from ml.publish.flow import PublishResult, publish


def register(groups: Any, common: argparse.ArgumentParser) -> None:
    gate = argparse.ArgumentParser(add_help=False)
    gate.add_argument("--model", help="registry model name (default: the environment's, mnist)")
    gate.add_argument("--min-gain", type=float, default=0.0, help="accuracy the new version must add to be promoted")
    gate.add_argument("--force", action="store_true", help="promote even if it is not better")

    runner = groups.add_parser("publish", parents=[common, gate], help="publish a finished run directory")
    runner.add_argument("run_dir", type=Path)
    runner.set_defaults(command=_publish)

    from ml.training.cli import add_training_options

    both = groups.add_parser("train-publish", parents=[common, gate], help="train, then publish the run")
    add_training_options(both)
    both.set_defaults(command=_train_publish)


def _publish(args: argparse.Namespace) -> Report:
    return _report(_publish_run(args, args.run_dir.resolve()))


def _train_publish(args: argparse.Namespace) -> Report:
    from ml.training.cli import run_training

    training, _ = run_training(args)
    report, lines = _report(_publish_run(args, Path(training["run_dir"])))
    return {**report, "training": training}, lines


def _publish_run(args: argparse.Namespace, run_dir: Path) -> PublishResult:
    env = get_environment(args.env)
    return publish(env, run_dir, model=args.model, min_gain=args.min_gain, force=args.force, published_by=_publisher())


def _publisher() -> str | None:
    """Who publishes: the GitHub actor in CI; None, for the flow's user@host, elsewhere."""
    actor = os.environ.get("GITHUB_ACTOR")
    return f"github:{actor}" if actor else None


def _report(result: PublishResult) -> Report:
    champion = result.champion_metrics
    lines = [
        f"{'':<22}{'accuracy':>10}{'loss':>10}",
        f"{'new version ' + result.version:<22}{result.challenger_metrics['accuracy']:>10.4f}"
        f"{result.challenger_metrics['loss']:>10.4f}",
    ]
    if champion is not None:
        lines.append(
            f"{'production ' + str(result.champion):<22}{champion['accuracy']:>10.4f}{champion['loss']:>10.4f}"
        )
    lines += [result.decision, f"production: version {result.production}, previous: version {result.previous}"]
    return result.to_dict(), lines
