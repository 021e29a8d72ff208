"""`python -m ml report`: one self-contained HTML page about a model, for people.

What it shows: the versions with their aliases and test accuracy; each recent version's
confusion matrix (from its latest evaluation) and learning curves (from the search's
`iterations.json`, published with it); the evaluation history; and the monitor's figures per
day over the last days, as charts. Charts are PNGs inlined as data URIs, so the page is one file
that opens from a disk, a bucket or an e-mail alike.
"""

from __future__ import annotations

import base64
import html
import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ml.context import Context
from ml.contracts import artifacts_prefix
from ml.errors import RegistryError
from ml.monitoring.monitor import MonitorReport, monitor
from ml.registry import ModelVersion
from ml.registry.artifacts import ArtifactStore
from ml.schemas import MODEL_EVALUATIONS

REPORTS_PREFIX = "reports"
"""Under the models bucket: `reports/<model>.html`, the latest page."""
RECENT_VERSIONS = 4
"""Versions whose confusion matrix and learning curves the page draws, newest first."""


@dataclass(frozen=True)
class Page:
    path: Path
    uri: str | None
    """Where it was uploaded (`gs://...`); None when not uploaded."""
    versions: int
    days: int


def report_object(model: str) -> str:
    return f"{REPORTS_PREFIX}/{model}.html"


def write_report(context: Context, path: Path, *, days: int = 14, upload: bool = True) -> Page:
    """Write the page to `path` and, unless told not to, upload it to the models bucket."""
    env = context.env
    model = env.model_name
    try:
        versions = sorted(context.registry.list_versions(model), key=lambda v: int(v.version), reverse=True)
    except RegistryError:  # no model yet: the page says so
        versions = []
    evaluations = _evaluations(context, model)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    daily = [monitor(context, timedelta(days=1), until=now - timedelta(days=d)) for d in range(days)][::-1]
    sections = [
        _versions_table(versions),
        _monitor_section(daily),
        _evaluation_section(evaluations),
        *(_version_section(context, version, evaluations) for version in versions[:RECENT_VERSIONS]),
    ]
    title = f"{model} in {env.name}"
    page = _PAGE.format(
        title=html.escape(title),
        generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        project=html.escape(env.project),
        body="\n".join(sections),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    uri = None
    if upload:
        blob = context.models_bucket.blob(report_object(model))
        blob.upload_from_filename(str(path), content_type="text/html")
        uri = f"gs://{env.models_bucket}/{report_object(model)}"
    return Page(path, uri, len(versions), days)


def _evaluations(context: Context, model: str) -> list[dict[str, Any]]:
    from google.cloud import bigquery

    query = (
        f"SELECT model_version, data_digest, metrics, evaluated_at FROM `{context.env.table(MODEL_EVALUATIONS)}` "
        "WHERE model = @model ORDER BY evaluated_at"
    )
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("model", "STRING", model)])
    rows = []
    for row in context.bigquery.query(query, job_config=config).result():
        metrics = row["metrics"]
        rows.append({**dict(row.items()), "metrics": json.loads(metrics) if isinstance(metrics, str) else metrics})
    return rows


def _versions_table(versions: list[ModelVersion]) -> str:
    if not versions:
        return "<section><h2>Versions</h2><p>No version yet: run <code>make train-publish</code>.</p></section>"
    rows = "".join(
        f"<tr><td>{html.escape(v.version)}</td><td>{html.escape(', '.join(v.aliases) or '-')}</td>"
        f"<td>{v.record.metrics.accuracy:.4f}</td><td>{html.escape(v.record.run_id)}</td>"
        f"<td>{html.escape(v.created_at[:16])}</td><td>{html.escape(v.record.published_by)}</td></tr>"
        for v in versions
    )
    return (
        "<section><h2>Versions</h2><table><tr><th>version</th><th>aliases</th><th>test accuracy</th>"
        f"<th>run</th><th>created</th><th>published by</th></tr>{rows}</table></section>"
    )


def _monitor_section(daily: list[MonitorReport]) -> str:
    served = sorted({v.version for day in daily for v in day.versions}, key=int)
    header = f"<section><h2>Served traffic, day by day (last {len(daily)} days)</h2>"
    if not served:
        return header + "<p>No traffic in these days: nothing was served, so nothing is judged.</p></section>"
    days = [day.until for day in daily]

    def figure(pick: Callable[[Any], float | None]) -> dict[str, list[float | None]]:
        by_version: dict[str, list[float | None]] = {}
        for version in served:
            values = []
            for day in daily:
                found = [v for v in day.versions if v.version == version]
                values.append(pick(found[0]) if found else None)
            by_version[f"version {version}"] = values
        return by_version

    charts = [
        ("instances", figure(lambda v: v.instances)),
        ("p95 latency (ms)", figure(lambda v: v.latency_ms["p95"])),
        ("predicted-class drift (JS)", figure(lambda v: v.class_drift.js)),
        ("confidence drift (JS)", figure(lambda v: v.confidence_drift.js)),
        ("online accuracy", figure(lambda v: v.online_accuracy)),
    ]
    alerts = [a for day in daily[-1:] for a in day.alerts]
    latest = (
        "".join(f"<li>version {html.escape(str(a.version))}: {html.escape(a.message)}</li>" for a in alerts)
        or "<li>no alert in the last day</li>"
    )
    images = "".join(_img(_lines(title, days, series)) for title, series in charts)
    return f"{header}<ul>{latest}</ul><div class='charts'>{images}</div></section>"


