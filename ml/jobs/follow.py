"""Following a job from the command line: its state changes and log lines as they come, then its report."""

from __future__ import annotations

import json
import time
from typing import TextIO

from ml.context import Context
from ml.jobs.service import Job, get, log_lines
from ml.jobs.spec import report_path
from ml.records import JsonObject


def follow(
    context: Context,
    job: Job,
    out: TextIO,
    *,
    poll_s: float = 1.0,
) -> tuple[Job, list[str]]:
    """Print the job's state changes and log lines to `out` until it ends; the ended job and its last lines."""
    state, since, seen = None, None, set[str]()
    tail: list[str] = []
    ended = False
    while True:
        current = get(context, job.id)
        for line in log_lines(context, current, since):
            if line.insert_id in seen:
                continue  # lines at the timestamp the last query started from come again
            if line.timestamp != since:
                since, seen = line.timestamp, set()
            seen.add(line.insert_id)
            text = f"[{line.task}] {line.text}"
            tail = [*tail[-19:], text]
            print(text, file=out, flush=True)
        if current.state != state:  # after the lines logged before it changed
            state = current.state
            print(f"job {current.id}: {state}", file=out, flush=True)
        if ended:
            return current, tail
        # Once the job has ended, one more pass: Cloud Logging may show its last lines a little later.
        ended = current.done
        time.sleep(poll_s)


def write_report(context: Context, job_id: str, report: JsonObject) -> None:
    """What a job's train-publish reports, for the command that follows it (`--job-report`)."""
    blob = context.models_bucket.blob(report_path(job_id))
    blob.upload_from_string(json.dumps(report), content_type="application/json")


def read_report(context: Context, job_id: str) -> JsonObject | None:
    from google.api_core.exceptions import NotFound

    try:
        data: JsonObject = json.loads(context.models_bucket.blob(report_path(job_id)).download_as_text())
    except NotFound:
        return None
    return data
