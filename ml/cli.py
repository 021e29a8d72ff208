"""`python -m ml`: the pipeline's command line (data, and the commands the other modules register).

Every command takes `--env` and `--json`. With `--json` standard output is exactly one JSON
object; progress and messages go to standard error. A failure the user can fix prints one
line, `error: <cause>; <fix>`, and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ml import native_logs
from ml.errors import MLError

Report = tuple[dict[str, Any], list[str]]
"""What a command returns: one JSON object (--json), or lines for people."""

Command = Callable[[argparse.Namespace], Report]


def _parser() -> argparse.ArgumentParser:
    from ml.client import cli as client_cli
    from ml.data import cli as data_cli
    from ml.publish import cli as publish_cli
    from ml.registry import cli as registry_cli
    from ml.training import cli as training_cli

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", default="local", help="environment: local (default), dev or prod")
    common.add_argument("--json", action="store_true", help="print one JSON object on standard output")
    common.add_argument(
        "--verbose", action="store_true", help="let TensorFlow's and LiteRT's own log lines through (or LOG_LEVEL=INFO)"
    )
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__.splitlines()[0])
    groups = parser.add_subparsers(
        dest="group", required=True, metavar="{data,train,publish,train-publish,models,predict}"
    )
    data_cli.register(groups, common)
    training_cli.register(groups, common)
    publish_cli.register(groups, common)
    registry_cli.register(groups, common)
    client_cli.register(groups, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    native_logs.configure(verbose=args.verbose)
    command: Command = args.command
    try:
        report, lines = command(args)
    except MLError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2) if args.json else "\n".join(lines))
    return 0
