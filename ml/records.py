"""The records the pipeline writes as JSON and reads back: typed, each with one round trip.

A training run writes `metrics.json`, `lineage.json` and `report.json` (`RunDirectory` in
ml/contracts.py names them); the publish flow reads them, the registry keeps the metrics and
the lineage with each version, and `model_evaluations` holds the metrics of each evaluation.
`to_json_object` gives exactly the JSON those files hold; `from_json_object` reads it back.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]
"""A JSON object as `json.loads` gives it: the edge where a record is written or read."""


@dataclass(frozen=True)
class ClassMetrics:
    class_id: int
    precision: float
    recall: float


CONFIDENCE_BINS = 10
"""The confidence histogram's bins: tenths of [0, 1], the last one closed (a confidence of 1.0 is in it)."""


@dataclass(frozen=True)
class PredictionProfile:
    """What a model's predictions look like on a snapshot: the share predicted as each class and
    the share of each confidence bin (the top probability, binned by `CONFIDENCE_BINS`). A
    version's profile on `test`, recorded when it is published, is the baseline the monitor
    measures the served traffic's drift against."""

    class_distribution: tuple[float, ...]
    confidence_histogram: tuple[float, ...]

    def to_json_object(self) -> JsonObject:
        return {
            "class_distribution": list(self.class_distribution),
            "confidence_histogram": list(self.confidence_histogram),
        }

    @classmethod
    def from_json_object(cls, data: Mapping[str, Any]) -> PredictionProfile:
        return cls(
            class_distribution=tuple(float(v) for v in data["class_distribution"]),
            confidence_histogram=tuple(float(v) for v in data["confidence_histogram"]),
        )


@dataclass(frozen=True)
class Metrics:
    """A model's figures on a labelled snapshot: what the gate compares and the registry keeps."""

    examples: int
    accuracy: float
    loss: float
    per_class: tuple[ClassMetrics, ...]
    confusion_matrix: tuple[tuple[int, ...], ...] | None = None
    """Rows: true class, columns: predicted; kept in the run's metrics.json and in `model_evaluations`,
    not in the registry."""
    profile: PredictionProfile | None = None

    def summary(self) -> Metrics:
        """What a registry version keeps: no confusion matrix (an evaluation record keeps it)."""
        return replace(self, confusion_matrix=None)

    def recall(self, class_id: int) -> float:
        return self.per_class[class_id].recall

    def to_json_object(self) -> JsonObject:
        result: JsonObject = {
            "examples": self.examples,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "per_class": [{"class": c.class_id, "precision": c.precision, "recall": c.recall} for c in self.per_class],
        }
        if self.confusion_matrix is not None:
            result["confusion_matrix"] = [list(row) for row in self.confusion_matrix]
        if self.profile is not None:
            result["profile"] = self.profile.to_json_object()
        return result

    @classmethod
    def from_json_object(cls, data: Mapping[str, Any]) -> Metrics:
        matrix, profile = data.get("confusion_matrix"), data.get("profile")
        return cls(
            examples=int(data["examples"]),
            accuracy=float(data["accuracy"]),
            loss=float(data["loss"]),
            per_class=tuple(ClassMetrics(int(c["class"]), c["precision"], c["recall"]) for c in data["per_class"]),
            confusion_matrix=None if matrix is None else tuple(tuple(row) for row in matrix),
            profile=None if profile is None else PredictionProfile.from_json_object(profile),
        )


@dataclass(frozen=True)
class TableLineage:
    """Which rows of a table were read: enough to read the very same rows again, and to prove it."""

    table: str
    """Fully qualified `project.dataset.table`."""
    snapshot_time: str
    """ISO 8601 UTC; the table as of this time."""
    rows: int
    digest: str
    """`ImageSet.digest()` of the rows read."""
    row_filter: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class GitState:
    commit: str | None
    dirty: bool

    @classmethod
    def of(cls, checkout: Path) -> GitState:
        """The commit checked out in `checkout` and whether its files differ from it (no git: None, False)."""

        def git(*args: str) -> str:
            result = subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True, check=False)
            return result.stdout.strip()

        return cls(commit=git("rev-parse", "HEAD") or None, dirty=bool(git("status", "--porcelain")))


