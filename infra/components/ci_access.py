"""Keyless access for GitHub Actions: Workload Identity Federation and the CI identities.

Tokens are accepted only from `env.github_repository`, and only for pull requests, the main
branch and the GitHub environment named like this one. Any of those may impersonate
`planner` (read-only: pull-request plans and the drift check); only a job running in the
GitHub environment `env.name` (where branch rules and required reviewers apply) may
impersonate `deployer`. No key is ever created.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.iam_workload_identity_pool import IamWorkloadIdentityPool
from cdktn_provider_google.iam_workload_identity_pool_provider import (
    IamWorkloadIdentityPoolProvider,
    IamWorkloadIdentityPoolProviderOidc,
)
from cdktn_provider_google.project_iam_member import ProjectIamMember
from cdktn_provider_google.service_account import ServiceAccount
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.components.identity import Identities, service_account
from infra.components.storage import Buckets
from infra.errors import StackError
from ml.environments import Environment

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

# Read-only roles for exactly the resource kinds the stack declares (refreshed by `plan`).
PLANNER_ROLES: tuple[str, ...] = (
    "roles/aiplatform.viewer",
    "roles/bigquery.metadataViewer",
    "roles/cloudfunctions.viewer",
    "roles/iam.securityReviewer",  # the IAM policies of the project, buckets, tables and accounts
    "roles/iam.serviceAccountViewer",
    "roles/iam.workloadIdentityPoolViewer",
    "roles/run.viewer",
    "roles/serviceusage.serviceUsageViewer",
    "roles/storage.bucketViewer",
)
DEPLOYER_ROLES: tuple[str, ...] = (
    "roles/aiplatform.user",
    "roles/bigquery.dataOwner",
    "roles/cloudfunctions.developer",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.workloadIdentityPoolAdmin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/run.admin",  # sets the invoker policy on the function's Cloud Run service
    "roles/serviceusage.serviceUsageAdmin",
    "roles/storage.admin",
)


class CiAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        identities: Identities,
        buckets: Buckets,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if env.github_repository is None or env.state_bucket is None:
            raise StackError(
                f"environment {env.name!r} needs github_repository and state_bucket for CI access: "
                "set them in ml/environments.py"
            )
        self.pool = IamWorkloadIdentityPool(
            self,
            "pool",
            project=env.project,
            workload_identity_pool_id=f"{env.prefix}-github",
            display_name=f"GitHub Actions ({env.name})",
            depends_on=depends_on,
        )
        self.provider = IamWorkloadIdentityPoolProvider(
            self,
            "github",
            project=env.project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="github",
            display_name="GitHub OIDC",
            attribute_mapping={
                "google.subject": "assertion.sub",
                "attribute.repository": "assertion.repository",
            },
            attribute_condition=_trusted_subjects(env.github_repository, env.name),
            oidc=IamWorkloadIdentityPoolProviderOidc(issuer_uri=GITHUB_ISSUER),
        )
        self.planner = service_account(self, env, "planner", "Plans infrastructure changes (read-only).", depends_on)
        self.deployer = service_account(self, env, "deployer", "Applies infrastructure changes from main.", depends_on)
        self._bind(
            self.planner,
            "planner",
            f"principalSet://iam.googleapis.com/{self.pool.name}/attribute.repository/{env.github_repository}",
        )
        self._bind(
            self.deployer,
            "deployer",
            f"principal://iam.googleapis.com/{self.pool.name}/subject/repo:{env.github_repository}:environment:{env.name}",
        )

        planner, deployer = Identities.member(self.planner), Identities.member(self.deployer)
        for role in PLANNER_ROLES:
            ProjectIamMember(self, f"planner-{role.split('/')[1]}", project=env.project, role=role, member=planner)
        for role in DEPLOYER_ROLES:
            ProjectIamMember(self, f"deployer-{role.split('/')[1]}", project=env.project, role=role, member=deployer)
        # The function is deployed to run as `predictor` and built as `builder`: the deployer
        # may act as those two accounts only, not as every account of the project.
        for name, account in (("predictor", identities.predictor), ("builder", identities.builder)):
            ServiceAccountIamMember(
                self,
                f"deployer-acts-as-{name}",
                service_account_id=account.name,
                role="roles/iam.serviceAccountUser",
                member=deployer,
            )
        # The state bucket is created by hand before the first apply (README, "Bootstrap").
        # Plans run without taking the state lock, so the planner only reads. It also reads
        # the function's source object, which `plan` compares with the bundle.
        for bucket, id_ in ((env.state_bucket, "state"), (buckets.function_source.name, "source")):
            StorageBucketIamMember(
                self, f"planner-{id_}-reader", bucket=bucket, role="roles/storage.objectViewer", member=planner
            )
        StorageBucketIamMember(
            self, "deployer-state-writer", bucket=env.state_bucket, role="roles/storage.objectUser", member=deployer
        )

    def _bind(self, account: ServiceAccount, role: str, principal: str) -> None:
        """Let `principal` (federated GitHub tokens) impersonate `account`."""
        ServiceAccountIamMember(
            self,
            f"{role}-workload-identity",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=principal,
        )


def _trusted_subjects(repository: str, environment: str) -> str:
    """CEL condition: tokens of `repository` for pull requests, main, or the GitHub environment."""
    subjects = (f"environment:{environment}", "pull_request", "ref:refs/heads/main")
    any_subject = " || ".join(f"assertion.sub == 'repo:{repository}:{s}'" for s in subjects)
    return f"assertion.repository == '{repository}' && ({any_subject})"
