"""The serving manifest: the small object the endpoint reads to know which artifact to serve.

`gs://<models bucket>/serving/<model>/<alias>.json` names the version an alias points at and
its artifacts with their SHA-256, so the function needs read access to that bucket only,
never the registry API. It is always rewritten from the registry's current state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ml.environments import Environment
from ml.registry import ModelVersion, Registry

if TYPE_CHECKING:
    import google.cloud.storage as storage


def manifest_name(model: str, alias: str) -> str:
    return f"serving/{model}/{alias}.json"


def write_serving_manifest(
    registry: Registry, gcs: storage.Client, env: Environment, model: str, alias: str
) -> dict[str, Any] | None:
    """Point the manifest at the version `alias` names now; None when the alias names none.

    Rewritten until the alias stays put across a write, so concurrent promotions end with
    the manifest of whichever won.
    """
    blob = gcs.bucket(env.models_bucket).blob(manifest_name(model, alias))
    for _ in range(10):
        version = registry.alias_target(model, alias)
        if version is None:
            return None
        manifest = _manifest(registry.get_version(model, version), alias)
        blob.upload_from_string(json.dumps(manifest, indent=2), content_type="application/json")
        if registry.alias_target(model, alias) == version:
            return manifest
    return manifest


def write_version_manifest(gcs: storage.Client, env: Environment, version: ModelVersion) -> None:
    """The manifest of one version (`serving/<model>/versions/<v>.json`), for requests that pin it."""
    blob = gcs.bucket(env.models_bucket).blob(f"serving/{version.model}/versions/{version.version}.json")
    blob.upload_from_string(json.dumps(_manifest(version, None), indent=2), content_type="application/json")


def _manifest(version: ModelVersion, alias: str | None) -> dict[str, Any]:
    return {
        "model": version.model,
        "alias": alias,
        "version": version.version,
        "artifacts": {k: {"uri": a.uri, "sha256": a.sha256} for k, a in version.record.artifacts.items()},
        "metrics": {"accuracy": version.record.metrics.get("accuracy")},
        "written_at": datetime.now(UTC).isoformat(),
    }


def read_serving_manifest(gcs: storage.Client, env: Environment, model: str, alias: str) -> dict[str, Any] | None:
    from google.api_core.exceptions import NotFound

    try:
        text = gcs.bucket(env.models_bucket).blob(manifest_name(model, alias)).download_as_text()
    except NotFound:
        return None
    result: dict[str, Any] = json.loads(text)
    return result
