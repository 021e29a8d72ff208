"""The contracts between the packages: one spelling, and round trips that lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.contracts import ArtifactRef, FunctionConfig, RunDirectory, ServingManifest
from ml.emulators import LocalEndpoints
from ml.environments import ENVIRONMENTS


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_function_config_survives_the_environment_variables(env_name: str) -> None:
    config = ENVIRONMENTS[env_name].function_config()
    assert FunctionConfig.from_environ(config.to_environ()) == config


def test_the_local_function_is_pointed_at_the_emulators() -> None:
    endpoints = LocalEndpoints(storage_port=1234, bigquery_port=5678, function_refresh_s=2.5)
    config = ENVIRONMENTS["local"].function_config(endpoints)
    environ = config.to_environ()
    assert (environ["STORAGE_EMULATOR_HOST"], environ["BIGQUERY_EMULATOR_HOST"]) == (
        "http://127.0.0.1:1234",
        "http://127.0.0.1:5678",
    )
    assert FunctionConfig.from_environ(environ) == config
    assert "STORAGE_EMULATOR_HOST" not in ENVIRONMENTS["dev"].function_config().to_environ()


def test_a_missing_variable_is_named() -> None:
    environ = ENVIRONMENTS["dev"].function_config().to_environ()
    del environ["MODELS_BUCKET"], environ["MAX_REQUEST_BYTES"]
    with pytest.raises(KeyError, match="MODELS_BUCKET, MAX_REQUEST_BYTES"):
        FunctionConfig.from_environ(environ)


def test_serving_manifest_round_trip() -> None:
    manifest = ServingManifest(
        model="mnist",
        alias="production",
        version="3",
        artifacts={"tflite": ArtifactRef("gs://b/models/mnist/tflite/abc/model.tflite", "abc")},
        accuracy=0.99,
        written_at="2026-11-28T00:00:00+00:00",
    )
    assert ServingManifest.from_json(manifest.to_json()) == manifest


def test_run_directory_names_every_file_under_its_root(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "20261128T000000Z-abc123")
    assert run.run_id == "20261128T000000Z-abc123"
    assert run["tflite"] == run.model_dir / "model.tflite"
    assert all(Path(path).is_relative_to(run.root) for path in run.files().values())
