"""Each synthesized stack, committed: a pull request shows every infrastructure change as a diff.

After an intended change, update them with `make snapshot` and commit the result.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_stack_matches_committed_snapshot(
    stacks: dict[str, dict[str, Any]], env_name: str, snapshot_json: SnapshotAssertion
) -> None:
    assert json.loads(json.dumps(stacks[env_name])) == snapshot_json


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
@pytest.mark.parametrize("job", ["retrain", "monitor"])
def test_the_scheduled_requests_match_committed_snapshots(
    stacks: dict[str, dict[str, Any]], env_name: str, job: str, snapshot_json: SnapshotAssertion
) -> None:
    """The bodies Cloud Scheduler posts to `customJobs.create`, decoded: the stack shows them only in base64."""
    (schedule,) = [
        s for s in stacks[env_name]["resource"]["google_cloud_scheduler_job"].values() if s["name"].endswith(job)
    ]
    assert json.loads(base64.b64decode(schedule["http_target"]["body"])) == snapshot_json
