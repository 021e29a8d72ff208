"""AdaNet against one hand-written Keras CNN, each trained for the same wall-clock budget on the same data.

    .venv/bin/python -m bench.automl [--budgets 60 120 300 600] [--data DIR] [--cpu-quota 0.66]

Both read `train`/`valid`/`test` from one private emulator through `ml.data.read_table`,
inside their budget, each run in a Python process of its own as `python -m ml train` is.
(a) is `ml.training.run.train` (search, test evaluation, SavedModel and TFLite export);
(b) is the classic Keras MNIST convnet (two convolutions, Adam), trained epoch after epoch
until its budget is spent less its measured test evaluation. `--data` takes any IDX image
set (`bench.check_set` makes one that is not MNIST); `--cpu-quota` runs everything, the
emulators included, under a CPU quota: 0.66 of these 2 cores is a machine three times
slower. Targets: (a) never below (b); both ends within 105% of its budget.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench import mnist_dir
from bench.cloud import private_cloud
from bench.quota import cpu_quota
from ml.context import Context
from ml.data import read_table
from ml.data.loader import load, prepare
from ml.data.sources import from_directory
from ml.errors import TrainingError
from ml.records import RunReport
from ml.training.machine import this_machine

T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[60, 120, 300, 600])
    parser.add_argument(
        "--data", type=Path, help="IDX image set (default: MNIST from ../shared/data/mnist, else downloaded)"
    )
    parser.add_argument("--cpu-quota", type=float, metavar="CPUS", help="run under this many CPUs' worth of time")
    args = parser.parse_args()

    with cpu_quota(args.cpu_quota), private_cloud() as cloud, tempfile.TemporaryDirectory() as runs:
        list(load(cloud.context, prepare(from_directory(mnist_dir(args.data)))))
        machine = this_machine()
        quota, data = machine.cpu_quota or "none", args.data or "MNIST"
        print(f"{machine.cpu_model}, {machine.cpu_count} cores, CPU quota {quota}; data {data}")
        print(
            f"{'budget s':>8} {'AdaNet':>8} {'CNN':>8} {'diff':>8} {'AdaNet wall/budget':>19} {'CNN wall/budget':>16}"
            f" {'reserved s':>11} {'steps/s':>8}  ensemble (steps/s of its first member); pair weighed; skipped"
        )
        for budget in args.budgets:
            begun = time.monotonic()
            try:
                report, wall = in_fresh_process(adanet, cloud.context, budget, Path(runs))
            except TrainingError as error:
                refused = (time.monotonic() - begun) / budget
                print(f"{budget:8.0f} refused after {refused:.1%} of the budget: {error}", flush=True)
                continue
            cnn, cnn_wall = in_fresh_process(baseline, cloud.context, budget)
            speed = report.machine.steps_per_second.get(report.ensemble[0], 0.0) if report.machine else 0.0
            check = report.ensemble_check
            weighed = (
                f"pair {check.ensemble_valid_accuracy:.4f} vs best member {check.best_member_valid_accuracy:.4f}"
                f" on valid, {'kept' if check.kept else 'not kept'}"
                if check
                else "no pair weighed"
            )
            print(
                f"{budget:8.0f} {report.test_accuracy:8.4f} {cnn:8.4f} {report.test_accuracy - cnn:+8.4f}"
                f" {wall / budget:19.1%} {cnn_wall / budget:16.1%} {report.reserved_seconds or 0:11.1f} {speed:8.1f}"
                f"  {' + '.join(report.ensemble)}; {weighed}; {'; '.join(report.skipped) or '-'}",
                flush=True,
            )


def in_fresh_process(call: Callable[..., T], *args: object) -> T:
    """`call(*args)` in a new Python process, as a user's `python -m ml train` runs: runs that share
    one process slow each other (bench/NOTES.md, "The budget on a slower machine")."""
    args = tuple(dataclasses.replace(a) if isinstance(a, Context) else a for a in args)  # without its clients
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(call, *args).result()


def adanet(context: Context, budget: float, runs: Path) -> tuple[RunReport, float]:
    """The trainer's report and its wall seconds, as `python -m ml train --budget` measures them."""
    from ml.training.run import TrainConfig, train

    started = time.monotonic()
    report = train(context, TrainConfig(budget_s=budget, runs_dir=runs)).report
    return report, time.monotonic() - started


def baseline(context: Context, budget: float) -> tuple[float, float]:
    """Test accuracy and wall seconds of the classic Keras MNIST convnet trained for `budget` seconds,
    reading and its test evaluation included."""
    import keras

    started = time.monotonic()
    train, test = read_table(context, "train"), read_table(context, "test")
    x, x_test = train.images[..., None] / np.float32(255), test.images[..., None] / np.float32(255)
    keras.utils.set_random_seed(42)
    model = keras.Sequential(
        [
            keras.Input((*train.images.shape[1:], 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(train.classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    begun = time.monotonic()
    model.evaluate(x_test, test.labels, verbose=0)  # its tracing and its cost, kept back from training
    stop_at = started + budget - (time.monotonic() - begun)

    class StopAtBudget(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            if time.monotonic() >= stop_at:
                self.model.stop_training = True

    model.fit(x, train.labels, batch_size=128, epochs=10_000, verbose=0, callbacks=[StopAtBudget()])
    accuracy = float(model.evaluate(x_test, test.labels, verbose=0)[1])
    return accuracy, time.monotonic() - started


if __name__ == "__main__":
    main()
