"""Pointing commands at a private local cloud."""

from __future__ import annotations

from datetime import datetime

import pytest
from google.cloud import bigquery

from localcloud.cloud import LocalCloud
from ml.emulators import LocalEndpoints
from ml.schemas import PREDICTIONS


def endpoint_variables(endpoints: LocalEndpoints) -> dict[str, str]:
    """The variables that point `python -m ml` at `endpoints` (`LocalEndpoints.from_env` reads them)."""
    return endpoints.to_environ()


def point_cli_at(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process command line (`cli.commands.main`) talk to `cloud`."""
    for name, value in endpoint_variables(cloud.endpoints).items():
        monkeypatch.setenv(name, value)


def logged_rows(cloud: LocalCloud, since: datetime | None = None) -> int:
    """Rows the function's prediction log has written to `cloud`, those made from `since` on if given."""
    query = f"SELECT COUNT(*) FROM `{cloud.context.env.table(PREDICTIONS)}`"
    params = []
    if since is not None:
        query += " WHERE prediction_time >= @since"
        params.append(bigquery.ScalarQueryParameter("since", "TIMESTAMP", since))
    job = cloud.context.bigquery.query(query, job_config=bigquery.QueryJobConfig(query_parameters=params))
    return int(next(iter(job.result()))[0])
