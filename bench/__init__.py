"""Benchmarks: each prints ratios measured side by side in one run (not part of the test suite)."""

from __future__ import annotations

from pathlib import Path

from ml import native_logs
from ml.data.sources import MIRRORS, default_cache_dir, mnist_folder

ROOT = Path(__file__).resolve().parent.parent
native_logs.configure()  # every benchmark is a command: its output is its results (LOG_LEVEL=INFO for more)


def mnist_dir(explicit: Path | None) -> Path:
    """`explicit`, else the team's shared copy beside the clone, else MNIST downloaded and cached."""
    return mnist_folder(explicit, ROOT.parent / "shared" / "data" / "mnist", MIRRORS, default_cache_dir())
