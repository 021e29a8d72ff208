"""checkov over every synthesized stack: no failure that is not suppressed below, with its reason.

checkov's terraform_json runner reads no inline skip comments, so suppressions live here, one
per line: (check, environments, resources matched by construct id, why). A suppression that
no longer matches anything fails the test too, so none outlives its reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.integration  # trains, or runs a slow tool: not in `make test-fast`


class Suppression(NamedTuple):
    check: str
    envs: frozenset[str]
    resources: str
    why: str


ALL, CLOUD = frozenset({"local", "dev", "prod"}), frozenset({"dev", "prod"})
BOOTSTRAP = frozenset({"bootstrap-dev", "bootstrap-prod"})
# One line each, so the reason stands next to what it excuses.
# fmt: off
SUPPRESSIONS = (
    Suppression("CKV_GCP_80", ALL, r"warehouse_", "MNIST is public data: Google-managed keys encrypt it at rest; a KMS key ring per environment adds cost and rotation duty, no confidentiality"),
    Suppression("CKV_GCP_81", ALL, r"warehouse_dataset", "as CKV_GCP_80: public data, Google-managed encryption at rest"),
    Suppression("CKV_GCP_121", frozenset({"local", "dev"}), r"warehouse_", "local and dev are teardown-friendly by design; prod tables are deletion-protected (test_stack)"),
    Suppression("CKV_GCP_62", ALL, r"buckets_", "object access is recorded by Cloud Storage Data Access audit logs (components/audit.py), the successor of usage logs"),
    Suppression("CKV_GCP_49", BOOTSTRAP, r"ci_deployer-cloudbuildbuildseditor", "the first deploy builds the training image as `builder`, the one build account the deployer may act as (test_bootstrap_stack)"),
    Suppression("CKV_GCP_62", BOOTSTRAP, r"state_bucket", "as for the pipeline's buckets: the project's Cloud Storage Data Access audit logs record who read or wrote the state"),
    Suppression("CKV_GCP_84", CLOUD, r"training_images", "the training image holds this repository's public code and public packages: Google-managed encryption at rest"),
    Suppression("CKV_GCP_124", CLOUD, r"predict_function", "clients call from outside Google Cloud; every call needs an identity token of a named invoker (run.invoker grant)"),
)
# fmt: on


class Finding(NamedTuple):
    check: str
    env: str
    resource: str


@pytest.fixture(scope="module")
def findings(
    stacks: dict[str, object], bootstrap_stacks: dict[str, object], tmp_path_factory: pytest.TempPathFactory
) -> list[Finding]:
    checkov = os.environ.get("CHECKOV", str(ROOT / ".venv-checkov" / "bin" / "checkov"))
    if not Path(checkov).exists():
        pytest.fail(f"checkov is not installed at {checkov}: run the tests with `make test`, which installs it")
    out = tmp_path_factory.mktemp("stacks")
    every = {**stacks, **{f"bootstrap-{name}": stack for name, stack in bootstrap_stacks.items()}}
    for stack_name, stack in every.items():
        (out / stack_name).mkdir()
        (out / stack_name / "cdk.tf.json").write_text(json.dumps(stack, indent=2))
    result = subprocess.run(
        [checkov, "-d", str(out), "--framework", "terraform_json", "--output", "json", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # offline: no guideline links to fetch
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 200, "checkov scanned far less than the stacks declare"
    return [
        Finding(f["check_id"], f["file_path"].strip("/").split("/")[0], f["resource"])
        for f in report["results"]["failed_checks"]
    ]


def _suppressed_by(finding: Finding) -> Suppression | None:
    for s in SUPPRESSIONS:
        if s.check == finding.check and finding.env in s.envs and re.search(s.resources, finding.resource):
            return s
    return None


def test_no_unsuppressed_failures(findings: list[Finding]) -> None:
    unsuppressed = [f for f in findings if _suppressed_by(f) is None]
    assert unsuppressed == [], "fix these, or suppress one here with its reason"


def test_every_suppression_still_matches_a_finding(findings: list[Finding]) -> None:
    used = {_suppressed_by(f) for f in findings}
    assert [s for s in SUPPRESSIONS if s not in used] == [], "remove suppressions that suppress nothing"
