"""The local cloud against real emulator processes, checked through the real Google clients."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from google.cloud import bigquery

from infra.errors import LocalCloudError, StackError
from infra.terraform_json import load_stack
from localcloud.cloud import LocalCloud
from ml import schemas
from ml.environments import ENVIRONMENTS
from tests.support import ROOT
from tests.support.cloud import endpoint_variables
from tests.support.records import record

LOCAL = ENVIRONMENTS["local"]


def declared(cloud: LocalCloud) -> dict[str, set[str]]:
    resources = load_stack(cloud.stack_file)
    return {
        "tables": {r.attributes["table_id"] for r in resources if r.type == "google_bigquery_table"},
        "buckets": {r.attributes["name"] for r in resources if r.type == "google_storage_bucket"},
    }


def existing(cloud: LocalCloud) -> dict[str, set[str]]:
    bq = cloud.context.bigquery
    gcs = cloud.context.storage
    datasets = [d.dataset_id for d in bq.list_datasets()]
    return {
        "datasets": set(datasets),
        "tables": {t.table_id for d in datasets for t in bq.list_tables(d)},
        "buckets": {b.name for b in gcs.list_buckets()},
    }


def service_pids(cloud: LocalCloud) -> list[int]:
    return [s.pid for s in cloud.status().services if s.pid is not None]


def test_up_creates_every_declared_resource_with_its_schema(private_cloud: LocalCloud) -> None:
    services, changes = private_cloud.up()
    assert {s.name for s, started in services if started} == {"bigquery", "storage", "vertex"}
    assert {c.action for c in changes} == {"created"}
    want, have = declared(private_cloud), existing(private_cloud)
    assert have["datasets"] == {LOCAL.dataset_id}
    assert have["tables"] == want["tables"] == {t.table_id for t in schemas.TABLES}
    assert have["buckets"] == want["buckets"] == {LOCAL.models_bucket, LOCAL.function_source_bucket}

    bq = private_cloud.context.bigquery
    predictions = bq.get_table(f"{LOCAL.project}.{LOCAL.dataset_id}.predictions")
    assert [f.to_api_repr()["name"] for f in predictions.schema] == list(schemas.PREDICTIONS.column_names)
    assert predictions.time_partitioning.field == "prediction_time"
    assert predictions.clustering_fields == ["model_version"]
    train = bq.get_table(f"{LOCAL.project}.{LOCAL.dataset_id}.train")
    legacy_names = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}  # the cloud answers these
    assert [(f.name, legacy_names.get(f.field_type, f.field_type), f.mode) for f in train.schema] == [
        ("key", "INT64", "REQUIRED"),
        ("label", "INT64", "REQUIRED"),
        ("image", "BYTES", "REQUIRED"),
    ]


def test_second_up_changes_nothing(private_cloud: LocalCloud) -> None:
    private_cloud.up()
    pids = service_pids(private_cloud)
    services, changes = private_cloud.up()
    assert not any(started for _, started in services)
    assert service_pids(private_cloud) == pids
    assert {c.action for c in changes} == {"unchanged"}


def test_down_stops_every_process_and_keeps_the_data(private_cloud: LocalCloud) -> None:
    private_cloud.up()
    bq = private_cloud.context.bigquery
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.test"
    bq.insert_rows_json(table, [{"key": 7, "label": 3, "image": "AAE="}])
    processes = [psutil.Process(pid) for pid in service_pids(private_cloud)]
    children = [c for p in processes for c in p.children(recursive=True)]

    private_cloud.context.registry.create_version("mnist", record("run-a"))

    assert sorted(private_cloud.down()) == ["bigquery", "storage", "vertex"]
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes + children)
    assert service_pids(private_cloud) == []

    private_cloud.up()
    rows = list(bq.query(f"select key, label, image from `{table}`").result())
    assert [(r.key, r.label, r.image) for r in rows] == [(7, 3, b"\x00\x01")]
    assert [v.version for v in private_cloud.context.registry.list_versions("mnist")] == ["1"]


def test_destroy_then_up_recreates_everything_empty(private_cloud: LocalCloud) -> None:
    private_cloud.up()
    bq = private_cloud.context.bigquery
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.test"
    bq.insert_rows_json(table, [{"key": 1, "label": 1, "image": "AA=="}])
    private_cloud.context.storage.bucket(LOCAL.models_bucket).blob("a").upload_from_string(b"x")
    private_cloud.context.registry.create_version("mnist", record("run-a"))

    private_cloud.destroy()
    assert service_pids(private_cloud) == []
    _, changes = private_cloud.up()
    assert {c.action for c in changes} == {"created"}
    assert existing(private_cloud)["tables"] == declared(private_cloud)["tables"]
    assert next(iter(bq.query(f"select count(*) as n from `{table}`").result())).n == 0
    assert list(private_cloud.context.storage.list_blobs(LOCAL.models_bucket)) == []
    assert private_cloud.context.registry.list_models() == []


def test_busy_port_is_one_clear_error_and_nothing_is_left_running(private_cloud: LocalCloud) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", private_cloud.endpoints.storage_port))
        squatter.listen()
        with pytest.raises(
            LocalCloudError, match=rf"port {private_cloud.endpoints.storage_port} .* busy.*GCS_EMULATOR_PORT"
        ):
            private_cloud.up()
    assert service_pids(private_cloud) == []  # the BigQuery emulator it had started is stopped again


def test_emulator_dying_on_start_is_one_clear_error_and_nothing_is_left_running(private_cloud: LocalCloud) -> None:
    bigquery_dir = private_cloud.data_dirs[0]
    bigquery_dir.mkdir(parents=True)
    (bigquery_dir / "bqemulator.duckdb").write_bytes(b"this is not a DuckDB database" * 100)
    with pytest.raises(LocalCloudError, match=r"bigquery emulator exited on start \(exit code \d+\).*full log"):
        private_cloud.up()
    assert service_pids(private_cloud) == []


def test_a_recycled_pid_is_never_signalled(private_cloud: LocalCloud) -> None:
    private_cloud.services.run_dir.mkdir(parents=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        record = {"pid": bystander.pid, "create_time": 1.0, "url": "", "ports": {}, "log": "", "command": []}
        (private_cloud.services.run_dir / "bigquery.json").write_text(json.dumps(record))
        assert private_cloud.down() == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_unsupported_resource_in_local_stack_fails_before_starting_anything(
    private_cloud: LocalCloud, tmp_path: Path
) -> None:
    stack = json.loads(private_cloud.stack_file.read_text())
    stack["resource"]["google_service_account"] = {"sa": {"account_id": "x"}}
    private_cloud.stack_file = tmp_path / "cdk.tf.json"
    private_cloud.stack_file.write_text(json.dumps(stack))
    with pytest.raises(StackError, match="google_service_account, which no local emulator provides"):
        private_cloud.up()
    assert service_pids(private_cloud) == []


def run_cli(cloud: LocalCloud, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ml", "local", *args, "--stack", str(cloud.stack_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **endpoint_variables(cloud.endpoints)},
        check=False,
        timeout=120,
    )


def test_cli_up_status_down_as_json(private_cloud: LocalCloud) -> None:
    up = run_cli(private_cloud, "up", "--json")
    assert up.returncode == 0, up.stderr
    assert {s["name"] for s in json.loads(up.stdout)["services"]} == {"bigquery", "storage", "vertex"}

    status = run_cli(private_cloud, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    services = {s["name"]: s for s in report["services"]}
    assert services["bigquery"]["url"] == private_cloud.endpoints.bigquery_url
    assert services["bigquery"]["ports"]["grpc"] == private_cloud.endpoints.bigquery_grpc_port
    function = services.pop("function")
    assert (function["running"], function["pid"]) == (False, None)  # no model published: no function
    assert all(s["running"] and psutil.pid_exists(s["pid"]) for s in services.values())
    assert len(report["resources"]) == 9
    assert all(r["exists"] for r in report["resources"])

    down = run_cli(private_cloud, "down", "--json")
    assert down.returncode == 0
    assert sorted(json.loads(down.stdout)["stopped"]) == ["bigquery", "storage", "vertex"]
    after = json.loads(run_cli(private_cloud, "status", "--json").stdout)
    assert not any(s["running"] for s in after["services"])
    assert after["resources"] is None


def test_cli_errors_are_one_line_and_non_zero(private_cloud: LocalCloud) -> None:
    result = run_cli(private_cloud, "up", "--env", "prod")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "error: the local cloud runs environment 'local', not 'prod': use make deploy ENV=prod"
    )


def test_clients_reach_the_emulators_through_the_same_code_as_the_cloud(local_cloud: LocalCloud) -> None:
    client = local_cloud.context.bigquery
    assert isinstance(client, bigquery.Client)
    assert client.project == LOCAL.project
    assert LOCAL.dataset_id in {d.dataset_id for d in client.list_datasets()}
