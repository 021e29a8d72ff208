"""The records' JSON round trips, in the shapes the run directory and the registry hold."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from ml.records import (
    ClassMetrics,
    EnsembleCheck,
    GitState,
    Machine,
    Metrics,
    RunLineage,
    RunReport,
    TableLineage,
)
from tests.support.records import record


def test_metrics_round_trip_and_summary_drops_the_confusion_matrix() -> None:
    metrics = Metrics(4, 0.75, 0.5, (ClassMetrics(0, 1.0, 0.5), ClassMetrics(1, 0.5, 1.0)), ((1, 1), (0, 2)))
    data = json.loads(json.dumps(metrics.to_json_object()))
    assert data["per_class"][0] == {"class": 0, "precision": 1.0, "recall": 0.5}
    assert Metrics.from_json_object(data) == metrics
    assert "confusion_matrix" not in metrics.summary().to_json_object()


def test_run_report_and_lineage_round_trip() -> None:
    report = RunReport(0.9, 0.3, 12.5, 60.0, 1, ("t0_dnn_1x256",), "/runs/x", {"report": "/runs/x/report.json"})
    assert RunReport.from_json_object(json.loads(json.dumps(report.to_json_object()))) == report
    machine = Machine("AMD EPYC", 2, 0.66, {"t0_cnn_2x32_none": 4.7, "t0_cnn_2x32_flip": 2.9})
    check = EnsembleCheck(("a", "b"), 0.9934, 0.031, "a", 0.9932, 0.030, kept=False)
    full = replace(report, machine=machine, ensemble_check=check)
    assert RunReport.from_json_object(json.loads(json.dumps(full.to_json_object()))) == full
    # Reports written before candidates had their own speeds: one figure per iteration.
    old = {**full.to_json_object(), "machine": {**asdict(machine), "steps_per_second": [4.7]}}
    assert RunReport.from_json_object(old).machine == replace(machine, steps_per_second={"iteration 0": 4.7})
    lineage = RunLineage(
        "local",
        {"test": TableLineage("p.d.test", "2026-11-28T00:00:00+00:00", 10, "d" * 64, "key < 10")},
        {"budget_s": 60.0, "generators": ["dnn"]},
        GitState("a" * 40, False),
        "3.11.2",
    )
    assert RunLineage.from_json_object(json.loads(json.dumps(lineage.to_json_object()))) == lineage


def test_version_record_round_trip() -> None:
    published = record("run-a", 0.93, budget=60)
    assert type(published).from_json_object(json.loads(json.dumps(published.to_json_object()))) == published
