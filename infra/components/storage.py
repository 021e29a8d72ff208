"""The buckets: model artifacts (versioned, private) and the function's source bundles."""

from __future__ import annotations

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


class Buckets(Construct):
    """`models` keeps every artifact version for a while; `function_source` only the bundles."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: list[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        labels = {"env": env.name, "app": "mnist-pipeline"}
        common = {
            "project": env.project,
            "location": env.region.upper(),
            "uniform_bucket_level_access": True,
            "public_access_prevention": "enforced",
            "force_destroy": env.protections.force_destroy_buckets,
            "labels": labels,
            "versioning": StorageBucketVersioning(enabled=True),
            "depends_on": depends_on,
        }
        self.models = StorageBucket(
            self,
            "models",
            name=env.models_bucket,
            lifecycle_rule=[
                # Artifacts are content-addressed and never overwritten; what becomes
                # noncurrent is a serving manifest replaced by a promotion or a rollback.
                StorageBucketLifecycleRule(
                    action=StorageBucketLifecycleRuleAction(type="Delete"),
                    condition=StorageBucketLifecycleRuleCondition(
                        days_since_noncurrent_time=env.noncurrent_artifact_retention_days,
                        with_state="ARCHIVED",
                    ),
                ),
            ],
            **common,
        )
        self.function_source = StorageBucket(
            self,
            "function-source",
            name=env.function_source_bucket,
            lifecycle_rule=[
                # A bundle is only read while a deployment builds it; old ones are waste.
                StorageBucketLifecycleRule(
                    action=StorageBucketLifecycleRuleAction(type="Delete"),
                    condition=StorageBucketLifecycleRuleCondition(
                        days_since_noncurrent_time=7,
                        with_state="ARCHIVED",
                    ),
                ),
            ],
            **common,
        )
