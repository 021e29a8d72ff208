"""The native libraries' own log lines (TensorFlow's and absl's C++ logs, LiteRT's delegate
banner) kept off the terminal, where they would bury the pipeline's progress and results.

`python -m ml --verbose`, or LOG_LEVEL=DEBUG or INFO, lets them through, as do variables the
user set already (TF_CPP_MIN_LOG_LEVEL). Called once, before anything imports TensorFlow.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_quiet = False


def configure(verbose: bool = False) -> None:
    global _quiet
    _quiet = not verbose and os.environ.get("LOG_LEVEL", "").upper() not in {"DEBUG", "INFO"}
    if _quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ INFO and WARNING (oneDNN, cpu_feature_guard, ...)
        logging.getLogger("absl").setLevel(logging.ERROR)
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Native code's writes to standard error dropped for the block (LiteRT prints its XNNPACK
    banner from C++, which no variable silences); Python's own errors still surface after it."""
    if not _quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
