"""`python -m ml monitor`: each served version's figures over a window; exit 3 when an alert fires."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.app import Report
from ml.context import Context
from ml.errors import ConfigError
from ml.native_logs import quiet_stderr

ALERT_STATUS = 3
"""The exit status when a threshold is crossed (1 stays an error: the monitor could not tell)."""


RETRAIN_FIGURES = ("class_drift.", "confidence.", "online_accuracy")
"""Alerts a new model may answer; latency is the endpoint's, not the model's."""


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", help="how far back to look: 90m, 24h, 7d (default: the environment's, 24h)")
    parser.add_argument("--version", help="only this version (default: every version served in the window)")
    parser.add_argument(
        "--publish-metrics",
        action="store_true",
        help="write the figures as Cloud Monitoring custom metrics (what the scheduled monitor does)",
    )
    parser.add_argument(
        "--retrain-on-alert",
        action="store_true",
        help="when drift, confidence or online accuracy fires, submit the scheduled train-publish job",
    )


def monitor_command(args: argparse.Namespace, context: Context) -> Report:
    from ml.monitoring.monitor import monitor, parse_window

    window = parse_window(args.window or context.env.monitoring.window)
    metrics = context.monitoring if args.publish_metrics else None  # no Cloud Monitoring: one line, before any query
    report = monitor(context, window, version=args.version)
    lines = [f"{report.model} from {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC"]
    if not report.versions:
        lines.append("no traffic in the window: nothing to judge")
    for v in report.versions:
        drift = "no baseline" if v.class_drift.js is None else f"JS {v.class_drift.js:.4f} L∞ {v.class_drift.linf:.4f}"
        confidence_drift = "-" if v.confidence_drift.js is None else f"{v.confidence_drift.js:.4f}"
        accuracy = "no feedback" if v.online_accuracy is None else f"{v.online_accuracy:.4f} on {v.labelled} labels"
        lines += [
            f"version {v.version}: {v.requests} requests, {v.instances} instances",
            f"  latency        p50 {v.latency_ms['p50']:.1f} ms, p95 {v.latency_ms['p95']:.1f}, "
            f"p99 {v.latency_ms['p99']:.1f}",
            f"  class drift    {drift}",
            f"  confidence     mean {v.confidence_mean:.4f}, {v.confidence_below_half:.1%} below 0.5, "
            f"drift JS {confidence_drift}",
            f"  online         {accuracy}",
        ]
    lines.append(f"prediction log   {report.failed_rows} answered predictions not written")
    for alert in report.alerts:
        lines.append(f"ALERT {f'version {alert.version}' if alert.version else 'endpoint'}: {alert.message}")
    if not report.alerts:
        lines.append("no alert")
    data = report.to_json_object()
    if metrics is not None:
        from ml.monitoring.metrics import publish

        written = publish(report, metrics, context.env.project, context.env.name)
        data["metrics_written"] = written
        lines.append(f"{written} points written to Cloud Monitoring")
    if args.retrain_on_alert and any(a.figure.startswith(RETRAIN_FIGURES) for a in report.alerts):
        from ml.jobs.service import submit
        from ml.jobs.spec import scheduled_job

        job = submit(context, scheduled_job(context.env, trigger="monitor"))
        data["retraining_job"] = job.name
        lines.append(f"retraining: submitted {job.name} (python -m ml jobs show {job.id})")
    return Report(data, lines, status=ALERT_STATUS if report.alerts else 0)


def report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=14, help="days of served traffic to chart (default 14)")
    parser.add_argument("--out", type=Path, help="where to write the page (default: reports/<env>-<model>.html)")
    parser.add_argument("--no-upload", action="store_true", help="do not upload the page to the models bucket")


def report_command(args: argparse.Namespace, context: Context) -> Report:
    from ml.monitoring.report import write_report

    if args.days < 1:
        raise ConfigError(f"--days {args.days}; give 1 or more days to chart")
    path = args.out or Path("reports") / f"{context.env.name}-{context.env.model_name}.html"
    with quiet_stderr():
        page = write_report(context, path, days=args.days, upload=not args.no_upload)
    versions = f"{page.versions} version{'' if page.versions == 1 else 's'}"
    lines = [f"wrote {page.path.resolve().as_uri()} ({versions}, {page.days} days of traffic)"]
    if page.uri:
        lines.append(f"uploaded to {page.uri}")
    data = {"path": str(page.path.resolve()), "uri": page.uri, "versions": page.versions, "days": page.days}
    return Report(data, lines)
