"""What the pipeline's service accounts may do: the narrowest grants each needs for its job.

The accounts themselves belong to the bootstrap stack (`infra/components/accounts.py`); the
grants here belong to the environment and go with it. Grants sit on the dataset, table or
bucket wherever BigQuery and Cloud Storage allow it; only what has no narrower scope
(running jobs, opening read sessions, the Model Registry, the build's logs, image and the
source bucket Cloud Functions makes) is granted on the project.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.bigquery_dataset_iam_member import BigqueryDatasetIamMember
from cdktn_provider_google.bigquery_table_iam_member import BigqueryTableIamMember
from cdktn_provider_google.project_iam_member import ProjectIamMember, ProjectIamMemberCondition
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from cdktn_provider_time.sleep import Sleep
from constructs import Construct

from infra.components.storage import Buckets
from infra.components.warehouse import Warehouse
from ml import schemas
from ml.environments import Environment

IAM_PROPAGATION = "60s"
"""How long a new grant may take to reach every Google service (the provider's own examples wait 60 s)."""


class Identities(Construct):
    """Grants to `trainer` (load, train, publish), `predictor` (the function), `builder` (its build), `planner`,
    `scheduler` (submitting jobs; its act-as on `trainer` and `monitor` is the bootstrap's) and `monitor`
    (reading the log, writing metrics, submitting retraining)."""

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
        self._depends_on = depends_on
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
        for role in ("roles/bigquery.jobUser", "roles/bigquery.readSessionUser", "roles/aiplatform.user"):
            self.project_grant(f"trainer-{role.split('/')[1]}", role, trainer)
        StorageBucketIamMember(
            self,
            "trainer-models-admin",
            bucket=buckets.models.name,
            role="roles/storage.objectAdmin",
            member=trainer,
        )

        self.project_grant("scheduler-job-submitter", env.job_submitter_role, self.member(env, "scheduler"))

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
        self.project_grant("predictor-jobUser", "roles/bigquery.jobUser", predictor)

        monitor = self.member(env, "monitor")
        for table in (schemas.PREDICTIONS, schemas.FEEDBACK, schemas.MODEL_EVALUATIONS):
            self.table_grant(f"monitor-{table.table_id}-reader", table, "roles/bigquery.dataViewer", monitor)
        # Query jobs; its figures as metrics; the registry (--version); the function's log lines (failed writes).
        for role in (
            "roles/bigquery.jobUser",
            "roles/monitoring.metricWriter",
            "roles/aiplatform.viewer",
            "roles/logging.viewer",
        ):
            self.project_grant(f"monitor-{role.split('/')[1]}", role, monitor)
        if env.monitoring.retrain_on_alert:
            self.project_grant("monitor-job-submitter", env.job_submitter_role, monitor)

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

        # Cloud Functions copies our bundle into `gcf-v2-sources-<project number>-<region>`, a
        # bucket it makes on the first deploy, and Cloud Build reads it from there as `builder`;
        # it then writes the build's logs and pushes the image to `gcf-artifacts`.
        builds = [
            self.project_grant(f"builder-{role.split('/')[1]}", role, builder)
            for role in ("roles/logging.logWriter", "roles/artifactregistry.writer")
        ]
        builds.append(
            self.project_grant(
                "builder-gcf-sources-viewer",
                "roles/storage.objectViewer",
                builder,
                condition=ProjectIamMemberCondition(
                    title="gcf-v2-sources only",
                    description="The buckets Cloud Functions copies function sources into.",
                    expression="resource.name.startsWith('projects/_/buckets/gcf-v2-sources-')",
                ),
            )
        )
        # The function waits for these grants to reach Cloud Build (terraform-provider-google#20571).
        self.builds_allowed = Sleep(
            self, "builder-grants-propagate", create_duration=IAM_PROPAGATION, depends_on=builds
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

    def project_grant(
        self, id_: str, role: str, member: str, condition: ProjectIamMemberCondition | None = None
    ) -> ProjectIamMember:
        return ProjectIamMember(
            self,
            id_,
            project=self._env.project,
            role=role,
            member=member,
            condition=condition,
            depends_on=self._depends_on,
        )
