"""The prediction endpoint on loopback, side by side: LiteRT (as deployed) against TensorFlow.

    .venv/bin/python -m bench.serving [--requests 2000]

(1) cold start, process start to first successful prediction, of the function and of the same
function serving the SavedModel with TensorFlow (bench/serving_tf/); (2) warm latency of one
instance at concurrency 1 and 8; (3) latency of 100-instance batches. A CNN is trained for
40 s and published first, so both serve the same version from the same manifest. The function
runs with the environment's gunicorn settings (`FunctionSizing.server_environment`), and the
warm latencies come from keep-alive `http.client` connections, one per concurrent caller.
Targets: cold start <= 1 s and >= 5x faster than TensorFlow; warm p50 <= 5 ms and p99 <= 20 ms
at concurrency 8; 100 instances p50 <= 30 ms.

    .venv/bin/python -m bench.serving --soak 60 [--sizing dev]

The soak instead: 16 keep-alive connections for two periods of SECONDS each, cycling through
valid requests of 1, 8, 100 and 500 instances and malformed ones (bad JSON, wrong shapes,
strings, overflow, bad base64, 501 instances, deep nesting, another content type) on both
`/predict` and AI Platform's path, with the function sized as `--sizing` deploys it. It prints
the answers by status, the latency of 1- and 500-instance predictions, the resident memory
of each process (peak after each period, and at the end) against the memory that environment
declares, and whether every 2xx's rows reached `predictions`. Targets: no 5xx, no connection
error, peak within 80% of the declared memory, the second period's peak no higher than the first's.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests

from bench import mnist_dir
from bench.cloud import private_cloud
from infra.function_bundle import stage
from infra.local.cloud import LocalCloud
from infra.local.load import LoadResult, mixed_requests, run_load
from infra.local.services import MemoryWatch
from ml.data import read_table
from ml.data.loader import load, prepare
from ml.data.sources import from_directory
from ml.endpoints import ROOT, free_port
from ml.environments import ENVIRONMENTS, FunctionSizing
from ml.publish.flow import publish
from ml.schemas import PREDICTIONS
from ml.training.run import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", type=Path, help="IDX files (default: ../shared/data/mnist, else downloaded)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="only the mixed-load soak: two periods of this")
    parser.add_argument("--sizing", choices=sorted(ENVIRONMENTS), default="dev", help="whose function sizing to soak")
    args = parser.parse_args()

    with private_cloud() as cloud, tempfile.TemporaryDirectory() as runs:
        workers = cloud.function_spec().env["WORKERS"]
        list(load(cloud.context, prepare(from_directory(mnist_dir(args.mnist_dir)))))
        run = train(cloud.context, TrainConfig(budget_s=40, generators=("cnn",), runs_dir=Path(runs)))
        publish(cloud.context, run.run_dir, log=io.StringIO())
        test = read_table(cloud.context, "test", limit=200)
        one = {"instances": [{"image": test.images[0].tolist()}]}
        hundred = {"instances": [{"image": image.tolist()} for image in test.images[:100]]}
        if args.soak:
            soak(cloud, test.images, ENVIRONMENTS[args.sizing].function, args.soak, args.sizing)
            return

        cold = {
            name: [cold_start(cloud, source, one) for _ in range(args.cold_starts)]
            for name, source in (("litert", None), ("tensorflow", ROOT / "bench" / "serving_tf" / "tf_main.py"))
        }
        with function(cloud, None) as (url, _):
            first_prediction(url, one)
            single = {c: latencies(url, one, args.requests, c) for c in (1, 8)}
            batch = latencies(url, hundred, max(args.requests // 10, 50), 1)

    lite, tf = statistics.median(cold["litert"]), statistics.median(cold["tensorflow"])
    print(f"predict function on loopback (functions-framework, gunicorn, {workers} worker processes), 2-core machine")
    print(f"cold start, process start -> first prediction (median of {args.cold_starts}):")
    print(f"  LiteRT (deployed)      {lite:6.3f} s   runs {_fmt(cold['litert'])}   (target <= 1 s)")
    print(f"  TensorFlow SavedModel  {tf:6.3f} s   runs {_fmt(cold['tensorflow'])}")
    print(f"  TensorFlow / LiteRT    {tf / lite:6.1f}x  (target >= 5x)")
    for concurrency, values in single.items():
        p50, p99 = _percentiles(values)
        print(
            f"one instance, concurrency {concurrency}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({len(values)} requests)"
        )
    p50, p99 = _percentiles(batch)
    print(f"100 instances, concurrency 1: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({len(batch)} requests)")
    print("targets: one instance p50 <= 5 ms, p99 <= 20 ms at concurrency 8; 100 instances p50 <= 30 ms")


@contextmanager
def function(cloud: LocalCloud, source: Path | None, sizing: FunctionSizing | None = None) -> Iterator[tuple[str, int]]:
    """The function (or its TensorFlow variant) in a process of its own, on a free port: its URL and pid."""
    stage(cloud.function_source)
    spec = cloud.function_spec(sizing)
    port = free_port()
    command = list(spec.command)
    command[command.index("--port") + 1] = str(port)
    if source is not None:
        command[command.index("--source") + 1] = str(source)
    process = subprocess.Popen(
        command, env={**_environ(), **spec.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield f"http://{spec.host}:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def cold_start(cloud: LocalCloud, source: Path | None, body: Any) -> float:
    started = time.perf_counter()
    with function(cloud, source) as (url, _):
        first_prediction(url, body)
        return time.perf_counter() - started


def first_prediction(url: str, body: Any) -> None:
    """Returns once the function at `url` answered a prediction."""
    started = time.perf_counter()
    last = "no answer"
    while True:
        try:
            response = requests.post(f"{url}/predict", json=body, timeout=30)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:300]}"
        except requests.ConnectionError:
            pass
        time.sleep(0.005)
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"{url} served no prediction in 120 s: {last}")


def latencies(url: str, body: Any, count: int, concurrency: int) -> list[float]:
    """Milliseconds per POST of `body`, from `concurrency` threads each on its own keep-alive connection.

    The load generator is `http.client` with the body encoded once: it shares the two cores
    with the function, and `requests` (about 0.5 ms of CPU a call, under one interpreter lock
    for all threads) would time itself more than the endpoint.
    """
    payload = json.dumps(body).encode()
    address = urlsplit(url)
    results: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        connection = http.client.HTTPConnection(address.netloc, timeout=30)
        headers = {"Content-Type": "application/json"}

        def post() -> float:
            started = time.perf_counter()
            connection.request("POST", "/predict", payload, headers)
            response = connection.getresponse()
            answer = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {answer[:200]!r}")
            return elapsed

        try:
            post()  # the connection set up, and its worker process warm: not measured
            mine = [post() for _ in range(n)]
        finally:
            connection.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(count // concurrency,)) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def soak(cloud: LocalCloud, images: np.ndarray, sizing: FunctionSizing, seconds: float, name: str) -> None:
    """The mixed load on 16 connections for two periods; answers, latencies, memory and the prediction log."""
    env = cloud.env
    mix = mixed_requests(images, env.project, env.model_name)
    result = LoadResult()
    table = env.table(PREDICTIONS)
    bq = cloud.context.bigquery
    rows_before = _count(bq, table)

    memory = sizing.memory_bytes
    with function(cloud, None, sizing) as (url, pid):
        first_prediction(url, {"instances": [{"image": images[0].tolist()}]})
        result.logged_rows += 1
        peaks = []
        with MemoryWatch(pid) as watch:
            for _ in range(2):
                run_load(urlsplit(url).netloc, mix, connections=16, seconds=seconds, result=result)
                peaks.append((watch.peak_total, dict(watch.peak)))
            time.sleep(2)  # idle: what the processes keep
        final = watch.last
        found = _wait_for_rows(bq, table, rows_before + result.logged_rows)
    statuses, errors = result.statuses, result.connection_errors
    latency = {kind: result.latency_ms.get(kind, []) for kind in ("1 instance", "500 instances")}

    workers = sizing.server_environment
    print(
        f"soak: 16 connections, 2 x {seconds:g} s, function sized as {name} ({workers['WORKERS']} workers x "
        f"{workers['THREADS']} threads, {sizing.memory})"
    )
    codes = sorted({code for _, code in statuses})
    print(f"{'request':16} " + " ".join(f"{code:>6}" for code in codes))
    for kind in dict.fromkeys(kind for kind, *_ in mix):
        print(f"{kind:16} " + " ".join(f"{statuses.get((kind, code), 0):6d}" for code in codes))
    print(f"5xx: {result.server_errors}   connection errors: {errors}")
    for kind, values in latency.items():
        p50, p99 = _percentiles(values) if values else (float("nan"), float("nan"))
        print(f"{kind:16} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  ({len(values)} requests)")
    limit = 0.8 * memory
    for period, (total, by_pid) in enumerate(peaks, start=1):
        processes = "  ".join(f"{pid}: {size / 2**20:.0f}" for pid, size in sorted(by_pid.items()))
        print(
            f"peak after period {period}: {total / 2**20:7.0f} MiB (80% of {sizing.memory}: {limit / 2**20:.0f} MiB)"
            f"   per process MiB {processes}"
        )
    print(
        f"final (idle): {sum(final.values()) / 2**20:7.0f} MiB   per process MiB "
        + "  ".join(f"{pid}: {size / 2**20:.0f}" for pid, size in sorted(final.items()))
    )
    print(f"prediction log: {result.logged_rows} rows answered with 2xx, {found - rows_before} in `predictions`")


def _count(bq: Any, table: str) -> int:
    return int(next(iter(bq.query(f"SELECT COUNT(*) FROM `{table}`").result()))[0])


def _wait_for_rows(bq: Any, table: str, expected: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while (found := _count(bq, table)) < expected and time.monotonic() < deadline:
        time.sleep(1)
    return found


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TF_CPP_MIN_LOG_LEVEL": "2"}


if __name__ == "__main__":
    main()
