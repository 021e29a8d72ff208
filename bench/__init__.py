"""Benchmarks: each prints ratios measured side by side in one run (not part of the test suite)."""

from __future__ import annotations

from pathlib import Path

from ml import native_logs
from ml.data.sources import clone_mnist_folder
from ml.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
native_logs.configure()  # every benchmark is a command: its output is its results (LOG_LEVEL=INFO for more)


def mnist_dir(explicit: Path | None) -> Path:
    """`explicit` (--mnist-dir, --data), else as the tests find MNIST (`clone_mnist_folder`); a
    download that fails is one line and exit 1."""
    try:
        return clone_mnist_folder(explicit, ROOT)
    except DataError as error:
        raise SystemExit(f"error: {error}") from None
