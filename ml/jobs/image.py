"""Which training image a job runs: in the cloud the digest `make image` last pushed, locally this working tree."""

from __future__ import annotations

from ml.context import Context
from ml.errors import JobError

LATEST = "latest"
"""The tag `make image` moves onto each image it pushes."""


def training_image(context: Context) -> str:
    """The image reference a job names: `...trainer@sha256:...` in the cloud, so a job runs exactly what was
    pushed when it was submitted; on `local`, `...trainer:workspace`: the emulator runs the working tree."""
    env = context.env
    if env.emulated:
        return f"{env.training_image}:workspace"
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials = context.credentials
    if credentials is None:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    repository = f"projects/{env.project}/locations/{env.region}/repositories/{env.prefix}-training"
    url = f"https://artifactregistry.googleapis.com/v1/{repository}/packages/trainer/tags/{LATEST}"
    response = AuthorizedSession(credentials).get(url, timeout=30)  # type: ignore[no-untyped-call]
    if response.status_code == 404:
        raise JobError(f"no training image pushed for {env.name}: run `make image ENV={env.name}` first")
    if not response.ok:
        raise JobError(
            f"Artifact Registry answered {response.status_code} for {url}: check your access to {env.project}"
        )
    version = str(response.json()["version"])  # .../packages/trainer/versions/sha256:<digest>
    return f"{env.training_image}@{version.rsplit('/', 1)[1]}"
