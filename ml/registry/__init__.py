"""The model registry: versions, aliases and content-addressed artifacts, on Vertex AI (or its local emulator).

`Context.registry` picks the one of an environment."""

from __future__ import annotations

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
]
