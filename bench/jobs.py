"""What running train-publish as a Vertex AI job costs on `local`, against the same command in process.

Both run `python -m ml train-publish` at one budget on one private local cloud with MNIST
loaded, one after the other, alternating, each its own model; the job goes through the
Vertex AI emulator, as `make train-publish RUNNER=vertex` does.

    .venv/bin/python -m bench.jobs [--budget 60] [--repeat 2]

Prints, per run: each command's wall time and their ratio; from each command's start to the
trainer's search starting (for the job, by its log line's time); for the job, creation to
RUNNING and creation to its end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import mnist_dir
from bench.cloud import private_cloud
from localcloud.cloud import LocalCloud
from ml.jobs import service
from ml.training.host import this_machine


def _seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


SEARCH_STARTS = "measured in"
"""The trainer's line just before its search starts (ml/training/run.py)."""


def _run(cloud: LocalCloud, runner: str, budget: float, model: str) -> tuple[float, float | None, dict[str, object]]:
    """The command's wall time, when its own stderr showed the search starting (None for a job), its report."""
    command = [sys.executable, "-m", "ml", "train-publish", "--runner", runner, "--budget", f"{budget:g}"]
    command += ["--model", model, "--json"]
    env = {**os.environ, **cloud.endpoints.to_environ()}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None
    assert process.stdout is not None
    search, lines = None, []
    for line in process.stderr:
        lines.append(line)
        if search is None and line.startswith(SEARCH_STARTS):
            search = time.perf_counter() - start
    out = process.stdout.read()
    wall = time.perf_counter() - start
    if process.wait() != 0:
        raise SystemExit(f"error: {runner} run failed: {lines[-1].strip() if lines else '(no output)'}")
    return wall, search, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    args = parser.parse_args()
    machine = this_machine()
    print(f"{machine.cpu_model}, {machine.cpu_count} cores; budget {args.budget:g} s")
    with private_cloud() as cloud:
        load = [sys.executable, "-m", "ml", "data", "load", "--mnist-dir", str(mnist_dir(args.mnist_dir))]
        env = {**os.environ, **cloud.endpoints.to_environ()}
        subprocess.run(load, check=True, env=env, capture_output=True)
        print(
            f"{'run':<5}{'in-process':>12}{'job':>9}{'ratio':>8}{'search at':>11}{'job: search at':>16}"
            f"{'to RUNNING':>12}{'job itself':>12}"
        )
        for i in range(args.repeat):
            inprocess, search, _ = _run(cloud, "inprocess", args.budget, f"bench-inprocess-{i}")
            submitted = datetime.now(UTC)
            wall, _, report = _run(cloud, "vertex", args.budget, f"bench-vertex-{i}")
            job = service.get(cloud.context, str(report["job"]["id"]))  # type: ignore[index]
            job_search = next(
                line.timestamp for line in service.log_lines(cloud.context, job) if line.text.startswith(SEARCH_STARTS)
            )
            assert job.started is not None
            assert job.ended is not None
            print(
                f"{i + 1:<5}{inprocess:>11.1f}s{wall:>8.1f}s{wall / inprocess:>8.3f}{search or 0:>10.1f}s"
                f"{_seconds(job_search, submitted.isoformat()):>15.1f}s{_seconds(job.started, job.created):>11.2f}s"
                f"{_seconds(job.ended, job.created):>11.1f}s"
            )
    print("search at: from the command's start to the trainer's search starting (data read, exports timed)")


if __name__ == "__main__":
    main()
