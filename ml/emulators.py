"""Where the local cloud's emulators listen and keep their state (the `local` environment only)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository: `.local/`, `runs/` and `cdktf.out/` live here."""


def stack_dir(stack: str) -> Path:
    """Where `python main.py` synthesizes the stack `stack` (`local`, `dev`, `bootstrap-dev`, ...)."""
    return ROOT / "cdktf.out" / "stacks" / stack


@dataclass(frozen=True)
class LocalEndpoints:
    """Where the local cloud listens and keeps its state."""

    state_dir: Path = ROOT / ".local"
    host: str = "127.0.0.1"
    bigquery_port: int = 9050
    bigquery_grpc_port: int = 9060
    storage_port: int = 9023
    function_port: int = 8080
    vertex_port: int = 9070
    function_refresh_s: float = 30.0
    """How often the local function re-reads the serving manifest."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LocalEndpoints:
        """Defaults, overridden by the variables `to_environ` gives."""
        default = cls()
        return cls(
            state_dir=Path(environ.get("LOCAL_CLOUD_DIR", default.state_dir)).resolve(),
            bigquery_port=int(environ.get("BQ_EMULATOR_PORT", default.bigquery_port)),
            bigquery_grpc_port=int(environ.get("BQ_EMULATOR_GRPC_PORT", default.bigquery_grpc_port)),
            storage_port=int(environ.get("GCS_EMULATOR_PORT", default.storage_port)),
            function_port=int(environ.get("FUNCTION_PORT", default.function_port)),
            vertex_port=int(environ.get("VERTEX_EMULATOR_PORT", default.vertex_port)),
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
            vertex_port=free_port(),
        )

    def to_environ(self) -> dict[str, str]:
        """The variables `from_env` reads: what a process needs to reach these emulators (a job's replicas)."""
        return {
            "LOCAL_CLOUD_DIR": str(self.state_dir),
            "BQ_EMULATOR_PORT": str(self.bigquery_port),
            "BQ_EMULATOR_GRPC_PORT": str(self.bigquery_grpc_port),
            "GCS_EMULATOR_PORT": str(self.storage_port),
            "FUNCTION_PORT": str(self.function_port),
            "VERTEX_EMULATOR_PORT": str(self.vertex_port),
            "FUNCTION_REFRESH_SECONDS": str(self.function_refresh_s),
        }

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
    def vertex_url(self) -> str:
        """Vertex AI's REST API and Logging's `entries:list`, both served by the local cloud's Vertex AI emulator."""
        return f"http://{self.host}:{self.vertex_port}"

    @property
    def function_url(self) -> str:
        return f"http://{self.host}:{self.function_port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
