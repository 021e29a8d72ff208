"""IDX parsing: every structural defect is named, with the fix."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from ml.data.idx import read_idx
from ml.errors import DataError
from tests.support.idx_files import idx_bytes

IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)


def test_reads_plain_and_gzipped_files_alike(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(idx_bytes(IMAGES))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(idx_bytes(IMAGES)))
    plain, packed = read_idx(tmp_path / "plain", ndim=3), read_idx(tmp_path / "packed.gz", ndim=3)
    assert np.array_equal(plain.values, IMAGES)
    assert np.array_equal(packed.values, IMAGES)
    assert plain.sha256 == packed.sha256  # the digest is of the uncompressed bytes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (idx_bytes(IMAGES)[:-5], "truncated: 35 bytes where its header [2, 3, 4] needs 40"),
        (idx_bytes(IMAGES) + b"\0", "has trailing bytes"),
        (b"\x08\x03" + idx_bytes(IMAGES)[2:], "not an IDX file (bad magic number 08030803)"),
        (idx_bytes(IMAGES)[:2] + b"\x0d" + idx_bytes(IMAGES)[3:], "magic number 0x00000d03 where 0x00000803"),
        (idx_bytes(np.zeros(5, np.uint8)), "magic number 0x00000801 where 0x00000803 (uint8, 3-D)"),
        (idx_bytes(np.zeros((0, 3, 4), np.uint8)), "holds no values"),
        (b"", "bad magic number empty"),
        (gzip.compress(idx_bytes(IMAGES))[:-8], "cannot be read"),
    ],
    ids=["truncated", "trailing", "magic", "type", "dimensions", "empty", "zero-bytes", "corrupt-gzip"],
)
def test_defects_are_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"download the file again|use the original files|uint8|no values") as error:
        read_idx(path, ndim=3)
    assert message in str(error.value)
    assert str(path) in str(error.value)
