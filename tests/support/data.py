"""MNIST for the tests."""

from __future__ import annotations

import functools
from pathlib import Path

from tests.support import ROOT


@functools.cache
def mnist_dir() -> Path:
    """MNIST_DIR, else the shared copy beside the clone, else downloaded (`clone_mnist_folder`)."""
    from ml.data.sources import clone_mnist_folder

    return clone_mnist_folder(None, ROOT)
