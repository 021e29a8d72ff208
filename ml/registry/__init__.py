"""The model registry: versions, aliases and content-addressed artifacts, local or on Vertex AI."""

from __future__ import annotations

from ml.cloud import LocalEndpoints
from ml.environments import Environment
from ml.registry.base import Registry
from ml.registry.versions import (
    DEFAULT,
    PREVIOUS,
    PRODUCTION,
    Artifact,
    Model,
    ModelVersion,
    VersionRecord,
    check_alias,
)


def registry_for(env: Environment, local: LocalEndpoints | None = None) -> Registry:
    """Vertex AI Model Registry in the cloud; the SQLite registry under `.local/registry/` locally."""
    if env.emulated:
        from ml.registry.local import LocalRegistry

        return LocalRegistry((local or LocalEndpoints.from_env()).state_dir / "registry" / "registry.sqlite3")
    from ml.registry.vertex import VertexRegistry

    return VertexRegistry(env)


__all__ = [
    "DEFAULT",
    "PREVIOUS",
    "PRODUCTION",
    "Artifact",
    "Model",
    "ModelVersion",
    "Registry",
    "VersionRecord",
    "check_alias",
    "registry_for",
]
