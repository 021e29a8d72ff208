"""The run's pictures: learning curves over the search, and the test confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ml.automl.search import IterationRecord


def learning_curves(records: Sequence[IterationRecord], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for record in records:
        if record.loss_curve:
            seconds, losses = zip(*record.loss_curve, strict=True)
            loss_axis.plot(seconds, losses, label=f"iteration {record.iteration}")
    loss_axis.set(xlabel="seconds", ylabel="training loss (all candidates)", yscale="log", title="Training")
    if loss_axis.lines:
        loss_axis.legend()
    accuracy_axis.plot([r.seconds for r in records], [r.valid_accuracy for r in records], marker="o")
    for record in records:
        accuracy_axis.annotate(record.kept, (record.seconds, record.valid_accuracy), fontsize=7)
    accuracy_axis.set(xlabel="seconds", ylabel="validation accuracy of the ensemble", title="AdaNet iterations")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def confusion_matrix(matrix: Sequence[Sequence[int]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = len(matrix)
    figure, axis = plt.subplots(figsize=(6, 5.5))
    image = axis.imshow(matrix, cmap="Blues")
    for true in range(classes):
        for predicted in range(classes):
            value = matrix[true][predicted]
            if value:
                axis.text(predicted, true, str(value), ha="center", va="center", fontsize=7)
    axis.set(xlabel="predicted class", ylabel="true class", title="Test confusion matrix")
    axis.set_xticks(range(classes))
    axis.set_yticks(range(classes))
    figure.colorbar(image)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
