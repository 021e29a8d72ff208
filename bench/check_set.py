"""28x28, 10-class image sets that are not MNIST, made offline from it: the AutoML bench's check sets.

    .venv/bin/python -m bench.check_set OUT_DIR [--kind turned|cluttered|faded] [--seed N] [--mnist-dir DIR]

- `turned` (the check set the search was shaped on): each image turned a quarter clockwise,
  inverted (dark strokes on a light ground), given Gaussian noise (sigma 32) and, one time in
  two, mirrored left to right: the digits' shapes stay learnable, but what suits digits no
  longer holds: a dark ground, and no flips (here a mirror keeps the class, as it does for
  clothes or objects).
- `cluttered` and `faded`, made after the settings they confirm were frozen (bench/NOTES.md):
  `cluttered` moves each digit up to 4 pixels and scatters three 9x9 fragments of other
  digits around it; `faded` blurs each image, scales its contrast by 0.25 to 1, gives it
  Gaussian noise (sigma 20) and inverts one in two.

`--seed` draws other transforms of the same kind (default 1). Written as the four gzipped IDX
files `make load-data MNIST_DIR=OUT_DIR` and `bench.automl --data` read.
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


def turned(images: npt.NDArray[np.uint8], seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    turned = np.rot90(images, k=-1, axes=(1, 2))
    mirrored = np.where(rng.random(len(images))[:, None, None] < 0.5, turned[:, :, ::-1], turned)
    noise = rng.normal(0, 32, images.shape)
    return np.clip(255.0 - mirrored + noise, 0, 255).astype(np.uint8)


def cluttered(images: npt.NDArray[np.uint8], seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    count, size = len(images), images.shape[1]
    out = np.zeros_like(images)
    for i, (dy, dx) in enumerate(rng.integers(-4, 5, (count, 2))):
        out[i] = np.roll(images[i], (dy, dx), axis=(0, 1))  # the rows that wrap are blank in MNIST
    for _ in range(3):
        donors = rng.integers(0, count, count)
        ys, xs = rng.integers(0, size - 9, (2, count))
        ty, tx = rng.integers(0, size - 9, (2, count))
        for i in range(count):
            patch = images[donors[i], ys[i] : ys[i] + 9, xs[i] : xs[i] + 9]
            region = out[i, ty[i] : ty[i] + 9, tx[i] : tx[i] + 9]
            np.maximum(region, patch, out=region)
    return out


def faded(images: npt.NDArray[np.uint8], seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    x = images.astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    blurred = sum(padded[:, dy : dy + x.shape[1], dx : dx + x.shape[2]] for dy in range(3) for dx in range(3)) / 9
    contrast = rng.uniform(0.25, 1.0, (len(x), 1, 1))
    y = blurred * contrast + rng.normal(0, 20, x.shape)
    y = np.where(rng.random(len(x))[:, None, None] < 0.5, 255.0 - y, y)
    return np.clip(y, 0, 255).astype(np.uint8)


KINDS = {"turned": turned, "cluttered": cluttered, "faded": faded}


def write_idx(path: Path, values: npt.NDArray[np.uint8]) -> None:
    header = bytes([0, 0, 0x08, values.ndim]) + struct.pack(f">{values.ndim}I", *values.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(values).tobytes(), mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--kind", choices=sorted(KINDS), default="turned")
    parser.add_argument("--seed", type=int, default=1, help="other draws of the same kind")
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    args = parser.parse_args()
    transform = KINDS[args.kind]
    sources = from_directory(mnist_dir(args.mnist_dir))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": transform(sources.train_images.array.values, seed=args.seed),
        "train_labels": sources.train_labels.array.values,
        "test_images": transform(sources.test_images.array.values, seed=args.seed + 1),
        "test_labels": sources.test_labels.array.values,
    }
    for role, values in arrays.items():
        write_idx(args.out_dir / f"{FILE_NAMES[role]}.gz", values)
    print(f"wrote {', '.join(f'{FILE_NAMES[r]}.gz' for r in arrays)} to {args.out_dir}")


if __name__ == "__main__":
    main()
