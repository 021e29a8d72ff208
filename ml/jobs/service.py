"""Vertex AI's CustomJobs through `google-cloud-aiplatform`, and their log lines through Cloud Logging.

A job is named by its numeric id (what `python -m ml jobs` takes and prints) or its full
resource name; both resolve in the environment's project and region.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ml.context import Context
from ml.errors import JobError
from ml.records import JsonObject

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass(frozen=True)
class Job:
    """A CustomJob as people read it: `state` without its `JOB_STATE_` prefix, times in RFC 3339."""

    name: str
    display_name: str
    state: str
    created: str
    started: str | None
    ended: str | None
    error: str | None
    labels: dict[str, str]

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[1]

    @property
    def done(self) -> bool:
        return self.state in TERMINAL

    @property
    def seconds(self) -> float | None:
        """From start to end (or to now, while it runs); None before it starts."""
        if self.started is None:
            return None
        end = datetime.fromisoformat(self.ended) if self.ended else datetime.now(UTC)
        return (end - datetime.fromisoformat(self.started)).total_seconds()

    def to_json_object(self) -> JsonObject:
        return {
            "name": self.name,
            "id": self.id,
            "display_name": self.display_name,
            "state": self.state,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "seconds": self.seconds,
            "error": self.error,
            "labels": self.labels,
        }


@dataclass(frozen=True)
class LogLine:
    timestamp: str
    task: str
    severity: str
    text: str
    insert_id: str


def job_name(context: Context, job: str) -> str:
    """The full resource name of `job` (an id or a name)."""
    if job.isdigit():
        return f"{context.env.location}/customJobs/{job}"
    if job.startswith(f"{context.env.location}/customJobs/") and job.rsplit("/", 1)[1].isdigit():
        return job
    raise JobError(f"{job!r} is not a job id: use the number `python -m ml jobs list` shows")


def submit(context: Context, body: JsonObject) -> Job:
    """Create the CustomJob `body` (the REST JSON of ml/jobs/spec.py)."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.cloud.aiplatform_v1 import types

    job = types.CustomJob.from_json(json.dumps(body))
    try:
        created = context.jobs.create_custom_job(parent=context.env.location, custom_job=job)
    except GoogleAPICallError as error:
        raise JobError(f"Vertex AI refused the job: {error.message}") from None
    return _job(created)


def get(context: Context, job: str) -> Job:
    from google.api_core.exceptions import NotFound

    try:
        return _job(context.jobs.get_custom_job(name=job_name(context, job)))
    except NotFound:
        raise JobError(
            f"no job {job} in {context.env.name}: see `python -m ml jobs list --env {context.env.name}`"
        ) from None


def list_jobs(context: Context) -> list[Job]:
    """Newest first."""
    return [_job(j) for j in context.jobs.list_custom_jobs(parent=context.env.location)]


def cancel(context: Context, job: str) -> Job:
    """Ask Vertex AI to end the job's replicas; it turns CANCELLED once they are gone."""
    found = get(context, job)
    if found.done:
        raise JobError(f"job {found.id} already ended ({found.state}): nothing to cancel")
    context.jobs.cancel_custom_job(name=found.name)
    return get(context, found.id)


def log_lines(context: Context, job: Job, since: str | None = None) -> Iterator[LogLine]:
    """The job's lines from Cloud Logging, oldest first, from `since` (a timestamp; default: its creation)."""
    from google.cloud.logging import ASCENDING

    query = " AND ".join(
        (
            'resource.type="ml_job"',
            f'resource.labels.job_id="{job.id}"',
            f'timestamp>="{since or job.created}"',
        )
    )
    entries = context.logging.list_entries(  # type: ignore[no-untyped-call]
        resource_names=[f"projects/{context.env.project}"], filter_=query, order_by=ASCENDING, page_size=1000
    )
    for entry in entries:
        payload = entry.payload
        text = payload if isinstance(payload, str) else str((payload or {}).get("message", payload))
        yield LogLine(
            timestamp=_stamp(entry.timestamp),
            task=str((entry.resource.labels or {}).get("task_name", "")) if entry.resource else "",
            severity=str(entry.severity or "DEFAULT"),
            text=text,
            insert_id=str(entry.insert_id),
        )


def _stamp(value: Any) -> str:
    """RFC 3339 in UTC with microseconds, the form Cloud Logging's filters compare."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text: str = value.isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def _job(job: Any) -> Job:
    def when(field: str) -> str | None:
        return _stamp(getattr(job, field)) if field in job else None

    return Job(
        name=job.name,
        display_name=job.display_name,
        state=job.state.name.removeprefix("JOB_STATE_"),
        created=_stamp(job.create_time),
        started=when("start_time"),
        ended=when("end_time"),
        error=job.error.message if "error" in job and job.error.message else None,
        labels=dict(job.labels),
    )
