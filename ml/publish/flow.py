"""`publish(run_dir)`: from a finished training run to a registered, gated, served version.

    1 upload    artifacts, content-addressed and verified after upload
    2 register  a version (the same run always maps to the same version)
    3 evaluate  the new version and the current `production` on one `test` snapshot
    4 promote   `production` to the new version if it is at least as accurate as the
                champion plus `min_gain` (or `force`), the former one kept as `previous`
    5 record    both evaluations into `model_evaluations`
    6 manifest  the serving manifest, rewritten from the registry

A process killed at any step leaves nothing half-made: a version is registered only once
its artifacts are verified in the bucket, aliases only move between existing versions, and
the manifest is written from the registry. Running the same publish again completes it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ml.cloud import LocalEndpoints, bigquery_client, storage_client
from ml.data import read_table
from ml.environments import Environment
from ml.errors import ArtifactError, RegistryError
from ml.publish.evaluate import evaluate_version
from ml.publish.serving_manifest import write_serving_manifest, write_version_manifest
from ml.registry import PREVIOUS, PRODUCTION, Registry, VersionRecord, registry_for
from ml.registry.artifacts import ArtifactStore
from ml.schemas import MODEL_EVALUATIONS
from ml.training.metrics import summary

STEPS = ("upload", "register", "evaluate", "promote", "record", "manifest")


@dataclass(frozen=True)
class PublishResult:
    model: str
    version: str
    champion: str | None
    challenger_metrics: dict[str, Any]
    champion_metrics: dict[str, Any] | None
    promoted: bool
    decision: str
    production: str | None
    previous: str | None
    manifest: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def artifact_store(env: Environment, model: str, local: LocalEndpoints | None = None) -> ArtifactStore:
    return ArtifactStore(storage_client(env, local), env.models_bucket, f"models/{model}")


def publish(
    env: Environment,
    run_dir: Path,
    *,
    model: str | None = None,
    min_gain: float = 0.0,
    force: bool = False,
    registry: Registry | None = None,
    local: LocalEndpoints | None = None,
    log: IO[str] | None = None,
    published_by: str | None = None,
) -> PublishResult:
    log = log or sys.stderr
    model = model or env.model_name
    registry = registry or registry_for(env, local)
    store = artifact_store(env, model, local)
    report, metrics, lineage = _read_run(run_dir)

    def step(number: int, what: str) -> None:
        print(f"step {number}/{len(STEPS)} {STEPS[number - 1]}: {what}", file=log, flush=True)

    step(1, f"uploading the artifacts of {run_dir.name}")
    artifacts = {
        "saved_model": store.put(run_dir / "model" / "saved_model", "saved_model"),
        "tflite": store.put(run_dir / "model" / "model.tflite", "tflite"),
        "report": store.put(run_dir / "report.json", "report"),
    }
    step(2, "registering the version")
    record = VersionRecord(
        run_id=run_dir.name,
        artifacts=artifacts,
        metrics=summary(metrics),
        lineage=lineage,
        published_by=published_by or f"{getpass.getuser()}@{socket.gethostname()}",
        labels={"env": env.name, "budget_seconds": str(report.get("budget_seconds"))},
    )
    version = registry.create_version(model, record)
    write_version_manifest(storage_client(env, local), env, version)

    step(3, f"evaluating version {version.version} and the current {PRODUCTION} on one test snapshot")
    test = read_table(env, "test", local=local)
    challenger = evaluate_version(store, version, test.images, test.labels)
    champion_version = registry.alias_target(model, PRODUCTION)
    champion = None
    if champion_version is not None and champion_version != version.version:
        champion = evaluate_version(store, registry.get_version(model, champion_version), test.images, test.labels)

    step(4, "deciding")
    promoted, decision = _gate(challenger, champion, champion_version, version.version, min_gain, force)
    if promoted:
        registry.promote(model, version.version)

    step(5, f"recording the evaluations in {MODEL_EVALUATIONS.table_id}")
    evaluations = [(version.version, challenger)]
    if champion is not None and champion_version is not None:
        evaluations.append((champion_version, champion))
    _record(env, local, model, evaluations, test.lineage)

    step(6, "writing the serving manifest")
    manifest = write_serving_manifest(registry, storage_client(env, local), env, model, PRODUCTION)
    return PublishResult(
        model=model,
        version=version.version,
        champion=champion_version if champion is not None else None,
        challenger_metrics=challenger,
        champion_metrics=champion,
        promoted=promoted,
        decision=decision,
        production=registry.alias_target(model, PRODUCTION),
        previous=registry.alias_target(model, PREVIOUS),
        manifest=manifest,
    )


def _gate(
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    champion_version: str | None,
    version: str,
    min_gain: float,
    force: bool,
) -> tuple[bool, str]:
    if champion_version == version:
        return True, f"version {version} already is {PRODUCTION}"
    if champion is None:
        return True, f"promoted: no {PRODUCTION} version yet"
    needed = champion["accuracy"] + min_gain
    if challenger["accuracy"] >= needed:
        return (
            True,
            f"promoted: accuracy {challenger['accuracy']:.4f} >= champion {champion['accuracy']:.4f} + {min_gain:g}",
        )
    if force:
        return True, f"promoted by FORCE although accuracy {challenger['accuracy']:.4f} < {needed:.4f}"
    return False, f"kept version {champion_version}: accuracy {challenger['accuracy']:.4f} < {needed:.4f}"


def _record(
    env: Environment,
    local: LocalEndpoints | None,
    model: str,
    evaluations: list[tuple[str, dict[str, Any]]],
    lineage: Any,
) -> None:
    """Append one row per evaluation; row ids make a rerun of the same publish not add them twice."""
    evaluated_at = datetime.now(UTC).isoformat()
    rows, ids = [], []
    for version, metrics in evaluations:
        rows.append(
            {
                "model": model,
                "model_version": version,
                "data_table": lineage.table,
                "data_snapshot_time": lineage.snapshot_time,
                "data_digest": lineage.digest,
                "metrics": json.dumps(metrics),
                "evaluated_at": evaluated_at,
            }
        )
        ids.append(hashlib.sha256(f"{model}:{version}:{lineage.digest}:{lineage.snapshot_time}".encode()).hexdigest())
    table = f"{env.project}.{env.dataset_id}.{MODEL_EVALUATIONS.table_id}"
    errors = bigquery_client(env, local).insert_rows_json(table, rows, row_ids=ids)
    if errors:
        raise RegistryError(f"writing {table} failed ({errors}); publish the run again to record the evaluations")


def _read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    try:
        files = [json.loads((run_dir / f"{name}.json").read_text()) for name in ("report", "metrics", "lineage")]
        return files[0], files[1], files[2]
    except (OSError, ValueError) as error:
        raise ArtifactError(
            f"{run_dir} is not a finished training run ({error}); give a directory `make train` wrote under runs/"
        ) from None
