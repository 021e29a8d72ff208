"""`python -m ml models list|versions|show|promote|rollback|delete-version`."""

from __future__ import annotations

import argparse
from typing import Any

from ml.cli import Report
from ml.cloud import storage_client
from ml.environments import get_environment
from ml.errors import RegistryError
from ml.registry import PREVIOUS, PRODUCTION, ModelVersion, Registry, registry_for


def register(groups: Any, common: argparse.ArgumentParser) -> None:
    models = groups.add_parser("models", help="the model registry: versions and aliases")
    commands = models.add_subparsers(dest="models_command", required=True)
    commands.add_parser("list", parents=[common], help="every model").set_defaults(command=_list)
    versions = commands.add_parser("versions", parents=[common], help="a model's versions, oldest first")
    versions.add_argument("model")
    versions.set_defaults(command=_versions)
    show = commands.add_parser("show", parents=[common], help="one version: NAME@ALIAS or NAME@VERSION")
    show.add_argument("reference")
    show.set_defaults(command=_show)
    promote = commands.add_parser("promote", parents=[common], help=f"move {PRODUCTION} to VERSION")
    promote.add_argument("model")
    promote.add_argument("version")
    promote.set_defaults(command=_promote)
    rollback = commands.add_parser("rollback", parents=[common], help=f"move {PRODUCTION} back to {PREVIOUS}")
    rollback.add_argument("model")
    rollback.set_defaults(command=_rollback)
    delete = commands.add_parser("delete-version", parents=[common], help="delete a version no alias names")
    delete.add_argument("model")
    delete.add_argument("version")
    delete.set_defaults(command=_delete)


def _registry(args: argparse.Namespace) -> Registry:
    return registry_for(get_environment(args.env))


def _line(v: ModelVersion) -> str:
    accuracy = v.record.metrics.get("accuracy")
    aliases = ",".join(v.aliases) or "-"
    when = v.created_at[:19]
    return f"{v.model}@{v.version:<4} {when}  accuracy {accuracy:.4f}  aliases {aliases:<28} run {v.record.run_id}"


def _list(args: argparse.Namespace) -> Report:
    models = _registry(args).list_models()
    lines = [f"{m.name}: {m.versions} versions, " + ", ".join(f"{a}={v}" for a, v in m.aliases.items()) for m in models]
    return {"models": [m.to_dict() for m in models]}, lines or ["no models yet: run `make train-publish`"]


def _versions(args: argparse.Namespace) -> Report:
    versions = _registry(args).list_versions(args.model)
    return {"model": args.model, "versions": [v.to_dict() for v in versions]}, [_line(v) for v in versions]


def _show(args: argparse.Namespace) -> Report:
    version = _registry(args).get(args.reference)
    lines = [_line(version)] + [f"  {k}: {a.uri} sha256 {a.sha256}" for k, a in version.record.artifacts.items()]
    return version.to_dict(), lines


def _promote(args: argparse.Namespace) -> Report:
    registry = _registry(args)
    current = registry.promote(args.model, args.version)
    return _moved(args, registry, f"{PRODUCTION} is version {args.version} (was {current})")


def _rollback(args: argparse.Namespace) -> Report:
    registry = _registry(args)
    previous = registry.alias_target(args.model, PREVIOUS)
    if previous is None:
        raise RegistryError(f"model {args.model!r} has no {PREVIOUS} version to roll back to")
    current = registry.promote(args.model, previous)
    return _moved(args, registry, f"{PRODUCTION} rolled back to version {previous} (was {current})")


def _moved(args: argparse.Namespace, registry: Registry, what: str) -> Report:
    from ml.publish.serving_manifest import write_serving_manifest

    env = get_environment(args.env)
    manifest = write_serving_manifest(registry, storage_client(env), env, args.model, PRODUCTION)
    report = {
        "model": args.model,
        PRODUCTION: registry.alias_target(args.model, PRODUCTION),
        PREVIOUS: registry.alias_target(args.model, PREVIOUS),
        "manifest": manifest,
    }
    return report, [what]


def _delete(args: argparse.Namespace) -> Report:
    _registry(args).delete_version(args.model, args.version)
    return {"model": args.model, "deleted": args.version}, [f"deleted version {args.version} of {args.model}"]
