"""Export an ensemble as one SavedModel and one TFLite file, and check they agree.

Both take `image` as raw pixel values 0..255 and return `class_ids` int64 `[N, 1]` and
`probabilities` float32 `[N, classes]`; normalisation is inside the graph, so clients never
normalise. The SavedModel's `serving_default` takes float32 and `serving_uint8` uint8, each
of any shape holding whole images (`[N, H, W]`, `[N, H, W, 1]` or `[N, H*W]`); the TFLite
file takes float32 `[N, H, W]`.

The TFLite file, the artifact the endpoint serves, is quantized to its dynamic range: weights
int8, activations quantized per batch as it runs, inputs and outputs float. Inference is most
of a large request's time: on a 2-core AMD EPYC the CNN ran 100 images in 20.4 ms as float32
and in 5.9 ms quantized, answering as the float model on 1,999 of 2,000 test images (largest
probability difference 0.027). The SavedModel stays float32, and the test metrics are the
quantized file's, so the registry's figures are what the endpoint answers.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from ml.automl.ensemble import Ensemble
from ml.errors import TrainingError
from ml.training.litert import chunks

MAX_MEAN_PROBABILITY_DIFFERENCE = 0.005
"""Quantization noise averages about 2e-4 per probability; a wrong scale or layer is far above."""
MAX_PROBABILITY_DIFFERENCE = 0.1
"""The most quantization moved one probability of the bench's CNN was 0.027. The argmax is
reported, not held: where a model hesitates between two classes (any model early in
training), noise this small swaps them without anything being wrong."""


@dataclass(frozen=True)
class Agreement:
    """How far the TFLite file's answers are from the SavedModel's on the same images."""

    images: int
    argmax_agreement: float
    mean_probability_difference: float
    max_probability_difference: float

    @property
    def ok(self) -> bool:
        return (
            self.mean_probability_difference <= MAX_MEAN_PROBABILITY_DIFFERENCE
            and self.max_probability_difference <= MAX_PROBABILITY_DIFFERENCE
        )


def _archive(ensemble: Ensemble, image_shape: tuple[int, int], signatures: dict[str, tuple[Any, Any]]) -> Any:
    """A Keras export archive of the ensemble with one endpoint per `name: (dtype, shape)`."""
    import keras

    model = ensemble.serving_model(image_shape)

    def predict(image: tf.Tensor) -> dict[str, tf.Tensor]:
        pixels = tf.reshape(tf.cast(image, tf.float32), [-1, *image_shape])
        probabilities = model(pixels, training=False)
        class_ids = tf.expand_dims(tf.argmax(probabilities, axis=1, output_type=tf.int64), -1)
        return {"class_ids": class_ids, "probabilities": probabilities}

    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (dtype, shape) in signatures.items():
        archive.add_endpoint(name=name, fn=predict, input_signature=[tf.TensorSpec(shape, dtype, name="image")])
    return archive


def export(ensemble: Ensemble, image_shape: tuple[int, int], saved_model: Path, tflite: Path) -> tuple[Path, Path]:
    """Write the SavedModel folder and the TFLite file; returns their paths."""
    signatures = {"serving_default": (tf.float32, None), "serving_uint8": (tf.uint8, None)}
    _archive(ensemble, image_shape, signatures).write_out(str(saved_model), verbose=False)
    # TFLite wants a known rank: convert from a copy whose one signature takes [N, H, W].
    with tempfile.TemporaryDirectory() as scratch:
        _archive(ensemble, image_shape, {"serving_default": (tf.float32, [None, *image_shape])}).write_out(
            scratch, verbose=False
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: see the module's docstring
        tflite.write_bytes(converter.convert())
    return saved_model, tflite


def saved_model_probabilities(saved_model: Path, images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    out = [serve(image=tf.constant(chunk, tf.float32))["probabilities"].numpy() for chunk in chunks(images)]
    return np.concatenate(out)


def compare_probabilities(reference: npt.NDArray[np.float32], lite: npt.NDArray[np.float32]) -> Agreement:
    """The SavedModel's and the TFLite file's answers on the same images; a TrainingError beyond tolerance."""
    agreement = Agreement(
        images=len(reference),
        argmax_agreement=float((reference.argmax(1) == lite.argmax(1)).mean()),
        mean_probability_difference=float(np.abs(reference - lite).mean()),
        max_probability_difference=float(np.abs(reference - lite).max()),
    )
    if not agreement.ok:
        raise TrainingError(
            f"the TFLite export disagrees with the SavedModel ({agreement}); nothing was exported: "
            "report this with the run's iterations.json"
        )
    return agreement
