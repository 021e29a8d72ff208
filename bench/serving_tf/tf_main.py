"""The `predict` function, but serving the SavedModel with TensorFlow: the baseline of bench/serving.py.

Everything but the model runtime is the deployed function's own code.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

# The function's modules, and after them ml/contracts.py, which the bundle holds beside them.
sys.path[:0] = [str(Path(__file__).resolve().parents[2] / p) for p in ("ml/serving/function", "ml")]

import model_store  # noqa: E402
from contracts import ServingManifest  # noqa: E402

from main import predict  # noqa: E402, F401  (the entry point functions-framework looks up)


class SavedModelVersion:
    def __init__(self, name: str, version: str, directory: str) -> None:
        import tensorflow as tf

        self.name, self.version, self.image_shape = name, version, (28, 28)
        self.serve = tf.saved_model.load(directory).signatures["serving_default"]

    def predict(self, images: Any) -> Any:
        import tensorflow as tf

        return self.serve(image=tf.constant(images, tf.float32))["probabilities"].numpy()


def _load(self: model_store.ModelStore, manifest: ServingManifest) -> Any:
    prefix = manifest.artifacts["saved_model"].uri[len(f"gs://{self.bucket.name}/") :]
    directory = tempfile.mkdtemp()
    for blob in self.bucket.client.list_blobs(self.bucket.name, prefix=prefix + "/"):
        target = Path(directory) / blob.name[len(prefix) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
    return SavedModelVersion(self.model, manifest.version, directory)


model_store.ModelStore._load = _load  # type: ignore[method-assign]
