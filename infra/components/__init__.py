"""One construct per concern of the pipeline's cloud footprint."""

from infra.components.apis import ProjectApis
from infra.components.audit import AuditLogs
from infra.components.identity import Identities
from infra.components.ml_platform import MlPlatform
from infra.components.serving import PredictFunction
from infra.components.storage import Buckets
from infra.components.warehouse import Warehouse

__all__ = [
    "AuditLogs",
    "Buckets",
    "Identities",
    "MlPlatform",
    "PredictFunction",
    "ProjectApis",
    "Warehouse",
]
