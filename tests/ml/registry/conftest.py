"""The registries the conformance suite runs against: local, Vertex through the fake, Vertex for real (-m gcp)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.cloud import LocalCloud
from ml.context import Context
from ml.environments import ENVIRONMENTS, get_environment
from ml.registry import Registry
from ml.registry.local import LocalRegistry
from ml.registry.vertex import VertexRegistry
from tests.support.fake_vertex import FakeVertex, fake_vertex

LOCAL = ENVIRONMENTS["local"]


@pytest.fixture
def vertex(local_cloud: LocalCloud) -> Iterator[tuple[VertexRegistry, FakeVertex]]:
    """`VertexRegistry` with the real aiplatform client on the fake's REST endpoints, records in the GCS emulator."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform_v1 import ModelServiceClient

    with fake_vertex() as fake:
        client = ModelServiceClient(
            transport="rest",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": fake.url},
        )
        yield VertexRegistry(LOCAL, gcs=local_cloud.context.storage, client=client), fake


@pytest.fixture(params=["local", "vertex-fake", pytest.param("vertex-gcp", marks=pytest.mark.gcp)])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    if request.param == "local":
        return LocalRegistry(tmp_path / "registry.sqlite3")
    if request.param == "vertex-fake":
        vertex_registry: Registry = request.getfixturevalue("vertex")[0]
        return vertex_registry
    return Context(get_environment("dev")).registry


@pytest.fixture
def model() -> str:
    """A model name of this test's own (registries outlive a test)."""
    return f"conformance-{secrets.token_hex(4)}"
