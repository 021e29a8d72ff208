"""The buckets: model artifacts (versioned, private) and the function's source bundles."""

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


def versioned_bucket(
    scope: Construct,
    id_: str,
    *,
    env: Environment,
    name: str,
    noncurrent_days: int,
    force_destroy: bool,
    depends_on: Sequence[ITerraformDependable] | None = None,
) -> StorageBucket:
    """A private bucket in `env`'s project that keeps replaced objects for `noncurrent_days`, then deletes them."""
    return StorageBucket(
        scope,
        id_,
        project=env.project,
        name=name,
        location=env.region.upper(),
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        force_destroy=force_destroy,
        labels=env.labels,
        versioning=StorageBucketVersioning(enabled=True),
        lifecycle_rule=[
            StorageBucketLifecycleRule(
                action=StorageBucketLifecycleRuleAction(type="Delete"),
                condition=StorageBucketLifecycleRuleCondition(
                    days_since_noncurrent_time=noncurrent_days,
                    with_state="ARCHIVED",
                ),
            ),
        ],
        depends_on=depends_on,
    )


class Buckets(Construct):
    """`models` keeps every artifact version for a while; `function_source` only the bundles."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)

        def bucket(id_: str, name: str, noncurrent_days: int) -> StorageBucket:
            return versioned_bucket(
                self,
                id_,
                env=env,
                name=name,
                noncurrent_days=noncurrent_days,
                force_destroy=env.protections.force_destroy_buckets,
                depends_on=depends_on,
            )

        # Artifacts are content-addressed and never overwritten; what becomes noncurrent is
        # a serving manifest replaced by a promotion or a rollback.
        self.models = bucket("models", env.models_bucket, env.noncurrent_artifact_retention_days)
        # A bundle is read only while a deployment builds it (Cloud Functions copies it into its
        # own bucket); the one deployed stays current, replaced ones expire.
        self.function_source = bucket("function-source", env.function_source_bucket, 7)
