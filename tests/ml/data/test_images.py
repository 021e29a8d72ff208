"""ImageSet: Arrow round trip without copies, an order-independent digest, a stable split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from ml.data.images import ImageSet, split_keys
from ml.errors import DataError

RNG = np.random.default_rng(7)
ROWS = ImageSet(
    keys=np.arange(50, dtype=np.int64),
    labels=RNG.integers(0, 10, 50).astype(np.int64),
    images=RNG.integers(0, 256, (50, 5, 6), dtype=np.uint8),
)


def test_arrow_round_trip_is_exact_and_shares_the_pixel_buffer() -> None:
    table = ROWS.to_arrow()
    back = ImageSet.from_arrow(table, (5, 6))
    assert back.digest() == ROWS.digest()
    assert np.shares_memory(back.images, np.frombuffer(table.column("image").chunks[0].buffers()[2], np.uint8))


def test_decodes_every_chunk_and_slice() -> None:
    table = pa.concat_tables([ROWS.take(np.arange(0, 20)).to_arrow(), ROWS.take(np.arange(20, 50)).to_arrow()])
    assert table.column("image").num_chunks == 2
    assert ImageSet.from_arrow(table, (5, 6)).digest() == ROWS.digest()
    sliced = ImageSet.from_arrow(ROWS.to_arrow().slice(10, 5), (5, 6))
    assert np.array_equal(sliced.images, ROWS.images[10:15])


def test_digest_ignores_row_order_but_not_content() -> None:
    shuffled = ROWS.take(RNG.permutation(50))
    assert shuffled.digest() == ROWS.digest()
    changed = ImageSet(ROWS.keys, ROWS.labels, ROWS.images.copy())
    changed.images[3, 2, 1] ^= 1
    assert changed.digest() != ROWS.digest()


def test_images_of_another_size_are_refused() -> None:
    with pytest.raises(DataError, match=r"images of \[30\] bytes where 20 were expected"):
        ImageSet.from_arrow(ROWS.to_arrow(), (4, 5))


def test_split_is_fixed_forever_and_holds_out_exactly_the_asked_number() -> None:
    mask = split_keys(60000, 5000)
    assert mask.sum() == 5000
    # Pinned: SHA-256 ranks, so no library's random generator can move a row between tables.
    assert np.flatnonzero(split_keys(10, 3)).tolist() == [1, 2, 6]
    with pytest.raises(DataError, match="cannot hold out 10 of 10"):
        split_keys(10, 10)
