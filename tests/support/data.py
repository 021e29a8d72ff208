"""MNIST for the tests."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from tests.support import ROOT


@functools.cache
def mnist_dir() -> Path:
    """MNIST_DIR, else the team's shared copy beside the clone, else what `make load-data`
    downloads (from MNIST_MIRRORS, comma-separated, if set), checked and cached."""
    from ml.data.sources import MIRRORS, default_cache_dir, mnist_folder

    explicit = Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else None
    mirrors = os.environ["MNIST_MIRRORS"].split(",") if os.environ.get("MNIST_MIRRORS") else MIRRORS
    return mnist_folder(explicit, ROOT.parent / "shared" / "data" / "mnist", mirrors, default_cache_dir())
