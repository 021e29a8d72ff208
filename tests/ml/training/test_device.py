"""Where the trainer computes: a GPU when TensorFlow sees one, and a clear refusal for one asked for and missing."""

from __future__ import annotations

import pytest

from ml.errors import TrainingError
from ml.training.device import check_backend, training_device


def gpus() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def test_auto_trains_on_a_gpu_when_tensorflow_sees_one_else_on_the_cpu() -> None:
    assert training_device("auto").split(":")[0] == ("GPU" if gpus() else "CPU")


def test_a_gpu_asked_for_is_used_or_refused_naming_what_to_install() -> None:
    if gpus():
        assert training_device("gpu").startswith("GPU: ")
    else:
        with pytest.raises(TrainingError, match=r"^--device gpu: TensorFlow .* sees no GPU .*`tensorflow\[and-cuda\]`"):
            training_device("gpu")


def test_an_unknown_device_names_the_ones_there_are() -> None:
    with pytest.raises(TrainingError, match=r"unknown device 'tpu': use --device auto, cpu, gpu"):
        training_device("tpu")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_backend_other_than_tensorflow_is_refused_naming_the_fix(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_BACKEND", backend)
    with pytest.raises(TrainingError, match=rf"^KERAS_BACKEND={backend}: .* unset KERAS_BACKEND"):
        check_backend()
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    check_backend()
