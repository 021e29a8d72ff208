"""The trainer against a practitioner's hand-written CNNs, each trained for the same wall-clock budget on the same data.

    .venv/bin/python -m bench.automl [--budgets 60 120 300 600] [--data DIR] [--cpu-quota 0.66]
                                     [--baselines keras pytorch]

One after the other, never at once, each in a process of its own:

- the trainer: `ml.training.run.train` as `python -m ml train --budget` runs it (search,
  test evaluation, SavedModel and TFLite export), reading `train`/`valid`/`test` from one
  private emulator, everything inside its budget;
- Keras: the PyTorch peer's recipe written in Keras, as a practitioner writes it today
  (`practitioner`): two convolutions and two dense layers, AdamW, a cosine learning rate over
  the wall-clock budget with a short warm-up, every image of `train` and `valid`, no
  augmentation; reading and its test evaluation inside the budget too;
- PyTorch: `../shared/peers/torchcnn_mnist.py`, when its environment exists
  (`bash ../shared/peers/install.sh`); its budget covers its fit only, not reading the files
  nor scoring the test set.

Each row prints test accuracy, steps, steps per second and wall / budget; the trainer's also
what it kept, the device it trained on, and what its screen spent beside the recipe and bought
over it. `--data` takes any
IDX image set (`bench.check_set` makes one that is not MNIST); `--cpu-quota` runs everything,
the emulators included, under a CPU quota: 0.66 of these 2 cores is a machine three times
slower. Targets: the trainer never below either baseline; every run within 105% of its budget.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench import ROOT, mnist_dir
from bench.cloud import private_cloud
from bench.quota import cpu_quota
from ml.context import Context
from ml.data import read_table
from ml.data.loader import load, prepare
from ml.data.sources import from_directory
from ml.errors import TrainingError
from ml.native_logs import quiet_stderr
from ml.records import RunReport
from ml.training.host import this_machine

BASELINES = ["keras", "pytorch"]
PEER = ROOT.parent / "shared" / "peers" / "torchcnn_mnist.py"
PEER_PYTHON = Path("/tmp/peers/torchcnn/bin/python")
"""Where `../shared/peers/install.sh` puts the peer's environment by default."""


@dataclass(frozen=True)
class Result:
    """One system's run at one budget."""

    accuracy: float
    steps: int
    wall_s: float
    note: str = ""

    def row(self, name: str, budget: float) -> str:
        speed = self.steps / self.wall_s if self.wall_s else 0.0
        return (
            f"{budget:8.0f} {name:10} {self.accuracy:9.4f} {self.steps:7d} {speed:8.1f} {self.wall_s / budget:12.1%}"
            f"  {self.note}"
        )


T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[60, 120, 300, 600])
    parser.add_argument(
        "--data", type=Path, help="IDX image set (default: MNIST from ../shared/data/mnist, else downloaded)"
    )
    parser.add_argument("--cpu-quota", type=float, metavar="CPUS", help="run under this many CPUs' worth of time")
    parser.add_argument(
        "--baselines", nargs="*", choices=BASELINES, default=BASELINES, help="which to run beside the trainer"
    )
    args = parser.parse_args()

    with cpu_quota(args.cpu_quota), private_cloud() as cloud, tempfile.TemporaryDirectory() as runs:
        data_dir = mnist_dir(args.data)
        list(load(cloud.context, prepare(from_directory(data_dir))))
        machine = this_machine()
        quota, data = machine.cpu_quota or "none", args.data or "MNIST"
        print(f"{machine.cpu_model}, {machine.cpu_count} cores, CPU quota {quota}; data {data}")
        peer = "PyTorch peer: " + ("found" if PEER_PYTHON.is_file() and PEER.is_file() else "not installed (skipped)")
        print(f"{peer}; steps/s: every step of the run over its wall time")
        print(f"{'budget s':>8} {'system':10} {'accuracy':>9} {'steps':>7} {'steps/s':>8} {'wall/budget':>12}  notes")
        for budget in args.budgets:
            begun = time.monotonic()
            try:
                report, wall = in_fresh_process(adanet, cloud.context, budget, Path(runs))
            except TrainingError as error:
                refused = (time.monotonic() - begun) / budget
                print(f"{budget:8.0f} refused after {refused:.1%} of the budget: {error}", flush=True)
                continue
            print(trainer_result(report, wall).row("trainer", budget), flush=True)
            if "keras" in args.baselines:
                print(in_fresh_process(practitioner, cloud.context, budget).row("Keras", budget), flush=True)
            if "pytorch" in args.baselines and PEER_PYTHON.is_file() and PEER.is_file():
                print(torch_peer(data_dir, budget).row("PyTorch", budget), flush=True)


