"""What the packages agree on: names, object paths, the run directory and the function's configuration.

Everything one package writes and another reads is spelled here and nowhere else: `infra/`
declares from it, `ml/` writes and reads by it, and the predict function's bundle gets a copy
of this very file (`infra/function_bundle.py`), so the deployed function reads the objects
and variables under the names the publisher and the stacks use. It imports nothing but the
standard library: the function has no `ml` package to import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import ClassVar, Literal

SERVING_ALIAS = "production"
"""The registry alias the endpoint serves; publishing and `models promote|rollback` move it."""
LOG_WRITE_FAILED_EVENT = "prediction_log_write_failed"
"""The `event` of the function's log line for a batch of predictions BigQuery did not take: the
stacks' log-based metric counts these lines."""


# Objects in the models bucket.


def serving_manifest_path(model: str, alias: str = SERVING_ALIAS) -> str:
    """The manifest naming the version `alias` points at, with its artifacts' digests."""
    return f"serving/{model}/{alias}.json"


def version_manifest_path(model: str, version: str) -> str:
    """The manifest of one version, for requests that pin it."""
    return f"serving/{model}/versions/{version}.json"


def dataset_manifest_path(dataset: str, table: str) -> str:
    """What was loaded into `dataset.table`: sources, digest, shape and classes."""
    return f"datasets/{dataset}/{table}.json"


def artifacts_prefix(model: str) -> str:
    """Where a model's content-addressed artifacts live."""
    return f"models/{model}"


def registry_record_path(model: str, run_label: str) -> str:
    """The record of the version published from a run (Vertex AI keeps only its URI and labels)."""
    return f"registry/{model}/runs/{run_label}.json"


@dataclass(frozen=True)
class ArtifactRef:
    uri: str
    sha256: str


@dataclass(frozen=True)
class ServingManifest:
    """Which version an alias names (or one pinned version), and its artifacts with their SHA-256:
    all the function needs to serve it, so it reads the bucket only, never the registry."""

    model: str
    alias: str | None
    """None in a version's own manifest."""
    version: str
    artifacts: dict[str, ArtifactRef]
    accuracy: float | None
    written_at: str

    def to_json_object(self) -> dict[str, object]:
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "artifacts": {k: {"uri": a.uri, "sha256": a.sha256} for k, a in self.artifacts.items()},
            "metrics": {"accuracy": self.accuracy},
            "written_at": self.written_at,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_object(), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> ServingManifest:
        data = json.loads(text)
        return cls(
            model=data["model"],
            alias=data["alias"],
            version=str(data["version"]),
            artifacts={k: ArtifactRef(a["uri"], a["sha256"]) for k, a in data["artifacts"].items()},
            accuracy=data["metrics"]["accuracy"],
            written_at=data["written_at"],
        )


# A training run's directory.


RunFile = Literal[
    "saved_model",
    "tflite",
    "iterations",
    "metrics",
    "lineage",
    "learning_curves",
    "confusion_matrix",
    "tensorboard",
    "report",
]


@dataclass(frozen=True)
class RunDirectory:
    """The files of one training run, by role; `python -m ml publish` reads what `train` wrote."""

    root: Path

    FILES: ClassVar[dict[RunFile, str]] = {
        "saved_model": "model/saved_model",
        "tflite": "model/model.tflite",
        "iterations": "iterations.json",
        "metrics": "metrics.json",
        "lineage": "lineage.json",
        "learning_curves": "learning_curves.png",
        "confusion_matrix": "confusion_matrix.png",
        "tensorboard": "tensorboard",
        "report": "report.json",
    }

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    def __getitem__(self, role: RunFile) -> Path:
        return self.root / self.FILES[role]

    def files(self) -> dict[str, str]:
        """Every file by role, as absolute paths (the run report's `artifacts`)."""
        return {role: str(self[role]) for role in self.FILES}


# The predict function's configuration, as environment variables.


@dataclass(frozen=True)
class FunctionConfig:
    """Every variable the predict function reads, written by the stacks and the local cloud alike.

    `to_environ` and `from_environ` are the one spelling of the variable names; the server
    tuning (workers, threads, allocator) rides along as `server` so it is set wherever the rest is.
    """

    project: str
    dataset: str
    predictions_table: str
    feedback_table: str
    models_bucket: str
    model: str
    max_request_instances: int
    max_request_bytes: int
    alias: str = SERVING_ALIAS
    manifest_refresh_s: float | None = None
    """How often the function re-reads the serving manifest; None: every 30 s."""
    storage_emulator: str | None = None
    bigquery_emulator: str | None = None
    server: tuple[tuple[str, str], ...] = ()
    """Variables the server reads, not the function: functions-framework's gunicorn (WORKERS,
    THREADS) and glibc's allocator (MALLOC_*); the names are `SERVER_VARIABLES`."""

    SERVER_VARIABLES: ClassVar[tuple[str, ...]] = (
        "WORKERS",
        "THREADS",
        "MALLOC_ARENA_MAX",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
    )

    _NAMES: ClassVar[dict[str, str]] = {
        "project": "GOOGLE_CLOUD_PROJECT",
        "dataset": "BQ_DATASET",
        "predictions_table": "PREDICTIONS_TABLE",
        "feedback_table": "FEEDBACK_TABLE",
        "models_bucket": "MODELS_BUCKET",
        "model": "MODEL_NAME",
        "alias": "MODEL_ALIAS",
        "max_request_instances": "MAX_REQUEST_INSTANCES",
        "max_request_bytes": "MAX_REQUEST_BYTES",
        "manifest_refresh_s": "MANIFEST_REFRESH_SECONDS",
        "storage_emulator": "STORAGE_EMULATOR_HOST",
        "bigquery_emulator": "BIGQUERY_EMULATOR_HOST",
    }

    @property
    def predictions_table_id(self) -> str:
        return f"{self.project}.{self.dataset}.{self.predictions_table}"

    @property
    def feedback_table_id(self) -> str:
        return f"{self.project}.{self.dataset}.{self.feedback_table}"

    def to_environ(self) -> dict[str, str]:
        unknown = sorted({name for name, _ in self.server} - set(self.SERVER_VARIABLES))
        if unknown:
            raise ValueError(
                f"server variables {unknown} are not among FunctionConfig.SERVER_VARIABLES; add them there"
            )
        environ = {}
        for field, name in self._NAMES.items():
            value = getattr(self, field)
            if value is not None:
                environ[name] = str(value)
        return {**environ, **dict(self.server)}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> FunctionConfig:
        """The configuration the variables hold; a KeyError names the required variables missing."""
        values: dict[str, object] = {}
        missing = []
        for field in fields(cls):
            name = cls._NAMES.get(field.name)
            if name is None:
                continue
            if name not in environ:
                if field.default is MISSING:
                    missing.append(name)
                continue
            text = environ[name]
            kind = str(field.type).removesuffix(" | None")  # the annotation, as a string
            values[field.name] = int(text) if kind == "int" else float(text) if kind == "float" else text
        if missing:
            raise KeyError(f"the function needs {', '.join(missing)} set")
        values["server"] = tuple((name, environ[name]) for name in cls.SERVER_VARIABLES if name in environ)
        return cls(**values)  # type: ignore[arg-type]  # each value converted to its field's type above
