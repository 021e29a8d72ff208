"""What `VertexRegistry` leaves in Vertex AI, read back through the real aiplatform client from the emulator."""

from __future__ import annotations

import pytest

from cli.commands import main
from localcloud.cloud import LocalCloud
from ml.errors import RegistryError
from ml.registry.vertex import TF_PREDICTION_IMAGE, VertexRegistry
from tests.support.cloud import point_cli_at
from tests.support.records import LOCAL, record


def test_uploads_create_the_model_then_versions_under_it_without_moving_default(
    vertex: VertexRegistry, model: str
) -> None:
    vertex.create_version(model, record("20261126T101010Z-abc123"))
    vertex.create_version(model, record("20261126T111111Z-def456"))
    name = f"projects/{LOCAL.project}/locations/{LOCAL.region}/models/{model}"
    first, second = vertex.client.list_model_versions(name=name)
    assert (first.name, second.name) == (name, name)
    assert (list(first.version_aliases), list(second.version_aliases)) == (["default"], [])
    assert vertex.client.get_model(name=name).version_id == "1"  # the model's default is still its first version
    for version, run in zip((first, second), ("20261126t101010z-abc123", "20261126t111111z-def456"), strict=True):
        assert version.container_spec.image_uri == TF_PREDICTION_IMAGE
        assert version.artifact_uri.startswith(f"gs://{LOCAL.models_bucket}/")
        assert dict(version.labels) == {"app": "mnist-pipeline", "env": "local", "run_id": run}


def test_list_models_finds_the_pipelines_models_by_label(vertex: VertexRegistry, model: str) -> None:
    from google.cloud.aiplatform_v1 import types

    vertex.create_version(model, record("run-a"))
    foreign = types.Model(display_name="foreign", labels={"app": "someone-else"})
    vertex.client.upload_model(parent=vertex.parent, model=foreign).result()  # type: ignore[no-untyped-call]
    names = {m.name for m in vertex.list_models()}
    assert model in names
    assert "foreign" not in names


def test_delete_all_empties_a_teardown_friendly_environments_registry_and_prod_keeps_its_models(
    private_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    private_cloud.up()
    registry = private_cloud.context.registry
    for model in ("mnist", "mnist-b"):
        registry.create_version(model, record(f"run-{model}"))
        registry.promote(model, "1")
    point_cli_at(private_cloud, monkeypatch)
    assert main(["models", "delete-all"]) == 0
    assert registry.list_models() == []
    with pytest.raises(RegistryError, match="unknown model 'mnist'"):
        registry.list_versions("mnist")
    capsys.readouterr()
    assert main(["models", "delete-all", "--env", "prod"]) == 1
    assert "prod keeps its models" in capsys.readouterr().err
