"""Google Cloud clients for an environment: the real services, or the local emulators.

The same client libraries and the same calls serve every environment; only the endpoints
differ, and they are decided here, once. The emulator endpoints can be moved with the
variables in `LocalEndpoints.from_env` (tests run a private local cloud that way).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.environments import Environment

if TYPE_CHECKING:
    import google.cloud.storage as storage  # untyped: mypy sees Any
    from google.cloud import bigquery
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LocalEndpoints:
    """Where the local cloud listens and keeps its state."""

    state_dir: Path = ROOT / ".local"
    host: str = "127.0.0.1"
    bigquery_port: int = 9050
    bigquery_grpc_port: int = 9060
    storage_port: int = 9023
    function_port: int = 8080
    function_refresh_s: float = 30.0
    """How often the local function re-reads the serving manifest."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LocalEndpoints:
        """Defaults, overridden by LOCAL_CLOUD_DIR, BQ_EMULATOR_PORT, BQ_EMULATOR_GRPC_PORT, GCS_EMULATOR_PORT,
        FUNCTION_PORT and FUNCTION_REFRESH_SECONDS."""
        default = cls()
        return cls(
            state_dir=Path(environ.get("LOCAL_CLOUD_DIR", default.state_dir)).resolve(),
            bigquery_port=int(environ.get("BQ_EMULATOR_PORT", default.bigquery_port)),
            bigquery_grpc_port=int(environ.get("BQ_EMULATOR_GRPC_PORT", default.bigquery_grpc_port)),
            storage_port=int(environ.get("GCS_EMULATOR_PORT", default.storage_port)),
            function_port=int(environ.get("FUNCTION_PORT", default.function_port)),
            function_refresh_s=float(environ.get("FUNCTION_REFRESH_SECONDS", default.function_refresh_s)),
        )

    @classmethod
    def on_free_ports(cls, state_dir: Path) -> LocalEndpoints:
        """Endpoints of a private local cloud (tests, benchmarks) on ports nothing listens on now."""
        return cls(
            state_dir=state_dir,
            bigquery_port=free_port(),
            bigquery_grpc_port=free_port(),
            storage_port=free_port(),
            function_port=free_port(),
        )

    @property
    def bigquery_url(self) -> str:
        return f"http://{self.host}:{self.bigquery_port}"

    @property
    def bigquery_grpc_target(self) -> str:
        return f"{self.host}:{self.bigquery_grpc_port}"

    @property
    def storage_url(self) -> str:
        return f"http://{self.host}:{self.storage_port}"

    @property
    def function_url(self) -> str:
        return f"http://{self.host}:{self.function_port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _emulator_options(url: str) -> dict[str, Any]:
    """Client arguments that point a Google client library at the emulator serving `url`."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return {
        "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
        "client_options": ClientOptions(api_endpoint=url),
    }


def bigquery_client(env: Environment, local: LocalEndpoints | None = None, credentials: Any = None) -> bigquery.Client:
    """`credentials`: whose access to use in the cloud (default: Application Default Credentials)."""
    from google.cloud import bigquery

    if not env.emulated:
        return bigquery.Client(project=env.project, location=env.bq_location, credentials=credentials)
    url = (local or LocalEndpoints.from_env()).bigquery_url
    return bigquery.Client(project=env.project, location=env.bq_location, **_emulator_options(url))


def storage_client(env: Environment, local: LocalEndpoints | None = None, credentials: Any = None) -> storage.Client:
    """`credentials`: whose access to use in the cloud (default: Application Default Credentials)."""
    import google.cloud.storage as storage

    if not env.emulated:
        return storage.Client(project=env.project, credentials=credentials)
    url = (local or LocalEndpoints.from_env()).storage_url
    return storage.Client(project=env.project, **_emulator_options(url))


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

    target = (local or LocalEndpoints.from_env()).bigquery_grpc_target
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
    return BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))  # type: ignore[no-untyped-call]


def stack_output(stack: str, name: str) -> str | None:
    """Output `name` of the deployed stack `stack` (`terraform output`; `dev`, `bootstrap-dev`, ...), or
    None where it cannot be read (no terraform, the stack never synthesized or initialised here, no
    access to its state)."""
    import shutil
    import subprocess

    folder = ROOT / "cdktf.out" / "stacks" / stack
    if shutil.which("terraform") is None or not folder.is_dir():
        return None
    command = ["terraform", f"-chdir={folder}", "output", "-raw", name]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None
