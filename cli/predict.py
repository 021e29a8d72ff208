"""`python -m ml predict`: the `test` table through the endpoint, online accuracy against the recorded one."""

from __future__ import annotations

import argparse
import base64
import io
import json
import time
from typing import Any

import numpy as np

from cli.app import Report
from ml.cloud import stack_output
from ml.context import Context
from ml.errors import ConfigError


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=10000, help="test images to send (default: all 10,000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--url", help="the endpoint (default: the local function; in the cloud, the function's URL)")
    parser.add_argument(
        "--feedback",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="send the true labels of this share of the images back (POST /feedback), as a labeller would",
    )
    parser.add_argument(
        "--transform",
        choices=list(TRANSFORMS),
        default="none",
        help="send the images inverted or turned a quarter: traffic unlike the training data, for the monitor",
    )


TRANSFORMS = {"none": "", "invert": ", inverted", "rotate": ", turned a quarter"}
"""Each `--transform`, and how the result line says it."""


def predict(args: argparse.Namespace, context: Context) -> Report:
    from ml.client import InferAPI
    from ml.data import read_table
    from ml.publish.evaluations_table import recorded_metrics

    env = context.env
    if not 0 <= args.feedback <= 1:
        raise ConfigError(f"--feedback {args.feedback}; give a share of the images between 0 and 1")
    url = _url(context, args.url)
    api = InferAPI(url, project=env.project, model=env.model_name, credentials=_credentials(context, url))
    meta = api.get_model_meta()
    test = read_table(context, "test", row_filter=f"key < {args.n}" if args.n < 10000 else None)
    images = _transformed(test.images, args.transform)
    started = time.monotonic()
    answer = api.predict(images, batch_size=args.batch_size)
    seconds = time.monotonic() - started
    online = float((np.asarray(answer["class_ids"]) == test.labels).mean())
    labelled = round(args.feedback * len(test.labels))
    if labelled:
        known = np.where(np.arange(len(test.labels)) < labelled, test.labels, -1)
        api.feedback(answer["request_ids"], known)
    version = answer["model_version"]
    recorded = recorded_metrics(context, env.model_name, version, test.lineage.digest)
    offline = None if recorded is None else recorded.accuracy
    report = {
        "endpoint": url,
        "model": env.model_name,
        "model_version": version,
        "default_version": meta["defaultVersion"]["name"],
        "images": len(test.labels),
        "transform": args.transform,
        "labels_sent": labelled,
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
        f"online accuracy  {online:.4f} on {len(test.labels)} test images ({report['images_per_second']} images/s)"
        + TRANSFORMS[args.transform],
        *([f"feedback         true labels of {labelled} images sent back"] if labelled else []),
        "offline accuracy " + (f"{offline:.4f} (recorded when version {version} was published)" if offline else "-"),
        f"try it: {curl}",
    ]
    return Report(report, lines)


def _transformed(images: Any, transform: str) -> Any:
    if transform == "invert":
        return 255 - images
    if transform == "rotate":
        return np.rot90(images, k=1, axes=(1, 2)).copy()
    return images


def _png_base64(image: Any) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _url(context: Context, url: str | None) -> str:
    """`url`, else the local function, else the deployed stack's output `function_uri`."""
    if url:
        return url
    if context.endpoints is not None:
        return context.endpoints.function_url
    env = context.env
    found = stack_output(env.name, "function_uri") or ""
    if not found.startswith("https://"):
        raise ConfigError(
            f"no URL for {env.name}'s function: give it with --url (make predict URL=...), the stack output "
            f"function_uri, or run `make plan ENV={env.name}` once so that its output can be read here"
        )
    return found


def _credentials(context: Context, url: str) -> Any:
    """In the cloud, ID tokens for the function's URL: the caller's own, or as the environment's `invoker`."""
    if context.endpoints is not None:
        return None
    from ml.client.auth import id_token_credentials

    return id_token_credentials(url, context.env.service_account_email("invoker"))
