"""Evaluate a registered version on a test snapshot with its TFLite artifact (LiteRT: no TensorFlow)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ml.records import Metrics
from ml.registry import ModelVersion
from ml.registry.artifacts import ArtifactStore
from ml.training.litert import tflite_probabilities
from ml.training.metrics import classification_metrics


def evaluate_version(
    store: ArtifactStore, version: ModelVersion, images: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64]
) -> Metrics:
    """`version`'s metrics on the images, its confusion matrix and prediction profile included (what
    `model_evaluations` keeps); its artifact is verified before it runs."""
    with tempfile.TemporaryDirectory() as scratch:
        path = store.fetch(version.record.artifacts["tflite"], Path(scratch) / "model.tflite")
        probabilities = tflite_probabilities(path, images)
    return classification_metrics(probabilities, labels)
