"""`LocalRegistry`: the registry of the `local` environment, in one SQLite file under `.local/`.

Every change is one `BEGIN IMMEDIATE` transaction, so concurrent publishers serialise and
each gets its own version id; a killed process leaves either the whole change or none of it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ml.errors import RegistryError
from ml.registry.base import Registry
from ml.registry.versions import DEFAULT, Model, ModelVersion, VersionRecord, check_alias, check_model_name

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    next_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    model TEXT NOT NULL REFERENCES models(name),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (model, version),
    UNIQUE (model, run_id)
);
CREATE TABLE IF NOT EXISTS aliases (
    model TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (model, alias),
    FOREIGN KEY (model, version) REFERENCES versions(model, version)
);
"""


class LocalRegistry(Registry):
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._read() as db:
            db.executescript(_SCHEMA)  # idempotent; executescript commits by itself

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys = ON")
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._read() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def create_version(self, model: str, record: VersionRecord) -> ModelVersion:
        check_model_name(model)
        now = datetime.now(UTC).isoformat()
        with self._write() as db:
            row = db.execute("SELECT version FROM versions WHERE model = ? AND run_id = ?", (model, record.run_id))
            existing = row.fetchone()
            if existing is None:
                db.execute("INSERT OR IGNORE INTO models VALUES (?, ?, 1)", (model, now))
                (version,) = db.execute("SELECT next_version FROM models WHERE name = ?", (model,)).fetchone()
                db.execute("UPDATE models SET next_version = ? WHERE name = ?", (version + 1, model))
                db.execute(
                    "INSERT INTO versions VALUES (?, ?, ?, ?, ?)",
                    (model, version, now, record.run_id, json.dumps(record.to_json_object())),
                )
                if version == 1:
                    db.execute("INSERT INTO aliases VALUES (?, ?, ?)", (model, DEFAULT, version))
            else:
                (version,) = existing
        return self.get_version(model, str(version))

    def list_models(self) -> list[Model]:
        with self._read() as db:
            models = db.execute("SELECT name, created_at FROM models ORDER BY name").fetchall()
            result = []
            for name, created_at in models:
                (count,) = db.execute("SELECT COUNT(*) FROM versions WHERE model = ?", (name,)).fetchone()
                aliases = dict(db.execute("SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias", (name,)))
                result.append(Model(name, created_at, count, {a: str(v) for a, v in aliases.items()}))
        return result

    def list_versions(self, model: str) -> list[ModelVersion]:
        with self._read() as db:
            self._known(db, model)
            rows = db.execute("SELECT version FROM versions WHERE model = ? ORDER BY version", (model,)).fetchall()
            return [self._version(db, model, v) for (v,) in rows]

    def get_version(self, model: str, version: str) -> ModelVersion:
        with self._read() as db:
            self._known(db, model)
            return self._version(db, model, _number(model, version))

    def alias_target(self, model: str, alias: str) -> str | None:
        with self._read() as db:
            self._known(db, model)
            row = db.execute("SELECT version FROM aliases WHERE model = ? AND alias = ?", (model, alias)).fetchone()
        return None if row is None else str(row[0])

    def set_alias(self, model: str, alias: str, version: str) -> None:
        check_alias(alias)
        with self._write() as db:
            self._known(db, model)
            number = _number(model, version)
            self._version(db, model, number)  # the version must exist
            db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)", (model, alias, number))

    def delete_version(self, model: str, version: str) -> None:
        with self._write() as db:
            self._known(db, model)
            number = _number(model, version)
            self._version(db, model, number)
            aliases = [
                a for (a,) in db.execute("SELECT alias FROM aliases WHERE model = ? AND version = ?", (model, number))
            ]
            if aliases:
                raise RegistryError(
                    f"version {number} of {model!r} is still {', '.join(sorted(aliases))}: move those aliases "
                    "to another version first (`python -m ml models promote` or `rollback`)"
                )
            db.execute("DELETE FROM versions WHERE model = ? AND version = ?", (model, number))

    def _known(self, db: sqlite3.Connection, model: str) -> None:
        if db.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is None:
            raise RegistryError(f"unknown model {model!r}; see `python -m ml models list`")

    def _version(self, db: sqlite3.Connection, model: str, number: int) -> ModelVersion:
        row = db.execute(
            "SELECT created_at, record FROM versions WHERE model = ? AND version = ?", (model, number)
        ).fetchone()
        if row is None:
            raise RegistryError(f"model {model!r} has no version {number}; see `python -m ml models versions {model}`")
        aliases = db.execute(
            "SELECT alias FROM aliases WHERE model = ? AND version = ? ORDER BY alias", (model, number)
        ).fetchall()
        record = VersionRecord.from_json_object(json.loads(row[1]))
        return ModelVersion(model, str(number), row[0], tuple(a for (a,) in aliases), record)


def _number(model: str, version: str) -> int:
    if not str(version).isdigit():
        raise RegistryError(f"{version!r} is not a version id of {model!r}: versions are numbers (1, 2, ...)")
    return int(version)
