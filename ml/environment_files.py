"""`environments/<name>.toml`, read into the typed settings of ml/environments.py and checked on load.

A file holds what a person sets for an environment: its project, region, names, sizes and who
may do what. Each key is a field of `Environment` (a table, such as `[function]`, one of its
nested settings), with the field's type; a key left out takes the field's default. An unknown
key, a value of the wrong type or a missing one is one line naming the file, the key and the fix.
A value written `{ placeholder = ... }` is an example that stands in until a person sets their
own: it loads (tests and local runs synthesize the stacks with it), and `Environment.placeholders`
names it, so that nothing reaches a real project with it (infra/preflight.py).
"""

from __future__ import annotations

import os
import tomllib
import types
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ml.errors import ConfigError

DIRECTORY = Path(os.environ.get("ENVIRONMENTS_DIR") or Path(__file__).resolve().parents[1] / "environments")
"""`environments/` beside `ml/`, or the folder `ENVIRONMENTS_DIR` names (settings kept apart from a clone)."""
SET_BY_THE_LOADER = frozenset({"name", "placeholders"})
"""Fields of `Environment` that a file does not hold: its name is the file's, its placeholders are found."""


def load(cls: type[Any], path: Path) -> Any:
    """The `cls` (an `Environment`) that `path` describes; a ConfigError naming the key and the fix."""
    try:
        table = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing: every environment needs its file (see {DIRECTORY}/dev.toml)") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML ({error}); fix that line") from None
    placeholders: list[str] = []
    values = _fields(cls, table, _Where(path, ""), placeholders, skip=SET_BY_THE_LOADER)
    return cls(name=path.stem, placeholders=tuple(placeholders), **values)


class _Where:
    def __init__(self, path: Path, prefix: str) -> None:
        self.path, self.prefix = path, prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path.name}: `{self.key(name)}` {problem}")


def _fields(
    cls: type[Any], table: dict[str, Any], where: _Where, placeholders: list[str], skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    hints = get_type_hints(cls)
    settable = {f.name: f for f in fields(cls) if f.init and f.name not in skip}
    for name in table:
        if name not in settable:
            known = ", ".join(sorted(settable))
            raise where.error(name, f"is not a setting; remove it, or use one of: {known}")
    values: dict[str, Any] = {}
    for name, f in settable.items():
        if name not in table:
            if f.default is MISSING and f.default_factory is MISSING:
                raise where.error(name, f"is missing; add `{name} = ...` ({_describe(hints[name])})")
            continue
        raw = table[name]
        if isinstance(raw, dict) and set(raw) == {"placeholder"}:
            placeholders.append(where.key(name))
            raw = raw["placeholder"]
        values[name] = _value(hints[name], raw, where, name, placeholders)
    return values


def _value(kind: Any, raw: Any, where: _Where, name: str, placeholders: list[str]) -> Any:
    origin = get_origin(kind)
    if isinstance(kind, type) and is_dataclass(kind):
        if not isinstance(raw, dict):
            raise where.error(name, f"is {_shown(raw)}; write it as a table, [{where.key(name)}]")
        nested = _Where(where.path, f"{where.key(name)}.")
        return kind(**_fields(kind, raw, nested, placeholders))
    if origin in (Union, types.UnionType):  # `X | None`: TOML has no null, so a value is an X
        (inner,) = [a for a in get_args(kind) if a is not type(None)]
        return _value(inner, raw, where, name, placeholders)
    if origin is Literal:
        if raw not in get_args(kind):
            raise where.error(name, f"is {_shown(raw)}; use one of {', '.join(map(repr, get_args(kind)))}")
        return raw
    if origin is tuple:
        (item,) = [a for a in get_args(kind) if a is not Ellipsis]
        if not isinstance(raw, list):
            raise where.error(name, f"is {_shown(raw)}; write a list, e.g. {name} = []")
        return tuple(_value(item, v, where, name, placeholders) for v in raw)
    expected: tuple[type, ...] = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}[kind]
    if not isinstance(raw, expected) or (kind is not bool and isinstance(raw, bool)):
        raise where.error(name, f"is {_shown(raw)}; it takes {_describe(kind)}")
    return float(raw) if isinstance(raw, int) and kind is float else raw


def _describe(kind: Any) -> str:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return _describe(next(a for a in get_args(kind) if a is not type(None)))
    if origin is Literal:
        return "one of " + ", ".join(map(repr, get_args(kind)))
    if origin is tuple:
        return "a list of " + _describe(get_args(kind)[0]) + "s"
    if is_dataclass(kind):
        return "a table"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))


def _shown(raw: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return f"{kind.get(type(raw), type(raw).__name__)} ({raw!r})"
