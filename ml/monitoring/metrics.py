"""The monitor's figures as Cloud Monitoring custom metrics: what the cloud's alert policy watches.

Each figure of each version is a gauge `custom.googleapis.com/mnist/monitor/<figure>` on the
`global` resource, labelled with the model and the version; `alerts` is 1 for each figure that
crossed its threshold and 0 for each that did not, so that the policy on it closes again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ml.monitoring.monitor import JUDGED, MonitorReport

PREFIX = "custom.googleapis.com/mnist/monitor"
ALERTS_METRIC = f"{PREFIX}/alerts"


def promql_name(metric_type: str) -> str:
    """A metric type as PromQL names it: `custom.googleapis.com/a/b` is `custom_googleapis_com:a_b`."""
    domain, _, path = metric_type.partition("/")
    return f"{domain.replace('.', '_')}:{path.replace('/', '_').replace('.', '_')}"


def series(report: MonitorReport, env_name: str) -> list[tuple[str, dict[str, str], float]]:
    """Every point the report writes: (metric type, labels, value)."""
    points: list[tuple[str, dict[str, str], float]] = []
    firing = {(a.version, a.figure) for a in report.alerts}
    for v in report.versions:
        labels = {"env": env_name, "model": report.model, "version": v.version}
        figures: dict[str, float | None] = {
            "requests": v.requests,
            "instances": v.instances,
            "latency_p95_ms": v.latency_ms["p95"],
            "class_drift_js": v.class_drift.js,
            "class_drift_linf": v.class_drift.linf,
            "confidence_drift_js": v.confidence_drift.js,
            "confidence_below_half": v.confidence_below_half,
            "online_accuracy": v.online_accuracy,
        }
        points += [(f"{PREFIX}/{name}", labels, float(value)) for name, value in figures.items() if value is not None]
        points += [
            (ALERTS_METRIC, {**labels, "figure": figure}, 1.0 if (v.version, figure) in firing else 0.0)
            for figure in JUDGED
        ]
    return points


def publish(report: MonitorReport, client: Any, project: str, env_name: str) -> int:
    """Write the report's points at its window's end with `client` (a `MetricServiceClient`); how many."""
    from google.cloud import monitoring_v3

    points = series(report, env_name)
    stamp = _timestamp(report.until)
    time_series = [
        monitoring_v3.TimeSeries(
            metric={"type": metric_type, "labels": labels},
            resource={"type": "global", "labels": {"project_id": project}},
            points=[monitoring_v3.Point(interval={"end_time": stamp}, value={"double_value": value})],
        )
        for metric_type, labels, value in points
    ]
    for start in range(0, len(time_series), 200):  # the API takes at most 200 series per call
        client.create_time_series(name=f"projects/{project}", time_series=time_series[start : start + 200])
    return len(time_series)


def _timestamp(moment: datetime) -> dict[str, int]:
    seconds = int(moment.timestamp())
    return {"seconds": seconds, "nanos": int((moment.timestamp() - seconds) * 1e9)}
