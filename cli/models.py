"""`python -m ml models list|versions|show|promote|rollback|delete-version|delete-all`: the registry."""

from __future__ import annotations

import argparse

from cli.app import Report
from ml.context import Context
from ml.contracts import SERVING_ALIAS
from ml.errors import RegistryError
from ml.publish.promotion import Promotion, promote, rollback
from ml.registry import ModelVersion


def model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model")


def version_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model")
    parser.add_argument("version")


def reference_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference")


def list_models(args: argparse.Namespace, context: Context) -> Report:
    models = context.registry.list_models()
    lines = [f"{m.name}: {m.versions} versions, " + ", ".join(f"{a}={v}" for a, v in m.aliases.items()) for m in models]
    return Report(
        {"models": [m.to_json_object() for m in models]}, lines or ["no models yet: run `make train-publish`"]
    )


def versions(args: argparse.Namespace, context: Context) -> Report:
    found = context.registry.list_versions(args.model)
    return Report({"model": args.model, "versions": [v.to_json_object() for v in found]}, [_line(v) for v in found])


def show(args: argparse.Namespace, context: Context) -> Report:
    version = context.registry.get(args.reference)
    lines = [_line(version)] + [f"  {k}: {a.uri} sha256 {a.sha256}" for k, a in version.record.artifacts.items()]
    return Report(version.to_json_object(), lines)


def promote_version(args: argparse.Namespace, context: Context) -> Report:
    moved = promote(context, args.model, args.version)
    return _moved(moved, f"{SERVING_ALIAS} is version {args.version} (was {moved.was})")


def roll_back(args: argparse.Namespace, context: Context) -> Report:
    moved = rollback(context, args.model)
    return _moved(moved, f"{SERVING_ALIAS} rolled back to version {moved.production} (was {moved.was})")


def delete_version(args: argparse.Namespace, context: Context) -> Report:
    context.registry.delete_version(args.model, args.version)
    return Report({"model": args.model, "deleted": args.version}, [f"deleted version {args.version} of {args.model}"])


def delete_all(args: argparse.Namespace, context: Context) -> Report:
    """A teardown-friendly environment's models go with it: their records and artifacts lived in the models
    bucket its teardown empties, so a model left behind would name versions nothing can serve or evaluate."""
    env = context.env
    if not env.protections.force_destroy_buckets:
        raise RegistryError(
            f"{env.name} keeps its models: its buckets are never emptied (`[protections]` in "
            f"environments/{env.name}.toml); delete versions one by one with `python -m ml models delete-version`"
        )
    names = [m.name for m in context.registry.list_models()]
    for name in names:
        context.registry.delete_model(name)
    lines = [f"deleted model {name} with all its versions" for name in names] or [f"{env.name} has no models"]
    return Report({"deleted": names}, lines)


def _moved(moved: Promotion, what: str) -> Report:
    return Report(moved.to_json_object(), [what])


def _line(v: ModelVersion) -> str:
    aliases = ",".join(v.aliases) or "-"
    when = v.created_at[:19]
    return (
        f"{v.model}@{v.version:<4} {when}  accuracy {v.record.metrics.accuracy:.4f}  aliases {aliases:<28} "
        f"run {v.record.run_id}"
    )
