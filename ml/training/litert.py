"""Running an exported TFLite file with LiteRT: no TensorFlow import, so the publish flow can use it too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from ml.native_logs import quiet_stderr


def chunks(images: npt.NDArray[np.uint8], size: int = 1000) -> list[npt.NDArray[np.uint8]]:
    """`images` in batches of `size`, to bound the memory of one inference call."""
    return [images[i : i + size] for i in range(0, len(images), size)]


def tflite_probabilities(tflite: Path, images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    from ai_edge_litert.interpreter import Interpreter

    with quiet_stderr():  # LiteRT announces its XNNPACK delegate on the first inference
        runner = Interpreter(model_path=str(tflite)).get_signature_runner()
        out = [runner(image=chunk.astype(np.float32))["probabilities"] for chunk in chunks(images)]
    return np.concatenate(out)
