"""The pipeline's accounts' project-wide grants (`infra/grants.py`), applied by the bootstrap.

Project-wide grants are the ones with no narrower scope (running jobs, opening read sessions,
the Model Registry, the build's logs and images, the source bucket Cloud Functions makes);
every grant on a dataset, table or bucket belongs to the resource and lives with it in the
pipeline stack (`identity.py`). These live in the bootstrap stack, applied by a project
administrator, so that CI's `deployer` needs no project IAM admin at all: an IAM condition can
limit which roles a grant may carry, never to whom (`modifiedGrantsByRole` has no members).
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.project_iam_member import ProjectIamMember, ProjectIamMemberCondition
from cdktn_provider_time.sleep import Sleep
from constructs import Construct

from infra.grants import CI_ACCOUNTS, Grant, granted
from ml.environments import Environment

IAM_PROPAGATION = "60s"
"""How long a new grant may take to reach every Google service (the provider's own examples wait 60 s)."""


class ProjectGrants(Construct):
    """The project-wide grants of `infra/grants.py` to the pipeline's accounts (CI's are
    `ci_access.py`'s); `propagated` waits until they reach every service."""

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
        for grant in granted(env, on="project"):
            if grant.account in CI_ACCOUNTS:
                continue
            made.append(
                ProjectIamMember(
                    self,
                    grant.id,
                    project=env.project,
                    role=grant.role,
                    member=members[grant.account],
                    condition=project_condition(grant),
                    depends_on=depends_on,
                )
            )
        # The bootstrap ends only once these reached Cloud Build and the rest, so a deploy right after
        # it finds them in force (terraform-provider-google#20571).
        self.propagated = Sleep(self, "propagate", create_duration=IAM_PROPAGATION, depends_on=made)


def project_condition(grant: Grant) -> ProjectIamMemberCondition | None:
    """The grant's condition as the provider spells it, if it has one."""
    c = grant.condition
    if c is None:
        return None
    return ProjectIamMemberCondition(title=c.title, expression=c.expression, description=c.description)
