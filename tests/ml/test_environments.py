from __future__ import annotations

import re
from dataclasses import replace

import pytest

from ml.emulators import LocalEndpoints
from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS, FunctionSizing, get_environment
from ml.errors import ConfigError


def test_unknown_environment_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'qa': use one of local, dev, prod"):
        get_environment("qa")


@pytest.mark.parametrize("env", ENVIRONMENTS.values(), ids=lambda e: e.name)
def test_derived_names_are_valid_google_cloud_names(env: object) -> None:
    from ml.environments import Environment

    assert isinstance(env, Environment)
    assert re.fullmatch(r"[a-zA-Z0-9_]{1,1024}", env.dataset_id)
    for bucket in (env.models_bucket, env.function_source_bucket):
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", bucket)
    for role in ("trainer", "predictor", "builder", "planner", "deployer"):
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", env.service_account_id(role))


def test_only_local_is_emulated_and_cloud_environments_have_state_buckets() -> None:
    assert [e.name for e in ENVIRONMENTS.values() if e.emulated] == ["local"]
    assert CLOUD_ENVIRONMENTS == ("dev", "prod")
    assert all(ENVIRONMENTS[n].state_bucket for n in CLOUD_ENVIRONMENTS)


def test_local_endpoints_can_be_moved_by_variables() -> None:
    endpoints = LocalEndpoints.from_env(
        {"LOCAL_CLOUD_DIR": "/tmp/x", "BQ_EMULATOR_PORT": "1", "BQ_EMULATOR_GRPC_PORT": "2", "GCS_EMULATOR_PORT": "3"}
    )
    assert (endpoints.bigquery_url, endpoints.bigquery_grpc_target, endpoints.storage_url) == (
        "http://127.0.0.1:1",
        "127.0.0.1:2",
        "http://127.0.0.1:3",
    )
    assert str(endpoints.state_dir) == "/tmp/x"
    assert LocalEndpoints.from_env({}).bigquery_port == 9050


def test_the_function_runs_a_worker_process_per_vcpu_with_threads_for_its_concurrency() -> None:
    def processes(sizing: FunctionSizing) -> tuple[str, str]:
        return sizing.server_environment["WORKERS"], sizing.server_environment["THREADS"]

    assert processes(FunctionSizing(cpu="2", concurrency=8)) == ("2", "4")
    assert processes(FunctionSizing(cpu="0.5", concurrency=3)) == ("1", "3")
    assert processes(FunctionSizing(cpu="4", concurrency=6)) == ("4", "2")


def test_the_function_gets_its_request_limits_from_the_sizing() -> None:
    env = replace(ENVIRONMENTS["dev"], function=FunctionSizing(request_instances=100, request_bytes=2**20))
    limits = env.function_config().to_environ()
    assert (limits["MAX_REQUEST_INSTANCES"], limits["MAX_REQUEST_BYTES"]) == ("100", "1048576")


@pytest.mark.parametrize(
    ("memory", "size"), [("512Mi", 512 * 2**20), ("1Gi", 2**30), ("2G", 2 * 10**9), ("1000", 1000)]
)
def test_memory_quantities_are_read_as_cloud_run_reads_them(memory: str, size: int) -> None:
    assert FunctionSizing(memory=memory).memory_bytes == size
