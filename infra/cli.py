"""The shape of `python -m infra.<command> ENV`: one argument, one line per user error, exit 1."""

from __future__ import annotations

import sys
from collections.abc import Callable

from infra.errors import InfraError
from ml.errors import MLError


def env_command(prog: str, argv: list[str], action: Callable[[str], None]) -> int:
    """Run `action(ENV)`; usage (exit 2) for other arguments, `error: ...` (exit 1) for what the user can fix."""
    if len(argv) != 1:
        print(f"usage: python -m {prog} ENV", file=sys.stderr)
        return 2
    try:
        action(argv[0])
    except (InfraError, MLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
