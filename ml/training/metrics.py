"""Test metrics of a model's probabilities: accuracy, loss, per-class precision and recall."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ml.records import ClassMetrics, Metrics


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
        examples=len(labels),
        accuracy=round(float((predicted == labels).mean()), 6),
        loss=round(float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()), 6),
        per_class=tuple(
            ClassMetrics(c, round(float(precision[c]), 6), round(float(recall[c]), 6)) for c in range(classes)
        ),
        confusion_matrix=tuple(tuple(int(v) for v in row) for row in confusion),
    )
