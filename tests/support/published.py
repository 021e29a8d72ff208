"""What the publish flow guarantees whenever it stops, checked on a local cloud."""

from __future__ import annotations

from localcloud.cloud import LocalCloud
from ml.publish.flow import artifact_store
from ml.publish.serving_manifest import read_serving_manifest
from ml.registry import PREVIOUS, PRODUCTION


def invariants(cloud: LocalCloud, model: str) -> dict[str, str | None]:
    """Nothing half-made: every version's artifacts intact, aliases and the manifest on existing versions."""
    registry = cloud.context.registry
    store = artifact_store(cloud.context, model)
    try:
        versions = {v.version: v for v in registry.list_versions(model)}
    except Exception:  # the model does not exist yet
        versions = {}
    for version in versions.values():
        for artifact in version.record.artifacts.values():
            store.verify(artifact)
    aliases = {a: registry.alias_target(model, a) for a in (PRODUCTION, PREVIOUS)} if versions else {}
    assert all(v in versions for v in aliases.values() if v is not None)
    manifest = read_serving_manifest(cloud.context, model)
    if manifest is not None:
        named = versions[manifest.version]
        assert manifest.artifacts["tflite"].sha256 == named.record.artifacts["tflite"].sha256
    return aliases
