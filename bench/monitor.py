"""The monitor's wall time on a growing prediction log, on one emulator, against pulling the rows.

The log grows to 10,000, 100,000 and 1,000,000 predictions (requests of 100 instances spread
over the last 23 hours, feedback on a tenth of them, one version with its recorded profile).
At each size: (a) `monitor()`, its SQL run where the rows are; (b) what a monitor computing in Python
starts with: the window's rows (predicted class, probabilities, latency) pulled into numpy, once.

    .venv/bin/python -m bench.monitor [--sizes 10000 100000 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.cloud import private_cloud
from ml.context import Context
from ml.monitoring.monitor import monitor
from ml.schemas import FEEDBACK, MODEL_EVALUATIONS, PREDICTIONS
from ml.training.host import this_machine

REQUEST = 100
"""Instances per request."""
WINDOW = timedelta(hours=24)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    machine = this_machine()
    print(f"{machine.cpu_model}, {machine.cpu_count} cores; the emulator, the monitor and the pull share them")
    with private_cloud() as cloud:
        context = cloud.context
        _baseline(context)
        logged, rows = 0, []
        for size in sorted(args.sizes):
            started = time.monotonic()
            _append(context, logged, size - logged, np.random.default_rng(size))
            logged = size
            print(f"{size:>9,} predictions logged in {time.monotonic() - started:.1f} s", flush=True)
            sql = _median(lambda: monitor(context, WINDOW), args.repeat)
            pulled = _median(lambda: _pull(context), 1)
            rows.append((size, sql, pulled))
    print()
    print("| predictions | monitor (SQL) | rows pulled to numpy | pulled / SQL |")
    print("|---:|---:|---:|---:|")
    for size, sql, pulled in rows:
        print(f"| {size:,} | {sql:.2f} s | {pulled:.2f} s | {pulled / sql:.1f}x |")


def _baseline(context: Context) -> None:
    """Version 1's evaluation with the profile the monitor measures drift against."""
    profile = {"class_distribution": [0.1] * 10, "confidence_histogram": [0.0] * 5 + [0.02] * 4 + [0.92]}
    row = {
        "model": context.env.model_name,
        "model_version": "1",
        "data_table": context.env.table(PREDICTIONS),
        "data_snapshot_time": datetime.now(UTC).isoformat(),
        "data_digest": "bench",
        "metrics": json.dumps({"examples": 1, "accuracy": 0.99, "loss": 0.03, "per_class": [], "profile": profile}),
        "evaluated_at": datetime.now(UTC).isoformat(),
    }
    errors = context.bigquery.insert_rows_json(context.env.table(MODEL_EVALUATIONS), [row])
    assert not errors, errors


def _append(context: Context, start: int, count: int, rng: np.random.Generator) -> None:
    """`count` more predictions (and feedback on a tenth), loaded as Parquet in one job per table."""
    now = datetime.now(UTC)
    index = np.arange(start, start + count)
    requests = np.char.add("bench-", (index // REQUEST).astype(str))
    logits = rng.normal(size=(count, 10)) + 6 * np.eye(10)[rng.integers(0, 10, count)]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    seconds = rng.uniform(60, 23 * 3600, count // REQUEST + 1)[(index - start) // REQUEST]
    times = pa.array([now - timedelta(seconds=float(s)) for s in seconds], pa.timestamp("us", tz="UTC"))
    predictions = pa.table(
        {
            "request_id": requests,
            "instance_index": index % REQUEST,
            "prediction_time": times,
            "model": [context.env.model_name] * count,
            "model_version": ["1"] * count,
            "predicted_class": probabilities.argmax(axis=1),
            "probabilities": list(probabilities),
            "latency_ms": rng.gamma(4, 5, count // REQUEST + 1)[(index - start) // REQUEST],
            "instance_sha256": ["0" * 64] * count,
        }
    )
    labelled = (index // REQUEST) % 10 == 0
    truth = np.where(rng.random(count) < 0.97, probabilities.argmax(axis=1), rng.integers(0, 10, count))
    feedback = pa.table(
        {
            "request_id": requests[labelled],
            "instance_index": (index % REQUEST)[labelled],
            "label": truth[labelled],
            "feedback_time": times.filter(pa.array(labelled)),
        }
    )
    for schema, table in ((PREDICTIONS, predictions), (FEEDBACK, feedback)):
        _load(context, schema.table_id, table)


def _load(context: Context, table_id: str, table: pa.Table) -> None:
    from google.cloud import bigquery

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    config = bigquery.LoadJobConfig(source_format="PARQUET", write_disposition="WRITE_APPEND")
    destination = f"{context.env.project}.{context.env.dataset_id}.{table_id}"
    context.bigquery.load_table_from_file(buffer, destination, job_config=config).result()


def _pull(context: Context) -> Any:
    """The window's rows in numpy, as a monitor computing in Python would start: its figures not yet computed."""
    query = (
        f"SELECT predicted_class, probabilities, latency_ms FROM `{context.env.table(PREDICTIONS)}` "
        "WHERE prediction_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR)"
    )
    table = context.bigquery.query(query).result().to_arrow(create_bqstorage_client=False)
    return np.stack(table["probabilities"].to_numpy(zero_copy_only=False))


def _median(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        run()
        times.append(time.monotonic() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
