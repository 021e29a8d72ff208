"""Reading a synthesized stack's JSON."""

from __future__ import annotations

from typing import Any

Stack = dict[str, Any]


def resources(stack: Stack, type_: str) -> list[dict[str, Any]]:
    return list(stack["resource"].get(type_, {}).values())


def one(stack: Stack, type_: str, **properties: Any) -> dict[str, Any]:
    matches = [r for r in resources(stack, type_) if all(r.get(k) == v for k, v in properties.items())]
    assert len(matches) == 1, f"expected one {type_} with {properties}, found {len(matches)}"
    return matches[0]
