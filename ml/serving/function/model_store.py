"""Which model the function serves: the serving manifest's version, loaded with LiteRT, refreshed in place.

The manifest (`serving_manifest_path` in the models bucket) is re-read at most every
`refresh_seconds`. A new version is downloaded, checked against the manifest's SHA-256 and
loaded before it replaces the old one; a request keeps the model it started with, so none
fails during a switch. LiteRT interpreters are not thread-safe: each thread gets its own.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from contracts import ServingManifest, serving_manifest_path, version_manifest_path
from errors import NotFoundError, UnavailableError

INFERENCE_CHUNK = 8
"""Images one interpreter runs at a time. An interpreter's tensors grow to the largest batch it
has run and stay so: for the CNN, about 0.17 MB an image (88 MB at 500 images, 4.2 MB at 8)
on top of 3 MB, in each interpreter of each thread. Larger chunks are no faster: on 2 cores,
500 images took 183 ms in one batch, 191 ms in chunks of 32 and 160 ms in chunks of 8."""


@dataclass
class LoadedModel:
    """One version's TFLite bytes, with an interpreter per thread."""

    name: str
    version: str
    content: bytes
    sha256: str
    image_shape: tuple[int, int] = (28, 28)
    _local: threading.local = field(default_factory=threading.local)

    def __post_init__(self) -> None:
        details = self._runner().get_input_details()["image"]
        self.image_shape = (int(details["shape_signature"][1]), int(details["shape_signature"][2]))

    def _runner(self) -> Any:
        runner = getattr(self._local, "runner", None)
        if runner is None:
            from ai_edge_litert.interpreter import Interpreter

            runner = self._local.runner = Interpreter(model_content=self.content).get_signature_runner()
        return runner

    def predict(self, images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Probabilities for `images`, run at most INFERENCE_CHUNK at a time (see there)."""
        runner = self._runner()
        chunks = [
            runner(image=images[start : start + INFERENCE_CHUNK].astype(np.float32))["probabilities"]
            for start in range(0, len(images), INFERENCE_CHUNK)
        ]
        probabilities: npt.NDArray[np.float32] = np.concatenate(chunks)
        return probabilities


class ModelStore:
    def __init__(self, bucket: Any, model: str, alias: str, refresh_seconds: float) -> None:
        self.bucket, self.model, self.alias, self.refresh_seconds = bucket, model, alias, refresh_seconds
        self._current: LoadedModel | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._pinned: dict[str, LoadedModel] = {}
        self.reason = (
            f"no model available yet: publish a version of {model!r} with alias {alias!r} (make train-publish)"
        )
        self.refresh_errors = 0

    def current(self) -> LoadedModel:
        """The version the alias names, as of at most `refresh_seconds` ago."""
        # Until a model is loaded, requests wait for the thread loading it instead of failing.
        if self._due() and self._lock.acquire(blocking=self._current is None):
            try:
                if self._due():  # not refreshed by the thread this one waited for
                    self._refresh()
            finally:
                self._lock.release()
        model = self._current
        if model is None:
            raise UnavailableError(self.reason)
        return model

    def pinned(self, version: str) -> LoadedModel:
        """A specific version, from its own manifest (`version_manifest_path`)."""
        if version not in self._pinned:
            manifest = self._manifest(version_manifest_path(self.model, version))
            if manifest is None:
                raise NotFoundError(f"model {self.model!r} has no published version {version}")
            loaded = self._load(manifest)
            with self._lock:
                self._pinned = {**dict(list(self._pinned.items())[-3:]), version: loaded}
        return self._pinned[version]

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at >= self.refresh_seconds

    def _refresh(self) -> None:
        try:
            manifest = self._manifest(serving_manifest_path(self.model, self.alias))
            if manifest is not None and (self._current is None or manifest.version != self._current.version):
                self._current = self._load(manifest)  # one reference swap: requests keep what they hold
        except Exception as error:
            self.refresh_errors += 1
            self.reason = f"the serving manifest could not be read or its model loaded ({error})"
        finally:
            self._checked_at = time.monotonic()  # after the load: until then, first requests wait for it

    def _manifest(self, name: str) -> ServingManifest | None:
        from google.api_core.exceptions import NotFound as ObjectMissing

        try:
            return ServingManifest.from_json(self.bucket.blob(name).download_as_bytes())
        except ObjectMissing:
            return None

    def _load(self, manifest: ServingManifest) -> LoadedModel:
        artifact = manifest.artifacts["tflite"]
        prefix = f"gs://{self.bucket.name}/"
        content = self.bucket.blob(artifact.uri[len(prefix) :]).download_as_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if digest != artifact.sha256:
            raise ValueError(f"{artifact.uri} has SHA-256 {digest}, not {artifact.sha256}: refused")
        return LoadedModel(self.model, manifest.version, content, digest)
