"""`python -m ml local up|down|destroy|status|serve`: the local cloud (`make up`, `make down`, ...)."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from cli.app import Report
from ml.context import Context
from ml.emulators import stack_dir

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


def stack_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", type=Path, help="synthesized stack (default: cdktf.out/stacks/ENV/cdk.tf.json)")


def stack_file(args: argparse.Namespace, context: Context) -> Path:
    """`--stack`, else the environment's synthesized stack."""
    return args.stack or stack_dir(context.env.name) / "cdk.tf.json"


def _cloud(args: argparse.Namespace, context: Context) -> LocalCloud:
    from localcloud.cloud import LocalCloud

    return LocalCloud(context, stack_file(args, context))


def up(args: argparse.Namespace, context: Context) -> Report:
    cloud = _cloud(args, context)
    started_at = time.monotonic()
    services, changes = cloud.up()
    seconds = round(time.monotonic() - started_at, 2)
    lines = []
    for service, started in services:
        ports = ", ".join(f"{k} {v}" for k, v in service.ports.items())
        state = "started" if started else "running"
        lines.append(f"{service.name:<10} {state:<9} {service.url}  ({ports}; pid {service.pid})")
    lines += [f"{c.action:<10} {c.id}" for c in changes]
    created = sum(c.action == "created" for c in changes)
    lines.append(f"local cloud up in {seconds} s: {created} created, {len(changes) - created} unchanged")
    report = {
        "services": [
            {"name": s.name, "url": s.url, "ports": dict(s.ports), "pid": s.pid, "started": started}
            for s, started in services
        ],
        "resources": [asdict(c) for c in changes],
        "seconds": seconds,
    }
    return Report(report, lines)


def down(args: argparse.Namespace, context: Context) -> Report:
    cloud = _cloud(args, context)
    stopped = cloud.down()
    return Report({"stopped": stopped}, [f"stopped: {', '.join(stopped) or 'nothing was running'}; data kept"])


def destroy(args: argparse.Namespace, context: Context) -> Report:
    cloud = _cloud(args, context)
    stopped = cloud.destroy()
    lines = [
        f"stopped: {', '.join(stopped) or 'nothing was running'}",
        "deleted the local datasets, tables and buckets",
    ]
    return Report({"stopped": stopped, "deleted": [str(d) for d in cloud.data_dirs]}, lines)


def status(args: argparse.Namespace, context: Context) -> Report:
    cloud = _cloud(args, context)
    status = cloud.status()
    lines = [
        f"{s.name:<10} {s.url:<26} " + (f"running  pid {s.pid}" if s.running else "stopped") for s in status.services
    ]
    if status.resources is None:
        lines.append("resources: unknown until the emulators run (make up)")
    else:
        lines += [f"{'exists' if r.exists else 'missing':<10} {r.id}" for r in status.resources]
    report = {
        "environment": cloud.env.name,
        "services": [asdict(s) for s in status.services],
        "resources": None if status.resources is None else [asdict(r) for r in status.resources],
    }
    return Report(report, lines)


def serve(args: argparse.Namespace, context: Context) -> Report:
    cloud = _cloud(args, context)
    service, started = cloud.serve()
    state = "started" if started else "running"
    line = f"function {state}: {service.url}  (POST /predict; pid {service.pid})"
    return Report({"name": service.name, "url": service.url, "pid": service.pid, "started": started}, [line])
