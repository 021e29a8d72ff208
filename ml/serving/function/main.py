"""Cloud Functions entry point `predict`.

Until a model is published and the serving code lands, the endpoint answers health checks
and reports, in Google's error shape, that no model is available.
"""

from __future__ import annotations

import json
import os

import functions_framework
from flask import Request, Response


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@functions_framework.http
def predict(request: Request) -> Response:
    if request.path == "/healthz":
        return _json({"status": "ok"}, 200)
    model = os.environ.get("MODEL_NAME", "mnist")
    alias = os.environ.get("MODEL_ALIAS", "production")
    message = f"no model available: publish a version of {model!r} with alias {alias!r} (make train-publish)"
    return _json({"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}}, 503)
