"""`publish(run_dir)`: from a finished training run to a registered, gated, served version.

    1 upload    artifacts, content-addressed and verified after upload
    2 register  a version (the same run always maps to the same version)
    3 evaluate  the new version and the current `production` on one `test` snapshot
    4 decide    whether the new version is at least as accurate as the champion plus
                `min_gain` (or `force`): the gate, ml/publish/gate.py; a champion whose
                record or artifacts are gone (an emptied bucket) cannot be evaluated nor
                served, and the new version takes its place, saying so
    5 record    both evaluations into `model_evaluations`
    6 promote   `production` to the new version if the gate said so, the former one kept
                as `previous`, and the serving manifest rewritten from the registry

A process killed at any step leaves nothing half-made: a version is registered only once
its artifacts are verified in the bucket, aliases only move between existing versions, and
the manifest is written from the registry. Running the same publish again completes it.
"""

from __future__ import annotations

import getpass
import json
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ml.context import Context
from ml.contracts import SERVING_ALIAS, RunDirectory, ServingManifest, artifacts_prefix
from ml.data import read_table
from ml.errors import ArtifactError, MissingRecordError
from ml.publish.evaluations_table import record_evaluations
from ml.publish.gate import decide
from ml.publish.litert_eval import evaluate_version
from ml.publish.promotion import promote
from ml.publish.serving_manifest import write_version_manifest
from ml.records import JsonObject, Metrics, RunLineage, RunReport
from ml.registry import VersionRecord
from ml.registry.artifacts import ArtifactStore
from ml.schemas import MODEL_EVALUATIONS

STEPS = ("upload", "register", "evaluate", "decide", "record", "promote")


@dataclass(frozen=True)
class PublishResult:
    model: str
    version: str
    champion: str | None
    challenger_metrics: Metrics
    champion_metrics: Metrics | None
    promoted: bool
    decision: str
    production: str | None
    previous: str | None
    manifest: ServingManifest | None

    def to_json_object(self) -> JsonObject:
        return {
            **self.__dict__,
            "challenger_metrics": self.challenger_metrics.to_json_object(),
            "champion_metrics": None if self.champion_metrics is None else self.champion_metrics.to_json_object(),
            "manifest": None if self.manifest is None else self.manifest.to_json_object(),
        }


def artifact_store(context: Context, model: str) -> ArtifactStore:
    return ArtifactStore(context.storage, context.env.models_bucket, artifacts_prefix(model))


def publish(
    context: Context,
    run_dir: Path,
    *,
    model: str | None = None,
    min_gain: float = 0.0,
    force: bool = False,
    log: IO[str] | None = None,
    published_by: str | None = None,
) -> PublishResult:
    log = log or sys.stderr
    env, registry = context.env, context.registry
    model = model or env.model_name
    store = artifact_store(context, model)
    run = RunDirectory(run_dir)
    report, metrics, lineage = _read_run(run)

    def step(number: int, what: str) -> None:
        print(f"step {number}/{len(STEPS)} {STEPS[number - 1]}: {what}", file=log, flush=True)

    step(1, f"uploading the artifacts of {run.run_id}")
    # the search's record travels with the version: what a job's chief decided, and what it went without
    artifacts = {role: store.put(run[role], role) for role in ("saved_model", "tflite", "report", "iterations")}
    step(2, "registering the version")
    record = VersionRecord(
        run_id=run.run_id,
        artifacts=artifacts,
        metrics=metrics.summary(),
        lineage=lineage,
        published_by=published_by or f"{getpass.getuser()}@{socket.gethostname()}",
        labels={"env": env.name, "budget_seconds": str(report.budget_seconds)},
    )
    version = registry.create_version(model, record)
    write_version_manifest(context, version)

    step(3, f"evaluating version {version.version} and the current {SERVING_ALIAS} on one test snapshot")
    test = read_table(context, "test")
    challenger = evaluate_version(store, version, test.images, test.labels)
    champion_version = registry.alias_target(model, SERVING_ALIAS)
    champion, champion_lost = None, None
    if champion_version is not None and champion_version != version.version:
        try:
            champion = evaluate_version(store, registry.get_version(model, champion_version), test.images, test.labels)
        except (MissingRecordError, ArtifactError) as error:  # its bucket was emptied: it cannot serve either
            champion_lost = str(error)

    step(4, "deciding")
    decision = decide(
        challenger,
        champion,
        version=version.version,
        champion_version=champion_version,
        min_gain=min_gain,
        force=force,
        champion_lost=champion_lost,
    )

    step(5, f"recording the evaluations in {MODEL_EVALUATIONS.table_id}")
    evaluations = [(version.version, challenger)]
    if champion is not None and champion_version is not None:
        evaluations.append((champion_version, champion))
    record_evaluations(context, model, evaluations, test.lineage)

    step(
        6,
        f"moving {SERVING_ALIAS} and writing the serving manifest"
        if decision.promote
        else "writing the serving manifest",
    )
    promotion = promote(context, model, version.version if decision.promote else None)
    return PublishResult(
        model=model,
        version=version.version,
        champion=champion_version if champion is not None else None,
        challenger_metrics=challenger,
        champion_metrics=champion,
        promoted=decision.promote,
        decision=decision.reason,
        production=promotion.production,
        previous=promotion.previous,
        manifest=promotion.manifest,
    )


def _read_run(run: RunDirectory) -> tuple[RunReport, Metrics, RunLineage]:
    try:
        texts = [json.loads(run[role].read_text()) for role in ("report", "metrics", "lineage")]
        return (
            RunReport.from_json_object(texts[0]),
            Metrics.from_json_object(texts[1]),
            RunLineage.from_json_object(texts[2]),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ArtifactError(
            f"{run.root} is not a finished training run ({error}); give a directory `make train` wrote under runs/"
        ) from None