@dataclass(frozen=True)
class RunLineage:
    """Where a model came from: the rows it learned from, its configuration, the code that trained it."""

    environment: str
    tables: dict[str, TableLineage]
    training_config: JsonObject
    """The trainer's and the search's settings, as they were (free-form: they grow with the trainer)."""
    git: GitState
    python: str

    def to_json_object(self) -> JsonObject:
        return asdict(self)

    @classmethod
    def from_json_object(cls, data: Mapping[str, Any]) -> RunLineage:
        return cls(
            environment=data["environment"],
            tables={name: TableLineage(**table) for name, table in data["tables"].items()},
            training_config=dict(data["training_config"]),
            git=GitState(**data["git"]),
            python=data["python"],
        )


@dataclass(frozen=True)
class Machine:
    """The machine a run trained on: machines of one kind differ threefold in speed."""

    cpu_model: str
    cpu_count: int
    """Cores the process may run on (its affinity)."""
    cpu_quota: float | None
    """CPUs' worth of time its cgroup allows; None without a quota."""
    steps_per_second: dict[str, float]
    """Training steps per second of each candidate, by name; candidates trained together in one
    model (an AdaNet iteration after the first) share one entry, named `a+b`."""
    device: str = "CPU"
    """What trained: `CPU`, or `GPU: <name>` (ml/training/device.py)."""


@dataclass(frozen=True)
class EnsembleCheck:
    """Whether an ensemble beat its best single member on `valid`: what the extra members earned."""

    members: tuple[str, ...]
    ensemble_valid_accuracy: float
    ensemble_objective: float
    best_member: str
    best_member_valid_accuracy: float
    best_member_objective: float
    kept: bool
    """Whether the search kept the ensemble: its objective was the lower."""

    @classmethod
    def from_json_object(cls, data: Mapping[str, Any]) -> EnsembleCheck:
        return cls(**{**data, "members": tuple(data["members"])})


@dataclass(frozen=True)
class RunReport:
    """What `python -m ml train --json` prints and the run directory keeps as report.json."""

    test_accuracy: float
    test_loss: float
    wall_seconds: float
    budget_seconds: float
    iterations: int
    ensemble: tuple[str, ...]
    run_dir: str
    artifacts: dict[str, str]
    """Every file of the run by role (`RunDirectory.FILES`), as absolute paths; skipped ones included."""
    reserved_seconds: float | None = None
    """Kept back from the search for the exports and the test evaluation, as measured on this machine."""
    skipped: tuple[str, ...] = ()
    """Work left out because it did not fit in the budget, each with why."""
    machine: Machine | None = None
    ensemble_check: EnsembleCheck | None = None
    """The last ensemble the search weighed against its best single member; None: it weighed none."""

    def to_json_object(self) -> JsonObject:
        return {**asdict(self), "ensemble": list(self.ensemble), "skipped": list(self.skipped)}

    @classmethod
    def from_json_object(cls, data: Mapping[str, Any]) -> RunReport:
        """Reports of runs from before the machine, the reservation and the ensemble check were recorded read too."""
        machine, check = data.get("machine"), data.get("ensemble_check")
        return cls(
            **{
                **data,
                "ensemble": tuple(data["ensemble"]),
                "artifacts": dict(data["artifacts"]),
                "skipped": tuple(data.get("skipped", ())),
                "machine": None if machine is None else _machine(machine),
                "ensemble_check": None if check is None else EnsembleCheck.from_json_object(check),
            }
        )


def _machine(data: Mapping[str, Any]) -> Machine:
    speeds = data["steps_per_second"]
    if isinstance(speeds, list):  # reports before 2026-11-28: one figure per iteration
        speeds = {f"iteration {i}": s for i, s in enumerate(speeds)}
    return Machine(**{**data, "steps_per_second": dict(speeds)})


def write_json(path: Path, value: object) -> None:
    """`value` (a JSON object or list) as indented JSON; what JSON has no type for (paths), as text."""
    path.write_text(json.dumps(value, indent=2, default=str) + "\n")
