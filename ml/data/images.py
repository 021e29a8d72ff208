"""`ImageSet`: labelled images as numpy arrays, their Arrow form and their content digest.

The digest is what lineage is made of: the loader records it for what it loaded, the reader
computes it for what it read, and the two agree exactly when the bytes do. It does not
depend on row order (rows are hashed in key order) or on how the table was stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ml.errors import DataError

ARROW_SCHEMA = pa.schema(
    [
        pa.field("key", pa.int64(), nullable=False),
        pa.field("label", pa.int64(), nullable=False),
        pa.field("image", pa.binary(), nullable=False),
    ]
)
"""The image tables' columns as Arrow types (see `ml.schemas.TRAIN`)."""


@dataclass(frozen=True)
class ImageSet:
    """`images` uint8 `[N, H, W]`, `labels` int64 `[N]` and `keys` int64 `[N]`, row-aligned."""

    keys: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]
    images: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or not (len(self.keys) == len(self.labels) == len(self.images)):
            raise DataError(
                f"{len(self.images)} images of shape {self.images.shape[1:]}, {len(self.labels)} labels and "
                f"{len(self.keys)} keys do not line up; images and labels must come from matching files"
            )

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.images.shape[1]), int(self.images.shape[2]))

    def take(self, rows: npt.NDArray[np.int64]) -> ImageSet:
        return ImageSet(keys=self.keys[rows], labels=self.labels[rows], images=self.images[rows])

    def sorted_by_key(self) -> ImageSet:
        """The same rows in key order; no copy when they already are."""
        if len(self) < 2 or bool(np.all(self.keys[1:] > self.keys[:-1])):
            return self
        return self.take(np.argsort(self.keys, kind="stable"))

    def digest(self) -> str:
        """SHA-256 over the rows in key order: image shape, then keys, labels and pixels."""
        rows = self.sorted_by_key()
        sha = hashlib.sha256(f"{rows.image_shape[0]}x{rows.image_shape[1]}\n".encode())
        sha.update(rows.keys.astype("<i8", copy=False).tobytes())
        sha.update(rows.labels.astype("<i8", copy=False).tobytes())
        sha.update(np.ascontiguousarray(rows.images).data)
        return sha.hexdigest()

    def to_arrow(self) -> pa.Table:
        """The rows as an Arrow table of `ARROW_SCHEMA`, the pixels shared with numpy, not copied."""
        pixels = np.ascontiguousarray(self.images).reshape(-1)
        size = self.image_shape[0] * self.image_shape[1]
        offsets = np.arange(0, (len(self) + 1) * size, size, dtype=np.int32)
        image = pa.BinaryArray.from_buffers(pa.binary(), len(self), [None, pa.py_buffer(offsets), pa.py_buffer(pixels)])
        return pa.Table.from_arrays([pa.array(self.keys), pa.array(self.labels), image], schema=ARROW_SCHEMA)

    @classmethod
    def from_arrow(cls, table: pa.Table, image_shape: tuple[int, int]) -> ImageSet:
        """Decode `key`, `label`, `image` columns without a Python loop; zero-copy for one-chunk columns."""
        size = image_shape[0] * image_shape[1]
        if table.num_rows == 0:
            empty = np.empty(0, np.int64)
            return cls(keys=empty, labels=empty.copy(), images=np.empty((0, *image_shape), np.uint8))
        if any(table.column(c).null_count for c in ARROW_SCHEMA.names):
            raise DataError("the table has NULL keys, labels or images; reload it with `make load-data`")
        chunks = [_pixels(chunk, size) for chunk in table.column("image").chunks]
        pixels = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        return cls(
            keys=table.column("key").to_numpy().astype(np.int64, copy=False),
            labels=table.column("label").to_numpy().astype(np.int64, copy=False),
            images=pixels.reshape(-1, *image_shape),
        )


def _pixels(chunk: pa.Array, size: int) -> npt.NDArray[np.uint8]:
    """The bytes of a binary Arrow array as one flat uint8 view, checking every value is `size` long."""
    if pa.types.is_large_binary(chunk.type):
        offset_type: type[np.signedinteger[Any]] = np.int64
    elif pa.types.is_binary(chunk.type):
        offset_type = np.int32
    else:
        raise DataError(f"the image column is {chunk.type}, not BYTES; reload the table with `make load-data`")
    _, offsets_buffer, data_buffer = chunk.buffers()
    offsets = np.frombuffer(offsets_buffer, offset_type)[chunk.offset : chunk.offset + len(chunk) + 1]
    lengths = np.diff(offsets)
    if len(lengths) and (lengths.min() != size or lengths.max() != size):
        bad = sorted(set(lengths.tolist()) - {size})[:3]
        raise DataError(f"images of {bad} bytes where {size} were expected; every image must have the same size")
    return np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]


def split_keys(count: int, holdout: int, *, salt: str = "valid") -> npt.NDArray[np.bool_]:
    """A mask of the `holdout` rows among `count` that go to validation, the same on every machine forever.

    Rows are ranked by SHA-256 of `salt:key`, so the choice is random-like (no class or order
    bias) yet depends on no random number generator's version.
    """
    if not 0 < holdout < count:
        raise DataError(f"cannot hold out {holdout} of {count} training images; choose a --valid-size below {count}")
    ranks = np.array([hashlib.sha256(f"{salt}:{key}".encode()).digest()[:8] for key in range(count)], dtype="S8")
    mask = np.zeros(count, dtype=bool)
    mask[np.argsort(ranks, kind="stable")[:holdout]] = True
    return mask
