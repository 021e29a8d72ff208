"""Every prediction appended to BigQuery's `predictions` table, in batches, off the request path.

A request only puts rows on a bounded queue; a background thread writes them once a second
(or every 500 rows). A failed write is counted and its error kept for `/healthz`, never
raised into a request; rows that do not fit the queue are dropped and counted.

Cloud Run's CPU model decides when the writer runs. Between requests an instance's CPU is
throttled, so rows that fell due after the last response wait for the next request (or for
shutdown): they are late, not lost. When Cloud Run stops an instance (scale-down, a new
revision) it sends SIGTERM and allows about 10 s: gunicorn stops its workers gracefully,
and `close` (run at the worker's exit) writes whatever is still queued within
`SHUTDOWN_SECONDS`. We chose this over instance-based billing, which would keep a CPU
allocated (and paid for) all the time an instance lives, and over writing inside each
request, which would add BigQuery's round trip to every response.

Each row carries an insert id (the request's own id and the instance's index), so a write
that BigQuery's client retries, or that `close` repeats after an unfinished one, is
de-duplicated by BigQuery instead of being stored twice.
"""

from __future__ import annotations

import atexit
import json
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from contracts import LOG_WRITE_FAILED_EVENT

_BATCH_ROWS = 500
_FLUSH_SECONDS = 1.0
SHUTDOWN_SECONDS = 8.0
"""What `close` may take: Cloud Run kills an instance about 10 s after SIGTERM."""


@dataclass
class LogStats:
    written: int = 0
    failed: int = 0
    dropped: int = 0
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self) -> dict[str, Any]:
        return {"written": self.written, "failed": self.failed, "dropped": self.dropped, "last_error": self.last_error}


class Prediction(NamedTuple):
    """One row of `predictions` while it waits in the queue: a tuple of compact fields (the
    probabilities as float32 bytes, the digest as bytes), a third of the memory of its JSON row, so
    a backlog under heavy load stays small. `insert_id` lets BigQuery drop a retried write's copy."""

    insert_id: str
    request_id: str
    instance_index: int
    prediction_time: str
    model: str
    model_version: str
    predicted_class: int
    probabilities: bytes
    latency_ms: float
    instance_sha256: bytes

    def row(self) -> dict[str, Any]:
        """The row as `insert_rows_json` sends it (the schema of `predictions` in ml/schemas.py)."""
        return {
            "request_id": self.request_id,
            "instance_index": self.instance_index,
            "prediction_time": self.prediction_time,
            "model": self.model,
            "model_version": self.model_version,
            "predicted_class": self.predicted_class,
            "probabilities": [p for (p,) in struct.iter_unpack("<f", self.probabilities)],
            "latency_ms": self.latency_ms,
            "instance_sha256": self.instance_sha256.hex(),
        }


class PredictionLog:
    def __init__(self, client_factory: Callable[[], Any], table: str, capacity: int = 100_000) -> None:
        """`client_factory` makes the BigQuery client on first write, keeping its import off cold start."""
        self.client_factory, self.table, self.capacity = client_factory, table, capacity
        self.client: Any = None
        self.stats = LogStats()
        self._rows: deque[Prediction] = deque()
        self._due = threading.Condition()  # guards `_rows`; wakes the writer
        # Predictions leave `_rows` only under this lock: at exit each row is queued or in the write `close` waits for.
        self._writing = threading.Lock()
        self._closing = False
        threading.Thread(target=self._run, name="prediction-log", daemon=True).start()
        atexit.register(self.close)

    def append(self, rows: list[Prediction]) -> None:
        with self._due:
            room = self.capacity - len(self._rows)
            self._rows.extend(rows[:room])
            self._due.notify()
        if len(rows) > room:
            with self.stats.lock:
                self.stats.dropped += len(rows) - room

    def close(self, timeout_s: float = SHUTDOWN_SECONDS) -> None:
        """Write every queued row now; run when the worker process exits, after its last request."""
        deadline = time.monotonic() + timeout_s
        with self._due:
            self._closing = True
            self._due.notify()
        # A batch the writer thread is sending finishes first, unless it hangs past half the time.
        acquired = self._writing.acquire(timeout=timeout_s / 2)
        try:
            while time.monotonic() < deadline and (batch := self._pop()):
                self._write(batch)
        finally:
            if acquired:
                self._writing.release()

    def _run(self) -> None:
        while True:
            with self._due:
                self._due.wait_for(lambda: bool(self._rows))
                # The first row waits at most a second for others to share its write.
                self._due.wait_for(lambda: len(self._rows) >= _BATCH_ROWS or self._closing, timeout=_FLUSH_SECONDS)
            with self._writing:
                self._write(self._pop())

    def _pop(self) -> list[Prediction]:
        with self._due:
            return [self._rows.popleft() for _ in range(min(_BATCH_ROWS, len(self._rows)))]

    def _write(self, batch: list[Prediction]) -> None:
        if not batch:
            return
        message: str | None
        try:
            if self.client is None:
                self.client = self.client_factory()
            rows = [prediction.row() for prediction in batch]
            errors = self.client.insert_rows_json(self.table, rows, row_ids=[p.insert_id for p in batch])
        except Exception as error:
            errors, message = batch, f"{type(error).__name__}: {error}"
        else:
            message = f"{len(errors)} rows refused: {errors[:1]}" if errors else None
        with self.stats.lock:
            if errors:
                self.stats.failed += len(errors)
                self.stats.last_error = message
                # One JSON line: Cloud Logging reads its severity and fields, and the log-based metric
                # the stacks declare counts the event (infra/components/monitoring.py).
                line = {
                    "severity": "ERROR",
                    "time": datetime.now(UTC).isoformat(),
                    "event": LOG_WRITE_FAILED_EVENT,
                    "rows": len(errors),
                    "message": message,
                }
                print(json.dumps(line), file=sys.stderr, flush=True)
            self.stats.written += len(batch) - len(errors)
