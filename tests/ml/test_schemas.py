from __future__ import annotations

import json

from ml import schemas


def test_image_splits_store_raw_pixels_beside_key_and_label() -> None:
    for table in (schemas.TRAIN, schemas.VALID, schemas.TEST):
        assert [(c.name, c.type, c.mode) for c in table.columns] == [
            ("key", "INT64", "REQUIRED"),
            ("label", "INT64", "REQUIRED"),
            ("image", "BYTES", "REQUIRED"),
        ]


def test_partition_and_clustering_columns_exist() -> None:
    for table in schemas.TABLES:
        if table.partition_field:
            assert table.partition_field in table.column_names
        assert set(table.clustering) <= set(table.column_names)


def test_terraform_json_is_canonical() -> None:
    text = schemas.PREDICTIONS.to_terraform_json()
    assert json.loads(text) == schemas.PREDICTIONS.to_api_repr()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
