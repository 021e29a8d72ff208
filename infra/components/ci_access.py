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
stack deploys with (`DEPLOYS_AS`). It cannot create accounts or change their policies. What
each may do is its rows of `infra/grants.py`.
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
from cdktn_provider_google.project_iam_member import ProjectIamMember
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket import StorageBucket
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.components.accounts import Accounts
from infra.components.project_grants import project_condition
from infra.errors import StackError
from infra.grants import CI_ACCOUNTS, grants
from ml.environments import Environment

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


class CiAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        accounts: Accounts,
        state_bucket: StorageBucket,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if env.github_repository is None or env.github_repository_id is None:
            raise StackError(
                f"environment {env.name!r} needs github_repository and github_repository_id for CI access: "
                f"set them in environments/{env.name}.toml (the id: gh api repos/OWNER/NAME --jq .id)"
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

        # Their rows of infra/grants.py: on the project, on the state bucket, and acting as the
        # accounts the pipeline stack deploys with.
        for grant in (g for g in grants(env) if g.account in CI_ACCOUNTS):
            member, (kind, _, target) = accounts.member(grant.account), grant.on.partition(":")
            if kind == "project":
                ProjectIamMember(
                    self,
                    grant.id,
                    project=env.project,
                    role=grant.role,
                    member=member,
                    condition=project_condition(grant),
                )
            elif kind == "account":
                ServiceAccountIamMember(
                    self,
                    grant.id,
                    service_account_id=accounts.by_role[target].name,
                    role=grant.role,
                    member=member,
                )
            elif grant.on == "bucket:state":  # plans run without taking the state lock: the planner only reads
                StorageBucketIamMember(self, grant.id, bucket=state_bucket.name, role=grant.role, member=member)


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
