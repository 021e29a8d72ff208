"""Training on Vertex AI: the training image's repository and the retraining schedule.

A job itself is no Terraform resource (there is none for a CustomJob): `make train-publish`
submits one, and Cloud Scheduler posts the same request (`ml.jobs.spec.scheduled_job`) to
`customJobs.create` on the schedule the environment sets, as the `scheduler` account, which
may create jobs and act as `trainer` and nothing else. No function stands in between.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.artifact_registry_repository import (
    ArtifactRegistryRepository,
    ArtifactRegistryRepositoryCleanupPolicies,
    ArtifactRegistryRepositoryCleanupPoliciesCondition,
    ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions,
)
from cdktn_provider_google.cloud_scheduler_job import (
    CloudSchedulerJob,
    CloudSchedulerJobHttpTarget,
    CloudSchedulerJobHttpTargetOauthToken,
    CloudSchedulerJobRetryConfig,
)
from constructs import Construct

from ml.environments import Environment
from ml.jobs.spec import scheduled_job
from ml.records import JsonObject

KEEP_IMAGES = 10
"""Image versions kept whatever their age: enough to submit again any recent job, by digest."""
IMAGE_MAX_AGE = f"{30 * 24 * 3600}s"
"""Older images beyond those are deleted."""


class Training(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.repository = ArtifactRegistryRepository(
            self,
            "images",
            project=env.project,
            location=env.region,
            repository_id=env.training_repository,
            format="DOCKER",
            description="The training image Vertex AI custom jobs run (make image).",
            labels=env.labels,
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="keep-recent",
                    action="KEEP",
                    most_recent_versions=ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions(
                        keep_count=KEEP_IMAGES
                    ),
                ),
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="delete-old",
                    action="DELETE",
                    condition=ArtifactRegistryRepositoryCleanupPoliciesCondition(
                        tag_state="ANY", older_than=IMAGE_MAX_AGE
                    ),
                ),
            ],
            depends_on=depends_on,
        )
        self.schedule = job_schedule(
            self,
            "retrain",
            env=env,
            name=f"{env.prefix}-retrain",
            description="Submits train-publish to Vertex AI (ml/jobs/spec.py: scheduled_job).",
            schedule=env.training.schedule,
            paused=env.training.schedule_paused,
            body=scheduled_job(env),
            depends_on=[*(depends_on or []), self.repository],
        )


def job_schedule(
    scope: Construct,
    id_: str,
    *,
    env: Environment,
    name: str,
    description: str,
    schedule: str,
    paused: bool,
    body: JsonObject,
    depends_on: Sequence[ITerraformDependable] | None,
) -> CloudSchedulerJob:
    """A Cloud Scheduler job posting `body` to Vertex AI's `customJobs.create` with `scheduler`'s token."""
    return CloudSchedulerJob(
        scope,
        id_,
        name=name,
        project=env.project,
        region=env.region,
        description=description,
        schedule=schedule,
        time_zone=env.training.time_zone,
        paused=paused,
        attempt_deadline="60s",  # creating the job, not running it
        retry_config=CloudSchedulerJobRetryConfig(retry_count=2, min_backoff_duration="60s"),
        http_target=CloudSchedulerJobHttpTarget(
            uri=f"https://{env.region}-aiplatform.googleapis.com/v1/{env.location}/customJobs",
            http_method="POST",
            headers={"Content-Type": "application/json"},
            body=base64.b64encode(json.dumps(body, sort_keys=True).encode()).decode(),
            oauth_token=CloudSchedulerJobHttpTargetOauthToken(
                service_account_email=env.service_account_email("scheduler"),
                scope="https://www.googleapis.com/auth/cloud-platform",
            ),
        ),
        depends_on=depends_on,
    )
