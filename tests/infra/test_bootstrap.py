"""`make bootstrap`: the commands it runs on a first and a later run, and what it refuses."""

from __future__ import annotations

import subprocess

import pytest

from cli.commands import main
from infra.bootstrap import is_first, local_state, steps
from ml.environments import ENVIRONMENTS
from tests.support import ROOT

DEV = ENVIRONMENTS["dev"]


def test_the_first_run_applies_with_local_state_then_moves_it_into_the_bucket() -> None:
    apply, synth, migrate = steps(DEV, first=True, github=False)
    assert apply.argv[-2:] == ("deploy", "bootstrap-dev")
    assert apply.env == {"BOOTSTRAP_LOCAL_STATE": "1"}
    assert synth.argv[-1].endswith("main.py")
    assert synth.env == {}
    assert migrate.argv[0] == "terraform"
    assert {"-migrate-state", "-force-copy"} <= set(migrate.argv)
    assert migrate.argv[1].endswith("cdktf.out/stacks/bootstrap-dev")


def test_a_later_run_applies_in_place_and_a_token_adds_the_github_stack() -> None:
    (apply,) = steps(DEV, first=False, github=False)
    assert (apply.argv[-2:], apply.env) == (("deploy", "bootstrap-dev"), {})
    *_, github = steps(DEV, first=False, github=True)
    assert github.argv[-2:] == ("deploy", "github-dev")


def test_a_first_run_that_failed_after_making_its_bucket_resumes_with_its_local_state() -> None:
    """The bucket exists but the state never moved into it: applying against the bucket would strand it."""
    state = local_state(DEV)
    assert state == ROOT / ".bootstrap" / "bootstrap-dev.tfstate"
    assert not state.exists(), f"{state} is a real bootstrap's state: move it before running the tests"
    assert not is_first(DEV, lambda env: True)
    made = not state.parent.exists()
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("{}")
    try:
        assert is_first(DEV, lambda env: True)
    finally:
        state.unlink()
        if made:
            state.parent.rmdir()
    assert is_first(DEV, lambda env: False)


def test_local_needs_no_bootstrap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "--env", "local"]) == 1
    assert capsys.readouterr().err == "error: ENV=local needs no bootstrap: make up creates everything it has\n"


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_destroy_never_touches_the_bootstrap_stacks(env_name: str) -> None:
    """`make destroy` then `make deploy` must find the state bucket, the accounts and the pool."""
    result = subprocess.run(
        ["make", "-n", "destroy", f"ENV={env_name}", "CONFIRM=prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    destroys = [line.split()[:3] for line in result.stdout.splitlines() if " destroy " in f" {line} "]
    assert destroys == [["node_modules/.bin/cdktn", "destroy", env_name]]  # (CI adds --auto-approve)
