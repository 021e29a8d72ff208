"""The real `predict` function under functions-framework, on the emulators, through HTTP."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from cli.commands import main
from localcloud.cloud import LocalCloud
from ml.context import Context
from ml.data import Dataset
from ml.emulators import free_port
from ml.environments import ENVIRONMENTS
from ml.registry import PRODUCTION
from tests.support.cloud import point_cli_at

LOCAL = ENVIRONMENTS["local"]
MODEL_PATH = f"/v1/projects/{LOCAL.project}/models/{LOCAL.model_name}"


def offline(run: Path, images: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(run / "model" / "model.tflite")).get_signature_runner()
    return np.asarray(runner(image=images.astype(np.float32))["class_ids"][:, 0])


def post(url: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(url, json=body, timeout=30, **kwargs)


def png(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_predictions_are_the_production_versions(served: str, test_rows: Dataset, runs: dict[str, Path]) -> None:
    response = post(f"{served}/predict", {"instances": [{"image": i.tolist()} for i in test_rows.images]})
    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["model_version"]) == ("mnist", "1")
    classes = [p["class_ids"][0] for p in body["predictions"]]
    assert classes == offline(runs["good"], test_rows.images).tolist()
    assert all(len(p["probabilities"]) == 10 for p in body["predictions"])
    assert np.allclose([sum(p["probabilities"]) for p in body["predictions"]], 1, atol=1e-4)


def test_requests_arriving_while_the_model_loads_wait_for_it(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], served: str, test_rows: Dataset
) -> None:
    """A fresh start: every worker process gets concurrent first requests; none may fail with 503."""
    assert int(LOCAL.function.server_environment["WORKERS"]) > 1  # so the requests below span processes
    cloud, _ = mnist_cloud
    cloud.services.stop("function")
    service, _ = cloud.serve()
    body = {"instances": [{"image": test_rows.images[0].tolist()}]}
    barrier = threading.Barrier(16)
    statuses: list[int] = []

    def call() -> None:
        with requests.Session() as session:
            barrier.wait()
            statuses.append(session.post(f"{service.url}/predict", json=body, timeout=30).status_code)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 16


def test_the_ai_platform_path_takes_nested_flat_and_png_images(served: str, test_rows: Dataset) -> None:
    image = test_rows.images[3]
    forms = [{"image": image.tolist()}, {"image": image.reshape(-1).tolist()}, {"image_bytes": {"b64": png(image)}}]
    response = post(f"{served}{MODEL_PATH}:predict", {"instances": forms})
    assert response.status_code == 200
    assert len({p["class_ids"][0] for p in response.json()["predictions"]}) == 1
    meta = requests.get(f"{served}{MODEL_PATH}", timeout=10).json()
    assert meta["name"] == f"projects/{LOCAL.project}/models/mnist"
    assert meta["defaultVersion"]["name"].endswith("/versions/1")


def test_a_version_can_be_pinned(served: str, test_rows: Dataset, runs: dict[str, Path]) -> None:
    body = {"instances": [{"image": i.tolist()} for i in test_rows.images]}
    pinned = post(f"{served}{MODEL_PATH}/versions/2:predict", body).json()
    assert pinned["model_version"] == "2"
    assert [p["class_ids"][0] for p in pinned["predictions"]] == offline(runs["worse"], test_rows.images).tolist()
    missing = post(f"{served}{MODEL_PATH}/versions/9:predict", body)
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"


def test_a_promotion_is_served_within_the_refresh_interval_and_no_request_fails(
    served: str, test_rows: Dataset, mnist_cloud: tuple[LocalCloud, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, _ = mnist_cloud
    point_cli_at(cloud, monkeypatch)
    body = {"instances": [{"image": test_rows.images[0].tolist()}]}
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            statuses.append(post(f"{served}/predict", body).status_code)

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        for version, command in (("2", ["models", "promote", "mnist", "2"]), ("1", ["models", "rollback", "mnist"])):
            assert main(command) == 0
            promoted = time.monotonic()
            # Each worker process refreshes on its own, at its first request once the interval
            # has passed: wait out the interval, and for 20 calls in a row, each on a new
            # connection (so spread over the processes), answered by the new version.
            refresh_s = cloud.endpoints.function_refresh_s
            served_in_a_row = 0
            while served_in_a_row < 20 or time.monotonic() < promoted + refresh_s:
                assert time.monotonic() - promoted < refresh_s + 3
                if post(f"{served}/predict", body).json()["model_version"] == version:
                    served_in_a_row += 1
                else:
                    served_in_a_row = 0
                    time.sleep(0.1)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert statuses
    assert set(statuses) == {200}
    assert cloud.context.registry.alias_target("mnist", PRODUCTION) == "1"


def test_every_prediction_is_logged_to_bigquery(
    served: str, test_rows: Dataset, mnist_cloud: tuple[LocalCloud, dict[str, Any]]
) -> None:
    import hashlib

    image = test_rows.images[7]
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    marker = f"test-{time.time_ns()}"
    post(f"{served}/predict", {"instances": [{"image": image.tolist()}] * 3}, headers={"X-Cloud-Trace-Context": marker})
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.predictions"
    columns = "instance_index, model_version, instance_sha256, latency_ms"
    query = f"SELECT {columns} FROM `{table}` WHERE request_id = '{marker}'"
    bq = mnist_cloud[0].context.bigquery
    deadline = time.monotonic() + 15
    rows: list[Any] = []
    while time.monotonic() < deadline and len(rows) < 3:
        time.sleep(0.5)
        rows = list(bq.query(query).result())
    assert sorted(r.instance_index for r in rows) == [0, 1, 2]
    assert {(r.model_version, r.instance_sha256) for r in rows} == {("1", digest)}
    assert all(r.latency_ms > 0 for r in rows)
    # Each worker process reports its own log: ask often enough to reach the one that wrote.
    reports = [requests.get(f"{served}/healthz", timeout=10).json()["prediction_log"] for _ in range(12)]
    assert all(r["failed"] == 0 for r in reports)
    assert max(r["written"] for r in reports) >= 3


TOO_MANY = {"instances": [{"image": [0] * 784}] * 501}
JSON = {"Content-Type": "application/json"}
BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("invalid-json", {"data": b'{"instances": [', "headers": JSON}, 400, "not valid JSON"),
    ("content-type", {"data": b"instances", "headers": {"Content-Type": "text/plain"}}, 415, "send application/json"),
    ("no-instances", {"json": {"images": []}}, 400, '"instances"'),
    ("empty", {"json": {"instances": []}}, 400, "non-empty list"),
    ("shape", {"json": {"instances": [{"image": [[0] * 27] * 28}]}}, 400, "rows of other lengths than 28"),
    ("size", {"json": {"instances": [{"image": [0] * 100}]}}, 400, "28x28 nested lists or 784 values"),
    ("range", {"json": {"instances": [{"image": [300] * 784}]}}, 400, "outside 0..255"),
    ("negative", {"json": {"instances": [{"image": [-1] * 784}]}}, 400, "outside 0..255"),
    ("strings", {"json": {"instances": [{"image": ["1"] * 784}]}}, 400, "not numbers"),
    ("booleans", {"json": {"instances": [{"image": [True] * 784}]}}, 400, "not numbers"),
    (
        "nan",
        {"data": b'{"instances": [{"image": [NaN]}]}', "headers": JSON},
        400,
        "NaN",
    ),
    ("png", {"json": {"instances": [{"image_bytes": {"b64": "bm90IGEgcG5n"}}]}}, 400, "not a base64-encoded PNG"),
    ("key", {"json": {"instances": [{"pixels": [0] * 784}]}}, 400, '{"image": pixels}'),
    ("too-many", {"json": TOO_MANY}, 413, "at most 500"),
    ("too-big", {"data": b" " * (5 * 1024 * 1024), "headers": JSON}, 400, "at most"),
]


@pytest.mark.parametrize(("case", "request_args", "status", "message"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_get_a_4xx_in_googles_error_shape(
    served: str, case: str, request_args: dict[str, Any], status: int, message: str
) -> None:
    response = requests.post(f"{served}/predict", timeout=30, **request_args)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status
    assert message in error["message"]
    assert error["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/predict", 405),
        ("POST", MODEL_PATH, 405),
        ("POST", "/v1/projects/p/models/other:predict", 404),
        ("GET", "/elsewhere", 404),
    ],
)
def test_wrong_methods_and_paths_get_a_4xx(served: str, method: str, path: str, status: int) -> None:
    response = requests.request(method, f"{served}{path}", json={"instances": []}, timeout=10)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "status"}


def test_without_a_model_the_answer_is_503_with_the_reason(private_cloud: LocalCloud) -> None:
    private_cloud.up()
    service, _ = private_cloud.serve()
    response = post(f"{service.url}/predict", {"instances": [{"image": [0] * 784}]})
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"
    assert "make train-publish" in response.json()["error"]["message"]
    assert json.loads(requests.get(f"{service.url}/healthz", timeout=10).text)["model_version"] is None


def test_no_prediction_is_lost_when_the_instance_stops(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], served: str, test_rows: Dataset, tmp_path: Path
) -> None:
    """SIGTERM right after the last response (Cloud Run's scale-down): every row is in `predictions` once."""
    cloud, _ = mnist_cloud
    endpoints = replace(cloud.endpoints, state_dir=tmp_path, function_port=free_port())
    instance = LocalCloud(Context(LOCAL, endpoints), cloud.stack_file)  # a second instance on the same emulators
    service = instance.start_function()
    marker = f"stop-{time.time_ns()}"
    body = {"instances": [{"image": i.tolist()} for i in test_rows.images[:5]]}
    try:
        with ThreadPoolExecutor(8) as callers:
            statuses = list(
                callers.map(
                    lambda n: (
                        post(
                            f"{service.url}/predict", body, headers={"X-Cloud-Trace-Context": f"{marker}-{n:02d}"}
                        ).status_code
                    ),
                    range(24),
                )
            )
    finally:
        assert instance.services.stop("function")
    assert statuses == [200] * 24
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.predictions"
    query = (
        f"SELECT request_id, instance_index, COUNT(*) AS n FROM `{table}` "
        f"WHERE STARTS_WITH(request_id, '{marker}-') GROUP BY request_id, instance_index"
    )
    rows = list(cloud.context.bigquery.query(query).result())
    assert sorted((r.request_id, r.instance_index) for r in rows) == [
        (f"{marker}-{n:02d}", i) for n in range(24) for i in range(5)
    ]
    assert {r.n for r in rows} == {1}


def test_a_short_soak_of_valid_and_malformed_requests_is_answered_and_logged(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], served: str, test_rows: Dataset
) -> None:
    """`bench/serving.py --soak`'s mixed load for a few seconds: each kind gets its one status, none a
    5xx or a dropped connection, and every instance answered with 2xx is a row of `predictions`."""
    from urllib.parse import urlsplit

    from localcloud.load import LoadResult, mixed_requests, run_load

    mix = mixed_requests(test_rows.images, LOCAL.project, LOCAL.model_name)
    trace = f"soak-{time.time_ns()}"
    result = run_load(urlsplit(served).netloc, mix, connections=8, seconds=5, result=LoadResult(), trace=trace)
    assert (result.server_errors, result.connection_errors) == (0, 0)
    expected = {"501 instances": 413, "content type": 415}
    expected |= {kind: 200 for kind in ("1 instance", "8 instances", "100 instances", "500 instances")}
    answered = {kind: {code for k, code in result.statuses if k == kind} for kind, *_ in mix}
    assert answered == {kind: {expected.get(kind, 400)} for kind in answered}
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.predictions"
    query = f"SELECT COUNT(*) FROM `{table}` WHERE STARTS_WITH(request_id, '{trace}-')"
    bq = mnist_cloud[0].context.bigquery
    deadline, logged = time.monotonic() + 30, -1
    while time.monotonic() < deadline and logged < result.logged_rows:
        time.sleep(1)
        logged = int(next(iter(bq.query(query).result()))[0])
    assert logged == result.logged_rows > 0


