"""`monitor(context, window)`: how each version served in a window did, and which thresholds it crossed.

The figures come from `predictions`, `feedback` and the profiles in `model_evaluations`, by the
SQL in queries.py; the thresholds from the environment's `Monitoring`. A window with no traffic
is a report with no versions and no alerts, not an error: nothing was served wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ml.context import Context
from ml.contracts import LOG_WRITE_FAILED_EVENT
from ml.environments import Monitoring
from ml.errors import ConfigError, MonitorError, RegistryError
from ml.monitoring import queries
from ml.records import JsonObject
from ml.schemas import FEEDBACK, MODEL_EVALUATIONS, PREDICTIONS

QUERY_RETRY_S = 15.0
"""How long a query is retried while BigQuery cannot be reached, before the monitor says so."""
_WINDOW = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> timedelta:
    """`24h`, `30m`, `7d`, `90s` as a duration."""
    match = _WINDOW.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"window {text!r}; give a positive number of s, m, h or d, e.g. --window 24h")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


@dataclass(frozen=True)
class Distribution:
    """A drift figure: the window's shares, the baseline's, and how far apart they are."""

    js: float | None
    linf: float | None
    observed: list[float]
    baseline: list[float] | None


@dataclass(frozen=True)
class VersionFigures:
    """One version's figures over the window; `--json` nests them as latency_ms, class_drift, confidence, feedback."""

    version: str
    requests: int
    instances: int
    latency_ms: dict[str, float]
    class_drift: Distribution
    confidence_mean: float
    confidence_below_half: float
    confidence_drift: Distribution
    labelled: int
    online_accuracy: float | None
    recall: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per true class with feedback: how many instances (`n`) and the share predicted right."""

    def to_json_object(self) -> JsonObject:
        data = asdict(self)
        data["confidence"] = {
            "mean": data.pop("confidence_mean"),
            "share_below_0_5": data.pop("confidence_below_half"),
            "drift": data.pop("confidence_drift"),
        }
        data["feedback"] = {
            "labelled": data.pop("labelled"),
            "online_accuracy": data.pop("online_accuracy"),
            "recall": data.pop("recall"),
        }
        return data


@dataclass(frozen=True)
class Alert:
    figure: str
    """e.g. `class_drift.js`, `online_accuracy`, `latency_ms.p95`."""
    value: float
    threshold: float
    version: str | None
    message: str


@dataclass(frozen=True)
class MonitorReport:
    model: str
    since: datetime
    until: datetime
    versions: list[VersionFigures]
    alerts: list[Alert]
    failed_rows: int = 0
    """Predictions the function answered but could not write to `predictions` (its log lines say so)."""

    def to_json_object(self) -> JsonObject:
        return {
            "model": self.model,
            "window": {"since": self.since.isoformat(), "until": self.until.isoformat()},
            "versions": [v.to_json_object() for v in self.versions],
            "prediction_log": {"failed_rows": self.failed_rows},
            "alerts": [asdict(a) for a in self.alerts],
        }


def monitor(
    context: Context, window: timedelta, *, version: str | None = None, until: datetime | None = None
) -> MonitorReport:
    """Each version's figures over the `window` ending `until` (default: now), and the alerts they raise."""
    env = context.env
    model = env.model_name
    if version is not None:
        try:
            context.registry.get_version(model, version)
        except RegistryError:
            raise ConfigError(
                f"model {model} has no version {version!r}; give one `python -m ml models versions {model}` lists, "
                "or no --version"
            ) from None
    until = until or datetime.now(UTC)
    since = until - window
    tables = {
        "predictions": env.table(PREDICTIONS),
        "feedback": env.table(FEEDBACK),
        "evaluations": env.table(MODEL_EVALUATIONS),
    }
    params = {"model": model, "since": since, "until": until, "version": version}
    rows = _query(context, queries.render(queries.VERSIONS, **tables), params)
    bins = _query(context, queries.render(queries.BINS, **tables), params) if rows else []
    figures = [_figures(row, [b for b in bins if b["model_version"] == row["model_version"]]) for row in rows]
    failed = failed_rows(context, since, until)
    alerts = judge(figures, env.monitoring)
    if failed:
        alerts.append(
            Alert(
                "prediction_log.failed_rows",
                failed,
                0,
                None,
                f"{failed} answered predictions were not written to {PREDICTIONS.table_id}: these figures miss them "
                "(the function's log lines name the error)",
            )
        )
    return MonitorReport(model, since, until, figures, alerts, failed)


def failed_rows(context: Context, since: datetime, until: datetime) -> int:
    """Rows the function's prediction log failed to write in the window, from its log lines in Cloud
    Logging (the same lines the stacks' log-based metric counts)."""
    from google.cloud.logging import ASCENDING

    env = context.env
    query = " AND ".join(
        (
            'resource.type="cloud_run_revision"',
            f'resource.labels.service_name="{env.function_name}"',
            f'jsonPayload.event="{LOG_WRITE_FAILED_EVENT}"',
            f'timestamp>="{since.isoformat()}"',
        )
    )
    where = "the local Vertex AI emulator's logs (make up)" if env.emulated else f"Cloud Logging in {env.project}"
    with _reading(where):
        entries = context.logging.list_entries(  # type: ignore[no-untyped-call]
            resource_names=[f"projects/{env.project}"], filter_=query, order_by=ASCENDING, page_size=1000
        )
        return sum(
            int((entry.payload or {}).get("rows", 0))
            for entry in entries
            if entry.timestamp is None or entry.timestamp < until
        )


