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
    "cloudscheduler.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
)
"""What the pipeline stack's resources call, beyond what the bootstrap stack enabled."""


BOOTSTRAP_SERVICES: tuple[str, ...] = (
    "cloudresourcemanager.googleapis.com",  # every project IAM grant and audit config calls it
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",  # the state bucket
    "sts.googleapis.com",  # Workload Identity Federation's token exchange
)
"""What the bootstrap stack's own resources and the pipeline stack's first apply call before
anything could enable them. The bootstrap stack enables them, with the caller's quota project."""


class ProjectApis(Construct):
    """Enables `services`; never disables them on destroy, since other workloads may share them.

    Enabling is eventually consistent: resources depend on `services` so that a first apply
    creates them only after the APIs answer.
    """

    def __init__(self, scope: Construct, id_: str, *, env: Environment, services: tuple[str, ...] = SERVICES) -> None:
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
            for service in services
        ]
