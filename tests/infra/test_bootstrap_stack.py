"""The bootstrap stacks: what must exist before an environment, and what CI may do in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cdktn
import pytest

from infra.bootstrap_stack import BootstrapStack, GithubStack, github_variables
from infra.components.apis import BOOTSTRAP_SERVICES, SERVICES
from infra.stack import PipelineStack
from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS
from tests.support.stacks import Stack, one, resources

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_bootstrap_enables_what_the_first_apply_calls(bootstrap_stacks: dict[str, Stack], env_name: str) -> None:
    enabled = {s["service"] for s in resources(bootstrap_stacks[env_name], "google_project_service")}
    assert enabled == set(BOOTSTRAP_SERVICES)
    assert "cloudresourcemanager.googleapis.com" in enabled
    assert not enabled & set(SERVICES), "one owner per API"


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_each_environment_keeps_its_state_in_its_own_project(
    bootstrap_stacks: dict[str, Stack], stacks: dict[str, Stack], env_name: str
) -> None:
    env, stack = ENVIRONMENTS[env_name], bootstrap_stacks[env_name]
    buckets = {b["name"]: b for b in resources(stack, "google_storage_bucket")}
    assert set(buckets) == {env.state_bucket, env.bootstrap_state_bucket}
    bucket = buckets[env.state_bucket]
    assert bucket["project"] == env.project
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["force_destroy"] is False
    (rule,) = bucket["lifecycle_rule"]
    assert rule["action"]["type"] == "Delete"
    assert rule["condition"]["with_state"] == "ARCHIVED"
    assert stacks[env_name]["terraform"]["backend"]["gcs"]["bucket"] == env.state_bucket
    assert stack["terraform"]["backend"] == {
        "gcs": {"bucket": env.bootstrap_state_bucket, "prefix": f"bootstrap-{env_name}"}
    }
    # No environment can reach another's state: its bucket's grants name only this stack's accounts,
    # which live in this environment's project.
    members = {g["member"] for g in resources(stack, "google_storage_bucket_iam_member")}
    assert members == {
        m
        for m in members
        if re.fullmatch(r"serviceAccount:\$\{google_service_account\.accounts_(planner|deployer)_\w+\.email\}", m)
    }
    assert {a["project"] for a in resources(stack, "google_service_account")} == {env.project}
    assert len({ENVIRONMENTS[o].state_bucket for o in CLOUD_ENVIRONMENTS}) == len(CLOUD_ENVIRONMENTS)
    # CI writes the environment's state, never the state of the stacks that say what CI may do.
    granted = {g["bucket"] for g in resources(stack, "google_storage_bucket_iam_member")}
    assert granted == {"${google_storage_bucket.state_bucket_803B4E61.name}"}
    assert buckets[env.bootstrap_state_bucket]["force_destroy"] is False


def test_the_first_bootstrap_keeps_its_state_locally(tmp_path: Path) -> None:
    env = ENVIRONMENTS["dev"]
    app = cdktn.Testing.app()
    pipeline = PipelineStack(app, env, build_dir=tmp_path)
    stack = json.loads(cdktn.Testing.synth(BootstrapStack(app, env, pipeline=pipeline, local_state=True)))
    assert stack["terraform"]["backend"] == {"local": {"path": "../../../.bootstrap/bootstrap-dev.tfstate"}}


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_every_account_lives_in_the_bootstrap_stack(
    bootstrap_stacks: dict[str, Stack], stacks: dict[str, Stack], env_name: str
) -> None:
    env = ENVIRONMENTS[env_name]
    accounts = {a["account_id"] for a in resources(bootstrap_stacks[env_name], "google_service_account")}
    roles = ("trainer", "predictor", "builder", "invoker", "scheduler", "monitor", "planner", "deployer")
    assert accounts == {env.service_account_id(r) for r in roles}
    assert "google_service_account" not in stacks[env_name]["resource"]
    assert "google_service_account_iam_member" not in stacks[env_name]["resource"]
    assert "google_service_account_key" not in bootstrap_stacks[env_name]["resource"]


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_deployer_grants_nothing_on_the_project_and_reaches_only_its_environments_buckets(
    bootstrap_stacks: dict[str, Stack], env_name: str
) -> None:
    env = ENVIRONMENTS[env_name]
    deployer = "serviceAccount:${google_service_account.accounts_deployer_"
    grants = [
        g
        for g in resources(bootstrap_stacks[env_name], "google_project_iam_member")
        if g["member"].startswith(deployer)
    ]
    held = {g["role"] for g in grants}
    # IAM conditions limit which roles a grant carries, never to whom: no project IAM admin at all.
    assert not held & {
        "roles/resourcemanager.projectIamAdmin",
        "roles/iam.securityAdmin",
        "roles/iam.serviceAccountAdmin",
        "roles/iam.workloadIdentityPoolAdmin",
        "roles/owner",
        "roles/editor",
    }
    (storage,) = (g for g in grants if g["role"] == "roles/storage.admin")
    expression = storage["condition"]["expression"]
    prefix = expression.split("startsWith('projects/_/buckets/")[1].split("'")[0]
    assert env.models_bucket.startswith(prefix)
    assert env.function_source_bucket.startswith(prefix)
    # Neither state bucket, nor another environment's buckets, match.
    others = [e.models_bucket for e in ENVIRONMENTS.values() if e.name != env_name]
    for bucket in (env.state_bucket, env.bootstrap_state_bucket, *others):
        assert not bucket.startswith(prefix), bucket
    assert all(g.get("condition") is None for g in grants if g["role"] != "roles/storage.admin")
    acts_as = [
        b
        for b in resources(bootstrap_stacks[env_name], "google_service_account_iam_member")
        if b["member"].startswith(deployer) and b["role"] == "roles/iam.serviceAccountUser"
    ]
    assert {b["service_account_id"].split(".")[1].split("_")[1] for b in acts_as} == {
        "predictor",
        "builder",
        "scheduler",  # the schedule's OAuth identity
        "trainer",  # what the jobs it submits run as
    }


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_only_the_deployer_the_scheduler_and_a_retraining_monitor_may_act_as_trainer(
    bootstrap_stacks: dict[str, Stack], env_name: str
) -> None:
    env = ENVIRONMENTS[env_name]
    on_trainer = [
        b["member"]
        for b in resources(bootstrap_stacks[env_name], "google_service_account_iam_member")
        if b["service_account_id"].startswith("${google_service_account.accounts_trainer_")
    ]
    expected = ["deployer", *(["monitor"] if env.monitoring.retrain_on_alert else []), "scheduler"]
    assert sorted(m.split(".")[1].split("_")[1] for m in on_trainer) == expected
    (role,) = resources(bootstrap_stacks[env_name], "google_project_iam_custom_role")
    assert f"projects/{env.project}/roles/{role['role_id']}" == env.job_submitter_role
    assert role["permissions"] == ["aiplatform.customJobs.create"]


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_ci_tokens_come_from_the_repository_by_id_and_deploys_from_main(
    bootstrap_stacks: dict[str, Stack], env_name: str
) -> None:
    env, stack = ENVIRONMENTS[env_name], bootstrap_stacks[env_name]
    provider = one(stack, "google_iam_workload_identity_pool_provider")
    assert provider["oidc"] == {"issuer_uri": "https://token.actions.githubusercontent.com"}
    condition = provider["attribute_condition"]
    assert condition.startswith(f"assertion.repository_id == '{env.github_repository_id}' && (")
    environment_jobs = f"assertion.sub == 'repo:{env.github_repository}:environment:{env.name}'"
    assert f"({environment_jobs} && assertion.ref == 'refs/heads/main')" in condition
    bindings = {
        b["member"].split("/", 3)[-1]: b["service_account_id"]
        for b in resources(stack, "google_service_account_iam_member")
        if b["role"] == "roles/iam.workloadIdentityUser"
    }
    assert len(bindings) == 2
    environment_binding = next(v for k, v in bindings.items() if k.endswith(f":environment:{env.name}"))
    assert "accounts_deployer" in environment_binding


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_github_variables_are_the_ones_the_workflows_read(env_name: str, tmp_path: Path) -> None:
    env = ENVIRONMENTS[env_name]
    repository, environment = github_variables(env, "123")
    workflows = "\n".join(p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    read = set(re.findall(r"vars\.([A-Z_]+)", workflows))
    suffixed = {f"{prefix}{env.name.upper()}" for prefix in re.findall(r"format\('([A-Z_]+)\{0\}'", workflows)}
    assert set(environment) <= read
    assert set(repository) == suffixed
    app = cdktn.Testing.app()
    stack = json.loads(cdktn.Testing.synth(GithubStack(app, env, local_state=False)))
    assert stack["terraform"]["backend"] == {
        "gcs": {"bucket": env.bootstrap_state_bucket, "prefix": f"github-{env_name}"}
    }
    written = {v["variable_name"] for v in resources(stack, "github_actions_variable")}
    in_environment = {v["variable_name"] for v in resources(stack, "github_actions_environment_variable")}
    assert (written, in_environment) == (set(repository), set(environment))
    github_environment = one(stack, "github_repository_environment")
    assert github_environment["deployment_branch_policy"] == {
        "protected_branches": True,
        "custom_branch_policies": False,
    }
    assert github_environment["lifecycle"] == {"ignore_changes": ["reviewers"]}  # set by hand, kept


def test_operators_may_mint_tokens_as_invoker_and_trainer(tmp_path: Path) -> None:
    """`make smoke`, `make predict` and `make monitor` from a laptop need nothing else once bootstrapped."""
    from dataclasses import replace

    env = replace(ENVIRONMENTS["dev"], operators=("user:ops@example.com",))
    app = cdktn.Testing.app()
    pipeline = PipelineStack(app, env, build_dir=tmp_path)
    stack = json.loads(cdktn.Testing.synth(BootstrapStack(app, env, pipeline=pipeline, local_state=False)))
    held = {
        (b["service_account_id"].split(".")[1].split("_")[1], b["role"])
        for b in resources(stack, "google_service_account_iam_member")
        if b["member"] == "user:ops@example.com"
    }
    assert held == {
        ("invoker", "roles/iam.serviceAccountOpenIdTokenCreator"),
        ("trainer", "roles/iam.serviceAccountTokenCreator"),
    }
