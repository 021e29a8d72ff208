"""`python -m ml monitor`: each served version's figures over a window; exit 3 when an alert fires."""

from __future__ import annotations

import argparse

from cli.app import Report
from ml.context import Context

ALERT_STATUS = 3
"""The exit status when a threshold is crossed (1 stays an error: the monitor could not tell)."""


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", help="how far back to look: 90m, 24h, 7d (default: the environment's, 24h)")
    parser.add_argument("--version", help="only this version (default: every version served in the window)")


def monitor_command(args: argparse.Namespace, context: Context) -> Report:
    from ml.monitoring.monitor import monitor, parse_window

    window = parse_window(args.window or context.env.monitoring.window)
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
    lines += [f"ALERT version {a.version}: {a.message}" for a in report.alerts] or ["no alert"]
    return Report(report.to_json_object(), lines, status=ALERT_STATUS if report.alerts else 0)
