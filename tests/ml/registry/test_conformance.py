"""The registry contract, on the local Vertex AI emulator and on Vertex AI itself (`-m gcp`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ml.environments import ENVIRONMENTS
from ml.errors import RegistryError
from ml.registry import DEFAULT, Registry
from ml.registry.vertex import TF_PREDICTION_IMAGE, VertexRegistry
from tests.support.records import record

LOCAL = ENVIRONMENTS["local"]


def test_the_first_publish_creates_the_model_and_its_default_version(registry: Registry, model: str) -> None:
    first = registry.create_version(model, record("run-a", 0.91))
    second = registry.create_version(model, record("run-b", 0.95))
    assert (first.version, first.aliases) == ("1", (DEFAULT,))
    assert (second.version, second.aliases) == ("2", ())
    assert [v.version for v in registry.list_versions(model)] == ["1", "2"]
    listed = {m.name: m for m in registry.list_models()}[model]
    assert listed.versions == 2
    assert listed.aliases == {DEFAULT: "1"}


def test_two_first_publishes_at_once_make_one_model_with_two_versions(registry: Registry, model: str) -> None:
    """Both saw no model: one creates it, the other's create conflicts and becomes version 2 under it."""
    with ThreadPoolExecutor(2) as pool:
        versions = sorted(pool.map(lambda run: registry.create_version(model, record(run)).version, ["a", "b"]))
    assert versions == ["1", "2"]
    assert [v.aliases for v in registry.list_versions(model)] == [(DEFAULT,), ()]


def test_a_version_holds_what_was_published(registry: Registry, model: str) -> None:
    published = record("run-a", 0.93, config={"budget": 60})
    version = registry.create_version(model, published)
    assert registry.get_version(model, version.version).record == published
    assert version.created_at


def test_publishing_the_same_run_again_gives_the_same_version(registry: Registry, model: str) -> None:
    first = registry.create_version(model, record("run-a"))
    again = registry.create_version(model, record("run-a"))
    assert again.version == first.version
    assert len(registry.list_versions(model)) == 1


def test_an_alias_names_one_version_and_moves(registry: Registry, model: str) -> None:
    for run in ("run-a", "run-b", "run-c"):
        registry.create_version(model, record(run))
    registry.set_alias(model, "production", "1")
    registry.set_alias(model, "production", "3")
    assert registry.alias_target(model, "production") == "3"
    assert [v.aliases for v in registry.list_versions(model)] == [(DEFAULT,), (), ("production",)]
    assert registry.get(f"{model}@production").version == "3"
    assert registry.get(f"{model}@2").version == "2"
    assert registry.alias_target(model, "previous") is None


def test_a_version_an_alias_names_cannot_be_deleted(registry: Registry, model: str) -> None:
    for run in ("run-a", "run-b", "run-c"):
        registry.create_version(model, record(run))
    registry.set_alias(model, "production", "2")
    with pytest.raises(RegistryError, match=r"version 2 of .* is still production: move those aliases"):
        registry.delete_version(model, "2")
    registry.delete_version(model, "3")
    assert [v.version for v in registry.list_versions(model)] == ["1", "2"]
    assert registry.create_version(model, record("run-d")).version == "4"  # ids are never reused


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r, m: r.list_versions("no-such-model"), "unknown model 'no-such-model'"),
        (lambda r, m: r.get_version(m, "9"), "has no version 9"),
        (lambda r, m: r.get_version(m, "latest"), "'latest' is not a version id"),
        (lambda r, m: r.set_alias(m, "Production", "1"), "bad alias name 'Production'"),
        (lambda r, m: r.set_alias(m, "1", "1"), "bad alias name '1'"),
        (lambda r, m: r.set_alias(m, "production", "7"), "has no version 7"),
        (lambda r, m: r.get(f"{m}@staging"), "has no version with alias 'staging'"),
        (lambda r, m: r.get(m), "is not NAME@ALIAS or NAME@VERSION"),
        (lambda r, m: r.delete_version(m, "1"), "is still default"),
    ],
    ids=["model", "version", "version-name", "alias-case", "alias-number", "alias-target", "alias", "ref", "delete"],
)
def test_bad_requests_are_one_clear_error(registry: Registry, model: str, call: object, message: str) -> None:
    registry.create_version(model, record("run-a"))
    with pytest.raises(RegistryError) as error:
        call(registry, model)  # type: ignore[operator]
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_vertex_version_not_published_by_the_pipeline_is_one_clear_error(
    registry: VertexRegistry, model: str
) -> None:
    """Someone uploaded a version by hand (console, gcloud): it has no `run_id` label and no record."""
    from google.cloud.aiplatform_v1 import types

    registry.create_version(model, record("run-a"))
    by_hand = types.Model(
        display_name=model,
        artifact_uri=f"gs://{LOCAL.models_bucket}/elsewhere",
        container_spec=types.ModelContainerSpec(image_uri=TF_PREDICTION_IMAGE),
    )
    registry.client.upload_model(
        request={"parent": registry.parent, "model": by_hand, "parent_model": f"{registry.parent}/models/{model}"}
    ).result()  # type: ignore[no-untyped-call]
    with pytest.raises(RegistryError, match=r"version 2 of '.*' has no record at gs://.*: it was not published"):
        registry.get_version(model, "2")
    assert registry.get_version(model, "1").record == record("run-a")
