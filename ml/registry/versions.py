"""What the registry holds: models, their versions, the artifacts of a version, and aliases."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ml.errors import RegistryError

DEFAULT = "default"
"""The alias every model's first version gets (Vertex AI's default version)."""

PRODUCTION = "production"
"""The alias the endpoint serves."""
PREVIOUS = "previous"
"""The alias of the version `production` named before the last promotion."""

_ALIAS = re.compile(r"^[a-z][a-z0-9-]{0,126}[a-z0-9]$")


def check_alias(alias: str) -> str:
    """`alias` if Vertex AI would accept it: lowercase letters, digits and '-', 2-128 chars, starting with a letter."""
    if not _ALIAS.match(alias):
        raise RegistryError(
            f"bad alias name {alias!r}: use 2-128 lowercase letters, digits and '-', starting with a letter "
            "and ending with a letter or digit"
        )
    return alias


def check_model_name(name: str) -> str:
    if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", name):
        raise RegistryError(f"bad model name {name!r}: use up to 63 lowercase letters, digits, '-' or '_'")
    return name


@dataclass(frozen=True)
class Artifact:
    """One immutable, content-addressed artifact of a version."""

    uri: str
    sha256: str
    """SHA-256 of the file, or of a directory's sorted `path sha256` lines."""
    size: int


@dataclass(frozen=True)
class VersionRecord:
    """Everything a version holds besides its id, creation time and aliases (given at publish time)."""

    run_id: str
    """The training run it came from: publishing the same run twice gives the same version."""
    artifacts: dict[str, Artifact]
    """`saved_model`, `tflite`, `report`."""
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    published_by: str
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VersionRecord:
        artifacts = {k: Artifact(**v) for k, v in data["artifacts"].items()}
        return cls(**{**data, "artifacts": artifacts})


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str
    """Increasing integer id, as a string (Vertex AI's version ids are strings)."""
    created_at: str
    aliases: tuple[str, ...]
    record: VersionRecord

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "created_at": self.created_at,
            "aliases": list(self.aliases),
            **self.record.to_dict(),
        }


@dataclass(frozen=True)
class Model:
    name: str
    created_at: str
    versions: int
    aliases: dict[str, str]
    """alias -> version."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
