"""A fake of the two Google services a person's call to the cloud endpoint passes through.

- IAM Credentials' `generateIdToken`, as google-auth's impersonated credentials call it: it
  mints an ID token for a service account only for a caller's access token that may
  (`token_creators`), like `roles/iam.serviceAccountOpenIdTokenCreator`.
- Cloud Run's authentication in front of the function: a request needs an ID token minted
  here whose audience is this front's URL and whose email may invoke (`invokers`), like
  `roles/run.invoker`; it is then passed to the real function at `backend`.

The tokens are unsigned JWTs: nothing here is a security boundary, only the wire protocol.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import requests

from tests.support.server import serving

_GENERATE = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateIdToken$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any] | None:
    try:
        payload = token.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims


@dataclass
class FakeGoogleIam:
    backend: str
    token_creators: dict[str, set[str]]
    """Service account email -> the callers' access tokens that may mint its ID tokens."""
    invokers: set[str]
    url: str = ""
    minted: list[tuple[str, str]] = field(default_factory=list)
    """(service account, audience) of every ID token minted."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def id_token_endpoint(self) -> str:
        """google-auth's `iam._IAM_IDTOKEN_ENDPOINT`, pointed here."""
        return self.url + "/v1/projects/-/serviceAccounts/{}:generateIdToken"

    def handle(self, method: str, path: str, headers: Message, body: bytes) -> tuple[int, bytes]:
        bearer = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if method == "POST" and (m := _GENERATE.match(path)):
            return self._generate(m.group(1), bearer, json.loads(body))
        claims = _claims(bearer)
        if claims is None:
            return 401, b'{"error": "The request was not authenticated."}'
        if claims.get("aud") != self.url or claims.get("email") not in self.invokers or claims["exp"] < time.time():
            return 403, b'{"error": "The request was not authorized to invoke this service."}'
        forwarded = {k: v for k, v in headers.items() if k.lower() in {"content-type"}}
        answer = requests.request(method, self.backend + path, data=body, headers=forwarded, timeout=60)
        return answer.status_code, answer.content

    def _generate(self, email: str, bearer: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if bearer not in self.token_creators.get(email, set()):
            message = f"Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource {email}"
            return 403, json.dumps({"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}).encode()
        claims = {
            "aud": body["audience"],
            "email": email,
            "exp": int(time.time()) + 3600,
            "iss": "https://accounts.google.com",
        }
        token = ".".join((_b64(b'{"alg":"RS256","typ":"JWT"}'), _b64(json.dumps(claims).encode()), _b64(b"unsigned")))
        with self.lock:
            self.minted.append((email, body["audience"]))
        return 200, json.dumps({"token": token}).encode()


@contextmanager
def fake_google_iam(backend: str, token_creators: dict[str, set[str]], invokers: set[str]) -> Iterator[FakeGoogleIam]:
    """The fake on a free loopback port, in front of `backend`, for as long as the block runs."""
    fake = FakeGoogleIam(backend.rstrip("/"), token_creators, invokers)

    with serving(fake.handle) as url:
        fake.url = url
        yield fake
