"""What running train-publish as a Vertex AI job costs on `local`, against the same command in process.

Both run `python -m ml train-publish` at one budget on one private local cloud with MNIST
loaded, one after the other, alternating, each its own model; the job goes through the
Vertex AI emulator, as `make train-publish RUNNER=vertex` does.

    .venv/bin/python -m bench.jobs [--budget 60] [--repeat 2]

Prints, per run: the command's wall time; for the job, submit to RUNNING, submit to the
replica's first log line (its Python and TensorFlow imports), the job's own time, and the
command's wall time against the in-process one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench import mnist_dir
from bench.cloud import private_cloud
from infra.local.cloud import LocalCloud
from ml.jobs import service


def _seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def _run(cloud: LocalCloud, runner: str, budget: float, model: str) -> tuple[float, dict[str, object]]:
    command = [sys.executable, "-m", "ml", "train-publish", "--runner", runner, "--budget", f"{budget:g}"]
    command += ["--model", model, "--json"]
    env = {**os.environ, **cloud.endpoints.to_environ()}
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"error: {runner} run failed: {result.stderr.strip().splitlines()[-1]}")
    return wall, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    args = parser.parse_args()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown CPU",
    )
    print(f"{cpu}, {os.cpu_count()} cores; budget {args.budget:g} s")
    with private_cloud() as cloud:
        load = [sys.executable, "-m", "ml", "data", "load", "--mnist-dir", str(mnist_dir(args.mnist_dir))]
        env = {**os.environ, **cloud.endpoints.to_environ()}
        subprocess.run(load, check=True, env=env, capture_output=True)
        print(
            f"{'run':<5}{'in-process':>12}{'job':>9}{'ratio':>8}{'to RUNNING':>12}{'to 1st line':>13}{'job itself':>12}"
        )
        for i in range(args.repeat):
            inprocess, _ = _run(cloud, "inprocess", args.budget, f"bench-inprocess-{i}")
            wall, report = _run(cloud, "vertex", args.budget, f"bench-vertex-{i}")
            job = service.get(cloud.context, str(report["job"]["id"]))  # type: ignore[index]
            first = next(iter(service.log_lines(cloud.context, job)))
            assert job.started is not None
            assert job.ended is not None
            print(
                f"{i + 1:<5}{inprocess:>11.1f}s{wall:>8.1f}s{wall / inprocess:>8.3f}"
                f"{_seconds(job.started, job.created):>11.2f}s{_seconds(first.timestamp, job.created):>12.1f}s"
                f"{_seconds(job.ended, job.created):>11.1f}s"
            )


if __name__ == "__main__":
    main()
