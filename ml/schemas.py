"""The BigQuery tables of the pipeline: columns, partitioning and clustering, defined once.

`infra/` declares the tables from these definitions and `ml/` reads and writes them, so a
column can never exist in one and not the other. Only plain data lives here: importing this
module needs neither the BigQuery client nor CDK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

FieldType = Literal["INT64", "FLOAT64", "STRING", "BYTES", "TIMESTAMP", "JSON", "BOOL"]
Mode = Literal["REQUIRED", "NULLABLE", "REPEATED"]


@dataclass(frozen=True)
class Column:
    name: str
    type: FieldType
    mode: Mode
    description: str

    def to_api_repr(self) -> dict[str, str]:
        """The column as the BigQuery REST API (and Terraform's `schema`) spells it."""
        return {"description": self.description, "mode": self.mode, "name": self.name, "type": self.type}


@dataclass(frozen=True)
class TableSchema:
    table_id: str
    description: str
    columns: tuple[Column, ...]
    partition_field: str | None = None
    """Column the table is partitioned on by day (None: not partitioned)."""
    clustering: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def to_api_repr(self) -> list[dict[str, str]]:
        return [c.to_api_repr() for c in self.columns]

    def to_terraform_json(self) -> str:
        """The schema as Terraform's `schema` attribute wants it.

        Keys are sorted: the provider compares the JSON it reads back from the API with this
        string, and any other order shows as a perpetual diff in every plan.
        """
        return json.dumps(self.to_api_repr(), sort_keys=True, separators=(",", ":"))


def _image_split(table_id: str, what: str) -> TableSchema:
    return TableSchema(
        table_id=table_id,
        description=f"MNIST {what}: one row per image, pixels stored losslessly.",
        columns=(
            Column("key", "INT64", "REQUIRED", "Index of the image in its source IDX file."),
            Column("label", "INT64", "REQUIRED", "Class of the image, 0..classes-1."),
            Column("image", "BYTES", "REQUIRED", "Raw uint8 pixels, row-major (784 bytes for 28x28)."),
        ),
    )


TRAIN = _image_split("train", "training split (55,000 of the 60,000 training images)")
VALID = _image_split("valid", "validation split (5,000 of the 60,000 training images)")
TEST = _image_split("test", "test set (the 10,000 test images)")

PREDICTIONS = TableSchema(
    table_id="predictions",
    description="Every prediction the serving endpoint made, one row per instance.",
    columns=(
        Column("request_id", "STRING", "REQUIRED", "Id of the HTTP request the instance came in."),
        Column("instance_index", "INT64", "REQUIRED", "Position of the instance in its request."),
        Column("prediction_time", "TIMESTAMP", "REQUIRED", "When the prediction was made (UTC)."),
        Column("model", "STRING", "REQUIRED", "Registry name of the model that answered."),
        Column("model_version", "STRING", "REQUIRED", "Registry version id of the model that answered."),
        Column("predicted_class", "INT64", "REQUIRED", "Class id with the highest probability."),
        Column("probabilities", "FLOAT64", "REPEATED", "Probability of each class."),
        Column("latency_ms", "FLOAT64", "REQUIRED", "Time spent serving the request, in milliseconds."),
        Column("instance_sha256", "STRING", "REQUIRED", "SHA-256 of the decoded uint8 image."),
    ),
    partition_field="prediction_time",
    clustering=("model_version",),
)

FEEDBACK = TableSchema(
    table_id="feedback",
    description="True labels people or systems sent back for predicted instances (POST /feedback).",
    columns=(
        Column("request_id", "STRING", "REQUIRED", "Id of the prediction request the labels are for."),
        Column("instance_index", "INT64", "REQUIRED", "Position of the instance in that request."),
        Column("label", "INT64", "REQUIRED", "The instance's true class id."),
        Column("feedback_time", "TIMESTAMP", "REQUIRED", "When the label was received (UTC); the latest one counts."),
    ),
    partition_field="feedback_time",
    clustering=("request_id",),
)

MODEL_EVALUATIONS = TableSchema(
    table_id="model_evaluations",
    description="Evaluations of model versions on a data snapshot (champion/challenger gate).",
    columns=(
        Column("model", "STRING", "REQUIRED", "Registry name of the model."),
        Column("model_version", "STRING", "REQUIRED", "Registry version id."),
        Column("data_table", "STRING", "REQUIRED", "Fully qualified table the evaluation read."),
        Column("data_snapshot_time", "TIMESTAMP", "REQUIRED", "Snapshot of the table that was read."),
        Column("data_digest", "STRING", "REQUIRED", "SHA-256 digest of the rows that were read."),
        Column("metrics", "JSON", "REQUIRED", "Accuracy, loss and per-class metrics."),
        Column("evaluated_at", "TIMESTAMP", "REQUIRED", "When the evaluation ran (UTC)."),
    ),
)

TABLES: tuple[TableSchema, ...] = (TRAIN, VALID, TEST, PREDICTIONS, FEEDBACK, MODEL_EVALUATIONS)