def _evaluation_section(evaluations: list[dict[str, Any]]) -> str:
    if not evaluations:
        return "<section><h2>Evaluations</h2><p>None recorded yet.</p></section>"
    rows = "".join(
        f"<tr><td>{e['evaluated_at']:%Y-%m-%d %H:%M}</td><td>{html.escape(str(e['model_version']))}</td>"
        f"<td>{float(e['metrics']['accuracy']):.4f}</td><td>{float(e['metrics']['loss']):.4f}</td>"
        f"<td><code>{html.escape(str(e['data_digest'])[:12])}</code></td></tr>"
        for e in evaluations[::-1]
    )
    series: dict[str, list[float | None]] = {}
    for index, e in enumerate(evaluations):
        key = f"version {e['model_version']}"
        series.setdefault(key, [None] * len(evaluations))[index] = float(e["metrics"]["accuracy"])
    numbers = list(range(1, len(evaluations) + 1))
    chart = _img(_lines("test accuracy at each evaluation (oldest first)", numbers, series))
    return (
        f"<section><h2>Evaluations</h2>{chart}<table><tr><th>when</th><th>version</th><th>accuracy</th>"
        f"<th>loss</th><th>test rows digest</th></tr>{rows}</table></section>"
    )


def _version_section(context: Context, version: ModelVersion, evaluations: list[dict[str, Any]]) -> str:
    parts = [f"<section><h2>Version {html.escape(version.version)}</h2>"]
    matrix = next(
        (
            e["metrics"]["confusion_matrix"]
            for e in evaluations[::-1]
            if str(e["model_version"]) == version.version and "confusion_matrix" in e["metrics"]
        ),
        None,
    )
    iterations = _iterations(context, version)
    charts = []
    if matrix is not None:
        charts.append(_img(_confusion(matrix)))
    if iterations:
        charts.append(_img(_curves(iterations)))
        kept = " + ".join(html.escape(str(r["kept"])) for r in iterations)
        count = f"{len(iterations)} iteration{'' if len(iterations) == 1 else 's'}"
        parts.append(f"<p>The search kept {kept} over {count}.</p>")
    if not charts:
        parts.append("<p>No evaluation with a confusion matrix and no search record for this version.</p>")
    parts.append(f"<div class='charts'>{''.join(charts)}</div></section>")
    return "".join(parts)


def _iterations(context: Context, version: ModelVersion) -> list[dict[str, Any]]:
    """The search's records published with the version; none for versions published before they were."""
    artifact = version.record.artifacts.get("iterations")
    if artifact is None:
        return []
    store = ArtifactStore(context.storage, context.env.models_bucket, artifacts_prefix(version.model))
    with tempfile.TemporaryDirectory() as scratch:
        path = store.fetch(artifact, Path(scratch) / "iterations.json")
        records: list[dict[str, Any]] = json.loads(path.read_text())
    return records


def _figure(width: float = 6.0, height: float = 3.2) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _lines(title: str, xs: list[Any], series: dict[str, list[float | None]]) -> Any:
    """One line per series over `xs` (days, or evaluation numbers), gaps where a value is None."""
    figure, axis = _figure()
    for label, values in series.items():
        points = [(x, y) for x, y in zip(xs, values, strict=True) if y is not None]
        if points:
            axis.plot(*zip(*points, strict=True), marker="o", markersize=3, label=label)
    if isinstance(xs[0], datetime):
        from matplotlib.dates import DateFormatter

        axis.xaxis.set_major_formatter(DateFormatter("%m-%d"))  # type: ignore[no-untyped-call]
        axis.set_xlim(xs[0] - timedelta(hours=12), xs[-1] + timedelta(hours=12))  # every day, even one point
    else:
        from matplotlib.ticker import MaxNLocator

        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_title(title, fontsize=10)
    axis.tick_params(labelsize=7)
    axis.tick_params(axis="x", rotation=30)
    if axis.lines:
        axis.legend(fontsize=7)
    return figure


def _confusion(matrix: list[list[int]]) -> Any:
    figure, axis = _figure(4.2, 3.8)
    axis.imshow(matrix, cmap="Blues")
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                axis.text(j, i, str(count), ha="center", va="center", fontsize=6)
    axis.set(xlabel="predicted", ylabel="true", xticks=range(len(matrix)), yticks=range(len(matrix)))
    axis.set_title("confusion matrix on test", fontsize=10)
    axis.tick_params(labelsize=7)
    return figure


def _curves(iterations: list[dict[str, Any]]) -> Any:
    figure, axis = _figure()
    for record in iterations:
        curve = record.get("loss_curve") or []
        if curve:
            seconds, losses = zip(*curve, strict=True)
            axis.plot(seconds, losses, label=f"iteration {record['iteration']}")
    axis.set(xlabel="seconds", yscale="log")
    axis.set_title("training loss over the search", fontsize=10)
    axis.tick_params(labelsize=7)
    if axis.lines:
        axis.legend(fontsize=7)
    return figure


def _img(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: 0; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2rem; }}
table {{ border-collapse: collapse; margin: .5rem 0; }}
td, th {{ border: 1px solid #ddd; padding: .2rem .6rem; text-align: left; }} th {{ background: #f4f4f4; }}
.charts {{ display: flex; flex-wrap: wrap; gap: .5rem; }} .meta {{ color: #666; }}
</style></head>
<body><h1>{title}</h1><p class="meta">project {project}, generated {generated}</p>
{body}
</body></html>
"""
