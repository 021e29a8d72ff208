"""The table of grants (infra/grants.py) is what the stacks grant, no more and no less, and
`python -m ml iam` prints it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cli.commands import main
from infra.grants import ACCOUNTS, grants
from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS

KINDS = {
    "google_project_iam_member": "project",
    "google_bigquery_dataset_iam_member": "dataset",
    "google_bigquery_table_iam_member": "table",
    "google_storage_bucket_iam_member": "bucket",
    "google_service_account_iam_member": "account",
    "google_cloud_run_service_iam_member": "function",
}
Row = tuple[str, str, str, str | None]


def granted_in(stack: dict[str, Any], emails: dict[str, str]) -> set[Row]:
    """(account, role, on, condition) of every grant to one of the environment's accounts in `stack`."""
    rows = set()
    for kind, scope in KINDS.items():
        for resource in stack["resource"].get(kind, {}).values():
            on = scope
            member = resource["member"].removeprefix("serviceAccount:")
            ref = re.fullmatch(r"\$\{google_service_account\.accounts_([a-z]+)_[0-9A-F]{8}\.email\}", member)
            account = ref.group(1) if ref else emails.get(member)
            if account is None:  # a person, a group, GitHub's tokens or allUsers: the environment's settings
                continue
            if on == "table":
                on += ":" + _named(r"warehouse_([a-z_]+)_[0-9A-F]{8}\.table_id", resource["table_id"])
            elif on == "bucket":
                on += ":" + _named(r"(?:buckets_([a-z-]+)|(state)_bucket)_[0-9A-F]{8}\.name", resource["bucket"])
            elif on == "account":
                on += ":" + _named(r"accounts_([a-z]+)_[0-9A-F]{8}\.name", resource["service_account_id"])
            condition = resource.get("condition", {}).get("expression")
            rows.add((account, resource["role"], on, condition))
    return rows


def _named(pattern: str, reference: str) -> str:
    match = re.search(pattern, reference)
    assert match, reference
    return next(group for group in match.groups() if group)


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_stacks_grant_the_table_and_nothing_else_to_the_accounts(
    stacks: dict[str, dict[str, Any]], bootstrap_stacks: dict[str, dict[str, Any]], env_name: str
) -> None:
    env = ENVIRONMENTS[env_name]
    emails = {env.service_account_email(account): account for account in ACCOUNTS}
    made = granted_in(stacks[env_name], emails) | granted_in(bootstrap_stacks[env_name], emails)
    table = {(g.account, g.role, g.on, g.condition.expression if g.condition else None) for g in grants(env)}
    assert made == table, {"granted, not in the table": made - table, "in the table, not granted": table - made}
    assert len(table) == len(grants(env))  # no row twice


def test_iam_prints_who_may_do_what(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam", "--env", "dev", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["accounts"]) == set(ACCOUNTS)
    trainer = report["accounts"]["trainer"]
    assert trainer["email"] == ENVIRONMENTS["dev"].service_account_email("trainer")
    assert {"role": "roles/bigquery.dataEditor", "on": "dataset"}.items() <= trainer["grants"][0].items()
    assert all(g["why"] for a in report["accounts"].values() for g in a["grants"])

    assert main(["iam", "builder", "--env", "prod"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("builder (")
    assert any("roles/storage.objectViewer" in line and "only " in line for line in lines[1:])
    with pytest.raises(SystemExit) as exit_:
        main(["iam", "nobody"])
    assert exit_.value.code == 2
    assert "invalid choice: 'nobody'" in capsys.readouterr().err
