"""Which image a job names: Artifact Registry's `latest` digest in the cloud, at its REST wire protocol."""

from __future__ import annotations

import json
from email.message import Message

import pytest
from google.auth.credentials import AnonymousCredentials

from ml.context import Context
from ml.environments import ENVIRONMENTS
from ml.errors import JobError
from ml.jobs.image import build_and_push, ensure_image, training_image
from tests.support.server import serving

DEV = ENVIRONMENTS["dev"]
REPOSITORY = f"projects/{DEV.project}/locations/{DEV.region}/repositories/{DEV.training_repository}"
TAG = f"/v1/{REPOSITORY}/packages/trainer/tags/latest"


def test_a_job_names_the_digest_latest_points_at() -> None:
    def handle(method: str, path: str, headers: Message, body: bytes) -> tuple[int, bytes]:
        if path == TAG:
            return 200, json.dumps({"version": f"{REPOSITORY}/packages/trainer/versions/sha256:abc"}).encode()
        return 404, b'{"error": {"code": 404, "status": "NOT_FOUND"}}'

    with serving(handle) as url:
        context = Context(DEV, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        assert training_image(context, api_root=url) == f"{DEV.training_image}@sha256:abc"


def test_no_image_pushed_is_one_line_naming_make_image() -> None:
    with serving(lambda *_: (404, b'{"error": {"code": 404, "status": "NOT_FOUND"}}')) as url:
        context = Context(DEV, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        with pytest.raises(JobError, match=r"^no training image pushed for dev: run `make image ENV=dev` first$"):
            training_image(context, api_root=url)


def test_local_runs_the_working_tree_and_has_no_image_to_build() -> None:
    context = Context(ENVIRONMENTS["local"])
    assert training_image(context) == f"{ENVIRONMENTS['local'].training_image}:workspace"
    with pytest.raises(JobError, match="local jobs run this working tree"):
        build_and_push(context, "t")


def test_a_deploy_builds_the_image_only_when_the_repository_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def handle(method: str, path: str, headers: Message, body: bytes) -> tuple[int, bytes]:
        return 200, json.dumps({"version": f"{REPOSITORY}/packages/trainer/versions/sha256:abc"}).encode()

    context = Context(DEV, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    with serving(handle) as url:
        assert ensure_image(context, "t", api_root=url) == (f"{DEV.training_image}@sha256:abc", False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no gcloud: trying to build says so
    missing = serving(lambda *_: (404, b'{"error": {"code": 404, "status": "NOT_FOUND"}}'))
    with missing as url, pytest.raises(JobError, match="make image needs the gcloud CLI"):
        ensure_image(context, "t", api_root=url)
