"""The BigQuery dataset and its tables, built from the schemas in `ml.schemas`."""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.bigquery_dataset import BigqueryDataset
from cdktn_provider_google.bigquery_table import BigqueryTable, BigqueryTableTimePartitioning
from constructs import Construct

from ml import schemas
from ml.environments import Environment

_MS_PER_DAY = 86_400_000


class Warehouse(Construct):
    """Dataset `<prefix>_mnist` with the image splits, the prediction log and the evaluations."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.dataset = BigqueryDataset(
            self,
            "dataset",
            project=env.project,
            dataset_id=env.dataset_id,
            location=env.bq_location,
            description="MNIST pipeline: image splits, prediction log and model evaluations.",
            labels=env.labels,
            delete_contents_on_destroy=not env.protections.deletion_protection,
            depends_on=depends_on,
        )
        self.tables: dict[str, BigqueryTable] = {}
        for table in schemas.TABLES:
            partitioning = None
            if table.partition_field is not None:
                partitioning = BigqueryTableTimePartitioning(
                    type="DAY",
                    field=table.partition_field,
                    expiration_ms=env.predictions_partition_expiration_days * _MS_PER_DAY,
                )
            self.tables[table.table_id] = BigqueryTable(
                self,
                table.table_id,
                project=env.project,
                dataset_id=self.dataset.dataset_id,
                table_id=table.table_id,
                description=table.description,
                schema=table.to_terraform_json(),
                time_partitioning=partitioning,
                clustering=list(table.clustering) or None,
                labels=env.labels,
                deletion_protection=env.protections.deletion_protection,
            )
