"""The serving manifests: the small objects the endpoint reads to know which artifact to serve.

`serving_manifest_path(model, alias)` names the version an alias points at and its artifacts
with their SHA-256 (`ServingManifest` in ml/contracts.py), so the function needs read access
to the models bucket only, never the registry API. It is always rewritten from the registry.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ml.context import Context
from ml.contracts import (
    SERVING_ALIAS,
    ArtifactRef,
    ServingManifest,
    serving_manifest_path,
    version_manifest_path,
)
from ml.registry import ModelVersion


def write_serving_manifest(context: Context, model: str, alias: str = SERVING_ALIAS) -> ServingManifest | None:
    """Point the manifest at the version `alias` names now; None when the alias names none.

    Rewritten until the alias stays put across a write, so concurrent promotions end with
    the manifest of whichever won.
    """
    registry = context.registry
    blob = context.models_bucket.blob(serving_manifest_path(model, alias))
    manifest = None
    for _ in range(10):
        version = registry.alias_target(model, alias)
        if version is None:
            return None
        manifest = _manifest(registry.get_version(model, version), alias)
        blob.upload_from_string(manifest.to_json(), content_type="application/json")
        if registry.alias_target(model, alias) == version:
            return manifest
    return manifest


def write_version_manifest(context: Context, version: ModelVersion) -> None:
    """The manifest of one version, for requests that pin it."""
    blob = context.models_bucket.blob(version_manifest_path(version.model, version.version))
    blob.upload_from_string(_manifest(version, None).to_json(), content_type="application/json")


def read_serving_manifest(context: Context, model: str, alias: str = SERVING_ALIAS) -> ServingManifest | None:
    from google.api_core.exceptions import NotFound

    try:
        text = context.models_bucket.blob(serving_manifest_path(model, alias)).download_as_text()
    except NotFound:
        return None
    return ServingManifest.from_json(text)


def serving_manifest_exists(context: Context, model: str, alias: str = SERVING_ALIAS) -> bool:
    """Whether `alias` names a version the function can serve (`make up` starts the function only then)."""
    return bool(context.models_bucket.blob(serving_manifest_path(model, alias)).exists())


def _manifest(version: ModelVersion, alias: str | None) -> ServingManifest:
    return ServingManifest(
        model=version.model,
        alias=alias,
        version=version.version,
        artifacts={k: ArtifactRef(a.uri, a.sha256) for k, a in version.record.artifacts.items()},
        accuracy=version.record.metrics.accuracy,
        written_at=datetime.now(UTC).isoformat(),
    )
