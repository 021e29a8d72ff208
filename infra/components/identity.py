"""The accounts' grants on the environment's dataset, tables and buckets (`infra/grants.py`).

They belong to those resources and go with them, in the pipeline stack; the accounts and their
project-wide grants are the bootstrap stack's, which only an administrator applies.
"""

from __future__ import annotations

from cdktn_provider_google.bigquery_dataset_iam_member import BigqueryDatasetIamMember
from cdktn_provider_google.bigquery_table_iam_member import BigqueryTableIamMember
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.components.storage import Buckets
from infra.components.warehouse import Warehouse
from infra.grants import granted
from ml.environments import Environment


class Identities(Construct):
    """The grants of `infra/grants.py` on the environment's dataset, tables and buckets."""

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
        names = {"models": buckets.models.name, "function-source": buckets.function_source.name}
        for grant in granted(env, on="dataset"):
            BigqueryDatasetIamMember(
                self,
                grant.id,
                project=env.project,
                dataset_id=warehouse.dataset.dataset_id,
                role=grant.role,
                member=self.member(env, grant.account),
            )
        for grant in granted(env, on="table"):
            BigqueryTableIamMember(
                self,
                grant.id,
                project=env.project,
                dataset_id=warehouse.dataset.dataset_id,
                table_id=warehouse.tables[grant.on.split(":", 1)[1]].table_id,
                role=grant.role,
                member=self.member(env, grant.account),
            )
        for grant in granted(env, on="bucket"):
            bucket = grant.on.split(":", 1)[1]
            if bucket in names:  # the state bucket's are the bootstrap's (ci_access.py)
                StorageBucketIamMember(
                    self, grant.id, bucket=names[bucket], role=grant.role, member=self.member(env, grant.account)
                )

    @staticmethod
    def member(env: Environment, account: str) -> str:
        return f"serviceAccount:{env.service_account_email(account)}"
