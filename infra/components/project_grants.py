"""What each of the environment's accounts may do on the whole project: one table, applied by the bootstrap.

Project-wide grants are the ones with no narrower scope (running jobs, opening read sessions,
the Model Registry, the build's logs and images, the source bucket Cloud Functions makes);
every grant on a dataset, table or bucket belongs to the resource and lives with it in the
pipeline stack (`identity.py`). These live in the bootstrap stack, applied by a project
administrator, so that CI's `deployer` needs no project IAM admin at all: an IAM condition can
limit which roles a grant may carry, never to whom (`modifiedGrantsByRole` has no members).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdktn import ITerraformDependable
from cdktn_provider_google.project_iam_member import ProjectIamMember, ProjectIamMemberCondition
from cdktn_provider_time.sleep import Sleep
from constructs import Construct

from ml.environments import Environment

IAM_PROPAGATION = "60s"
"""How long a new grant may take to reach every Google service (the provider's own examples wait 60 s)."""

GCF_SOURCES = "resource.name.startsWith('projects/_/buckets/gcf-v2-sources-')"
"""The buckets Cloud Functions copies function sources into (`gcf-v2-sources-<number>-<region>`)."""


@dataclass(frozen=True)
class ProjectGrant:
    account: str
    """One of the environment's accounts (`infra/components/accounts.py`)."""
    role: str
    why: str
    condition: str | None = None
    """A CEL condition narrowing the grant, if any."""


def project_grants(env: Environment) -> list[ProjectGrant]:
    """Every project-wide grant of `env`'s accounts, with its reason."""
    grants = [
        ProjectGrant("trainer", "roles/bigquery.jobUser", "load and query jobs on the dataset it edits"),
        ProjectGrant("trainer", "roles/bigquery.readSessionUser", "reads the tables through the Storage Read API"),
        ProjectGrant("trainer", "roles/aiplatform.user", "the Model Registry and its own training jobs"),
        ProjectGrant("predictor", "roles/bigquery.jobUser", "the query that finds a request feedback names"),
        ProjectGrant("scheduler", env.job_submitter_role, "submits the scheduled jobs, and nothing else"),
        ProjectGrant("monitor", "roles/bigquery.jobUser", "the monitor's queries"),
        ProjectGrant("monitor", "roles/monitoring.metricWriter", "the monitor's figures as custom metrics"),
        ProjectGrant("monitor", "roles/aiplatform.viewer", "the registry (--version)"),
        ProjectGrant("monitor", "roles/logging.viewer", "the function's log lines of failed writes"),
        ProjectGrant("builder", "roles/logging.logWriter", "the build's logs"),
        ProjectGrant("builder", "roles/artifactregistry.writer", "pushes the function's and the training image"),
        ProjectGrant("builder", "roles/storage.objectViewer", "reads the function's copied source", GCF_SOURCES),
    ]
    if env.monitoring.retrain_on_alert:
        grants.append(ProjectGrant("monitor", env.job_submitter_role, "submits a retraining job on an alert"))
    return grants


class ProjectGrants(Construct):
    """`project_grants(env)` as IAM members; `propagated` waits until they reach every service."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        members: dict[str, str],
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        made = []
        for grant in project_grants(env):
            condition = None
            if grant.condition is not None:
                condition = ProjectIamMemberCondition(title=grant.why[:100], expression=grant.condition)
            made.append(
                ProjectIamMember(
                    self,
                    f"{grant.account}-{grant.role.rsplit('/', 1)[1]}",
                    project=env.project,
                    role=grant.role,
                    member=members[grant.account],
                    condition=condition,
                    depends_on=depends_on,
                )
            )
        # The bootstrap ends only once these reached Cloud Build and the rest, so a deploy right after
        # it finds them in force (terraform-provider-google#20571).
        self.propagated = Sleep(self, "propagate", create_duration=IAM_PROPAGATION, depends_on=made)
