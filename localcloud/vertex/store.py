"""The emulator's state: resources as Vertex's JSON, counters and log lines, in one SQLite file.

Every write is one transaction, so a process killed at any moment leaves each resource whole.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Json = dict[str, Any]

_SCHEMA = """
create table if not exists resources (
    seq integer primary key autoincrement,
    kind text not null,
    name text not null,
    parent text not null,
    body text not null,
    unique (kind, name)
);
create table if not exists counters (name text primary key, value integer not null);
create table if not exists log_entries (
    seq integer primary key autoincrement,
    project text not null,
    job_id text not null,
    task text not null,
    timestamp text not null,
    severity text not null,
    text text not null
);
create index if not exists log_entries_job on log_entries (job_id, seq);
"""


class Store:
    """Thread-safe: the server's request threads and the jobs' watcher threads share it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Reads and writes inside one block see and leave a consistent state."""
        with self._lock:
            self._db.execute("begin immediate")
            try:
                yield
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def get(self, kind: str, name: str) -> Json | None:
        with self._lock:
            row = self._db.execute("select body from resources where kind = ? and name = ?", (kind, name)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def select(self, kind: str, parent: str | None = None) -> list[Json]:
        """Oldest first."""
        query, values = "select body from resources where kind = ?", [kind]
        if parent is not None:
            query, values = query + " and parent = ?", [*values, parent]
        with self._lock:
            rows = self._db.execute(query + " order by seq", values).fetchall()
        return [dict(json.loads(body)) for (body,) in rows]

    def put(self, kind: str, name: str, parent: str, body: Json) -> None:
        with self._lock:
            self._db.execute(
                "insert into resources (kind, name, parent, body) values (?, ?, ?, ?) "
                "on conflict (kind, name) do update set body = excluded.body",
                (kind, name, parent, json.dumps(body)),
            )

    def delete(self, kind: str, name: str) -> None:
        with self._lock:
            self._db.execute("delete from resources where kind = ? and name = ?", (kind, name))

    def next_value(self, counter: str) -> int:
        """1, 2, 3, ... per counter, never reused."""
        with self._lock:
            (value,) = self._db.execute(
                "insert into counters (name, value) values (?, 1) "
                "on conflict (name) do update set value = value + 1 returning value",
                (counter,),
            ).fetchone()
        return int(value)

    def append_log(self, project: str, job_id: str, task: str, timestamp: str, severity: str, text: str) -> None:
        with self._lock:
            self._db.execute(
                "insert into log_entries (project, job_id, task, timestamp, severity, text) values (?, ?, ?, ?, ?, ?)",
                (project, job_id, task, timestamp, severity, text),
            )

    def logs(self, project: str, job_id: str, after_seq: int, limit: int) -> list[tuple[int, str, str, str, str]]:
        """(seq, task, timestamp, severity, text) of a job's lines after `after_seq`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "select seq, task, timestamp, severity, text from log_entries "
                "where project = ? and job_id = ? and seq > ? order by seq limit ?",
                (project, job_id, after_seq, limit),
            ).fetchall()
        return [(int(s), str(t), str(ts), str(sev), str(x)) for s, t, ts, sev, x in rows]
