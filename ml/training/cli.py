"""`python -m ml train`: the AdaNet trainer on the environment's tables."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ml.cli import Report
from ml.cloud import ROOT
from ml.environments import get_environment


def register(groups: Any, common: argparse.ArgumentParser) -> None:
    parser = groups.add_parser("train", parents=[common], help="train AdaNet on train/valid, evaluate on test")
    add_training_options(parser)
    parser.set_defaults(command=run_training)


def add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget", type=float, default=300.0, help="wall-clock seconds, evaluation and export included"
    )
    parser.add_argument("--iterations", type=int, help="AdaNet iterations at most (default: by budget)")
    parser.add_argument("--iteration-steps", type=int, help="train each iteration this many steps (reproducible)")
    parser.add_argument("--generators", default="cnn,dnn", help="subnetwork generators, comma-separated: cnn, dnn")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limit", type=int, help="read at most this many rows of each table (quick runs)")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs", help="where run directories are written")


def run_training(args: argparse.Namespace) -> Report:
    from ml.errors import TrainingError
    from ml.training.run import TrainConfig, train

    generators = tuple(g.strip() for g in args.generators.split(",") if g.strip())
    unknown = sorted(set(generators) - {"cnn", "dnn"})
    if unknown or not generators:
        raise TrainingError(f"unknown generator(s) {unknown or generators}; use --generators cnn,dnn (or one of them)")
    config = TrainConfig(
        budget_s=args.budget,
        iterations=args.iterations,
        iteration_steps=args.iteration_steps,
        generators=generators,
        seed=args.seed,
        limit=args.limit,
        runs_dir=args.runs_dir.resolve(),
    )
    result = train(get_environment(args.env), config)
    report = result.report
    lines = [
        f"test accuracy {report['test_accuracy']:.4f} in {report['wall_seconds']} s of a {args.budget:g} s budget",
        f"ensemble: {', '.join(report['ensemble'])}",
        f"run directory: {report['run_dir']}",
    ]
    return report, lines
