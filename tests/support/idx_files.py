"""Writing IDX files for tests: small sets of any shape and number of classes."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ml.data.sources import FILE_NAMES


def idx_bytes(values: npt.NDArray[np.uint8]) -> bytes:
    header = bytes([0, 0, 0x08, values.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in values.shape)
    return header + np.ascontiguousarray(values, dtype=np.uint8).tobytes()


def write_set(
    directory: Path,
    *,
    train: int = 60,
    test: int = 20,
    shape: tuple[int, int] = (4, 3),
    classes: int = 3,
    seed: int = 0,
    gz: bool = False,
) -> dict[str, npt.NDArray[np.uint8]]:
    """A random IDX image-classification set under the MNIST file names; returns what it wrote."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (train, *shape), dtype=np.uint8),
        "train_labels": (np.arange(train) % classes).astype(np.uint8),
        "test_images": rng.integers(0, 256, (test, *shape), dtype=np.uint8),
        "test_labels": (np.arange(test) % classes).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for role, values in arrays.items():
        data = idx_bytes(values)
        name = FILE_NAMES[role]
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (directory / name).write_bytes(data)
    return arrays
