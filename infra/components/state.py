"""A Terraform state bucket, in the environment's own project."""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from constructs import Construct

from infra.components.storage import versioned_bucket
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
        self.bucket = versioned_bucket(
            self,
            "bucket",
            env=env,
            name=name,
            noncurrent_days=STATE_VERSIONS_DAYS,
            force_destroy=False,
            depends_on=depends_on,
        )
