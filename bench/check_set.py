"""A 28x28, 10-class image set that is not MNIST, made offline from it: the AutoML bench's check set.

    .venv/bin/python -m bench.check_set OUT_DIR [--mnist-dir DIR]

Each image is turned a quarter clockwise, inverted (dark strokes on a light ground), given
Gaussian noise (sigma 32) and, one time in two, mirrored left to right (fixed seeds): the
digits' shapes stay learnable, but what suits digits no longer holds: a dark ground, and
no flips (here a mirror keeps the class, as it does for clothes or objects). Written as the
four gzipped IDX files `make load-data MNIST_DIR=OUT_DIR` and `bench.automl --data` read.
"""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench import mnist_dir
from ml.data.sources import FILE_NAMES, from_directory


def transform(images: npt.NDArray[np.uint8], seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    turned = np.rot90(images, k=-1, axes=(1, 2))
    mirrored = np.where(rng.random(len(images))[:, None, None] < 0.5, turned[:, :, ::-1], turned)
    noise = rng.normal(0, 32, images.shape)
    return np.clip(255.0 - mirrored + noise, 0, 255).astype(np.uint8)


def write_idx(path: Path, values: npt.NDArray[np.uint8]) -> None:
    header = bytes([0, 0, 0x08, values.ndim]) + struct.pack(f">{values.ndim}I", *values.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(values).tobytes(), mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    args = parser.parse_args()
    sources = from_directory(mnist_dir(args.mnist_dir))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": transform(sources.train_images.array.values, seed=1),
        "train_labels": sources.train_labels.array.values,
        "test_images": transform(sources.test_images.array.values, seed=2),
        "test_labels": sources.test_labels.array.values,
    }
    for role, values in arrays.items():
        write_idx(args.out_dir / f"{FILE_NAMES[role]}.gz", values)
    print(f"wrote {', '.join(f'{FILE_NAMES[r]}.gz' for r in arrays)} to {args.out_dir}")


if __name__ == "__main__":
    main()
