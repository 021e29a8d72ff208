"""The training image: building and pushing it (`make image`), and which one a job runs.

In the cloud a job names the digest `latest` pointed at when it was submitted, so it runs
exactly that image however the tag moves later; on `local` the emulator runs the working
tree, and the image is only a name.
"""

from __future__ import annotations

import shutil
import subprocess

from ml.context import Context
from ml.emulators import ROOT
from ml.errors import JobError
from ml.jobs.spec import LATEST

ARTIFACT_REGISTRY = "https://artifactregistry.googleapis.com"


def training_image(context: Context, api_root: str = ARTIFACT_REGISTRY) -> str:
    """`...trainer@sha256:...` in the cloud; `...trainer:workspace` on `local`."""
    env = context.env
    if env.emulated:
        return f"{env.training_image}:workspace"
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials = context.credentials
    if credentials is None:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    repository = f"{env.location}/repositories/{env.training_repository}"
    url = f"{api_root}/v1/{repository}/packages/trainer/tags/{LATEST}"
    response = AuthorizedSession(credentials).get(url, timeout=30)  # type: ignore[no-untyped-call]
    if response.status_code == 404:
        raise JobError(f"no training image pushed for {env.name}: run `make image ENV={env.name}` first")
    if not response.ok:
        raise JobError(
            f"Artifact Registry answered {response.status_code} for the training image: check your access to "
            f"{env.project} (gcloud auth application-default login)"
        )
    version = str(response.json()["version"])  # .../packages/trainer/versions/sha256:<digest>
    return f"{env.training_image}@{version.rsplit('/', 1)[1]}"


def build_command(context: Context, tag: str) -> list[str]:
    """`gcloud builds submit` of cloudbuild.yaml, as the environment's `builder`, staged in its source bucket."""
    env = context.env
    builder = env.service_account_email("builder")
    return [
        "gcloud",
        "builds",
        "submit",
        str(ROOT),
        f"--config={ROOT / 'cloudbuild.yaml'}",
        f"--project={env.project}",
        f"--region={env.region}",
        f"--service-account=projects/{env.project}/serviceAccounts/{builder}",
        f"--gcs-source-staging-dir=gs://{env.function_source_bucket}/training-image",
        f"--substitutions=_IMAGE={env.training_image},_TAG={tag}",
    ]


def build_and_push(context: Context, tag: str) -> str:
    """Build the image with Cloud Build, push it tagged `tag` and `latest`; the digest jobs will now run."""
    if context.env.emulated:
        raise JobError("local jobs run this working tree: there is no image to build (make image ENV=dev|prod)")
    if shutil.which("gcloud") is None:
        raise JobError("make image needs the gcloud CLI: install the Google Cloud SDK, then gcloud auth login")
    result = subprocess.run(build_command(context, tag), check=False)
    if result.returncode != 0:
        raise JobError(f"Cloud Build failed (exit {result.returncode}): see its log above")
    return training_image(context)


def ensure_image(context: Context, tag: str, api_root: str = ARTIFACT_REGISTRY) -> tuple[str, bool]:
    """The image jobs run, built and pushed first only if the repository has none; and whether it was.

    `make deploy` ends with this, so a first deploy leaves no schedule to start a job without an image.
    """
    try:
        return training_image(context, api_root), False
    except JobError:  # none pushed yet, or unreadable: building says which
        return build_and_push(context, tag), True
