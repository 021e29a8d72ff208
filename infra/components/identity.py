"""The pipeline's service accounts and the narrowest grants each needs to do its job.

Grants sit on the dataset, table or bucket wherever BigQuery and Cloud Storage allow it;
only what has no narrower scope (running jobs, opening read sessions, the Model Registry,
writing build logs and images) is granted on the project.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.bigquery_dataset_iam_member import BigqueryDatasetIamMember
from cdktn_provider_google.bigquery_table_iam_member import BigqueryTableIamMember
from cdktn_provider_google.project_iam_member import ProjectIamMember
from cdktn_provider_google.service_account import ServiceAccount
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.components.storage import Buckets
from infra.components.warehouse import Warehouse
from ml import schemas
from ml.environments import Environment


def service_account(
    scope: Construct, env: Environment, role: str, what: str, depends_on: Sequence[ITerraformDependable] | None
) -> ServiceAccount:
    """The service account `<prefix>-<role>` of `env`, declared in `scope` under the id `role`."""
    return ServiceAccount(
        scope,
        role,
        project=env.project,
        account_id=env.service_account_id(role),
        display_name=f"MNIST pipeline {role} ({env.name})",
        description=what,
        depends_on=depends_on,
    )


class Identities(Construct):
    """`trainer` (load, train, publish), `predictor` (the function), `builder` (its build)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        warehouse: Warehouse,
        buckets: Buckets,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self._env = env

        def account(role: str, what: str) -> ServiceAccount:
            return service_account(self, env, role, what, depends_on)

        self.trainer = account("trainer", "Loads MNIST into BigQuery, trains, evaluates and publishes.")
        self.predictor = account("predictor", "Runtime identity of the predict function.")
        self.builder = account("builder", "Builds the predict function's container (Cloud Build).")

        trainer = self.member(self.trainer)
        BigqueryDatasetIamMember(
            self,
            "trainer-dataset-editor",
            project=env.project,
            dataset_id=warehouse.dataset.dataset_id,
            role="roles/bigquery.dataEditor",
            member=trainer,
        )
        for role in ("roles/bigquery.jobUser", "roles/bigquery.readSessionUser", "roles/aiplatform.user"):
            self.project_grant(f"trainer-{role.split('/')[1]}", role, trainer)
        StorageBucketIamMember(
            self,
            "trainer-models-admin",
            bucket=buckets.models.name,
            role="roles/storage.objectAdmin",
            member=trainer,
        )

        predictor = self.member(self.predictor)
        StorageBucketIamMember(
            self,
            "predictor-models-viewer",
            bucket=buckets.models.name,
            role="roles/storage.objectViewer",
            member=predictor,
        )
        BigqueryTableIamMember(
            self,
            "predictor-predictions-writer",
            project=env.project,
            dataset_id=warehouse.dataset.dataset_id,
            table_id=warehouse.tables[schemas.PREDICTIONS.table_id].table_id,
            role="roles/bigquery.dataEditor",
            member=predictor,
        )

        builder = self.member(self.builder)
        for role in ("roles/logging.logWriter", "roles/artifactregistry.writer"):
            self.project_grant(f"builder-{role.split('/')[1]}", role, builder)
        StorageBucketIamMember(
            self,
            "builder-source-viewer",
            bucket=buckets.function_source.name,
            role="roles/storage.objectViewer",
            member=builder,
        )

    @staticmethod
    def member(account: ServiceAccount) -> str:
        return f"serviceAccount:{account.email}"

    def project_grant(self, id_: str, role: str, member: str) -> ProjectIamMember:
        return ProjectIamMember(self, id_, project=self._env.project, role=role, member=member)
