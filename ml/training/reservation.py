"""The time a run keeps back from its search, measured on the machine at hand.

After the search come the exports (SavedModel and TFLite), the test evaluation, the check
that both exports agree, and the plots. Their cost differs threefold between machines of one
kind, so it is measured before the search: an untrained ensemble of one member, the first
generator's first candidate, goes through the same export and inference code, on a sample of
the test images, and what that took is scaled to the test set and to the members the search
may keep (measured: exporting two members takes twice as long as one).
The plots are measured too; after the search they run only if they still fit. So is what an
iteration spends evaluating `valid` outside its training, which the search needs before its
first iteration has measured it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from ml.automl.ensemble import Member

PARITY_IMAGES = 1000
"""Test images on which the SavedModel's answers are compared with the TFLite file's."""
MARGIN = 1.15
"""Measured costs vary a little from one call to the next; the reservation covers that."""
_SAMPLES = (50, 250)
"""Two inference calls of different sizes: their difference gives the cost per image, the rest the fixed cost."""


@dataclass(frozen=True)
class Cost:
    """A step's measured cost: a fixed part (loading, tracing) and a part per image."""

    fixed_s: float
    per_image_s: float

    def of(self, images: int) -> float:
        return self.fixed_s + self.per_image_s * images


@dataclass(frozen=True)
class PostSearchCost:
    """What the work after the search costs on this machine, as measured before it."""

    export_s: float
    """Of a one-member ensemble, as are the inference costs."""
    saved_model: Cost
    tflite: Cost
    plots_s: float
    evaluation: Cost
    """A fresh member's first Keras inference, its tracing included: how an iteration scores `valid`."""
    measured_in_s: float
    """How long measuring took (spent before the search, inside the budget)."""

    def required_s(self, members: int, test_images: int) -> float:
        """Seconds the exports, the test evaluation and the agreement check need for an ensemble of
        `members` (a bigger ensemble costs proportionally more); the plots are not included."""
        work = self.export_s + self.tflite.of(test_images) + self.saved_model.of(min(PARITY_IMAGES, test_images))
        return MARGIN * max(1, members) * work

    def evaluation_s(self, images: int) -> float:
        """Seconds an iteration spends outside training to score `images` with one new subnetwork."""
        return MARGIN * self.evaluation.of(images)


def measure(
    generators: Sequence[str], image_shape: tuple[int, int], classes: int, images: npt.NDArray[np.uint8]
) -> PostSearchCost:
    """Time the export, the inference and the plots on an untrained ensemble of the first
    generator's first candidate."""
    import keras

    from ml.automl.ensemble import Ensemble, Member
    from ml.automl.generators import GENERATORS
    from ml.training import export, plots
    from ml.training.litert import tflite_probabilities

    started = time.monotonic()
    spec = GENERATORS[generators[0]]().candidates([], 0)[0]
    member = Member(spec, spec.build(image_shape, classes, 0), 0)
    ensemble = Ensemble([member], np.ones(1, np.float32), np.zeros(classes, np.float32))
    sample = np.resize(images, (max(_SAMPLES), *image_shape))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        begun = time.monotonic()
        saved_model, tflite = export.export(ensemble, image_shape, folder / "saved_model", folder / "model.tflite")
        export_s = time.monotonic() - begun
        saved_model_cost = _cost(lambda n: export.saved_model_probabilities(saved_model, sample[:n]))
        tflite_cost = _cost(lambda n: tflite_probabilities(tflite, sample[:n]))
        evaluation = _first_inference_cost(member, images, image_shape)
        begun = time.monotonic()
        plots.learning_curves([], folder / "learning_curves.png")
        plots.confusion_matrix(np.zeros((classes, classes), np.int64).tolist(), folder / "confusion_matrix.png")
        plots_s = time.monotonic() - begun
    keras.backend.clear_session()
    return PostSearchCost(
        export_s, saved_model_cost, tflite_cost, plots_s, evaluation, measured_in_s=time.monotonic() - started
    )


def _first_inference_cost(member: Member, images: npt.NDArray[np.uint8], image_shape: tuple[int, int]) -> Cost:
    """A new model's first inference costs its tracing; two later calls, in batches as large as
    the search's (a small batch costs twice as much per image), give the cost per image."""
    import keras

    from ml.automl.generators import normalise
    from ml.automl.pipeline import PREDICT_BATCH, predict

    image = keras.Input(image_shape, dtype="uint8")
    model = keras.Model(image, member.model(normalise(image, image_shape), training=False))
    batch = np.resize(images, (PREDICT_BATCH, *image_shape))
    begun = time.monotonic()
    predict(model, batch[: min(_SAMPLES)])
    first = time.monotonic() - begun
    sizes = (PREDICT_BATCH // 4, PREDICT_BATCH)
    later = _cost(lambda n: predict(model, batch[:n]), sizes)
    return Cost(fixed_s=first, per_image_s=later.per_image_s)


def _cost(call: Callable[[int], object], sizes: tuple[int, int] = _SAMPLES) -> Cost:
    seconds = []
    for images in sizes:
        begun = time.monotonic()
        call(images)
        seconds.append(time.monotonic() - begun)
    (small, large), (few, many) = seconds, sizes
    per_image = max(0.0, (large - small) / (many - few))
    return Cost(fixed_s=max(0.0, small - per_image * few), per_image_s=per_image)
