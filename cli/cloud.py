"""`python -m ml preflight|bootstrap|smoke`: a cloud environment's tools, its bootstrap, the check after a deploy."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict

from cli.app import Report
from cli.local import stack_argument, stack_file
from ml.context import Context


def preflight(args: argparse.Namespace, context: Context) -> Report:
    from infra.preflight import check

    check(context.env)
    return Report({"env": context.env.name, "ready": True}, [])


def bootstrap(args: argparse.Namespace, context: Context) -> Report:
    from infra.preflight import require_own_settings

    require_own_settings(context.env)  # before cdktn starts Node.js
    from infra.bootstrap import bootstrap

    bootstrap(context.env, github=bool(os.environ.get("GITHUB_TOKEN")))
    return Report({"env": context.env.name, "bootstrapped": True}, [])


smoke_arguments = stack_argument


def smoke(args: argparse.Namespace, context: Context) -> Report:
    from infra.smoke import run

    env = context.env
    checks = run(context, stack_file(args, context))
    missing = [c.resource for c in checks if c.status == "missing"]
    lines = [f"{c.status:<8} {c.resource:<40} {c.detail}" for c in checks]
    report = Report({"env": env.name, "checks": [asdict(c) for c in checks], "missing": missing}, lines)
    if not missing:
        return report
    error = f"{env.name} lacks {', '.join(missing)}: deploy again (make up / make deploy ENV={env.name})"
    return Report(report.data, report.lines, status=1, error=error)
