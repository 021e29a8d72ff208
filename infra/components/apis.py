"""The Google APIs the pipeline calls, enabled once per project."""

from __future__ import annotations

from cdktn_provider_google.project_service import ProjectService
from constructs import Construct

from ml.environments import Environment

SERVICES: tuple[str, ...] = (
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "bigquerystorage.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "run.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
)


class ProjectApis(Construct):
    """Enables `SERVICES`; never disables them on destroy, since other workloads may share them.

    Enabling is eventually consistent: resources depend on `services` so that a first apply
    creates them only after the APIs answer.
    """

    def __init__(self, scope: Construct, id_: str, *, env: Environment) -> None:
        super().__init__(scope, id_)
        self.services = [
            ProjectService(
                self,
                service.split(".")[0],
                project=env.project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
            )
            for service in SERVICES
        ]
