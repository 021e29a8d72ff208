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

from bench.cloud import private_cloud
from infra.local.cloud import LocalCloud
from ml.cloud import ROOT, free_port
from ml.data import read_table
from ml.data.loader import load, prepare
from ml.data.sources import from_directory
from ml.publish.flow import publish
from ml.training.run import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cold-starts", type=int, default=3)
    args = parser.parse_args()

    with private_cloud() as cloud, tempfile.TemporaryDirectory() as runs:
        env = cloud.env
        workers = cloud.function_spec().env["WORKERS"]
        list(load(env, prepare(from_directory(args.mnist_dir)), local=cloud.endpoints))
        run = train(env, TrainConfig(budget_s=40, generators=("cnn",), runs_dir=Path(runs)), local=cloud.endpoints)
        publish(env, run.run_dir, local=cloud.endpoints, log=io.StringIO())
        test = read_table(env, "test", limit=200, local=cloud.endpoints)
        one = {"instances": [{"image": test.images[0].tolist()}]}
        hundred = {"instances": [{"image": image.tolist()} for image in test.images[:100]]}

        cold = {
            name: [cold_start(cloud, source, one) for _ in range(args.cold_starts)]
            for name, source in (("litert", None), ("tensorflow", ROOT / "bench" / "serving_tf" / "tf_main.py"))
        }
        with function(cloud, None) as url:
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
def function(cloud: LocalCloud, source: Path | None) -> Iterator[str]:
    """The function (or its TensorFlow variant) in a process of its own, on a free port."""
    spec = cloud.function_spec()
    port = free_port()
    command = list(spec.command)
    command[command.index("--port") + 1] = str(port)
    if source is not None:
        command[command.index("--source") + 1] = str(source)
    process = subprocess.Popen(
        command, env={**_environ(), **spec.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield f"http://{spec.host}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def cold_start(cloud: LocalCloud, source: Path | None, body: Any) -> float:
    started = time.perf_counter()
    with function(cloud, source) as url:
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


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TF_CPP_MIN_LOG_LEVEL": "2"}


if __name__ == "__main__":
    main()