@dataclass(frozen=True)
class _Ceiling:
    """A figure that alerts above its threshold."""

    figure: str
    what: str
    value: Callable[[VersionFigures], float | None]
    threshold: Callable[[Monitoring], float]
    needs_instances: bool = True
    """Judged only on at least `min_instances` instances (a distribution needs many to tell)."""


_CEILINGS = (
    _Ceiling("class_drift.js", "predicted-class drift (JS)", lambda v: v.class_drift.js, lambda m: m.class_drift_js),
    _Ceiling(
        "class_drift.linf", "predicted-class drift (L∞)", lambda v: v.class_drift.linf, lambda m: m.class_drift_linf
    ),
    _Ceiling(
        "confidence.drift_js", "confidence drift (JS)", lambda v: v.confidence_drift.js, lambda m: m.confidence_drift_js
    ),
    _Ceiling(
        "confidence.share_below_0_5",
        "share of instances below 0.5 confidence",
        lambda v: v.confidence_below_half,
        lambda m: m.low_confidence_share,
    ),
    _Ceiling("latency_ms.p95", "p95 latency (ms)", lambda v: v.latency_ms["p95"], lambda m: m.latency_p95_ms, False),
)
JUDGED: tuple[str, ...] = (*(c.figure for c in _CEILINGS), "online_accuracy")
"""Every figure `judge` may raise an alert on, per version."""


def judge(versions: list[VersionFigures], limits: Monitoring) -> list[Alert]:
    """The thresholds each version crossed; figures on too few instances or labels are not judged."""
    alerts: list[Alert] = []
    for v in versions:
        for ceiling in _CEILINGS:
            if ceiling.needs_instances and v.instances < limits.min_instances:
                continue
            value, threshold = ceiling.value(v), ceiling.threshold(limits)
            if value is not None and value > threshold:
                message = f"{ceiling.what} {value:.4g} > {threshold:g}"
                alerts.append(Alert(ceiling.figure, value, threshold, v.version, message))
        accuracy, minimum = v.online_accuracy, limits.min_online_accuracy
        if accuracy is not None and v.labelled >= limits.min_labels and accuracy < minimum:
            message = f"online accuracy {accuracy:.4f} < {minimum:g} on {v.labelled} labels"
            alerts.append(Alert("online_accuracy", accuracy, minimum, v.version, message))
    return alerts


@contextmanager
def _reading(where: str) -> Iterator[None]:
    """An unreachable service, or credentials refused, as one MonitorError: an outage, not an alert."""
    from google.api_core import exceptions
    from google.auth.exceptions import GoogleAuthError
    from requests.exceptions import RequestException

    try:
        yield
    except exceptions.BadRequest as error:
        raise MonitorError(
            f"{where} refused the monitor's request ({error.message[:300]}); report it as a bug"
        ) from None
    except (exceptions.GoogleAPIError, GoogleAuthError, RequestException, OSError) as error:
        reason = str(error).splitlines()[0][:300]
        raise MonitorError(
            f"the monitor cannot read {where} ({reason}); check that it answers and run it again"
        ) from None


def _query(context: Context, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    from google.cloud import bigquery

    types = {"model": "STRING", "version": "STRING", "since": "TIMESTAMP", "until": "TIMESTAMP"}
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter(name, types[name], value) for name, value in params.items()]
    )
    # The client retries an unreachable service for 10 minutes by default, and a failed job again:
    # an outage should be told sooner, and the next scheduled run is the retry.
    retry = bigquery.DEFAULT_RETRY.with_deadline(QUERY_RETRY_S)
    env = context.env
    with _reading("the local BigQuery emulator (make up)" if env.emulated else f"BigQuery in {env.project}"):
        job = context.bigquery.query(sql, job_config=config, retry=retry, job_retry=None)
        return [dict(row.items()) for row in job.result(retry=retry)]


def _figures(row: dict[str, Any], bins: list[dict[str, Any]]) -> VersionFigures:
    def shares(kind: str, column: str) -> list[float]:
        """Indexed by bin: a class neither predicted nor in the baseline has no row, and a share of 0."""
        rows = [b for b in bins if b["kind"] == kind]
        values = [0.0] * (1 + max((int(b["bin"]) for b in rows), default=-1))
        for b in rows:
            values[int(b["bin"])] = round(float(b[column] or 0.0), 6)
        return values

    def distribution(kind: str, js: float | None, linf: float | None) -> Distribution:
        baselined = js is not None
        return Distribution(
            js=None if js is None else round(max(float(js), 0.0), 6),
            linf=None if linf is None else round(float(linf), 6),
            observed=shares(kind, "observed"),
            baseline=shares(kind, "expected") if baselined else None,
        )

    return VersionFigures(
        version=str(row["model_version"]),
        requests=int(row["requests"]),
        instances=int(row["instances"]),
        latency_ms={q: round(float(row[f"latency_{q}_ms"]), 3) for q in ("p50", "p95", "p99")},
        class_drift=distribution("class", row["class_drift_js"], row["class_drift_linf"]),
        confidence_mean=round(float(row["confidence_mean"]), 6),
        confidence_below_half=round(float(row["low_confidence_share"]), 6),
        confidence_drift=distribution("confidence", row["confidence_drift_js"], None),
        labelled=int(row["labelled"]),
        online_accuracy=None if row["online_accuracy"] is None else round(float(row["online_accuracy"]), 6),
        recall={
            str(b["bin"]): {"n": int(b["n"]), "recall": round(float(b["observed"]), 6)}
            for b in bins
            if b["kind"] == "recall"
        },
    )
