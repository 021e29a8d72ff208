"""`python -m ml models list|versions|show|promote|rollback|delete-version`: the registry."""

from __future__ import annotations

import argparse

from cli.app import Report
from ml.context import Context
from ml.contracts import SERVING_ALIAS
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


def _moved(moved: Promotion, what: str) -> Report:
    return Report(moved.to_json_object(), [what])


def _line(v: ModelVersion) -> str:
    aliases = ",".join(v.aliases) or "-"
    when = v.created_at[:19]
    return (
        f"{v.model}@{v.version:<4} {when}  accuracy {v.record.metrics.accuracy:.4f}  aliases {aliases:<28} "
        f"run {v.record.run_id}"
    )
