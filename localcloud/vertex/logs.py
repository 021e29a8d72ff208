"""Logging's `entries:list` for the jobs' log lines and the function's, as Cloud Logging serves them.

A job's entry has the resource `ml_job` with labels `job_id`, `project_id` and `task_name`
(`workerpool0-0`, ...), a `textPayload` and a severity. The local function's structured lines
(JSON objects with `severity` and `time` on its stderr, which Cloud Run turns into entries with
a `jsonPayload`) are entries of the resource `cloud_run_revision`. Filters take the terms the
pipeline sends, joined by AND: `resource.type`, `resource.labels.job_id`,
`resource.labels.task_name`, `resource.labels.service_name`, `jsonPayload.event` and `severity`
with `=`, and `timestamp` with `>` or `>=`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud.vertex.errors import invalid
from localcloud.vertex.store import Json, Store

_TERM = re.compile(
    r"^(resource\.type|resource\.labels\.(?:job_id|task_name|service_name)|jsonPayload\.event|severity|timestamp)\s*"
    r'(>=|>|=)\s*"([^"]*)"$'
)
_MAX_PAGE = 1000


class Logs:
    def __init__(
        self, store: Store, project: str, function_log: Path | None = None, function_service: str = "predict"
    ) -> None:
        self.store, self.project = store, project
        self.function_log, self.function_service = function_log, function_service

    def list_entries(self, body: Json) -> Json:
        terms = _terms(body.get("filter", ""))
        if terms.get(("resource.type", "=")) == "cloud_run_revision":
            return self._function_entries(terms, body)
        job_id = terms.get(("resource.labels.job_id", "="))
        if terms.get(("resource.type", "="), "ml_job") != "ml_job" or job_id is None:
            raise invalid("filter", 'This emulator lists jobs\' lines: filter on resource.labels.job_id="ID".')
        if (order := body.get("orderBy", "timestamp asc")) != "timestamp asc":
            raise invalid("order_by", f"Unsupported order {order!r}: this emulator lists oldest first.")
        size = min(int(body.get("pageSize") or _MAX_PAGE), _MAX_PAGE)
        after = int(body.get("pageToken") or 0)
        since = [(op, _time(value)) for (key, op), value in terms.items() if key == "timestamp"]
        task = terms.get(("resource.labels.task_name", "="))
        severity = terms.get(("severity", "="))
        entries: list[Json] = []
        last = after
        while len(entries) < size:
            rows = self.store.logs(self.project, job_id, last, size)
            if not rows:
                break
            for seq, task_name, timestamp, level, text in rows:
                last = seq
                stamp = _time(timestamp)
                if task not in (None, task_name) or severity not in (None, level):
                    continue
                if not _after(stamp, since):
                    continue
                entries.append(self._entry(seq, job_id, task_name, timestamp, level, text))
                if len(entries) == size:
                    break
        more = bool(self.store.logs(self.project, job_id, last, 1))
        return {"entries": entries, **({"nextPageToken": str(last)} if more and entries else {})}

    def _function_entries(self, terms: dict[tuple[str, str], Any], body: Json) -> Json:
        """The function's structured lines that match, a page at a time (the token: how many came before)."""
        service = terms.get(("resource.labels.service_name", "="), self.function_service)
        if service != self.function_service or self.function_log is None or not self.function_log.exists():
            return {"entries": []}
        since = [(op, _time(value)) for (key, op), value in terms.items() if key == "timestamp"]
        entries: list[Json] = []
        for number, line in enumerate(self.function_log.read_text(errors="replace").splitlines()):
            try:
                payload = json.loads(line)
            except ValueError:
                continue
            if not isinstance(payload, dict) or "time" not in payload:
                continue
            stamp = _time(str(payload["time"]))
            wanted = {
                ("jsonPayload.event", "="): payload.get("event"),
                ("severity", "="): payload.get("severity", "DEFAULT"),
            }
            if any(key in terms and terms[key] != value for key, value in wanted.items()):
                continue
            if not _after(stamp, since):
                continue
            zulu = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as Cloud Logging answers
            entries.append(
                {
                    "logName": f"projects/{self.project}/logs/run.googleapis.com%2Fstderr",
                    "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
                    "timestamp": zulu,
                    "receiveTimestamp": zulu,
                    "severity": payload.get("severity", "DEFAULT"),
                    "insertId": f"function-{number}",
                    "jsonPayload": {k: v for k, v in payload.items() if k not in ("severity", "time")},
                }
            )
        size = min(int(body.get("pageSize") or _MAX_PAGE), _MAX_PAGE)
        start = int(body.get("pageToken") or 0)
        more = len(entries) > start + size
        return {"entries": entries[start : start + size], **({"nextPageToken": str(start + size)} if more else {})}

    def _entry(self, seq: int, job_id: str, task: str, timestamp: str, severity: str, text: str) -> Json:
        labels = {"job_id": job_id, "project_id": self.project, "task_name": task}
        return {
            "logName": f"projects/{self.project}/logs/{task}",
            "resource": {"type": "ml_job", "labels": labels},
            "timestamp": timestamp,
            "receiveTimestamp": timestamp,
            "severity": severity,
            "insertId": f"{job_id}-{seq}",
            "textPayload": text,
        }


def _terms(filter_: str) -> dict[tuple[str, str], Any]:
    terms = {}
    for term in filter(None, (t.strip() for t in re.split(r"\s+AND\s+", filter_.strip()))):
        match = _TERM.match(term)
        if match is None:
            raise invalid("filter", f"Unsupported filter term {term!r} in this emulator.")
        key, op, value = match.groups()
        terms[(key, op)] = value
    return terms


def _after(stamp: datetime, since: list[tuple[str, datetime]]) -> bool:
    """Whether `stamp` passes every `timestamp>` and `timestamp>=` term."""
    return all(stamp > t if op == ">" else stamp >= t for op, t in since)


def _time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("filter", f"{value!r} is not an RFC 3339 timestamp.") from None
