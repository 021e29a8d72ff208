"""The emulator's HTTP surface: Vertex AI's v1 REST paths (ModelService, JobService) and Logging's v2 `entries:list`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from localcloud.vertex.errors import ApiError
from localcloud.vertex.jobs import CustomJobs
from localcloud.vertex.logs import Logs
from localcloud.vertex.models import Models

_LOCATION = r"projects/[^/]+/locations/[^/]+"


def create_app(models: Models, jobs: CustomJobs, logs: Logs) -> Flask:
    def operation(response: dict[str, Any]) -> dict[str, Any]:
        """Long-running operations here are done when they are returned."""
        return {"name": "operations/done", "done": True, "response": response}

    routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
        ("POST", re.compile(rf"^/v1/({_LOCATION})/models:upload$"), lambda p, b: operation(models.upload(p, b))),
        (
            "GET",
            re.compile(rf"^/v1/({_LOCATION})/models$"),
            lambda p, b: {"models": models.list_models(p, request.args.get("filter", ""))},
        ),
        (
            "GET",
            re.compile(rf"^/v1/({_LOCATION}/models/[^/@:]+)(?:@([^/:]+))?:listVersions$"),
            lambda n, _w, b: {"models": models.list_versions(n)},
        ),
        (
            "POST",
            re.compile(rf"^/v1/({_LOCATION}/models/[^/@:]+)(?:@([^/:]+))?:mergeVersionAliases$"),
            lambda n, w, b: models.merge_aliases(n, w, list(b.get("versionAliases", []))),
        ),
        (
            "DELETE",
            re.compile(rf"^/v1/({_LOCATION}/models/[^/@:]+)(?:@([^/:]+))?:deleteVersion$"),
            lambda n, w, b: operation(models.delete_version(n, w)),
        ),
        ("GET", re.compile(rf"^/v1/({_LOCATION}/models/[^/@:]+)(?:@([^/:]+))?$"), lambda n, w, b: models.get(n, w)),
        ("DELETE", re.compile(rf"^/v1/({_LOCATION}/models/[^/@:]+)$"), lambda n, b: operation(models.delete(n))),
        ("POST", re.compile(rf"^/v1/({_LOCATION})/customJobs$"), lambda p, b: jobs.create(p, b)),
        ("GET", re.compile(rf"^/v1/({_LOCATION})/customJobs$"), lambda p, b: {"customJobs": jobs.list_jobs(p)}),
        ("GET", re.compile(rf"^/v1/({_LOCATION}/customJobs/\d+)$"), lambda n, b: jobs.get(n)),
        ("POST", re.compile(rf"^/v1/({_LOCATION}/customJobs/\d+):cancel$"), lambda n, b: jobs.cancel(n)),
        ("POST", re.compile(r"^/v2/entries:list$"), lambda b: logs.list_entries(b)),
    ]

    app = Flask("vertex-emulator")

    @app.route("/<path:_>", methods=["GET", "POST", "DELETE", "PATCH"])
    def dispatch(_: str) -> Response:
        try:
            body = json.loads(request.get_data() or b"{}")
        except json.JSONDecodeError as error:
            return _reply(ApiError(400, f"Invalid JSON payload received. {error}").body(), 400)
        for method, pattern, handle in routes:
            if request.method == method and (match := pattern.match(request.path)):
                try:
                    return _reply(handle(*match.groups(), body), 200)
                except ApiError as error:
                    return _reply(error.body(), error.code)
        unknown = ApiError(501, f"{request.method} {request.path} is not part of what this emulator serves.")
        return _reply(unknown.body(), 501)

    return app


def _reply(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
