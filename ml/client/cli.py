"""`python -m ml predict`: the `test` table through the endpoint, online accuracy against the recorded one."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from ml.cli import Report
from ml.cloud import LocalEndpoints, bigquery_client, stack_output
from ml.environments import Environment, get_environment
from ml.errors import ConfigError


def register(groups: Any, common: argparse.ArgumentParser) -> None:
    parser = groups.add_parser("predict", parents=[common], help="send the test table through the endpoint")
    parser.add_argument("--n", type=int, default=10000, help="test images to send (default: all 10,000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--url", help="the endpoint (default: the local function; in the cloud, the function's URL)")
    parser.set_defaults(command=_predict)


def _predict(args: argparse.Namespace) -> Report:
    from ml.client import InferAPI
    from ml.data import read_table

    env = get_environment(args.env)
    url = _url(env, args.url)
    api = InferAPI(url, project=env.project, model=env.model_name, credentials=_credentials(env, url))
    meta = api.get_model_meta()
    test = read_table(env, "test", row_filter=f"key < {args.n}" if args.n < 10000 else None)
    started = time.monotonic()
    answer = api.predict(test.images, batch_size=args.batch_size)
    seconds = time.monotonic() - started
    online = float((np.asarray(answer["class_ids"]) == test.labels).mean())
    version = answer["model_version"]
    offline = _recorded_accuracy(env, version, test.lineage.digest)
    report = {
        "endpoint": url,
        "model": env.model_name,
        "model_version": version,
        "default_version": meta["defaultVersion"]["name"],
        "images": len(test.labels),
        "online_accuracy": round(online, 6),
        "offline_accuracy": offline,
        "equal": None if offline is None else abs(online - offline) < 1e-9,
        "seconds": round(seconds, 2),
        "images_per_second": round(len(test.labels) / seconds, 1),
    }
    body = json.dumps({"instances": [{"image_bytes": {"b64": _png_base64(test.images[0])}}]})
    curl = f"curl -s -X POST -H 'Content-Type: application/json' {url}/predict -d '{body}'"
    report["curl"] = curl
    lines = [
        f"endpoint {url} serves {env.model_name} version {version}",
        f"online accuracy  {online:.4f} on {len(test.labels)} test images ({report['images_per_second']} images/s)",
        "offline accuracy " + (f"{offline:.4f} (recorded when version {version} was published)" if offline else "-"),
        f"try it: {curl}",
    ]
    return report, lines


def _png_base64(image: Any) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _url(env: Environment, url: str | None) -> str:
    """`url`, else the local function, else the deployed stack's output `function_uri`."""
    if url:
        return url
    if env.emulated:
        return LocalEndpoints.from_env().function_url
    found = stack_output(env.name, "function_uri") or ""
    if not found.startswith("https://"):
        raise ConfigError(
            f"no URL for {env.name}'s function: give it with --url (make predict URL=...), the stack output "
            f"function_uri, or run `make plan ENV={env.name}` once so that its output can be read here"
        )
    return found


def _credentials(env: Environment, url: str) -> Any:
    """In the cloud, ID tokens for the function's URL: the caller's own, or as the environment's `invoker`."""
    if env.emulated:
        return None
    from ml.client.auth import id_token_credentials

    return id_token_credentials(url, env.service_account_email("invoker"))


def _recorded_accuracy(env: Environment, version: str, digest: str) -> float | None:
    """The version's accuracy on these very rows, as the publish flow recorded it in `model_evaluations`."""
    from google.cloud import bigquery

    query = (
        f"SELECT metrics FROM `{env.project}.{env.dataset_id}.model_evaluations` "
        "WHERE model = @model AND model_version = @version AND data_digest = @digest "
        "ORDER BY evaluated_at DESC LIMIT 1"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("model", "STRING", env.model_name),
            bigquery.ScalarQueryParameter("version", "STRING", version),
            bigquery.ScalarQueryParameter("digest", "STRING", digest),
        ]
    )
    rows = list(bigquery_client(env).query(query, job_config=config).result())
    if not rows:
        return None
    metrics = rows[0]["metrics"]
    return float((json.loads(metrics) if isinstance(metrics, str) else metrics)["accuracy"])
