"""What `VertexRegistry` sends to Vertex AI, seen by the fake through the real aiplatform client."""

from __future__ import annotations

from ml.registry import Registry
from ml.registry.vertex import TF_PREDICTION_IMAGE
from tests.support.fake_vertex import FakeVertex
from tests.support.records import LOCAL, record


def test_uploads_create_the_model_then_versions_under_it(vertex: tuple[Registry, FakeVertex]) -> None:
    registry, fake = vertex
    registry.create_version("mnist", record("20261126T101010Z-abc123"))
    registry.create_version("mnist", record("20261126T111111Z-def456"))
    uploads = [r for r in fake.requests if r.path.endswith("/models:upload")]
    parent = f"projects/{LOCAL.project}/locations/{LOCAL.region}"
    assert [r.path for r in uploads] == [f"/v1/{parent}/models:upload"] * 2
    first, second = (r.body for r in uploads)
    assert first["modelId"] == "mnist"
    assert "parentModel" not in first
    assert second["parentModel"] == f"{parent}/models/mnist"
    assert "modelId" not in second
    assert first["model"]["versionAliases"] == ["default"]
    assert "default" not in second["model"].get("versionAliases", [])  # publishing never moves `default`
    for body, run in zip((first, second), ("20261126t101010z-abc123", "20261126t111111z-def456"), strict=True):
        assert body["model"]["containerSpec"]["imageUri"] == TF_PREDICTION_IMAGE
        assert body["model"]["artifactUri"].startswith(f"gs://{LOCAL.models_bucket}/")
        assert body["model"]["labels"] == {"app": "mnist-pipeline", "env": "local", "run_id": run}


def test_aliases_move_through_merge_version_aliases(vertex: tuple[Registry, FakeVertex]) -> None:
    registry, fake = vertex
    registry.create_version("mnist", record("run-a"))
    registry.create_version("mnist", record("run-b"))
    registry.set_alias("mnist", "production", "2")
    merges = [r for r in fake.requests if r.path.endswith(":mergeVersionAliases")]
    assert [(r.path.rsplit("/", 1)[-1], r.body) for r in merges] == [
        ("mnist@2:mergeVersionAliases", {"versionAliases": ["production"]})
    ]
