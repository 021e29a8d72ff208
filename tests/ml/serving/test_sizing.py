"""The memory each cloud environment declares for the function holds its worst case.

Worst case: every thread of every worker process busy with the largest request the function
accepts (the most instances, as floats, near the body limit), on the model `make train-publish`
makes (a CNN). The function runs under functions-framework with that environment's workers,
threads and limits; its processes' resident memory, summed as a container's limit counts it,
must stay within 80% of what the stack declares, and what a round of load leaves behind once the
prediction log has written its rows must not grow with a further round.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from localcloud.cloud import LocalCloud
from localcloud.services import MemoryWatch, resident_memory
from ml.context import Context
from ml.data.loader import load, prepare
from ml.data.sources import from_directory
from ml.emulators import LocalEndpoints
from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS, FunctionSizing
from ml.publish.flow import publish
from ml.training.run import TrainConfig, train
from tests.support.cloud import logged_rows
from tests.support.idx_files import write_set

LOCAL = ENVIRONMENTS["local"]
HEADROOM = 0.8
# What a round leaves behind depends on how its requests interleave, which a neighbour training on
# the same cores changes (a parallel run once left 243 -> 259 MiB in dev): measured alone.
pytestmark = pytest.mark.serial
ROUNDS_PER_CONNECTION = 2


@pytest.fixture(scope="module")
def cnn_cloud(local_stack_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """A local cloud of its own whose production version is a CNN (its weights barely trained: size is what counts)."""
    folder = tmp_path_factory.mktemp("sizing")
    cloud = LocalCloud(Context(LOCAL, LocalEndpoints.on_free_ports(folder / "local")), local_stack_file)
    try:
        cloud.up()
        write_set(folder / "set", train=600, test=100, shape=(28, 28), classes=10)
        list(load(cloud.context, prepare(from_directory(folder / "set"), valid_size=100)))
        config = TrainConfig(
            budget_s=40, generators=("cnn",), iterations=1, iteration_steps=3, runs_dir=folder / "runs"
        )
        run = train(cloud.context, config, log=io.StringIO())
        publish(cloud.context, run.run_dir, log=io.StringIO())
        yield cloud
    finally:
        cloud.destroy()


def largest_request(sizing: FunctionSizing) -> bytes:
    """The most instances a request may hold, as floats (JSON floats cost more memory than small ints)."""
    pixels = np.random.default_rng(0).uniform(0, 255, (sizing.request_instances, 28, 28)).round(3)
    body = json.dumps({"instances": [{"image": image.tolist()} for image in pixels]}).encode()
    assert len(body) <= sizing.request_bytes, "the worst case must be a request the function accepts"
    return body


def load_round(address: str, body: bytes, connections: int) -> list[int]:
    """`connections` callers at once, each posting `body` ROUNDS_PER_CONNECTION times on a keep-alive connection."""
    statuses: list[int] = []
    lock = threading.Lock()

    def caller() -> None:
        connection = http.client.HTTPConnection(address, timeout=120)
        try:
            for _ in range(ROUNDS_PER_CONNECTION):
                connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                with lock:
                    statuses.append(response.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def settled_memory(cloud: LocalCloud, pid: int, rows: int, timeout_s: float = 300) -> int:
    """The function's summed resident memory once `predictions` holds `rows` rows: the log's backlog,
    bounded but slower to drain on a slower machine, is written and freed, so what remains is what
    the load left behind."""
    deadline = time.monotonic() + timeout_s
    while (logged := logged_rows(cloud)) < rows:
        assert time.monotonic() < deadline, f"the prediction log wrote {logged} of {rows} rows in {timeout_s:.0f} s"
        time.sleep(1)
    time.sleep(1)  # the writer's last batch is freed after its response
    return sum(resident_memory(pid).values())


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_declared_memory_holds_every_thread_busy_with_the_largest_request(
    cnn_cloud: LocalCloud, env_name: str
) -> None:
    sizing = ENVIRONMENTS[env_name].function
    body = largest_request(sizing)
    service = cnn_cloud.start_function(sizing)
    try:
        address = service.url.removeprefix("http://")
        rows, per_round = logged_rows(cnn_cloud), sizing.concurrency * ROUNDS_PER_CONNECTION * sizing.request_instances
        statuses: list[int] = []
        left_behind = []
        with MemoryWatch(service.pid) as watch:
            # The first round sizes every thread's interpreter and buffers; the second and third
            # must leave the same behind.
            for _ in range(3):
                statuses += load_round(address, body, sizing.concurrency)
                rows += per_round
                left_behind.append(settled_memory(cnn_cloud, service.pid, rows))
        peak = watch.peak_total
    finally:
        cnn_cloud.services.stop(service.name)
    assert statuses == [200] * (3 * sizing.concurrency * ROUNDS_PER_CONNECTION)
    assert len(watch.peak) == 1 + int(sizing.server_environment["WORKERS"])  # gunicorn's arbiter and its workers
    mib = 2**20
    assert peak <= HEADROOM * sizing.memory_bytes, (
        f"{env_name}: the function peaked at {peak / mib:.0f} MiB under {sizing.concurrency} concurrent requests of "
        f"{sizing.request_instances} instances; {sizing.memory} leaves {HEADROOM:.0%} = "
        f"{HEADROOM * sizing.memory_bytes / mib:.0f} MiB: raise `memory` or lower `concurrency` in its toml"
    )
    print(f"{env_name}: peak {peak / mib:.0f} MiB; left behind " + ", ".join(f"{m / mib:.0f}" for m in left_behind))
    assert left_behind[2] - left_behind[1] <= 0.02 * sizing.memory_bytes, (
        f"{env_name}: a third round of the same load left the function at {left_behind[2] / mib:.0f} MiB "
        f"against {left_behind[1] / mib:.0f} after the second: memory does not plateau"
    )
