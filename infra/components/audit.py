"""Data Access audit logs for Cloud Storage: who read or wrote which artifact, and when.

BigQuery records data access by default; Cloud Storage does not. Audit logs are the
project-wide replacement for per-bucket usage logs, kept in Cloud Logging.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.project_iam_audit_config import (
    ProjectIamAuditConfig,
    ProjectIamAuditConfigAuditLogConfig,
)
from constructs import Construct

from ml.environments import Environment


class AuditLogs(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.storage = ProjectIamAuditConfig(
            self,
            "storage",
            project=env.project,
            service="storage.googleapis.com",
            audit_log_config=[
                ProjectIamAuditConfigAuditLogConfig(log_type=log_type)
                for log_type in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")
            ],
            depends_on=depends_on,
        )
