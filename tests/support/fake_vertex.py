"""A fake of the Vertex AI ModelService REST endpoints the registry calls, for the real client to talk to.

Nothing here runs Vertex AI: it keeps models and versions in memory with Vertex's rules
(version ids count from 1, the first version is `default`, an alias names one version of a
model, the default version cannot be deleted) and records every request, so tests can
check what `google-cloud-aiplatform` sent on the wire.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.support.server import serving

_MODELS = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+)/models$")
_UPLOAD = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+)/models:upload$")
_MODEL = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/models/[^/@:]+)(?:@(\d+|[a-z][a-z0-9-]*))?(?::(\w+))?$")


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any]


@dataclass
class FakeVertex:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Model resource name -> its versions (Vertex Model JSON)."""
    last_version: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    operations: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(Request(method, path, body))
            if method == "POST" and (m := _UPLOAD.match(path)):
                return self._upload(m.group(1), body)
            if method == "GET" and (m := _MODELS.match(path)):
                return 200, {"models": [versions[-1] for versions in self.models.values()]}
            if m := _MODEL.match(path):
                name, which, verb = m.groups()
                if name not in self.models:
                    return _error(404, "NOT_FOUND", f"Model {name} not found.")
                versions = self.models[name]
                if method == "GET" and verb == "listVersions":
                    return 200, {"models": versions}
                version = _find(versions, which)
                if version is None:
                    return _error(404, "NOT_FOUND", f"Model version {name}@{which} not found.")
                if method == "GET" and verb is None:
                    return 200, version
                if method == "POST" and verb == "mergeVersionAliases":
                    return self._merge(versions, version, body.get("versionAliases", []))
                if method == "DELETE" and verb == "deleteVersion":
                    if "default" in version["versionAliases"]:
                        return _error(400, "FAILED_PRECONDITION", "The default version cannot be deleted.")
                    versions.remove(version)
                    return 200, self._done({"@type": "type.googleapis.com/google.protobuf.Empty"})
            return _error(404, "NOT_FOUND", f"{method} {path} is not something this fake serves")

    def _upload(self, parent: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        spec = dict(body["model"])
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        if "parentModel" in body:
            name = body["parentModel"]
            if name not in self.models:
                return _error(404, "NOT_FOUND", f"Parent model {name} not found.")
            versions = self.models[name]
            number = self.last_version[name] + 1
        else:
            name = f"{parent}/models/{body['modelId']}"
            if name in self.models:
                return _error(409, "ALREADY_EXISTS", f"Model {name} already exists.")
            versions = self.models[name] = []
            number = 1
            spec["versionAliases"] = sorted({*spec.get("versionAliases", []), "default"})
        self.last_version[name] = number  # Vertex never reuses a version id, even of a deleted version
        aliases = spec.pop("versionAliases", [])
        version = {
            **spec,
            "name": name,
            "versionId": str(number),
            "versionAliases": [],
            "createTime": now,
            "versionCreateTime": now,
            "versionUpdateTime": now,
        }
        versions.append(version)
        self._merge(versions, version, aliases)
        response = {
            "@type": "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse",
            "model": name,
            "modelVersionId": str(number),
        }
        return 200, self._done(response)

    def _merge(
        self, versions: list[dict[str, Any]], version: dict[str, Any], aliases: list[str]
    ) -> tuple[int, dict[str, Any]]:
        for alias in aliases:
            if alias.startswith("-"):
                version["versionAliases"] = [a for a in version["versionAliases"] if a != alias[1:]]
                continue
            for other in versions:
                other["versionAliases"] = [a for a in other["versionAliases"] if a != alias]
            version["versionAliases"] = sorted([*version["versionAliases"], alias])
        return 200, version

    def _done(self, response: dict[str, Any]) -> dict[str, Any]:
        return {"name": f"operations/{next(self.operations)}", "done": True, "response": response}


def _find(versions: list[dict[str, Any]], which: str | None) -> dict[str, Any] | None:
    if which is None:
        which = "default"
    for version in versions:
        if version["versionId"] == which or which in version["versionAliases"]:
            return version
    return None


def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": status}}


@contextmanager
def fake_vertex() -> Iterator[FakeVertex]:
    """The fake on a free loopback port, for as long as the block runs."""
    fake = FakeVertex()

    def handle(method: str, path: str, headers: Message, body: bytes) -> tuple[int, bytes]:
        status, payload = fake.handle(method, unquote(urlsplit(path).path), json.loads(body or b"{}"))
        return status, json.dumps(payload).encode()

    with serving(handle) as url:
        fake.url = url
        yield fake
