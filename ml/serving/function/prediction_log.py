"""Every prediction appended to BigQuery's `predictions` table, in batches, off the request path.

A request only puts rows on a bounded queue; a background thread writes them every second
(or every 500 rows). A failed write is counted and its error kept for `/healthz`, never
raised into a request; rows that do not fit the queue are dropped and counted.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_BATCH_ROWS = 500
_FLUSH_SECONDS = 1.0


@dataclass
class LogStats:
    written: int = 0
    failed: int = 0
    dropped: int = 0
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self) -> dict[str, Any]:
        return {"written": self.written, "failed": self.failed, "dropped": self.dropped, "last_error": self.last_error}


class PredictionLog:
    def __init__(self, client_factory: Callable[[], Any], table: str, capacity: int = 100_000) -> None:
        """`client_factory` makes the BigQuery client in the writer thread, keeping its import off cold start."""
        self.client_factory, self.table = client_factory, table
        self.client: Any = None
        self.rows: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self.stats = LogStats()
        threading.Thread(target=self._run, name="prediction-log", daemon=True).start()

    def append(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            try:
                self.rows.put_nowait(row)
            except queue.Full:
                with self.stats.lock:
                    self.stats.dropped += 1

    def _run(self) -> None:
        while True:
            batch = [self.rows.get()]
            try:
                while len(batch) < _BATCH_ROWS:
                    batch.append(self.rows.get(timeout=_FLUSH_SECONDS))
            except queue.Empty:
                pass
            self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        message: str | None
        try:
            if self.client is None:  # made here, a second after the first prediction, not on the request path
                self.client = self.client_factory()
            errors = self.client.insert_rows_json(self.table, batch)
        except Exception as error:
            errors, message = batch, f"{type(error).__name__}: {error}"
        else:
            message = f"{len(errors)} rows refused: {errors[:1]}" if errors else None
        with self.stats.lock:
            if errors:
                self.stats.failed += len(errors)
                self.stats.last_error = message
                print(f"prediction log: {message}", flush=True)
            self.stats.written += len(batch) - len(errors)
