"""A search over 1, 2 and 3 replicas of a Vertex AI job on `local`, side by side in one run.

Every run is `python -m ml train-publish --runner vertex --replicas N` on one private local
cloud with MNIST loaded, through the Vertex AI emulator, each publishing to a model of its own;
the iterations are read back from what each published.

    .venv/bin/python -m bench.distributed [--steps 150] [--budget 240] [--limit 6000]

1. Fixed steps per candidate, one candidate list (`--search-width 3`) for every N: the members
   each N chose, and per N the coordination overhead: each distributed iteration's wall time
   less the longest any replica spent on the members' logits and on training and scoring its
   candidates, as a share of the iteration's wall time.
2. One wall budget, N = 2 against N = 1 (each at its default width, N): candidates evaluated
   and test accuracy. On this machine's cores the replicas share the same CPUs: this measures
   correctness and overhead, not speed-up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import mnist_dir
from bench.cloud import private_cloud
from localcloud.cloud import LocalCloud
from ml.publish.flow import artifact_store
from ml.training.host import this_machine


def _run(
    cloud: LocalCloud, replicas: int, model: str, flags: list[str]
) -> tuple[float, dict[str, Any], list[dict[str, Any]]]:
    """The job's wall time from the command's start, its report, and the iterations it published."""
    command = [sys.executable, "-m", "ml", "train-publish", "--runner", "vertex", "--replicas", str(replicas)]
    command += [*flags, "--model", model, "--force", "--json"]
    env = {**os.environ, **cloud.endpoints.to_environ()}
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise SystemExit(f"error: {replicas} replica(s) failed: {lines[-1] if lines else '(no output)'}")
    report = json.loads(result.stdout)
    version = cloud.context.registry.get_version(model, report["version"])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "iterations.json"  # what the chief published, dropped candidates included
        artifact_store(cloud.context, model).fetch(version.record.artifacts["iterations"], path)
        records: list[dict[str, Any]] = json.loads(path.read_text())
    return wall, report, records


def _spread(records: list[dict[str, Any]]) -> tuple[float, float]:
    """Over the iterations after the screen: their wall seconds and their coordination seconds."""
    walls, coordination = 0.0, 0.0
    for before, record in itertools.pairwise(records):
        walls += record["seconds"] - before["seconds"]
        coordination += record["coordination_seconds"] or 0.0
    return walls, coordination


def _evaluated(records: list[dict[str, Any]]) -> int:
    return sum(1 for r in records for c in r["candidates"] if c["steps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="steps per iteration in part 1")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--budget", type=float, default=240.0, help="the wall budget of part 2")
    parser.add_argument("--limit", type=int, default=6000, help="rows of each table read")
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    args = parser.parse_args()
    machine = this_machine()
    print(f"{machine.cpu_model}, {machine.cpu_count} cores; every replica is a process on these cores")
    with private_cloud() as cloud:
        load = [sys.executable, "-m", "ml", "data", "load", "--mnist-dir", str(mnist_dir(args.mnist_dir))]
        subprocess.run(load, check=True, env={**os.environ, **cloud.endpoints.to_environ()}, capture_output=True)
        common = ["--iterations", str(args.iterations), "--limit", str(args.limit)]

        print(f"\n1. {args.steps} steps per iteration, the same 3-wide candidate list for every N")
        print(f"{'N':<3}{'job wall':>10}{'iterations 2+':>15}{'coordination':>14}{'share':>8}{'dropped':>9}  members")
        chosen = {}
        fixed = [*common, "--iteration-steps", str(args.steps), "--search-width", "3", "--budget", "1800"]
        for n in (1, 2, 3):
            wall, _, records = _run(cloud, n, f"bench-steps-{n}", fixed)
            walls, coordination = _spread(records)
            dropped = sum(len(r["dropped"]) for r in records)
            chosen[n] = records[-1]["members"]
            print(
                f"{n:<3}{wall:>9.1f}s{walls:>14.1f}s{coordination:>13.1f}s{coordination / walls:>8.1%}{dropped:>9}"
                f"  {' + '.join(chosen[n])}"
            )
        same = all(members == chosen[1] for members in chosen.values())
        print(f"same members for N = 1, 2, 3: {'yes' if same else 'NO'}")

        print(f"\n2. a {args.budget:g} s budget, each N at its default width")
        print(f"{'N':<3}{'job wall':>10}{'candidates':>12}{'test accuracy':>15}  members")
        for n in (1, 2):
            wall, report, records = _run(cloud, n, f"bench-budget-{n}", [*common, "--budget", f"{args.budget:g}"])
            accuracy = report["training"]["test_accuracy"]
            print(
                f"{n:<3}{wall:>9.1f}s{_evaluated(records):>12}{accuracy:>15.4f}  {' + '.join(records[-1]['members'])}"
            )
    print(
        "\ncoordination: an iteration's wall time less the longest any replica spent on the members' logits and on "
        "training and scoring its candidates (with N = 1: choosing and rebuilding alone).\n"
        "On one machine the replicas share its cores: these figures measure correctness and overhead, not speed-up."
    )


if __name__ == "__main__":
    main()
