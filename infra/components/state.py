"""A Terraform state bucket, in the environment's own project."""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.storage_bucket import (
    StorageBucket,
    StorageBucketLifecycleRule,
    StorageBucketLifecycleRuleAction,
    StorageBucketLifecycleRuleCondition,
    StorageBucketVersioning,
)
from constructs import Construct

from ml.environments import Environment

STATE_VERSIONS_DAYS = 90
"""How long a replaced state file stays recoverable."""


class StateBucket(Construct):
    """Versioned (every apply's state recoverable for a while), private, never destroyed with its contents."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        name: str,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.bucket = StorageBucket(
            self,
            "bucket",
            project=env.project,
            name=name,
            location=env.region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=False,
            labels=env.labels,
            versioning=StorageBucketVersioning(enabled=True),
            lifecycle_rule=[
                StorageBucketLifecycleRule(
                    action=StorageBucketLifecycleRuleAction(type="Delete"),
                    condition=StorageBucketLifecycleRuleCondition(
                        days_since_noncurrent_time=STATE_VERSIONS_DAYS, with_state="ARCHIVED"
                    ),
                )
            ],
            depends_on=depends_on,
        )
