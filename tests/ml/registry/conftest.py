"""The registries the conformance suite runs against: Vertex AI's on the local emulator, and for real (-m gcp)."""

from __future__ import annotations

import secrets

import pytest

from localcloud.cloud import LocalCloud
from ml.context import Context
from ml.environments import get_environment
from ml.registry.vertex import VertexRegistry


@pytest.fixture
def vertex(local_cloud: LocalCloud) -> VertexRegistry:
    """`VertexRegistry` as `local` makes it: the real aiplatform client on the Vertex AI emulator, records in GCS's."""
    registry = local_cloud.context.registry
    assert isinstance(registry, VertexRegistry)
    return registry


@pytest.fixture(params=["vertex-emulator", pytest.param("vertex-gcp", marks=pytest.mark.gcp)])
def registry(request: pytest.FixtureRequest) -> VertexRegistry:
    if request.param == "vertex-emulator":
        emulated: VertexRegistry = request.getfixturevalue("vertex")
        return emulated
    cloud = Context(get_environment("dev")).registry
    assert isinstance(cloud, VertexRegistry)
    return cloud


@pytest.fixture
def model() -> str:
    """A model name of this test's own (registries outlive a test)."""
    return f"conformance-{secrets.token_hex(4)}"
