"""The worst traffic the function must take: valid requests of every size mixed with malformed
ones, on both paths, over many keep-alive connections. `bench/serving.py --soak` runs it for
minutes; `tests/ml/serving/test_function.py` for a few seconds."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

import numpy as np

Request = tuple[str, str, bytes, str]
"""(kind, path, body, content type)."""


def mixed_requests(images: np.ndarray, project: str, model: str) -> list[Request]:
    """Every request the load cycles through, valid and not."""
    ai_platform = f"/v1/projects/{project}/models/{model}:predict"

    def instances(n: int) -> bytes:
        return json.dumps({"instances": [{"image": images[i % len(images)].tolist()} for i in range(n)]}).encode()

    pixels = images[0].tolist()
    bad = {
        "bad JSON": b'{"instances": [',
        "wrong shape": json.dumps({"instances": [{"image": pixels[:27]}]}).encode(),
        "strings": json.dumps({"instances": [{"image": [["x"] * 28] * 28}]}).encode(),
        "overflow": json.dumps({"instances": [{"image": [1e400] * 784}]}).replace("Infinity", "1e400").encode(),
        "bad base64": json.dumps({"instances": [{"image_bytes": {"b64": "not base64!"}}]}).encode(),
        "501 instances": instances(501),
        "deep nesting": b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    }
    requests_ = [
        (f"{n} instance{'s' * (n > 1)}", path, instances(n), "application/json")
        for n in (1, 8, 100, 500)
        for path in ("/predict", ai_platform)
    ]
    requests_ += [
        (kind, path, body, "application/json") for kind, body in bad.items() for path in ("/predict", ai_platform)
    ]
    requests_ += [("content type", path, instances(1), "text/plain") for path in ("/predict", ai_platform)]
    return requests_


@dataclass
class LoadResult:
    statuses: dict[tuple[str, int], int] = field(default_factory=dict)
    """(kind, status) -> answers."""
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    """Kind -> latencies of its 2xx answers."""
    logged_rows: int = 0
    """Instances answered with 2xx: the rows `predictions` must receive."""
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def server_errors(self) -> int:
        return sum(n for (_, code), n in self.statuses.items() if code >= 500)


def run_load(
    address: str, mix: list[Request], *, connections: int, seconds: float, result: LoadResult, trace: str = ""
) -> LoadResult:
    """`connections` keep-alive callers cycling through `mix` for `seconds`, each from its own offset;
    answers add up in `result`. `trace` prefixes an X-Cloud-Trace-Context per request (`<trace>-<n>`)."""
    until = time.perf_counter() + seconds
    numbers = itertools.count()

    def caller(offset: int) -> None:
        connection = http.client.HTTPConnection(address, timeout=60)
        for kind, path, body, content_type in itertools.islice(itertools.cycle(mix), offset, None):
            if time.perf_counter() >= until:
                break
            headers = {"Content-Type": content_type}
            if trace:
                headers["X-Cloud-Trace-Context"] = f"{trace}-{next(numbers)}"
            started = time.perf_counter()
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                with result.lock:
                    result.connection_errors += 1
                connection.close()
                connection = http.client.HTTPConnection(address, timeout=60)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with result.lock:
                result.statuses[(kind, response.status)] = result.statuses.get((kind, response.status), 0) + 1
                if response.status == 200:
                    result.logged_rows += len(json.loads(answer)["predictions"])
                    result.latency_ms.setdefault(kind, []).append(elapsed)
        connection.close()

    threads = [threading.Thread(target=caller, args=(3 * i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result
