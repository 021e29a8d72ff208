"""Keyless access for GitHub Actions: Workload Identity Federation and what CI may do.

Tokens are accepted only from the repository with `env.github_repository_id` (its name alone
could be taken by someone else once deleted), and only for pull requests, the deploy
branch, and jobs of the GitHub environment named like this one that run on the deploy
branch. Any of those may impersonate `planner` (read-only: pull-request plans and the drift
check); only the environment's jobs on the deploy branch may impersonate `deployer`.

The deployer holds what applying the pipeline stack takes, and no more than it: it grants
nothing on the project (the accounts' project-wide grants are the bootstrap's,
`project_grants.py`), its Cloud Storage admin reaches only the environment's own buckets (not
the bootstrap's state, nor another environment's), and it may act only as the accounts the
stack deploys with (`deploys_as`). It cannot create accounts or change their policies.
No key is ever created.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.iam_workload_identity_pool import IamWorkloadIdentityPool
from cdktn_provider_google.iam_workload_identity_pool_provider import (
    IamWorkloadIdentityPoolProvider,
    IamWorkloadIdentityPoolProviderOidc,
)
from cdktn_provider_google.project_iam_member import ProjectIamMember, ProjectIamMemberCondition
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket import StorageBucket
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.components.accounts import Accounts
from infra.errors import StackError
from ml.environments import Environment

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

# Read-only roles for exactly the resource kinds the pipeline stack declares (refreshed by `plan`).
PLANNER_ROLES: tuple[str, ...] = (
    "roles/aiplatform.viewer",
    "roles/artifactregistry.reader",
    "roles/bigquery.metadataViewer",
    "roles/cloudfunctions.viewer",
    "roles/cloudscheduler.viewer",
    "roles/iam.securityReviewer",  # the IAM policies of the project, buckets, tables and the service
    "roles/logging.viewer",  # the log-based metric
    "roles/monitoring.viewer",  # alert policies and notification channels
    "roles/run.viewer",
    "roles/serviceusage.serviceUsageViewer",
    "roles/storage.bucketViewer",
)
DEPLOYER_ROLES: tuple[str, ...] = (
    "roles/aiplatform.user",
    "roles/artifactregistry.admin",  # the training image's repository and its cleanup policies
    "roles/bigquery.dataOwner",  # datasets, tables and their grants
    "roles/cloudbuild.builds.editor",  # the first deploy builds the training image (as `builder`)
    "roles/cloudfunctions.developer",
    "roles/cloudscheduler.admin",
    "roles/logging.configWriter",  # the log-based metric
    "roles/monitoring.editor",  # alert policies and notification channels
    "roles/run.admin",  # sets the invoker policy on the function's Cloud Run service
    "roles/serviceusage.serviceUsageAdmin",
    # and roles/storage.admin, on the environment's own buckets only (`own_buckets`)
)
STORAGE_ADMIN = "roles/storage.admin"


def own_buckets(env: Environment) -> str:
    """CEL: the project itself (creating and listing buckets), and the buckets named for `env`
    (`<project>-<prefix>-...`) with their objects; never the state buckets the bootstrap made."""
    return (
        "resource.type == 'cloudresourcemanager.googleapis.com/Project' || "
        f"resource.name.startsWith('projects/_/buckets/{env.bucket_prefix}')"
    )


class CiAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        accounts: Accounts,
        state_bucket: StorageBucket,
        deploys_as: Sequence[str],
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if env.github_repository is None or env.github_repository_id is None:
            raise StackError(
                f"environment {env.name!r} needs github_repository and github_repository_id for CI access: "
                "set them in ml/environments.py (the id: gh api repos/OWNER/NAME --jq .id)"
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
                "attribute.repository_id": "assertion.repository_id",
            },
            attribute_condition=trusted_tokens(env),
            oidc=IamWorkloadIdentityPoolProviderOidc(issuer_uri=GITHUB_ISSUER),
        )
        repository = (
            f"principalSet://iam.googleapis.com/{self.pool.name}/attribute.repository_id/{env.github_repository_id}"
        )
        environment = (
            f"principal://iam.googleapis.com/{self.pool.name}/subject/{_subject(env, f'environment:{env.name}')}"
        )
        for role, principal in (("planner", repository), ("deployer", environment)):
            ServiceAccountIamMember(
                self,
                f"{role}-workload-identity",
                service_account_id=accounts.by_role[role].name,
                role="roles/iam.workloadIdentityUser",
                member=principal,
            )

        planner, deployer = accounts.member("planner"), accounts.member("deployer")
        for role in PLANNER_ROLES:
            self._project_grant(env, f"planner-{role.split('/')[1]}", role, planner)
        for role in DEPLOYER_ROLES:
            self._project_grant(env, f"deployer-{role.split('/')[1]}", role, deployer)
        self._project_grant(
            env,
            "deployer-storage-admin",
            STORAGE_ADMIN,
            deployer,
            ProjectIamMemberCondition(
                title="the environment's own buckets",
                description="Creates the project's buckets named for this environment and manages only those.",
                expression=own_buckets(env),
            ),
        )
        for role in deploys_as:
            ServiceAccountIamMember(
                self,
                f"deployer-acts-as-{role}",
                service_account_id=accounts.by_role[role].name,
                role="roles/iam.serviceAccountUser",
                member=deployer,
            )
        # Plans run without taking the state lock, so the planner only reads.
        StorageBucketIamMember(
            self, "planner-state-reader", bucket=state_bucket.name, role="roles/storage.objectViewer", member=planner
        )
        StorageBucketIamMember(
            self, "deployer-state-writer", bucket=state_bucket.name, role="roles/storage.objectUser", member=deployer
        )

    def _project_grant(
        self, env: Environment, id_: str, role: str, member: str, condition: ProjectIamMemberCondition | None = None
    ) -> ProjectIamMember:
        return ProjectIamMember(self, id_, project=env.project, role=role, member=member, condition=condition)


def _subject(env: Environment, context: str) -> str:
    return f"repo:{env.github_repository}:{context}"


def trusted_tokens(env: Environment) -> str:
    """CEL condition on GitHub's token: this repository (by id) for pull requests, the deploy
    branch, or the environment's jobs on the deploy branch."""
    on_branch = f"assertion.ref == 'refs/heads/{env.deploy_branch}'"
    subjects = (
        f"assertion.sub == '{_subject(env, 'pull_request')}'",
        f"assertion.sub == '{_subject(env, f'ref:refs/heads/{env.deploy_branch}')}'",
        f"(assertion.sub == '{_subject(env, f'environment:{env.name}')}' && {on_branch})",
    )
    return f"assertion.repository_id == '{env.github_repository_id}' && ({' || '.join(subjects)})"
