"""`model_evaluations`: each version's metrics on a data snapshot, written by the publish flow, read back by
`python -m ml predict` to compare the endpoint's online accuracy with the recorded one."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from ml.context import Context
from ml.errors import RegistryError
from ml.records import Metrics, TableLineage
from ml.schemas import MODEL_EVALUATIONS


def record_evaluations(
    context: Context, model: str, evaluations: list[tuple[str, Metrics]], lineage: TableLineage
) -> None:
    """Append one row per evaluation; row ids make a rerun of the same publish not add them twice."""
    evaluated_at = datetime.now(UTC).isoformat()
    rows, ids = [], []
    for version, metrics in evaluations:
        rows.append(
            {
                "model": model,
                "model_version": version,
                "data_table": lineage.table,
                "data_snapshot_time": lineage.snapshot_time,
                "data_digest": lineage.digest,
                "metrics": json.dumps(metrics.to_json_object()),
                "evaluated_at": evaluated_at,
            }
        )
        ids.append(hashlib.sha256(f"{model}:{version}:{lineage.digest}:{lineage.snapshot_time}".encode()).hexdigest())
    table = context.env.table(MODEL_EVALUATIONS)
    errors = context.bigquery.insert_rows_json(table, rows, row_ids=ids)
    if errors:
        raise RegistryError(f"writing {table} failed ({errors}); publish the run again to record the evaluations")


def recorded_metrics(context: Context, model: str, version: str, digest: str) -> Metrics | None:
    """The version's metrics on the rows whose digest is `digest`, as last recorded; None if never."""
    from google.cloud import bigquery

    query = (
        f"SELECT metrics FROM `{context.env.table(MODEL_EVALUATIONS)}` "
        "WHERE model = @model AND model_version = @version AND data_digest = @digest "
        "ORDER BY evaluated_at DESC LIMIT 1"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("model", "STRING", model),
            bigquery.ScalarQueryParameter("version", "STRING", version),
            bigquery.ScalarQueryParameter("digest", "STRING", digest),
        ]
    )
    rows = list(context.bigquery.query(query, job_config=config).result())
    if not rows:
        return None
    metrics = rows[0]["metrics"]
    return Metrics.from_json_object(json.loads(metrics) if isinstance(metrics, str) else metrics)
