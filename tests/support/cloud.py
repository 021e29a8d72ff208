"""Pointing commands at a private local cloud."""

from __future__ import annotations

import pytest

from localcloud.cloud import LocalCloud
from ml.emulators import LocalEndpoints


def endpoint_variables(endpoints: LocalEndpoints) -> dict[str, str]:
    """The variables that point `python -m ml` at `endpoints` (`LocalEndpoints.from_env` reads them)."""
    return endpoints.to_environ()


def point_cli_at(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process command line (`cli.commands.main`) talk to `cloud`."""
    for name, value in endpoint_variables(cloud.endpoints).items():
        monkeypatch.setenv(name, value)
