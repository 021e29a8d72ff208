"""Each replica's part in a job, from the CLUSTER_SPEC Vertex AI sets."""

from __future__ import annotations

import json

import pytest

from ml.automl.cluster_spec import Replica, task_of
from ml.errors import ClusterError


def test_each_replica_learns_its_part_from_the_cluster_spec() -> None:
    def spec(pool: str, index: int, workers: int) -> dict[str, str]:
        cluster = {"workerpool0": ["a:1"], "workerpool1": [f"b:{i}" for i in range(workers)]}
        return {"CLUSTER_SPEC": json.dumps({"cluster": cluster, "task": {"type": pool, "index": index}})}

    assert Replica.from_environ({}) is None
    assert Replica.from_environ(spec("workerpool0", 0, 0)) == Replica(0, 1)
    assert Replica.from_environ(spec("workerpool0", 0, 2)) == Replica(0, 3)
    worker = Replica.from_environ(spec("workerpool1", 1, 2))
    assert worker == Replica(2, 3)
    assert worker is not None
    assert worker.task == "workerpool1-1" == task_of(2)
    with pytest.raises(ClusterError, match="workerpool2 has no part in a search"):
        Replica.from_environ(spec("workerpool2", 0, 1))