def trainer_result(report: RunReport, wall: float) -> Result:
    """The trainer's report as a row: the steps of every candidate it trained, its ensemble and its choices."""
    records = json.loads(Path(report.artifacts["iterations"]).read_text())
    steps = sum(
        sum(c["steps"] for c in record["candidates"]) if record["screened"] else record["steps"] for record in records
    )
    screen = records[0] if records and records[0]["screened"] else None
    if screen is None:
        screening = "no screen"
    elif screen["candidates"][0]["kept"]:
        screening = f"screen: {screen['screen_cost_s']:.0f} s on others, kept the recipe"
    else:
        screening = (
            f"screen: {screen['screen_cost_s']:.0f} s on others, {screen['screen_gain']:+.4f} valid over the recipe"
        )
    check = report.ensemble_check
    weighed = (
        f"pair {check.ensemble_valid_accuracy:.4f} vs best member {check.best_member_valid_accuracy:.4f}"
        f" on valid, {'kept' if check.kept else 'not kept'}"
        if check
        else "twin averaged, not weighed"
        if len(report.ensemble) > 1
        else "no pair weighed"
    )
    machine = report.machine
    speed = machine.steps_per_second.get(report.ensemble[0], 0.0) if machine else 0.0
    note = (
        f"{' + '.join(report.ensemble)} ({speed:.1f} steps/s on {machine.device if machine else 'CPU'}); "
        f"{screening}; {weighed}; reserved {report.reserved_seconds or 0:.1f} s; "
        f"{'; '.join(report.skipped) or 'nothing skipped'}"
    )
    return Result(report.test_accuracy, steps, wall, note)


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


def practitioner(context: Context, budget: float) -> Result:
    """The PyTorch peer's recipe in Keras, reading and its test evaluation included in `budget`.

    conv3x3(32)-pool, conv3x3(64)-pool, dropout 0.25, dense 128, dropout 0.25, logits; AdamW
    (2e-3, weight decay 1e-4), batch 128; the rate warms up for 3% of the budget (at most 10 s)
    and then follows a cosine to zero at the time the fit must end, the steps stopping before
    the one that would cross it; every image of `train` and `valid`; no augmentation.
    """
    started = time.monotonic()
    with quiet_stderr():  # TensorFlow's banners, as the trainer keeps them off the terminal
        import keras

        keras.ops.zeros(1)
    train, valid, test = (read_table(context, name) for name in ("train", "valid", "test"))
    images = np.concatenate([train.images, valid.images])
    labels = np.concatenate([train.labels, valid.labels])

    def normalised(pixels: np.ndarray) -> np.ndarray:
        return ((pixels / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081))[..., None]

    x, x_test = normalised(images), normalised(test.images)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((*train.images.shape[1:], 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(train.classes),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(2e-3, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    begun = time.monotonic()
    model.evaluate(x_test, test.labels, verbose=0)  # its tracing and its cost, kept back from training
    end = started + budget - (time.monotonic() - begun)
    warmup = min(0.03 * budget, 10.0)

    class WallClockCosine(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.fit_started = self.step_s = 0.0
            self.steps = 0

        def on_train_begin(self, logs: object = None) -> None:
            self.fit_started = time.monotonic()

        def on_train_batch_begin(self, batch: int, logs: object = None) -> None:
            elapsed, length = time.monotonic() - self.fit_started, end - self.fit_started
            rate = elapsed / warmup if elapsed < warmup else 0.5 * (1 + math.cos(math.pi * min(elapsed / length, 1)))
            self.model.optimizer.learning_rate.assign(max(2e-3 * rate, 1e-6))
            self._step_started = time.monotonic()

        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            now = time.monotonic()
            took = now - self._step_started
            self.step_s = took if not self.steps else 0.9 * self.step_s + 0.1 * took
            self.steps += 1
            if now + 1.5 * self.step_s > end:
                self.model.stop_training = True

    clock = WallClockCosine()
    model.fit(x, labels, batch_size=128, epochs=10_000, shuffle=True, verbose=0, callbacks=[clock])
    accuracy = float(model.evaluate(x_test, test.labels, verbose=0)[1])
    return Result(accuracy, clock.steps, time.monotonic() - started, f"{len(images):,} images, no augmentation")


def torch_peer(data: Path, budget: float) -> Result:
    """The PyTorch peer of ../shared/peers/, in its own environment; wall is its fit's, as it measures it."""
    command = [str(PEER_PYTHON), str(PEER), "--budget", f"{budget:g}", "--data", str(data)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return Result(float("nan"), 0, 0.0, f"failed: {done.stderr.strip().splitlines()[-1:]}")
    line = json.loads(done.stdout.strip().splitlines()[-1])
    extra = line["extra"]
    return Result(
        line["test_accuracy"], extra["steps"], line["fit_wall_s"], f"fit only; {extra['epochs']} epochs on 60,000"
    )


if __name__ == "__main__":
    main()
