"""`InferAPI`: batches, retries with backoff on 429 and 5xx, a progress bar, identity tokens in the cloud."""

from __future__ import annotations

import time
from itertools import groupby
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import requests
from google.auth.exceptions import RefreshError
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from ml.errors import MLError
from ml.records import JsonObject


class PredictionError(MLError):
    """The endpoint refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status the endpoint answered with; None when it was not reached."""


FEEDBACK_WAIT_S = 20.0
"""How long feedback on a request the endpoint does not know yet is retried: a request answered
moments ago is logged within seconds, and the endpoint looks for it in the log."""


class Predictions(TypedDict):
    """What `predict` returns: a dict, as the 2019 pipeline's client returned it."""

    class_ids: list[int]
    request_ids: list[str]
    """Each image's request: what `InferAPI.feedback` names to send its true label back."""
    model_version: str
    """The version that answered; several, comma-separated, if the served version changed meanwhile."""


class InferAPI:
    def __init__(
        self,
        url: str,
        *,
        project: str = "local-project",
        model: str = "mnist",
        version: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 5,
        backoff_s: float = 0.5,
        credentials: Any = None,
    ) -> None:
        """`url` is the function's base URL; `version` pins one version; `credentials` (google-auth)
        sign every request in the cloud (`ml.client.auth.id_token_credentials`)."""
        self.url = url.rstrip("/")
        self.project, self.model, self.version, self.timeout_s = project, model, version, timeout_s
        retry = Retry(
            total=retries,
            backoff_factor=backoff_s,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=("GET", "POST"),  # predictions are idempotent
            raise_on_status=False,
        )
        if credentials is None:
            self.session = requests.Session()
        else:
            from google.auth.transport.requests import AuthorizedSession

            self.session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    @property
    def model_path(self) -> str:
        return f"/v1/projects/{self.project}/models/{self.model}"

    def get_model_meta(self) -> JsonObject:
        """The model and its `defaultVersion`, as AI Platform's `models.get` returned them."""
        return self._call("GET", self.model_path)

    def predict(self, images: npt.ArrayLike, batch_size: int = 100, *, progress: bool = True) -> Predictions:
        """Class ids of `images` (`[N, 28, 28]` or `[N, 784]`, values 0..255), `batch_size` per request."""
        pixels = np.asarray(images)
        if pixels.ndim not in (2, 3) or not len(pixels):
            raise PredictionError(f"images of shape {pixels.shape}; give [N, 28, 28] or [N, 784] pixel values 0..255")
        if batch_size < 1:
            raise PredictionError(f"batch_size {batch_size}; give a positive number")
        path = self.model_path + (f"/versions/{self.version}" if self.version else "") + ":predict"
        class_ids: list[int] = []
        request_ids: list[str] = []
        versions: set[str] = set()
        with tqdm(total=len(pixels), unit="image", disable=not progress, desc="predict") as bar:
            for start in range(0, len(pixels), batch_size):
                batch = pixels[start : start + batch_size]
                instances = [{"image": image.tolist()} for image in batch]
                answer = self._call("POST", path, {"instances": instances})
                class_ids += [int(p["class_ids"][0]) for p in answer["predictions"]]
                request_ids += [str(answer["request_id"])] * len(batch)
                versions.add(str(answer["model_version"]))
                bar.update(len(batch))
        return {"class_ids": class_ids, "request_ids": request_ids, "model_version": ",".join(sorted(versions))}

    def feedback(self, request_ids: list[str], labels: npt.ArrayLike) -> int:
        """Send the true labels of predicted images back (`request_ids` as `predict` returned them,
        one per image; a label < 0 where it is not known); the number of labels recorded."""
        values = np.asarray(labels)
        if values.shape != (len(request_ids),) or values.dtype.kind not in "iu":
            raise PredictionError(
                f"labels of shape {values.shape} for {len(request_ids)} request ids; give one class id per image"
            )
        recorded = 0
        for request_id, images in groupby(zip(request_ids, values.tolist(), strict=True), key=lambda pair: pair[0]):
            body = {"request_id": request_id, "labels": [label if label >= 0 else None for _, label in images]}
            recorded += int(self._feedback(body)["labels_recorded"])
        return recorded

    def _feedback(self, body: JsonObject) -> JsonObject:
        deadline = time.monotonic() + FEEDBACK_WAIT_S
        while True:
            try:
                return self._call("POST", "/feedback", body)
            except PredictionError as error:
                if error.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def _call(self, method: str, path: str, body: Any = None) -> JsonObject:
        try:
            response = self.session.request(method, self.url + path, json=body, timeout=self.timeout_s)
        except RefreshError as error:
            raise PredictionError(
                f"no identity token for {self.url} ({' '.join(str(error).split())[:160]}); add your account to the "
                "environment's `operators` in environments/<env>.toml, then run `make bootstrap ENV=<env>` (the grant "
                "lives in the bootstrap stack)"
            ) from None
        except requests.RequestException as error:
            raise PredictionError(f"{self.url} cannot be reached ({error}); is the endpoint up (make serve)?") from None
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise PredictionError(f"{method} {path} answered {response.status_code}: {message}", response.status_code)
        result: JsonObject = response.json()
        return result
