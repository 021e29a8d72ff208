"""What must exist before an environment's first apply and outlive its teardown, per cloud environment.

`BootstrapStack` (stack `bootstrap-<env>`) holds the APIs the first apply needs, the state
bucket, every service account with its project-wide grants, Workload Identity Federation and
what CI may do.
`GithubStack` (stack `github-<env>`) writes the GitHub variables the workflows read and
keeps the GitHub environment to the deploy branch. Both are applied by an administrator
with `make bootstrap ENV=...` (`infra/bootstrap.py`); `make destroy` never touches them.
Their state lives in a bucket of its own that the bootstrap stack makes, which CI cannot
reach; the very first apply keeps it in a local file until the bucket exists (`local_state`).
"""

from __future__ import annotations

from pathlib import Path

from cdktn import GcsBackend, LocalBackend, TerraformOutput, TerraformResourceLifecycle, TerraformStack
from cdktn_provider_google.data_google_project import DataGoogleProject
from cdktn_provider_google.provider import GoogleProvider
from cdktn_provider_time.provider import TimeProvider
from constructs import Construct

from infra.components import Accounts, CiAccess, ProjectApis, ProjectGrants, StateBucket
from infra.components.apis import BOOTSTRAP_SERVICES
from infra.stack import PipelineStack
from ml.environments import Environment


def bootstrap_stack_name(env: Environment) -> str:
    return f"bootstrap-{env.name}"


def github_stack_name(env: Environment) -> str:
    return f"github-{env.name}"


def local_state_file(stack_name: str) -> Path:
    """Where a bootstrap stack keeps its state before its bucket exists (relative to its synth folder)."""
    return Path("../../../.bootstrap") / f"{stack_name}.tfstate"


def _backend(stack: TerraformStack, env: Environment, name: str, local_state: bool) -> None:
    if local_state:
        LocalBackend(stack, path=str(local_state_file(name)))
    else:
        GcsBackend(stack, bucket=env.bootstrap_state_bucket, prefix=name)


class BootstrapStack(TerraformStack):
    """`env`'s foundation; what CI may do is read from `pipeline`, the stack it will deploy."""

    def __init__(self, scope: Construct, env: Environment, *, pipeline: PipelineStack, local_state: bool) -> None:
        name = bootstrap_stack_name(env)
        super().__init__(scope, name)
        # Enabling an API needs a quota project: the administrator's (user_project_override).
        GoogleProvider(
            self,
            "google",
            project=env.project,
            region=env.region,
            user_project_override=True,
            billing_project=env.project,
            default_labels={"managed_by": "cdktn"},
        )
        TimeProvider(self, "time")
        _backend(self, env, name, local_state)
        apis = ProjectApis(self, "apis", env=env, services=BOOTSTRAP_SERVICES)
        after_apis = list(apis.services)
        # Two buckets: CI's accounts write the environment's state, but must not reach the state of
        # the stacks that say what CI may do.
        self.state = StateBucket(self, "state", env=env, name=env.state_bucket, depends_on=after_apis)
        self.own_state = StateBucket(self, "own-state", env=env, name=env.bootstrap_state_bucket, depends_on=after_apis)
        self.accounts = Accounts(self, "accounts", env=env, depends_on=after_apis)
        self.grants = ProjectGrants(
            self,
            "grants",
            env=env,
            members={role: self.accounts.member(role) for role in self.accounts.by_role},
            depends_on=[*after_apis, self.accounts.job_submitter],
        )
        self.ci = CiAccess(
            self,
            "ci",
            env=env,
            accounts=self.accounts,
            state_bucket=self.state.bucket,
            depends_on=after_apis,
        )
        TerraformOutput(self, "state_bucket", value=self.state.bucket.name)
        TerraformOutput(self, "bootstrap_state_bucket", value=self.own_state.bucket.name)
        TerraformOutput(self, "workload_identity_provider", value=self.ci.provider.name)
        for role in ("planner", "deployer", "invoker"):
            TerraformOutput(self, f"{role}_service_account", value=self.accounts.by_role[role].email)


def github_variables(env: Environment, project_number: str) -> tuple[dict[str, str], dict[str, str]]:
    """(repository variables for plans and drift checks, variables of the GitHub environment `env.name`)."""
    suffix = env.name.upper()
    provider = f"projects/{project_number}/locations/global/workloadIdentityPools/{env.prefix}-github/providers/github"
    repository = {
        f"GCP_WIF_PROVIDER_{suffix}": provider,
        f"GCP_PLANNER_SA_{suffix}": env.service_account_email("planner"),
    }
    environment = {"GCP_WIF_PROVIDER": provider, "GCP_DEPLOYER_SA": env.service_account_email("deployer")}
    return repository, environment


class GithubStack(TerraformStack):
    """The workflows' variables, and the GitHub environment `env.name` limited to the deploy branch.

    Applied only when a GitHub token is given (GITHUB_TOKEN); without one, `make bootstrap`
    prints the same values to set by hand.
    """

    def __init__(self, scope: Construct, env: Environment, *, local_state: bool) -> None:
        from cdktn_provider_github.actions_environment_variable import ActionsEnvironmentVariable
        from cdktn_provider_github.actions_variable import ActionsVariable
        from cdktn_provider_github.provider import GithubProvider
        from cdktn_provider_github.repository_environment import (
            RepositoryEnvironment,
            RepositoryEnvironmentDeploymentBranchPolicy,
        )

        name = github_stack_name(env)
        super().__init__(scope, name)
        assert env.github_repository is not None, "cloud environments name their repository"
        owner, repository = env.github_repository.split("/")
        GoogleProvider(self, "google", project=env.project, region=env.region)
        GithubProvider(self, "github", owner=owner)  # the token comes from GITHUB_TOKEN
        _backend(self, env, name, local_state)
        number = DataGoogleProject(self, "project", project_id=env.project).number
        environment = RepositoryEnvironment(
            self,
            "environment",
            repository=repository,
            environment=env.name,
            deployment_branch_policy=RepositoryEnvironmentDeploymentBranchPolicy(
                protected_branches=True, custom_branch_policies=False
            ),
            # Required reviewers (prod) are people, set in GitHub's settings: never reset them.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["reviewers"]),
        )
        repository_variables, environment_variables = github_variables(env, number)
        for variable, value in repository_variables.items():
            ActionsVariable(self, variable, repository=repository, variable_name=variable, value=value)
        for variable, value in environment_variables.items():
            ActionsEnvironmentVariable(
                self,
                f"{env.name}-{variable}",
                repository=repository,
                environment=environment.environment,
                variable_name=variable,
                value=value,
            )
