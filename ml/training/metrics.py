"""Test metrics of a model's probabilities: accuracy, loss, per-class precision and recall."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def classification_metrics(probabilities: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> dict[str, Any]:
    classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_positives = np.diag(confusion).astype(np.float64)
    precision = true_positives / np.maximum(confusion.sum(axis=0), 1)
    recall = true_positives / np.maximum(confusion.sum(axis=1), 1)
    picked = probabilities[np.arange(len(labels)), labels]
    return {
        "examples": len(labels),
        "accuracy": round(float((predicted == labels).mean()), 6),
        "loss": round(float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()), 6),
        "per_class": [
            {"class": c, "precision": round(float(precision[c]), 6), "recall": round(float(recall[c]), 6)}
            for c in range(classes)
        ],
        "confusion_matrix": confusion.tolist(),
    }


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """What a registry version and an evaluation record keep of `classification_metrics`: no confusion matrix."""
    return {k: metrics[k] for k in ("examples", "accuracy", "loss", "per_class")}
