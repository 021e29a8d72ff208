"""Reading a synthesized stack (`cdk.tf.json`): its resources, with references resolved."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import StackError

Attributes = dict[str, Any]
"""A resource's arguments as the synthesized JSON holds them: whatever its provider's schema allows."""

_REFERENCE = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}$")


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    attributes: Attributes

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"


def load_stack(path: Path, types: Collection[str] | None = None) -> list[Resource]:
    """The resources of the stack at `path` (of `types` only, if given), each `${type.name.attr}`
    replaced by its value.

    Only references to literal attributes of other resources can be resolved without a
    cloud; anything else (functions, computed attributes) is a StackError.
    """
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise StackError(f"{path} does not exist: synthesize the stacks first (make synth)") from None
    except json.JSONDecodeError as error:
        raise StackError(f"{path} is not valid JSON ({error}): synthesize it again (make synth)") from None
    raw: dict[str, Attributes] = {
        f"{type_}.{name}": body
        for type_, bodies in document.get("resource", {}).items()
        for name, body in bodies.items()
    }

    def resolve(value: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v, seen) for k, v in value.items() if k not in ("//", "depends_on")}
        if isinstance(value, list):
            return [resolve(v, seen) for v in value]
        if isinstance(value, str) and "${" in value:
            match = _REFERENCE.match(value)
            if match is None:
                raise StackError(f"{path}: cannot evaluate {value!r} without Terraform")
            type_, name, attribute = match.groups()
            address = f"{type_}.{name}"
            if address in seen:
                raise StackError(f"{path}: reference cycle through {address}")
            target = raw.get(address)
            if target is None or attribute not in target:
                raise StackError(f"{path}: {value!r} refers to something the stack does not set")
            return resolve(target[attribute], (*seen, address))
        return value

    return [
        Resource(type=address.split(".", 1)[0], name=address.split(".", 1)[1], attributes=resolve(body, (address,)))
        for address, body in raw.items()
        if types is None or address.split(".", 1)[0] in types
    ]
