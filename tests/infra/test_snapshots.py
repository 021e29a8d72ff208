"""Each synthesized stack, committed: a pull request shows every infrastructure change as a diff.

After an intended change, update them with `make snapshot` and commit the result.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from ml.environments import ENVIRONMENTS


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_stack_matches_committed_snapshot(
    stacks: dict[str, dict[str, Any]], env_name: str, snapshot_json: SnapshotAssertion
) -> None:
    assert json.loads(json.dumps(stacks[env_name])) == snapshot_json
