"""`python -m infra.local up|down|destroy|status|serve [--json]`: the local cloud's command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from infra.errors import InfraError
from infra.local.cloud import LocalCloud
from ml.cloud import ROOT, LocalEndpoints
from ml.environments import get_environment
from ml.errors import MLError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "destroy", "status", "serve"))
    parser.add_argument("--env", default="local", help="environment (only 'local' runs on this machine)")
    parser.add_argument("--stack", type=Path, help="synthesized stack (default: cdktf.out/stacks/ENV/cdk.tf.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on standard output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        env = get_environment(args.env)
        stack = args.stack or ROOT / "cdktf.out" / "stacks" / env.name / "cdk.tf.json"
        cloud = LocalCloud(env, stack, LocalEndpoints.from_env())
        report, lines = COMMANDS[args.command](cloud)
    except (InfraError, MLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(json.dumps(report, indent=2) if args.json else "\n".join(lines))
    return 0


Report = tuple[dict[str, Any], list[str]]
"""What a command prints: as one JSON object (--json), or as lines for people."""


def _up(cloud: LocalCloud) -> Report:
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
    return report, lines


def _down(cloud: LocalCloud) -> Report:
    stopped = cloud.down()
    return {"stopped": stopped}, [f"stopped: {', '.join(stopped) or 'nothing was running'}; data kept"]


def _destroy(cloud: LocalCloud) -> Report:
    stopped = cloud.destroy()
    lines = [
        f"stopped: {', '.join(stopped) or 'nothing was running'}",
        "deleted the local datasets, tables and buckets",
    ]
    return {"stopped": stopped, "deleted": [str(d) for d in cloud.data_dirs]}, lines


def _status(cloud: LocalCloud) -> Report:
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
    return report, lines


def _serve(cloud: LocalCloud) -> Report:
    service, started = cloud.serve()
    state = "started" if started else "running"
    line = f"function {state}: {service.url}  (POST /predict; pid {service.pid})"
    return {"name": service.name, "url": service.url, "pid": service.pid, "started": started}, [line]


COMMANDS = {"up": _up, "down": _down, "destroy": _destroy, "status": _status, "serve": _serve}


if __name__ == "__main__":
    sys.exit(main())
