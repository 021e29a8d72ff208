"""Where the trainer computes: TensorFlow's backend, on a GPU when there is one, or where `--device` says."""

from __future__ import annotations

import os

from ml.errors import TrainingError

DEVICES = ("auto", "cpu", "gpu")
"""`--device`: `auto` trains on a GPU when TensorFlow sees one, else on the CPU."""


def check_backend() -> None:
    """A TrainingError unless Keras runs on TensorFlow: the search's input pipelines are tf.data's
    and its exports TensorFlow's, so another backend would fail deep inside a run."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise TrainingError(
            f"KERAS_BACKEND={backend}: the trainer runs on Keras's TensorFlow backend (tf.data input, "
            "SavedModel and TFLite exports); unset KERAS_BACKEND or set it to tensorflow"
        )


def training_device(requested: str = "auto") -> str:
    """The device this process trains on, as the run report names it (`GPU: <name>` or `CPU`).

    Call before TensorFlow runs its first operation: `cpu` hides the GPUs from it. A `gpu` that
    TensorFlow cannot see is a TrainingError naming what to install.
    """
    import tensorflow as tf

    if requested not in DEVICES:
        raise TrainingError(f"unknown device {requested!r}: use --device {', '.join(DEVICES)}")
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "gpu" and not gpus:
        cuda = "built with CUDA" if tf.test.is_built_with_cuda() else "built without CUDA"
        raise TrainingError(
            f"--device gpu: TensorFlow ({tf.__version__}, {cuda}) sees no GPU on this machine; install "
            "`tensorflow[and-cuda]` in the training environment (and an NVIDIA driver), or train with --device cpu"
        )
    if requested == "cpu" or not gpus:
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU: {details.get('device_name', gpus[0].name)}" + (f" (x{len(gpus)})" if len(gpus) > 1 else "")
