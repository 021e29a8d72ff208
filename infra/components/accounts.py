"""Every service account of a cloud environment, made once by the bootstrap stack.

The accounts outlive the environment: `make destroy` keeps them, so a recreated environment
finds the same identities, and the `deployer` never needs to create accounts or change
their policies (which would let it grant itself any of them). The pipeline stack refers to
them by email (`Environment.service_account_email`).
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.project_iam_custom_role import ProjectIamCustomRole
from cdktn_provider_google.service_account import ServiceAccount
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from constructs import Construct

from infra.grants import ACCOUNTS, CI_ACCOUNTS, granted
from ml.environments import Environment


class Accounts(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.by_role = {
            role: ServiceAccount(
                self,
                role,
                project=env.project,
                account_id=env.service_account_id(role),
                display_name=f"MNIST pipeline {role} ({env.name})",
                description=purpose,
                depends_on=depends_on,
            )
            for role, purpose in ACCOUNTS.items()
        }
        # Cloud Run accepts only ID tokens, which google-auth mints for a person's credentials
        # only by impersonating a service account: the environment's invokers and operators may do
        # that, for `invoker` (and `trainer`, which the pipeline runs as, calls the function too).
        # Operators may also act as `trainer`, whose access `make smoke` checks.
        token_creators = (
            (
                "invoker-token",
                "invoker",
                "roles/iam.serviceAccountOpenIdTokenCreator",
                (*env.function.invokers, *env.operators),
            ),
            ("operator-acts-as-trainer", "trainer", "roles/iam.serviceAccountTokenCreator", env.operators),
        )
        for id_prefix, account, role, members in token_creators:
            for index, member in enumerate(dict.fromkeys(members)):
                ServiceAccountIamMember(
                    self,
                    f"{id_prefix}-{index}",
                    service_account_id=self.by_role[account].name,
                    role=role,
                    member=member,
                )

        # The scheduler submits jobs that run as `trainer`: it may create them, and act as trainer for
        # them, and nothing else. The role is the project's; infra/grants.py grants it.
        self.job_submitter = ProjectIamCustomRole(
            self,
            "job-submitter",
            project=env.project,
            role_id=env.job_submitter_role.rsplit("/", 1)[1],
            title=f"MNIST pipeline job submitter ({env.name})",
            description="Creates Vertex AI custom jobs; nothing else.",
            permissions=["aiplatform.customJobs.create"],
            depends_on=depends_on,
        )
        # Acting as another account: its rows in infra/grants.py (CI's are ci_access.py's).
        for grant in granted(env, on="account"):
            if grant.account not in CI_ACCOUNTS:
                ServiceAccountIamMember(
                    self,
                    grant.id,
                    service_account_id=self.by_role[grant.on.split(":", 1)[1]].name,
                    role=grant.role,
                    member=self.member(grant.account),
                )

    def member(self, role: str) -> str:
        return f"serviceAccount:{self.by_role[role].email}"
