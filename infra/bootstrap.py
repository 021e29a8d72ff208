"""Create or update an environment's bootstrap (`make bootstrap ENV=dev|prod`, `python -m ml bootstrap`).

Run once per environment by an administrator of its project (`gcloud auth
application-default login`), and again whenever the bootstrap stack changes. The first run
finds no state bucket: it applies the bootstrap stack with local state, then moves that
state into the bucket it just made; a first run that failed after making the bucket is
resumed the same way, since its state is still the local file. With a GitHub token it also
writes the workflows' variables; without one it prints them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.bootstrap_stack import bootstrap_stack_name, github_stack_name, github_variables, local_state_file
from infra.errors import InfraError
from infra.preflight import PreflightError, check
from ml.cloud import stack_output
from ml.emulators import ROOT, stack_dir
from ml.environments import Environment

CDKTN = str(ROOT / "node_modules" / ".bin" / "cdktn")


@dataclass(frozen=True)
class Step:
    what: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


def steps(env: Environment, *, first: bool, github: bool) -> list[Step]:
    """The commands that bootstrap `env`; `first`: its state bucket does not exist yet."""
    name = bootstrap_stack_name(env)
    local = {"BOOTSTRAP_LOCAL_STATE": "1"}
    folder = stack_dir(name)
    plan = []
    if first:
        plan += [
            Step(f"apply {name} with local state (its bucket does not exist yet)", (CDKTN, "deploy", name), local),
            Step("synthesize with the state in the bucket", (sys.executable, str(ROOT / "main.py"))),
            Step(
                f"move {name}'s state into gs://{env.bootstrap_state_bucket}",
                ("terraform", f"-chdir={folder}", "init", "-migrate-state", "-force-copy", "-input=false"),
            ),
        ]
    else:
        plan.append(Step(f"apply {name}", (CDKTN, "deploy", name)))
    if github:
        plan.append(
            Step(f"write the GitHub variables of {env.github_repository}", (CDKTN, "deploy", github_stack_name(env)))
        )
    return plan


def own_state_bucket_exists(env: Environment) -> bool:
    from google.api_core.exceptions import Forbidden
    from google.cloud import storage

    try:
        return storage.Client(project=env.project).lookup_bucket(env.bootstrap_state_bucket) is not None
    except Forbidden:
        raise InfraError(
            f"gs://{env.bootstrap_state_bucket} exists but you may not read it: bucket names are global, so "
            f"another project may own it; check that {env.project!r} is your project in environments/{env.name}.toml"
        ) from None


def local_state(env: Environment) -> Path:
    """The bootstrap stack's state while it is local: from a first run, until it is moved into its bucket."""
    # Normalised: the stack's folder, which the relative path climbs out of, may not exist yet.
    return Path(os.path.normpath(stack_dir(bootstrap_stack_name(env)) / local_state_file(bootstrap_stack_name(env))))


def is_first(env: Environment, bucket_exists: Callable[[Environment], bool]) -> bool:
    """Whether the run applies with local state and then moves it: no bucket yet, or a first run that
    failed after making it (its state is still the local file, which the bucket path would strand)."""
    return local_state(env).exists() or not bucket_exists(env)


def project_number(env: Environment) -> str:
    """From the bootstrap stack's output `workload_identity_provider` (projects/<number>/locations/...)."""
    provider = stack_output(bootstrap_stack_name(env), "workload_identity_provider")
    if provider is None:
        raise InfraError(f"cannot read the output workload_identity_provider of {bootstrap_stack_name(env)}: apply it")
    return provider.split("/")[1]


def bootstrap(env: Environment, *, github: bool) -> None:
    """`github`: a GitHub token is at hand (GITHUB_TOKEN), so the GitHub stack is applied too."""
    if env.emulated:
        raise PreflightError("ENV=local needs no bootstrap: make up creates everything it has")
    check(env)
    first = is_first(env, own_state_bucket_exists)
    for step in steps(env, first=first, github=github):
        print(f"bootstrap {env.name}: {step.what}", flush=True)
        result = subprocess.run(step.argv, env={**os.environ, **step.env}, check=False)
        if result.returncode != 0:
            raise InfraError(f"{step.what} failed (exit {result.returncode}); fix what it printed and run it again")
    if first:  # the state is in the bucket now; a stale local copy must not be applied again
        state = local_state(env)
        for leftover in (state, state.with_name(state.name + ".backup")):
            leftover.unlink(missing_ok=True)
    if not github:
        repository, environment = github_variables(env, project_number(env))
        print(f"\nSet these GitHub variables on {env.github_repository} (or run again with GITHUB_TOKEN set):")
        for variable, value in repository.items():
            print(f"  repository variable            {variable}={value}")
        for variable, value in environment.items():
            print(f"  environment {env.name!r:<18} {variable}={value}")
