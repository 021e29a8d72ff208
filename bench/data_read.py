"""Read MNIST's 60,000 training images back from BigQuery three ways, on one emulator, side by side.

(a) `ml.data.read_table`: Storage Read API, Arrow, `BYTES` decoded into numpy without a loop;
(b) the 2019 method: images as comma-separated STRINGs, `list_rows(...).to_arrow().to_pydict()`
    and one `np.asarray(s.split(","))` per row;
(c) a plain Storage Read API Arrow read of the `BYTES` table, nothing decoded.

    .venv/bin/python -m bench.data_read [--mnist-dir DIR] [--repeat 3]

Targets: (a) at least 20x faster than (b), at most 2x (c); (a) and (b) byte-exact.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import mnist_dir
from bench.cloud import private_cloud
from ml.data.images import ImageSet
from ml.data.loader import Split, load
from ml.data.reader import read_table
from ml.data.sources import from_directory
from ml.schemas import TRAIN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    sources = from_directory(mnist_dir(args.mnist_dir))
    images, labels = sources.train_images.array.values, sources.train_labels.array.values
    rows = ImageSet(keys=np.arange(len(images), dtype=np.int64), labels=labels.astype(np.int64), images=images)
    with private_cloud() as cloud:
        context, env = cloud.context, cloud.env
        split = Split(TRAIN, rows, (sources.train_images, sources.train_labels), "all training images", 10)
        list(load(context, (split,)))
        bq = context.bigquery
        csv_table = f"{env.project}.{env.dataset_id}.train_csv"
        _load_csv_table(bq, csv_table, rows)

        def reader() -> ImageSet:
            return read_table(context, "train").rows

        def original() -> ImageSet:
            columns = bq.list_rows(csv_table).to_arrow(create_bqstorage_client=False).to_pydict()
            pixels = np.stack([np.asarray(s.split(",")) for s in columns["image"]]).astype(np.uint8)
            return ImageSet(np.asarray(columns["key"]), np.asarray(columns["label"]), pixels.reshape(-1, 28, 28))

        def original_typed() -> ImageSet:
            columns = bq.list_rows(csv_table).to_arrow(create_bqstorage_client=False).to_pydict()
            pixels = np.stack([np.asarray(s.split(","), dtype=np.uint8) for s in columns["image"]])
            return ImageSet(np.asarray(columns["key"]), np.asarray(columns["label"]), pixels.reshape(-1, 28, 28))

        def plain_arrow() -> pa.Table:
            from google.cloud.bigquery_storage_v1 import types

            session = context.bigquery_read.create_read_session(
                parent=f"projects/{env.project}",
                read_session=types.ReadSession(
                    table=f"projects/{env.project}/datasets/{env.dataset_id}/tables/train",
                    data_format=types.DataFormat.ARROW,
                ),
                max_stream_count=1,
            )
            return context.bigquery_read.read_rows(session.streams[0].name).to_arrow(session)  # type: ignore[no-untyped-call]

        timings = {
            name: _time(fn, args.repeat)
            for name, fn in (("a", reader), ("b", original), ("b'", original_typed), ("c", plain_arrow))
        }
    a, b, b_typed, c = (timings[k][0] for k in ("a", "b", "b'", "c"))
    B_TYPED = "b'"  # noqa: N806
    exact = {k: _equal(timings[k][1].sorted_by_key(), rows) for k in ("a", "b", "b'")}
    print(f"60,000 MNIST training images, median of {args.repeat} runs, one bqemulator on loopback")
    print(f"(a)  ml.data.read_table: Storage Read API, Arrow, no loop   {a:7.3f} s   byte-exact: {exact['a']}")
    print(f"(b)  STRING column, list_rows().to_arrow().to_pydict(),     {b:7.3f} s   byte-exact: {exact['b']}")
    print("     per row np.asarray(s.split(',')), then .astype(uint8)")
    print(
        f"(b') the same, per row np.asarray(s.split(','), uint8)      {b_typed:7.3f} s   byte-exact: {exact[B_TYPED]}"
    )
    print(f"(c)  plain Storage Read API Arrow read, nothing decoded     {c:7.3f} s")
    print(f"(b)/(a)  = {b / a:6.1f}x   (target >= 20)")
    print(f"(b')/(a) = {b_typed / a:6.1f}x")
    print(f"(a)/(c)  = {a / c:6.2f}x   (target <= 2)")


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def _equal(read: ImageSet, source: ImageSet) -> bool:
    return bool(
        np.array_equal(read.keys, source.keys)
        and np.array_equal(read.labels, source.labels)
        and np.array_equal(read.images, source.images)
    )


def _load_csv_table(bq: Any, table: str, rows: ImageSet) -> None:
    """The 2019 layout: the same rows with each image as a comma-separated STRING of its pixels."""
    from google.cloud import bigquery

    flat = rows.images.reshape(len(rows), -1)
    strings = pa.array([",".join(map(str, pixels)) for pixels in flat.tolist()])
    buffer = io.BytesIO()
    pq.write_table(pa.table({"key": rows.keys, "label": rows.labels, "image": strings}), buffer)
    buffer.seek(0)
    schema = [
        bigquery.SchemaField("key", "INT64"),
        bigquery.SchemaField("label", "INT64"),
        bigquery.SchemaField("image", "STRING"),
    ]
    config = bigquery.LoadJobConfig(source_format="PARQUET", schema=schema, write_disposition="WRITE_TRUNCATE")
    bq.load_table_from_file(buffer, table, job_config=config).result()


if __name__ == "__main__":
    main()