def feedback_rows(cloud: LocalCloud, request_id: str) -> list[tuple[int, int]]:
    """The labels stored for the request. DISTINCT: BigQuery drops a repeated insert id only on a
    best-effort basis (the emulator never), so the monitor, too, counts each instance's latest label once."""
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.feedback"
    query = (
        f"SELECT DISTINCT instance_index, label FROM `{table}` WHERE request_id = '{request_id}' "
        "ORDER BY instance_index"
    )
    return [(r.instance_index, r.label) for r in cloud.context.bigquery.query(query).result()]


def test_feedback_on_a_prediction_is_appended_once_and_bad_feedback_is_refused(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], served: str, test_rows: Dataset
) -> None:
    cloud, _ = mnist_cloud
    answer = post(f"{served}/predict", {"instances": [{"image": i.tolist()} for i in test_rows.images[:3]]})
    request_id = answer.json()["request_id"]
    assert answer.headers["X-Request-Id"] == request_id
    labels = [int(test_rows.labels[0]), None, int(test_rows.labels[2])]
    deadline = time.monotonic() + 30  # another worker finds the request once the prediction log wrote it
    while (accepted := post(f"{served}/feedback", {"request_id": request_id, "labels": labels})).status_code == 404:
        assert time.monotonic() < deadline, accepted.text
    again = post(f"{served}/feedback", {"request_id": request_id, "labels": labels})  # a repeated post counts once
    for reply in (accepted, again):
        assert (reply.status_code, reply.json()) == (200, {"request_id": request_id, "labels_recorded": 2})
    assert feedback_rows(cloud, request_id) == [(0, labels[0]), (2, labels[2])]

    refused = {
        "unknown request": ({"request_id": "no-such-request", "labels": [1]}, 404),
        "wrong count": ({"request_id": request_id, "labels": [1, 2]}, 400),
        "out of range": ({"request_id": request_id, "labels": [1, 10, 2]}, 400),
        "not a class id": ({"request_id": request_id, "labels": [1, "2", 3]}, 400),
        "other fields": ({"request_id": request_id, "labels": [1, 2, 3], "extra": 1}, 400),
    }
    for what, (body, status) in refused.items():
        response = post(f"{served}/feedback", body)
        assert response.status_code == status, what
        assert set(response.json()["error"]) == {"code", "message", "status"}, what
    assert requests.get(f"{served}/feedback", timeout=10).status_code == 405
    assert feedback_rows(cloud, request_id) == [(0, labels[0]), (2, labels[2])]


def test_feedback_reaching_another_instance_finds_the_request_in_the_prediction_log(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], served: str, test_rows: Dataset, tmp_path: Path
) -> None:
    """Cloud Run may route the feedback to an instance that never saw the request: it reads `predictions`."""
    cloud, _ = mnist_cloud
    request_id = post(f"{served}/predict", {"instances": [{"image": test_rows.images[5].tolist()}]}).json()[
        "request_id"
    ]
    endpoints = replace(cloud.endpoints, state_dir=tmp_path, function_port=free_port())
    instance = LocalCloud(Context(LOCAL, endpoints), cloud.stack_file)
    service = instance.start_function()
    try:
        deadline, status = time.monotonic() + 30, 404
        while status == 404 and time.monotonic() < deadline:  # until the first instance's log has written the row
            response = post(f"{service.url}/feedback", {"request_id": request_id, "labels": [4]})
            status = response.status_code
            time.sleep(0.5)
    finally:
        assert instance.services.stop("function")
    assert status == 200, response.text
    assert feedback_rows(cloud, request_id) == [(0, 4)]
