"""Moving the serving alias: the registry's aliases, then the serving manifest written from them.

The publish flow's gate and `python -m ml models promote|rollback` both go through `promote`,
so the function serves whatever the registry's `production` names, whoever moved it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml.context import Context
from ml.contracts import SERVING_ALIAS, ServingManifest
from ml.errors import RegistryError
from ml.publish.serving_manifest import write_serving_manifest
from ml.records import JsonObject
from ml.registry import PREVIOUS


@dataclass(frozen=True)
class Promotion:
    model: str
    production: str | None
    previous: str | None
    was: str | None
    """The version `production` named before."""
    manifest: ServingManifest | None

    def to_json_object(self) -> JsonObject:
        return {
            "model": self.model,
            SERVING_ALIAS: self.production,
            PREVIOUS: self.previous,
            "manifest": None if self.manifest is None else self.manifest.to_json_object(),
        }


def promote(context: Context, model: str, version: str | None) -> Promotion:
    """Move `production` to `version` (the one it leaves becomes `previous`), then rewrite the
    manifest; with `version` None, only rewrite it (the gate kept the champion)."""
    registry = context.registry
    was = registry.alias_target(model, SERVING_ALIAS)
    if version is not None:
        registry.promote(model, version)
    return Promotion(
        model=model,
        production=registry.alias_target(model, SERVING_ALIAS),
        previous=registry.alias_target(model, PREVIOUS),
        was=was,
        manifest=write_serving_manifest(context, model),
    )


def rollback(context: Context, model: str) -> Promotion:
    """Promote `previous` back to `production`."""
    previous = context.registry.alias_target(model, PREVIOUS)
    if previous is None:
        raise RegistryError(f"model {model!r} has no {PREVIOUS} version to roll back to")
    return promote(context, model, previous)
