"""`read_table`: limits, filters, snapshots and digests, through the emulator's Storage Read API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from localcloud.cloud import LocalCloud
from ml.data.reader import read_table
from ml.environments import ENVIRONMENTS
from ml.errors import DataError

LOCAL = ENVIRONMENTS["local"]


def test_a_row_filter_reads_exactly_the_matching_rows(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> None:
    cloud, _ = mnist_cloud
    full = read_table(cloud.context, "test")
    part = read_table(cloud.context, "test", row_filter="key < 1000 AND label = 3")
    expected = (full.keys < 1000) & (full.labels == 3)
    assert np.array_equal(part.keys, full.keys[expected])
    assert np.array_equal(part.images, full.images[expected])
    assert part.lineage.row_filter == "key < 1000 AND label = 3"
    assert part.lineage.rows == int(expected.sum())


def test_a_limit_stops_after_that_many_rows(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> None:
    cloud, _ = mnist_cloud
    data = read_table(cloud.context, "train", limit=100)
    assert data.images.shape == (100, 28, 28)
    assert data.lineage.limit == 100
    with pytest.raises(DataError, match="limit 0 reads nothing"):
        read_table(cloud.context, "train", limit=0)


def test_reading_as_of_a_lineage_gives_the_same_rows(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> None:
    cloud, report = mnist_cloud
    first = read_table(cloud.context, "valid")
    assert first.lineage.digest == report["tables"]["valid"]["digest"]
    again = read_table(
        cloud.context,
        "valid",
        snapshot_time=datetime.fromisoformat(first.lineage.snapshot_time),
        expect_digest=first.lineage.digest,
    )
    assert again.lineage == first.lineage


def test_rows_that_differ_from_the_expected_digest_are_refused(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> None:
    cloud, _ = mnist_cloud
    with pytest.raises(DataError, match=r"valid as of .* is not the data expected .* load the recorded sources again"):
        read_table(cloud.context, "valid", snapshot_time=datetime.now(UTC), expect_digest="0" * 64)


def test_a_bad_filter_is_one_clear_error(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> None:
    cloud, _ = mnist_cloud
    with pytest.raises(DataError, match="reading test with filter 'no_such_column = 1' failed") as error:
        read_table(cloud.context, "test", row_filter="no_such_column = 1")
    assert "\n" not in str(error.value)


def test_a_table_never_loaded_says_how_to_load_it(private_cloud: LocalCloud) -> None:
    private_cloud.up()
    with pytest.raises(DataError, match="table 'train' was never loaded; run `make load-data`"):
        read_table(private_cloud.context, "train")
