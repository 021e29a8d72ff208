"""Test metrics of a model's probabilities: accuracy, loss, per-class precision and recall, prediction profile."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ml.records import CONFIDENCE_BINS, ClassMetrics, Metrics, PredictionProfile


def classification_metrics(probabilities: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> Metrics:
    classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_positives = np.diag(confusion).astype(np.float64)
    precision = true_positives / np.maximum(confusion.sum(axis=0), 1)
    recall = true_positives / np.maximum(confusion.sum(axis=1), 1)
    picked = probabilities[np.arange(len(labels)), labels]
    return Metrics(
        profile=prediction_profile(probabilities),
        examples=len(labels),
        accuracy=round(float((predicted == labels).mean()), 6),
        loss=round(float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()), 6),
        per_class=tuple(
            ClassMetrics(c, round(float(precision[c]), 6), round(float(recall[c]), 6)) for c in range(classes)
        ),
        confusion_matrix=tuple(tuple(int(v) for v in row) for row in confusion),
    )


def prediction_profile(probabilities: npt.NDArray[np.float32]) -> PredictionProfile:
    """The share of each predicted class and of each confidence bin, as the monitor's SQL bins them."""
    classes = probabilities.shape[1]
    predicted = np.bincount(probabilities.argmax(axis=1), minlength=classes)
    bins = np.minimum(np.floor(probabilities.max(axis=1).astype(np.float64) * CONFIDENCE_BINS), CONFIDENCE_BINS - 1)
    confidence = np.bincount(bins.astype(np.int64), minlength=CONFIDENCE_BINS)
    total = len(probabilities)
    return PredictionProfile(
        class_distribution=tuple(round(float(n) / total, 6) for n in predicted),
        confidence_histogram=tuple(round(float(n) / total, 6) for n in confidence),
    )
