"""What a job's replicas tell each other, as objects under the job's prefix in the models bucket.

    replicas/<r>.json             each start of replica r (attempts: Vertex AI restarts a failed one)
    iteration-<t>/plan.json       the chief: iteration t's candidates, who trains which, until when
    iteration-<t>/replica-<r>.npz replica r: its candidates' weights, mixture heads and `valid` logits
    iteration-<t>/replica-<r>.json replica r: why it has nothing to give for iteration t
    iteration-<t>/ensemble.npz    the chief: the ensemble iteration t left
    done.json                     the chief: the search has ended

Every object is one upload, so it is read whole or not at all (Cloud Storage has no partial
objects); each is written once, by one replica.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ml.automl.ensemble import Ensemble, Floats, Member
from ml.automl.generators import SubnetworkSpec
from ml.automl.iteration import Candidate
from ml.records import JsonObject

POLL_S = 0.2
"""How often a replica looks for what it waits on: a few Cloud Storage reads a second."""


class Exchange:
    """The job's objects under `prefix` in `bucket` (a `google.cloud.storage.Bucket`)."""

    def __init__(self, bucket: Any, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix.rstrip("/")

    def attempt(self, replica: int) -> int:
        """Record a start of `replica` and return which start it is: 1, or more after a restart."""
        blob = self.bucket.blob(f"{self.prefix}/replicas/{replica}.json")
        starts = json.loads(blob.download_as_text())["starts"] if blob.exists() else []
        starts.append(time.time())
        blob.upload_from_string(json.dumps({"starts": starts}), content_type="application/json")
        return len(starts)

    def put_plan(self, t: int, plan: JsonObject) -> None:
        self._put_json(f"iteration-{t}/plan.json", plan)

    def plan(self, t: int) -> JsonObject | None:
        return self._json(f"iteration-{t}/plan.json")

    def put_candidates(self, t: int, replica: int, candidates: Sequence[Candidate], busy_seconds: float) -> None:
        arrays: dict[str, Any] = {}
        meta = []
        for c in candidates:
            weights = (c.model.get_weights() if c.model is not None else c.weights) or []
            arrays |= {f"c{c.index}_w{k}": w for k, w in enumerate(weights)}
            arrays |= {f"c{c.index}_head0": c.head[0], f"c{c.index}_head1": c.head[1]}
            arrays |= {f"c{c.index}_sub": c.valid_sub, f"c{c.index}_ens": c.valid_ens}
            meta.append(
                {"index": c.index, "weights": len(weights), "steps": c.steps, "seconds": c.seconds, "curve": c.curve}
            )
        arrays["meta"] = np.array(json.dumps({"candidates": meta, "busy_seconds": busy_seconds}))
        self._put_npz(f"iteration-{t}/replica-{replica}.npz", arrays)

    def put_failure(self, t: int, replica: int, reason: str) -> None:
        self._put_json(f"iteration-{t}/replica-{replica}.json", {"reason": reason})

    def reports(self, t: int) -> dict[int, str]:
        """Which replicas have reported on iteration `t`: replica → `npz` (candidates) or `json` (none, and why)."""
        found = {}
        for blob in self.bucket.list_blobs(prefix=f"{self.prefix}/iteration-{t}/replica-"):
            stem, _, kind = blob.name.rsplit("/", 1)[1].removeprefix("replica-").partition(".")
            found[int(stem)] = kind
        return found

    def failure(self, t: int, replica: int) -> str:
        data = self._json(f"iteration-{t}/replica-{replica}.json")
        return str(data["reason"]) if data else "no reason given"

    def candidates(self, t: int, replica: int, specs: Sequence[SubnetworkSpec]) -> tuple[list[Candidate], float]:
        """Replica `replica`'s candidates of iteration `t` (`specs`: the iteration's list), and its busy seconds."""
        arrays = self._npz(f"iteration-{t}/replica-{replica}.npz")
        meta = json.loads(str(arrays["meta"]))
        candidates = []
        for m in meta["candidates"]:
            i = m["index"]
            candidates.append(
                Candidate(
                    specs[i],
                    i,
                    (arrays[f"c{i}_head0"], arrays[f"c{i}_head1"]),
                    arrays[f"c{i}_sub"],
                    arrays[f"c{i}_ens"],
                    m["steps"],
                    m["seconds"],
                    [tuple(point) for point in m["curve"]],
                    replica,
                    weights=[arrays[f"c{i}_w{k}"] for k in range(m["weights"])],
                )
            )
        return candidates, float(meta["busy_seconds"])

    def put_ensemble(self, t: int, ensemble: Ensemble, valid_logits: Floats) -> None:
        """The ensemble, and its members' `valid` logits as the chief holds them (recomputed, they
        could differ in the last bit, and so could a score)."""
        arrays: dict[str, Any] = {"weights": ensemble.weights, "valid_logits": valid_logits}
        if ensemble.bias is not None:
            arrays["bias"] = ensemble.bias
        members = []
        for j, member in enumerate(ensemble.members):
            weights = member.model.get_weights()
            arrays |= {f"m{j}_w{k}": w for k, w in enumerate(weights)}
            members.append({"name": member.spec.name, "iteration": member.iteration, "weights": len(weights)})
        arrays["meta"] = np.array(json.dumps({"members": members}))
        self._put_npz(f"iteration-{t}/ensemble.npz", arrays)

    def has_ensemble(self, t: int) -> bool:
        return bool(self.bucket.blob(f"{self.prefix}/iteration-{t}/ensemble.npz").exists())

    def ensemble(self, t: int, build: Callable[[str, list[Any], int], Member]) -> tuple[Ensemble, Floats]:
        """The ensemble iteration `t` left and its members' `valid` logits; `build(name, weights,
        iteration)` makes each member."""
        arrays = self._npz(f"iteration-{t}/ensemble.npz")
        members = [
            build(m["name"], [arrays[f"m{j}_w{k}"] for k in range(m["weights"])], m["iteration"])
            for j, m in enumerate(json.loads(str(arrays["meta"]))["members"])
        ]
        return Ensemble(members, arrays["weights"], arrays.get("bias")), arrays["valid_logits"]

    def put_done(self, error: str | None) -> None:
        self._put_json("done.json", {"error": error})

    def done(self) -> bool:
        return bool(self.bucket.blob(f"{self.prefix}/done.json").exists())

    def _put_json(self, name: str, data: JsonObject) -> None:
        self.bucket.blob(f"{self.prefix}/{name}").upload_from_string(json.dumps(data), content_type="application/json")

    def _json(self, name: str) -> JsonObject | None:
        from google.api_core.exceptions import NotFound

        try:
            data: JsonObject = json.loads(self.bucket.blob(f"{self.prefix}/{name}").download_as_text())
        except NotFound:
            return None
        return data

    def _put_npz(self, name: str, arrays: dict[str, Any]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        self.bucket.blob(f"{self.prefix}/{name}").upload_from_string(
            buffer.getvalue(), content_type="application/octet-stream"
        )

    def _npz(self, name: str) -> dict[str, Any]:
        with np.load(io.BytesIO(self.bucket.blob(f"{self.prefix}/{name}").download_as_bytes())) as data:
            return {key: data[key] for key in data.files}
