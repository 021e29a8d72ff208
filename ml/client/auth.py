"""Identity tokens for the cloud endpoint, from whatever credentials the caller has.

Cloud Run (and so the function) accepts only ID tokens. google-auth mints them from a
service-account key or the metadata server (CI, Cloud Run, Vertex AI jobs), but not from a
person's `gcloud auth application-default login` credentials: those impersonate the
environment's `invoker` account instead, which the environment's `operators` and `invokers`
may do (granted by the bootstrap stack, `infra/components/accounts.py`) and which may call
the function. Being the project's Owner does not include it.
"""

from __future__ import annotations

from typing import Any

from ml.errors import MLError

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


class AuthError(MLError):
    """No credentials, or none that may obtain an identity token for the endpoint."""


def not_allowed(account: str, env_name: str | None = None) -> str:
    """What to do when the caller may not act as `account`: the grant, where it lives, the command."""
    env = env_name or "<env>"
    return (
        f"your credentials may not act as {account}: add your account (user:you@example.com) to `operators` in "
        f"environments/{env}.toml, then run `make bootstrap ENV={env}` (the grant lives in the bootstrap stack)"
    )


def check_impersonation(credentials: Any, account: str, env_name: str | None = None) -> Any:
    """`credentials`, refreshed once now: a refused impersonation is one AuthError naming the grant and the
    command that adds it, here, rather than a 403 deep inside the first call that needs the token."""
    import google.auth.transport.requests
    from google.auth.exceptions import RefreshError

    try:
        credentials.refresh(google.auth.transport.requests.Request())
    except RefreshError:
        raise AuthError(not_allowed(account, env_name)) from None
    return credentials


def caller_credentials() -> Any:
    """The caller's Application Default Credentials, or an AuthError saying how to get some."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        source, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError:
        raise AuthError("no Google Cloud credentials: run `gcloud auth application-default login`") from None
    return source


def impersonated(account: str, source: Any = None) -> Any:
    """Access-token credentials of service account `account`, obtained with `source` (default: the caller's)."""
    from google.auth import impersonated_credentials

    return impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
        source_credentials=source or caller_credentials(), target_principal=account, target_scopes=SCOPES
    )


def id_token_credentials(audience: str, invoker: str, source: Any = None) -> Any:
    """Credentials whose token is an ID token for `audience`, refreshed when it expires.

    `source`: the caller's credentials (default: Application Default Credentials).
    """
    from google.auth import compute_engine, impersonated_credentials
    from google.oauth2 import id_token, service_account

    source = source or caller_credentials()
    if isinstance(source, service_account.Credentials | compute_engine.Credentials):
        import google.auth.transport.requests

        request = google.auth.transport.requests.Request()
        return id_token.fetch_id_token_credentials(audience, request=request)  # type: ignore[no-untyped-call]
    return impersonated_credentials.IDTokenCredentials(  # type: ignore[no-untyped-call]
        impersonated(invoker, source), target_audience=audience, include_email=True
    )
