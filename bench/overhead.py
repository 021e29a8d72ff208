"""The trainer's cost per step against the same network in a plain Keras `fit`, side by side.

    .venv/bin/python -m bench.overhead [--steps 300] [--rounds 3] [--mnist-dir DIR]

For each of the recipe (the first CNN variant, ml/automl/generators.py) and the first VGG
variant, one after the other in this process, `--rounds` times:

- plain: the candidate's network compiled as a practitioner would (AdamW, float images
  normalised beforehand) and trained by `model.fit(x, y, batch_size=128)` on NumPy arrays;
- screen: the same network as the screen trains it (ml/automl/screen.py: uint8 images in,
  normalised inside the model, the search's own tf.data pipeline and learning-rate schedule);
- joint: as an iteration trains candidates (ml/automl/iteration.py: the mixture head beside
  the subnetwork, two outputs, two losses).

Each figure is steps per second over the steps after the first ten (tracing and warm-up
left out), the median of the rounds. Target: the screen's and the joint model's steps cost at
most 10% more than plain Keras's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench import mnist_dir
from ml.data.sources import from_directory
from ml.native_logs import quiet_stderr
from ml.training.host import this_machine

with quiet_stderr():  # TensorFlow's banners
    import keras

if TYPE_CHECKING:
    from ml.automl.generators import SubnetworkSpec
    from ml.automl.iteration import Images, Labels

WARMUP_STEPS = 10
BATCH = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps timed per run, after the warm-up")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mnist-dir", type=Path)
    args = parser.parse_args()
    from ml.automl.generators import CnnGenerator

    sources = from_directory(mnist_dir(args.mnist_dir))
    images, labels = sources.train_images.array.values, sources.train_labels.array.values.astype(np.int64)
    machine = this_machine()
    print(f"{machine.cpu_model}, {machine.cpu_count} cores; {args.steps} steps of batch {BATCH}, {args.rounds} rounds")
    print(f"{'candidate':28} {'plain steps/s':>13} {'screen':>8} {'joint':>8} {'screen/plain':>13} {'joint/plain':>12}")
    specs = CnnGenerator().candidates([], 0)
    for spec in (specs[0], next(s for s in specs if s.body == "vgg")):
        runs = {"plain": plain, "screen": screened, "joint": joint}
        figures = {
            name: statistics.median(run(spec, images, labels, WARMUP_STEPS + args.steps) for _ in range(args.rounds))
            for name, run in runs.items()
        }
        p, s, j = figures["plain"], figures["screen"], figures["joint"]
        print(f"{spec.name:28} {p:13.1f} {s:8.1f} {j:8.1f} {s / p:13.1%} {j / p:12.1%}", flush=True)


def plain(spec: SubnetworkSpec, images: Images, labels: Labels, steps: int) -> float:
    """Steps/s of the network in a practitioner's `fit` on float arrays normalised beforehand."""
    from ml.automl.iteration import optimizer

    model = spec.build(images.shape[1:], int(labels.max()) + 1, 0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer(spec.learning_rate), loss=loss, jit_compile=False)
    floats = (images.astype(np.float32) / 255.0)[..., None]
    clock = _Clock()
    model.fit(floats, labels, batch_size=BATCH, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[clock])
    return clock.rate()


def screened(spec: SubnetworkSpec, images: Images, labels: Labels, steps: int) -> float:
    """Steps/s of the network as the screen trains it."""
    from ml.automl.iteration import Training, fit
    from ml.automl.screen import _trial

    trial = _trial(spec, images.shape[1:], int(labels.max()) + 1, 0)
    training = Training(spec.learning_rate, BATCH, steps, 1e9)
    return _timed(lambda: fit(trial.model, images, labels, training, 1e18, time.monotonic(), "overhead"))


def joint(spec: SubnetworkSpec, images: Images, labels: Labels, steps: int) -> float:
    """Steps/s of the network as an iteration trains its candidates, with its mixture head."""
    from ml.automl.ensemble import Ensemble
    from ml.automl.ensembler import ComplexityRegularizedEnsembler
    from ml.automl.iteration import Training, train_candidates

    classes = int(labels.max()) + 1
    empty = np.zeros((len(images), 0, classes), np.float32)
    return _timed(
        lambda: train_candidates(
            0,
            [spec],
            [0],
            Ensemble(),
            ComplexityRegularizedEnsembler(0.005, 0.0),
            image_shape=images.shape[1:],
            classes=classes,
            seed=0,
            train=(images, labels),
            train_logits=empty,
            valid=(images[:BATCH], labels[:BATCH]),
            valid_logits=empty[:BATCH],
            training=Training(spec.learning_rate, BATCH, steps, 1e9),
            search_started=time.monotonic(),
        )
    )


class _Clock(keras.callbacks.Callback):  # type: ignore[misc]
    """Each step's end, for the steps per second after the warm-up."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch: int, logs: object = None) -> None:
        self.ends.append(time.monotonic())

    def rate(self) -> float:
        timed = self.ends[WARMUP_STEPS:]
        return (len(timed) - 1) / (timed[-1] - timed[0])


def _timed(run: Callable[[], object]) -> float:
    """Steps/s of the one Keras `fit` that `run()` makes, the trainer's own call unchanged: a clock
    joins its callbacks for the run."""
    original, clock = keras.Model.fit, _Clock()

    def with_clock(self: keras.Model, *args: Any, callbacks: list[Any] | None = None, **kwargs: Any) -> Any:
        return original(self, *args, callbacks=[*(callbacks or []), clock], **kwargs)

    keras.Model.fit = with_clock
    try:
        run()
    finally:
        keras.Model.fit = original
    return clock.rate()


if __name__ == "__main__":
    main()
