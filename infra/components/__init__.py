"""One construct per concern of the pipeline's cloud footprint, and of each environment's bootstrap."""

from infra.components.accounts import Accounts
from infra.components.apis import ProjectApis
from infra.components.audit import AuditLogs
from infra.components.ci_access import CiAccess
from infra.components.identity import Identities
from infra.components.ml_platform import MlPlatform
from infra.components.monitoring import Monitoring
from infra.components.project_grants import ProjectGrants
from infra.components.serving import PredictFunction
from infra.components.state import StateBucket
from infra.components.storage import Buckets
from infra.components.training import Training
from infra.components.warehouse import Warehouse

__all__ = [
    "Accounts",
    "AuditLogs",
    "Buckets",
    "CiAccess",
    "Identities",
    "MlPlatform",
    "Monitoring",
    "PredictFunction",
    "ProjectApis",
    "ProjectGrants",
    "StateBucket",
    "Training",
    "Warehouse",
]
