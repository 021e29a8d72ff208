"""What the registry holds: models, their versions, the artifacts of a version, and aliases."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ml.contracts import SERVING_ALIAS
from ml.errors import RegistryError
from ml.records import JsonObject, Metrics, RunLineage

DEFAULT = "default"
"""The alias every model's first version gets (Vertex AI's default version)."""

PRODUCTION = SERVING_ALIAS
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
    metrics: Metrics
    """On the run's test rows, as training measured them (`Metrics.summary`)."""
    lineage: RunLineage
    published_by: str
    labels: dict[str, str] = field(default_factory=dict)

    def to_json_object(self) -> JsonObject:
        return {
            "run_id": self.run_id,
            "artifacts": {k: asdict(a) for k, a in self.artifacts.items()},
            "metrics": self.metrics.to_json_object(),
            "lineage": self.lineage.to_json_object(),
            "published_by": self.published_by,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_json_object(cls, data: JsonObject) -> VersionRecord:
        return cls(
            run_id=data["run_id"],
            artifacts={k: Artifact(**v) for k, v in data["artifacts"].items()},
            metrics=Metrics.from_json_object(data["metrics"]),
            lineage=RunLineage.from_json_object(data["lineage"]),
            published_by=data["published_by"],
            labels=dict(data.get("labels", {})),
        )


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str
    """Increasing integer id, as a string (Vertex AI's version ids are strings)."""
    created_at: str
    aliases: tuple[str, ...]
    record: VersionRecord

    def to_json_object(self) -> JsonObject:
        return {
            "model": self.model,
            "version": self.version,
            "created_at": self.created_at,
            "aliases": list(self.aliases),
            **self.record.to_json_object(),
        }


@dataclass(frozen=True)
class Model:
    name: str
    created_at: str
    versions: int
    aliases: dict[str, str]
    """alias -> version."""

    def to_json_object(self) -> JsonObject:
        return asdict(self)
