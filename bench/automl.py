"""AdaNet against one hand-written Keras CNN, each trained for the same wall-clock budget on the same data.

    .venv/bin/python -m bench.automl [--budgets 60 120 300 600] [--mnist-dir DIR]

Both read `train`/`valid`/`test` from one private emulator through `ml.data.read_table`,
inside their budget. (a) is `ml.training.run.train` (search, test evaluation, SavedModel and
TFLite export); (b) is the classic Keras MNIST convnet (two convolutions, Adam), trained
epoch after epoch until its budget is spent less its test evaluation. Targets: (a) >= 99.5%
at 300 s and >= 99.6% at 600 s, never below (b); (a)'s wall time <= 110% of its budget.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import mnist_dir
from bench.cloud import private_cloud
from ml.context import Context
from ml.data import read_table
from ml.data.loader import load, prepare
from ml.data.sources import from_directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[60, 120, 300, 600])
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    args = parser.parse_args()

    import keras

    from ml.training.run import TrainConfig, train

    rows = []
    with private_cloud() as cloud, tempfile.TemporaryDirectory() as runs:
        list(load(cloud.context, prepare(from_directory(mnist_dir(args.mnist_dir)))))
        print(f"{'budget s':>8} {'AdaNet':>8} {'CNN':>8} {'diff':>8} {'AdaNet wall s':>14} {'wall/budget':>12}")
        for budget in args.budgets:
            keras.backend.clear_session()
            started = time.monotonic()
            result = train(cloud.context, TrainConfig(budget_s=budget, runs_dir=Path(runs)))
            wall = time.monotonic() - started
            adanet = result.report.test_accuracy
            keras.backend.clear_session()
            cnn = baseline(cloud.context, budget)
            rows.append((budget, adanet, cnn, wall))
            print(
                f"{budget:8.0f} {adanet:8.4f} {cnn:8.4f} {adanet - cnn:+8.4f} {wall:14.1f} {wall / budget:11.0%}"
                f"   ensemble: {', '.join(result.report.ensemble)}",
                flush=True,
            )


def baseline(context: Context, budget: float) -> float:
    """Test accuracy of the classic Keras MNIST convnet trained for `budget` seconds, reading included."""
    import keras

    started = time.monotonic()
    train, test = read_table(context, "train"), read_table(context, "test")
    x, x_test = train.images[..., None] / np.float32(255), test.images[..., None] / np.float32(255)
    keras.utils.set_random_seed(42)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stop_at = started + budget - 3.0  # its test evaluation takes about a second

    class StopAtBudget(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            if time.monotonic() >= stop_at:
                self.model.stop_training = True

    model.fit(x, train.labels, batch_size=128, epochs=10_000, verbose=0, callbacks=[StopAtBudget()])
    return float(model.evaluate(x_test, test.labels, verbose=0)[1])


if __name__ == "__main__":
    main()
