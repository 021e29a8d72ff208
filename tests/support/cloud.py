"""Pointing commands at a private local cloud."""

from __future__ import annotations

import pytest

from infra.local.cloud import LocalCloud
from ml.endpoints import LocalEndpoints


def endpoint_variables(endpoints: LocalEndpoints) -> dict[str, str]:
    """The variables that point `python -m ml` at `endpoints` (`LocalEndpoints.from_env` reads them)."""
    return {
        "LOCAL_CLOUD_DIR": str(endpoints.state_dir),
        "BQ_EMULATOR_PORT": str(endpoints.bigquery_port),
        "BQ_EMULATOR_GRPC_PORT": str(endpoints.bigquery_grpc_port),
        "GCS_EMULATOR_PORT": str(endpoints.storage_port),
        "FUNCTION_PORT": str(endpoints.function_port),
        "FUNCTION_REFRESH_SECONDS": str(endpoints.function_refresh_s),
    }


def point_cli_at(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process command line (`cli.commands.main`) talk to `cloud`."""
    for name, value in endpoint_variables(cloud.endpoints).items():
        monkeypatch.setenv(name, value)
