"""Google Cloud clients for an environment: the real services, or the local emulators.

The same client libraries and the same calls serve every environment; only the endpoints
differ, and they are decided here, once: a `local` environment needs its `LocalEndpoints`.
Code below the entry points gets its clients from a `Context` (ml/context.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml.emulators import LocalEndpoints, stack_dir
from ml.environments import Environment
from ml.errors import ConfigError

if TYPE_CHECKING:
    import google.cloud.storage as storage  # untyped: mypy sees Any
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    from google.cloud.aiplatform_v1 import JobServiceClient, ModelServiceClient
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient
    from google.cloud.logging import Client as LoggingClient
    from google.cloud.monitoring_v3 import MetricServiceClient


def _emulator_options(url: str) -> tuple[AnonymousCredentials, ClientOptions]:
    """The credentials and client options that point a Google client library at the emulator serving `url`."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials(), ClientOptions(api_endpoint=url)  # type: ignore[no-untyped-call]


def _emulators(env: Environment, local: LocalEndpoints | None) -> LocalEndpoints:
    if local is None:
        raise ConfigError(f"environment {env.name!r} runs on emulators, and no endpoints were given for them")
    return local


def bigquery_client(env: Environment, local: LocalEndpoints | None = None, credentials: Any = None) -> bigquery.Client:
    """`credentials`: whose access to use in the cloud (default: Application Default Credentials)."""
    from google.cloud import bigquery

    if not env.emulated:
        return bigquery.Client(project=env.project, location=env.bq_location, credentials=credentials)
    url = _emulators(env, local).bigquery_url
    anonymous, options = _emulator_options(url)
    return bigquery.Client(project=env.project, location=env.bq_location, credentials=anonymous, client_options=options)


def storage_client(env: Environment, local: LocalEndpoints | None = None, credentials: Any = None) -> storage.Client:
    """`credentials`: whose access to use in the cloud (default: Application Default Credentials)."""
    import google.cloud.storage as storage

    if not env.emulated:
        return storage.Client(project=env.project, credentials=credentials)
    url = _emulators(env, local).storage_url
    anonymous, options = _emulator_options(url)
    return storage.Client(project=env.project, credentials=anonymous, client_options=options)


def bigquery_storage_client(env: Environment, local: LocalEndpoints | None = None) -> BigQueryReadClient:
    """A Storage Read API client; for the emulator, a plain gRPC channel to its gRPC port.

    The client ignores `BIGQUERY_EMULATOR_HOST`, and the emulator sends up to 65,536 rows
    (about 50 MB of MNIST) in one message: the channel takes messages of any size.
    """
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    if not env.emulated:
        return BigQueryReadClient()  # type: ignore[no-untyped-call]
    import grpc
    from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

    target = _emulators(env, local).bigquery_grpc_target
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
    return BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))  # type: ignore[no-untyped-call]


def _vertex(env: Environment, local: LocalEndpoints | None, credentials: Any) -> dict[str, Any]:
    """Keyword arguments for a Vertex AI client: REST in every environment, the emulator's URL locally.

    REST, not gRPC, because the emulator speaks REST: the cloud then runs the same transport
    that the tests run.
    """
    if not env.emulated:
        endpoint = f"{env.region}-aiplatform.googleapis.com"
        return {"transport": "rest", "credentials": credentials, "client_options": {"api_endpoint": endpoint}}
    anonymous, options = _emulator_options(_emulators(env, local).vertex_url)
    return {"transport": "rest", "credentials": anonymous, "client_options": options}


def model_service_client(
    env: Environment, local: LocalEndpoints | None = None, credentials: Any = None
) -> ModelServiceClient:
    """Vertex AI Model Registry."""
    from google.cloud.aiplatform_v1 import ModelServiceClient

    return ModelServiceClient(**_vertex(env, local, credentials))


def job_service_client(
    env: Environment, local: LocalEndpoints | None = None, credentials: Any = None
) -> JobServiceClient:
    """Vertex AI training jobs (CustomJobs)."""
    from google.cloud.aiplatform_v1 import JobServiceClient

    return JobServiceClient(**_vertex(env, local, credentials))


def logging_client(env: Environment, local: LocalEndpoints | None = None, credentials: Any = None) -> LoggingClient:
    """Cloud Logging over HTTP, where Vertex AI jobs write their lines; locally the Vertex AI emulator serves them."""
    from google.cloud.logging import Client

    if not env.emulated:
        return Client(project=env.project, credentials=credentials, _use_grpc=False)  # type: ignore[no-untyped-call]
    anonymous, options = _emulator_options(_emulators(env, local).vertex_url)
    return Client(  # type: ignore[no-untyped-call]
        project=env.project, credentials=anonymous, client_options=options, _use_grpc=False
    )


def monitoring_client(env: Environment, credentials: Any = None) -> MetricServiceClient:
    """Cloud Monitoring's metric service (gRPC only: the library has no REST transport, and nothing
    here emulates it, so a local environment has none)."""
    if env.emulated:
        raise ConfigError(
            "Cloud Monitoring has no emulator here: --publish-metrics is for the cloud's scheduled monitor; "
            "locally, read the figures with --json"
        )
    from google.cloud.monitoring_v3 import MetricServiceClient

    return MetricServiceClient(credentials=credentials)


def stack_output(stack: str, name: str) -> str | None:
    """Output `name` of the deployed stack `stack` (`terraform output`; `dev`, `bootstrap-dev`, ...), or
    None where it cannot be read (no terraform, the stack never synthesized or initialised here, no
    access to its state)."""
    import shutil
    import subprocess

    folder = stack_dir(stack)
    if shutil.which("terraform") is None or not folder.is_dir():
        return None
    command = ["terraform", f"-chdir={folder}", "output", "-raw", name]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None
