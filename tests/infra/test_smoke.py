"""`make smoke` on the local cloud: every declared resource answers; a missing one is one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud
from ml.environments import ENVIRONMENTS
from tests.support.cloud import endpoint_variables

LOCAL = ENVIRONMENTS["local"]


def smoke(cloud: LocalCloud, stack: Path) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        [sys.executable, "-m", "ml", "smoke", "--env", "local", "--stack", str(stack), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **endpoint_variables(cloud.endpoints)},
        check=False,
    )
    return result.returncode, json.loads(result.stdout), result.stderr


def test_smoke_passes_after_up_and_names_a_table_deleted_by_hand(
    private_cloud: LocalCloud, local_stack_file: Path
) -> None:
    private_cloud.up()
    code, report, _ = smoke(private_cloud, local_stack_file)
    assert code == 0
    status = {c["resource"]: c["status"] for c in report["checks"]}
    tables = {f"table {LOCAL.dataset_id}.{t}" for t in ("train", "valid", "test", "predictions", "model_evaluations")}
    assert tables <= status.keys()
    assert {f"bucket {LOCAL.models_bucket}", f"dataset {LOCAL.dataset_id}", "registry mnist"} <= status.keys()
    # A fresh environment: nothing published, so the function is not started; reported, not failed.
    assert status.pop(f"function {LOCAL.function_name}") == "notice"
    assert set(status.values()) == {"ok"}

    private_cloud.context.bigquery.delete_table(f"{LOCAL.project}.{LOCAL.dataset_id}.valid")
    code, report, stderr = smoke(private_cloud, local_stack_file)
    assert code == 1
    assert report["missing"] == [f"table {LOCAL.dataset_id}.valid"]
    assert (
        stderr == f"error: local lacks table {LOCAL.dataset_id}.valid: deploy again (make up / make deploy ENV=local)\n"
    )
