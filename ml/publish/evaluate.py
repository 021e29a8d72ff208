"""Evaluate a registered version on a test snapshot with its TFLite artifact (LiteRT: no TensorFlow)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ml.registry import ModelVersion
from ml.registry.artifacts import ArtifactStore


def evaluate_version(
    store: ArtifactStore, version: ModelVersion, images: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """Accuracy and loss of `version` on the images; its artifact is verified before it runs."""
    from ai_edge_litert.interpreter import Interpreter

    from ml.training.metrics import classification_metrics

    with tempfile.TemporaryDirectory() as scratch:
        path = store.fetch(version.record.artifacts["tflite"], Path(scratch) / "model.tflite")
        runner = Interpreter(model_path=str(path)).get_signature_runner()
        chunks = [
            runner(image=images[i : i + 1000].astype(np.float32))["probabilities"] for i in range(0, len(images), 1000)
        ]
    metrics = classification_metrics(np.concatenate(chunks), labels)
    return {k: metrics[k] for k in ("examples", "accuracy", "loss", "per_class")}
