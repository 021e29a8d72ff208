"""Load an IDX image-classification set into the `train`, `valid` and `test` tables.

Everything is parsed and checked before the first table is touched, so bad input changes
nothing. Each table is then replaced by one BigQuery load job (Parquet, `WRITE_TRUNCATE`),
which is atomic: a failed or interrupted load leaves the table's previous content.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq
from tqdm import tqdm

from ml.context import Context
from ml.data.images import ImageSet, split_keys
from ml.data.manifest import Manifest, SourceRecord, write_manifest
from ml.data.sources import SourceFile, SourceSet
from ml.errors import DataError
from ml.schemas import TEST, TRAIN, VALID, TableSchema

if TYPE_CHECKING:
    from google.cloud import bigquery

VALID_SIZE = 5000
"""Training images held out for validation (MNIST: 60,000 → 55,000 train + 5,000 valid)."""


@dataclass(frozen=True)
class Split:
    """One table's rows and how they were chosen from the sources."""

    schema: TableSchema
    rows: ImageSet
    sources: tuple[SourceFile, SourceFile]
    selection: str
    classes: int


@dataclass(frozen=True)
class LoadedTable:
    manifest: Manifest
    manifest_uri: str
    seconds: float


def prepare(sources: SourceSet, *, valid_size: int = VALID_SIZE, classes: int | None = None) -> tuple[Split, ...]:
    """Check the source files against each other and cut them into the three tables' rows."""
    train = _image_set(sources.train_images, sources.train_labels)
    test = _image_set(sources.test_images, sources.test_labels)
    if train.image_shape != test.image_shape:
        raise DataError(
            f"training images are {train.image_shape}, test images {test.image_shape}; both files must be of one set"
        )
    classes = classes or int(train.labels.max()) + 1
    if classes < 2:
        raise DataError(f"{sources.train_labels.origin}: every label is 0; a classification set needs two classes")
    for name, rows, origin in (("training", train, sources.train_labels), ("test", test, sources.test_labels)):
        if int(rows.labels.max()) >= classes:
            raise DataError(
                f"{origin.origin}: {name} label {int(rows.labels.max())} is outside the class range 0..{classes - 1}; "
                "check the label file (or --classes)"
            )
    holdout = split_keys(len(train), valid_size)
    train_pair = (sources.train_images, sources.train_labels)
    rule = f"ranked by SHA-256 of 'valid:<key>', the first {valid_size} of {len(train)}"
    return (
        Split(TRAIN, train.take(np.flatnonzero(~holdout)), train_pair, f"not held out ({rule})", classes),
        Split(VALID, train.take(np.flatnonzero(holdout)), train_pair, f"held out ({rule})", classes),
        Split(TEST, test, (sources.test_images, sources.test_labels), "every test image", classes),
    )


def load(context: Context, splits: tuple[Split, ...]) -> Iterator[LoadedTable]:
    """Replace each split's table with its rows and record its manifest; yields as each table is done."""
    for split in tqdm(splits, desc="loading tables", unit="table", leave=False):
        started = time.monotonic()
        table = context.env.table(split.schema)
        job_id = replace_table(context.bigquery, table, split.schema, split.rows)
        manifest = Manifest(
            table=table,
            rows=len(split.rows),
            digest=split.rows.digest(),
            image_shape=split.rows.image_shape,
            classes=split.classes,
            sources=tuple(SourceRecord(f.name, f.origin, f.array.sha256) for f in split.sources),
            selection=split.selection,
            loaded_at=datetime.now(UTC).isoformat(),
            load_job=job_id,
        )
        uri = write_manifest(context, split.schema.table_id, manifest)
        yield LoadedTable(manifest=manifest, manifest_uri=uri, seconds=round(time.monotonic() - started, 2))


def replace_table(bq: bigquery.Client, table: str, schema: TableSchema, rows: ImageSet) -> str:
    """Replace `table`'s content with `rows` in one load job; returns the job id."""
    from google.api_core.exceptions import GoogleAPIError
    from google.cloud import bigquery

    buffer = io.BytesIO()
    pq.write_table(rows.to_arrow(), buffer)
    buffer.seek(0)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        schema=[bigquery.SchemaField.from_api_repr(c) for c in schema.to_api_repr()],
    )
    try:
        job = bq.load_table_from_file(buffer, table, job_config=config)
        job.result()
    except GoogleAPIError as error:
        raise DataError(f"loading {table} failed ({error}); its previous content is unchanged") from None
    if job.output_rows != len(rows):
        raise DataError(f"{table}: the load job wrote {job.output_rows} rows, not {len(rows)}; load again")
    return str(job.job_id)


def _image_set(images: SourceFile, labels: SourceFile) -> ImageSet:
    count_images, count_labels = len(images.array.values), len(labels.array.values)
    if count_images != count_labels:
        raise DataError(
            f"{images.origin} holds {count_images} images but {labels.origin} {count_labels} labels; "
            "use files of the same set"
        )
    return ImageSet(
        keys=np.arange(count_images, dtype=np.int64),
        labels=labels.array.values.astype(np.int64),
        images=images.array.values,
    )
