"""Version records for registry tests: typed like the ones the publish flow writes."""

from __future__ import annotations

from typing import Any

from ml.environments import ENVIRONMENTS
from ml.records import ClassMetrics, GitState, Metrics, RunLineage, TableLineage
from ml.registry import Artifact, VersionRecord

LOCAL = ENVIRONMENTS["local"]


def metrics(accuracy: float, loss: float = 0.3) -> Metrics:
    return Metrics(examples=100, accuracy=accuracy, loss=loss, per_class=(ClassMetrics(0, accuracy, accuracy),))


def record(run_id: str, accuracy: float = 0.9, **config: Any) -> VersionRecord:
    """A version of run `run_id`; `config` lands in its lineage's training configuration."""
    artifact = Artifact(
        uri=f"gs://{LOCAL.models_bucket}/models/x/tflite/{run_id}/model.tflite", sha256="a" * 64, size=1
    )
    table = TableLineage(table="p.d.test", snapshot_time="2026-01-01T00:00:00+00:00", rows=10, digest="d" * 64)
    return VersionRecord(
        run_id=run_id,
        artifacts={"saved_model": artifact, "tflite": artifact, "report": artifact},
        metrics=metrics(accuracy),
        lineage=RunLineage("local", {"test": table}, dict(config), GitState(None, False), "3.11"),
        published_by="tests",
        labels={"env": "local"},
    )
