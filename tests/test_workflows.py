"""The GitHub workflows: linted by actionlint, valid against the workflow schema, and doing what
the README promises (one updated plan comment, gated prod deploys, a failing drift check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return workflow


def test_actionlint_passes() -> None:
    result = subprocess.run([BIN / "actionlint", "-no-color"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_workflow_schema() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_no_key_files_anywhere(path: Path) -> None:
    text = path.read_text()
    assert "credentials_json" not in text
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in text


def test_pull_requests_get_one_plan_comment_updated_in_place() -> None:
    plan = load("plan.yml")
    assert "pull_request" in plan[True]  # YAML reads the key `on` as True
    envs = [m["env"] for m in plan["jobs"]["plan"]["strategy"]["matrix"]["include"]]
    assert envs == ["dev", "prod"]
    script = next(s["with"]["script"] for s in plan["jobs"]["comment"]["steps"] if "github-script" in s["uses"])
    assert "updateComment" in script
    assert "createComment" in script
    assert "marker" in script
    assert plan["jobs"]["comment"]["needs"] == "plan"


def test_fork_and_dependabot_pull_requests_get_the_snapshot_diff_instead_of_a_failed_plan() -> None:
    """Neither gets an OIDC token: Dependabot's come from this repository but run as Dependabot."""
    jobs = load("plan.yml")["jobs"]
    trusted = "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'"
    assert jobs["plan"]["if"] == trusted
    assert jobs["comment"]["if"] == f"always() && {trusted}"
    untrusted = trusted.replace("==", "!=", 1).replace("&&", "||").replace("!= 'dependabot", "== 'dependabot")
    assert jobs["fork"]["if"] == untrusted
    assert "permissions" not in jobs["fork"]  # the workflow's read-only contents permission, no id-token
    steps = "\n".join(step.get("run", "") for step in jobs["fork"]["steps"])
    assert "tests/infra/test_snapshots.py" in steps
    assert "GITHUB_STEP_SUMMARY" in steps


def test_ci_runs_on_the_pipelines_and_the_functions_python() -> None:
    from infra.components.serving import RUNTIME

    matrix = load("ci.yml")["jobs"]["test"]["strategy"]["matrix"]["python"]
    function_python = f"{RUNTIME.removeprefix('python')[0]}.{RUNTIME.removeprefix('python')[1:]}"
    assert matrix == ["3.11", function_python]


def test_main_deploys_dev_then_prod_behind_its_environment() -> None:
    deploy = load("deploy.yml")
    assert deploy[True]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert jobs["dev"]["environment"] == "dev"
    assert jobs["prod"]["environment"] == "prod"
    assert jobs["prod"]["needs"] == "dev"
    for job in jobs.values():
        assert job["permissions"]["id-token"] == "write"
        assert any("google-github-actions/auth" in s.get("uses", "") for s in job["steps"])


def test_drift_check_is_scheduled_and_fails_on_changes() -> None:
    drift = load("drift.yml")
    assert drift[True]["schedule"]
    script = next(s["run"] for s in drift["jobs"]["drift"]["steps"] if "detailed-exitcode" in s.get("run", ""))
    assert '2) echo "::error' in script
    assert "exit 1" in script


def test_locked_versions_are_audited_weekly_and_when_a_lock_moves() -> None:
    audit = load("audit.yml")
    assert audit[True]["schedule"]
    assert set(audit[True]["pull_request"]["paths"]) == {"uv.lock", "tools/checkov/uv.lock", "package-lock.json"}
    assert any(s.get("run") == "make audit" for s in audit["jobs"]["audit"]["steps"])


def test_dependabot_updates_both_locks_npm_and_the_actions() -> None:
    config = ROOT / ".github" / "dependabot.yml"
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    updates = {u["package-ecosystem"]: u for u in yaml.safe_load(config.read_text())["updates"]}
    assert set(updates) == {"uv", "npm", "github-actions"}
    locks = {(ROOT / d.strip("/") / "uv.lock").relative_to(ROOT).as_posix() for d in updates["uv"]["directories"]}
    assert locks == {"uv.lock", "tools/checkov/uv.lock"}
    assert all((ROOT / lock).is_file() for lock in locks)
