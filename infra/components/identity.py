"""What the pipeline's service accounts may do: the narrowest grants each needs for its job.

The accounts themselves belong to the bootstrap stack (`infra/components/accounts.py`), and so
do their project-wide grants (`project_grants.py`), which only an administrator applies. The
grants here sit on the dataset, tables and buckets of the environment: they belong to those
resources and go with them.
"""

from __future__ import annotations

from cdktn_provider_google.bigquery_dataset_iam_member import BigqueryDatasetIamMember
from cdktn_provider_google.bigquery_table_iam_member import BigqueryTableIamMember
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.components.storage import Buckets
from infra.components.warehouse import Warehouse
from ml import schemas
from ml.environments import Environment


class Identities(Construct):
    """Grants on the environment's data and buckets to `trainer` (load, train, publish), `predictor` (the
    function), `builder` (its build), `planner` and `monitor` (reading the log)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        warehouse: Warehouse,
        buckets: Buckets,
    ) -> None:
        super().__init__(scope, id_)
        self._env = env
        self._warehouse = warehouse
        trainer, predictor, builder = (self.member(env, role) for role in ("trainer", "predictor", "builder"))

        BigqueryDatasetIamMember(
            self,
            "trainer-dataset-editor",
            project=env.project,
            dataset_id=warehouse.dataset.dataset_id,
            role="roles/bigquery.dataEditor",
            member=trainer,
        )
        StorageBucketIamMember(
            self,
            "trainer-models-admin",
            bucket=buckets.models.name,
            role="roles/storage.objectAdmin",
            member=trainer,
        )

        StorageBucketIamMember(
            self,
            "predictor-models-viewer",
            bucket=buckets.models.name,
            role="roles/storage.objectViewer",
            member=predictor,
        )
        # The function appends to `predictions` and `feedback`, and reads `predictions` to check feedback.
        for table in (schemas.PREDICTIONS, schemas.FEEDBACK):
            self.table_grant(f"predictor-{table.table_id}-writer", table, "roles/bigquery.dataEditor", predictor)

        monitor = self.member(env, "monitor")
        for table in (schemas.PREDICTIONS, schemas.FEEDBACK, schemas.MODEL_EVALUATIONS):
            self.table_grant(f"monitor-{table.table_id}-reader", table, "roles/bigquery.dataViewer", monitor)

        # `make image` stages the training image's build context there, for Cloud Build to read as `builder`.
        StorageBucketIamMember(
            self,
            "builder-source-viewer",
            bucket=buckets.function_source.name,
            role="roles/storage.objectViewer",
            member=builder,
        )

        # `plan` compares the function's bundle with the object in the source bucket.
        StorageBucketIamMember(
            self,
            "planner-source-viewer",
            bucket=buckets.function_source.name,
            role="roles/storage.objectViewer",
            member=self.member(env, "planner"),
        )

    @staticmethod
    def member(env: Environment, role: str) -> str:
        return f"serviceAccount:{env.service_account_email(role)}"

    def table_grant(self, id_: str, table: schemas.TableSchema, role: str, member: str) -> BigqueryTableIamMember:
        return BigqueryTableIamMember(
            self,
            id_,
            project=self._env.project,
            dataset_id=self._warehouse.dataset.dataset_id,
            table_id=self._warehouse.tables[table.table_id].table_id,
            role=role,
            member=member,
        )
