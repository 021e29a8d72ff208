"""This process's place in a Vertex AI job: which replica it is, and how many there are.

Vertex AI tells each replica in `CLUSTER_SPEC`; a search uses worker pool 0 (its chief) and
worker pool 1 (its workers), ml/automl/cluster.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ml.errors import ClusterError


@dataclass(frozen=True)
class Replica:
    """This process's place in the job: replica 0 is the chief (workerpool0), 1.. the workers (workerpool1)."""

    index: int
    count: int

    @property
    def task(self) -> str:
        return task_of(self.index)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Replica | None:
        """From `CLUSTER_SPEC`, which Vertex AI sets in every replica; None outside a job."""
        raw = environ.get("CLUSTER_SPEC")
        if not raw:
            return None
        spec = json.loads(raw)
        pool, index = spec["task"]["type"], int(spec["task"]["index"])
        if pool not in ("workerpool0", "workerpool1"):
            raise ClusterError(f"{pool} has no part in a search; give the job worker pools 0 and 1 only")
        workers = len(spec["cluster"].get("workerpool1", []))
        return cls(0 if pool == "workerpool0" else 1 + index, 1 + workers)


def task_of(replica: int) -> str:
    """Vertex AI's name for the replica: the one the job's log lines carry."""
    return "workerpool0-0" if replica == 0 else f"workerpool1-{replica - 1}"
