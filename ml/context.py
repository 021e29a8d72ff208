"""`Context`: an environment, where its services answer, and its clients, made once per command.

An entry point (the command line, a test, a benchmark) builds one and passes it down; below
the entry points nothing reads environment variables or makes a client of its own, so a
command talks to one set of services through one client of each kind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ml.cloud import (
    bigquery_client,
    bigquery_storage_client,
    job_service_client,
    logging_client,
    model_service_client,
    monitoring_client,
    storage_client,
)
from ml.emulators import LocalEndpoints
from ml.environments import Environment, get_environment

if TYPE_CHECKING:
    import google.cloud.storage as storage
    from google.cloud import bigquery
    from google.cloud.aiplatform_v1 import JobServiceClient
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient
    from google.cloud.logging import Client as LoggingClient
    from google.cloud.monitoring_v3 import MetricServiceClient

    from ml.registry import Registry


@dataclass(frozen=True)
class Context:
    env: Environment
    endpoints: LocalEndpoints | None = None
    """The emulators of a `local` environment (default: where `make up` starts them); None in the cloud."""
    credentials: Any = field(default=None, compare=False)
    """Whose access to use in the cloud (google-auth credentials); None: Application Default Credentials."""

    def __post_init__(self) -> None:
        if self.env.emulated and self.endpoints is None:
            object.__setattr__(self, "endpoints", LocalEndpoints())
        if not self.env.emulated:
            object.__setattr__(self, "endpoints", None)

    @classmethod
    def from_environ(cls, env_name: str, environ: Mapping[str, str] = os.environ) -> Context:
        """The context of environment `env_name`; a local one's emulators where the variables of
        `LocalEndpoints.from_env` say (tests and benchmarks run private local clouds that way)."""
        env = get_environment(env_name)
        return cls(env, LocalEndpoints.from_env(environ) if env.emulated else None)

    @cached_property
    def bigquery(self) -> bigquery.Client:
        return bigquery_client(self.env, self.endpoints, self.credentials)

    @cached_property
    def storage(self) -> storage.Client:
        return storage_client(self.env, self.endpoints, self.credentials)

    @cached_property
    def bigquery_read(self) -> BigQueryReadClient:
        """The Storage Read API, which the data reader streams tables through."""
        return bigquery_storage_client(self.env, self.endpoints)

    @cached_property
    def models_bucket(self) -> Any:
        """The environment's models bucket (a `google.cloud.storage.Bucket`)."""
        return self.storage.bucket(self.env.models_bucket)

    @cached_property
    def registry(self) -> Registry:
        """Vertex AI Model Registry: Google's in the cloud, the local cloud's Vertex AI emulator locally."""
        from ml.registry.vertex import VertexRegistry

        client = model_service_client(self.env, self.endpoints, self.credentials)
        return VertexRegistry(self.env, gcs=self.storage, client=client)

    @cached_property
    def jobs(self) -> JobServiceClient:
        """Vertex AI's training jobs (CustomJobs)."""
        return job_service_client(self.env, self.endpoints, self.credentials)

    @cached_property
    def monitoring(self) -> MetricServiceClient:
        """Cloud Monitoring's metrics, where the scheduled monitor writes its figures (the cloud only)."""
        return monitoring_client(self.env, self.credentials)

    @cached_property
    def logging(self) -> LoggingClient:
        """Cloud Logging, where the training jobs' lines are."""
        return logging_client(self.env, self.endpoints, self.credentials)
