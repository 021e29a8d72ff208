"""Running a command: parse, build its `Context` once, call it, print what it reports.

Every command takes `--env` and `--json`. With `--json` standard output is exactly one JSON
object; progress and messages go to standard error. A failure the user can fix prints one
line, `error: <cause>; <fix>`, and exits 1; a command whose report says it failed exits with
the status it gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.errors import InfraError
from ml import native_logs
from ml.context import Context
from ml.errors import MLError
from ml.records import JsonObject


@dataclass(frozen=True)
class Report:
    """What a command returns: one JSON object (--json), or lines for people; and its exit status."""

    data: JsonObject
    lines: list[str]
    status: int = 0
    error: str | None = None
    """A line for standard error when `status` is not 0."""


Handler = Callable[[argparse.Namespace, Context], Report]


@dataclass(frozen=True)
class Command:
    """One row of the command table: `python -m ml <path...>`."""

    path: tuple[str, ...]
    help: str
    run: Handler
    arguments: Callable[[argparse.ArgumentParser], None] = field(default=lambda parser: None)


def parser(table: tuple[Command, ...], description: str) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", default="local", help="environment: local (default), dev or prod")
    common.add_argument("--json", action="store_true", help="print one JSON object on standard output")
    common.add_argument(
        "--verbose", action="store_true", help="let TensorFlow's and LiteRT's own log lines through (or LOG_LEVEL=INFO)"
    )
    top = argparse.ArgumentParser(prog="python -m ml", description=description)
    groups: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {
        (): top.add_subparsers(dest="command_0", required=True)
    }
    for command in table:
        for depth in range(1, len(command.path)):
            prefix = command.path[:depth]
            if prefix not in groups:
                group = groups[prefix[:-1]].add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                groups[prefix] = group.add_subparsers(dest=f"command_{depth}", required=True)
        sub = groups[command.path[:-1]].add_parser(command.path[-1], parents=[common], help=command.help)
        command.arguments(sub)
        sub.set_defaults(handler=command.run)
    return top


def main(table: tuple[Command, ...], description: str, argv: list[str] | None = None) -> int:
    args = parser(table, description).parse_args(argv)
    native_logs.configure(verbose=args.verbose)
    handler: Handler = args.handler
    try:
        report = handler(args, Context.from_environ(args.env))
    except (MLError, InfraError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json or report.lines:
        print(json.dumps(report.data, indent=2) if args.json else "\n".join(report.lines))
    if report.error:
        print(f"error: {report.error}", file=sys.stderr)
    return report.status
