"""The IDX file format (the MNIST family's): parsed and checked, never trusted.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values row-major. Image sets are
`uint8 [N, H, W]`, label sets `uint8 [N]`; sizes come from the files, not from constants.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ml.errors import DataError

_UINT8 = 0x08


@dataclass(frozen=True)
class IdxArray:
    """The values of one IDX file, and the SHA-256 of its uncompressed bytes."""

    path: Path
    values: npt.NDArray[np.uint8]
    sha256: str


def read_idx(path: Path, *, ndim: int) -> IdxArray:
    """Parse `path` (gzipped or not) as a uint8 IDX file of `ndim` dimensions."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        magic = raw[:4].hex() or "empty"
        raise DataError(f"{path}: not an IDX file (bad magic number {magic}); use the original files")
    type_code, dims = raw[2], raw[3]
    if type_code != _UINT8 or dims != ndim:
        expected = f"0x0000{_UINT8:02x}{ndim:02x}"
        raise DataError(f"{path}: magic number 0x{raw[:4].hex()} where {expected} (uint8, {ndim}-D) was expected")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes); download the file again")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    expected_size = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected_size:
        what = "truncated" if len(raw) < expected_size else "has trailing bytes"
        raise DataError(
            f"{path}: {what}: {len(raw)} bytes where its header {list(shape)} needs {expected_size}; "
            "download the file again"
        )
    if 0 in shape:
        raise DataError(f"{path}: holds no values (dimensions {list(shape)})")
    values = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return IdxArray(path=path, values=values, sha256=hashlib.sha256(raw).hexdigest())


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: cannot be read ({error}); download the file again") from None
