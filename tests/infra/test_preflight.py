"""`make bootstrap|plan|deploy|destroy ENV=dev|prod` stop with one line when a setting, a tool or a
credential is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.preflight import PreflightError, require_cdktn_cli
from tests.support import ROOT


def preflight(
    env_name: str, path: str, home: Path, environments: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": path,
        "HOME": str(home),
        "CLOUDSDK_CONFIG": str(home / "gcloud"),
        "NO_GCE_CHECK": "true",  # never probe the metadata server from a test
        **({"ENVIRONMENTS_DIR": str(environments)} if environments else {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "ml", "preflight", "--env", env_name],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_local_is_not_deployed_with_terraform(tmp_path: Path) -> None:
    result = preflight("local", os.environ["PATH"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: ENV=local is not deployed with terraform: use make up / make down / make destroy"
    )


def test_unknown_environment(tmp_path: Path) -> None:
    result = preflight("staging", os.environ["PATH"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: unknown environment 'staging': use one of local, dev, prod (ENV=...)"


def own_settings(directory: Path) -> Path:
    """The environments' files with every `{ placeholder = X }` set to X, as a person's own."""
    directory.mkdir()
    for source in (ROOT / "environments").glob("*.toml"):
        (directory / source.name).write_text(re.sub(r"\{ placeholder = (.*?) \}", r"\1", source.read_text()))
    return directory


def test_an_example_value_left_in_an_environments_file_is_refused_by_name(tmp_path: Path) -> None:
    result = preflight("prod", os.environ["PATH"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: environments/prod.toml still holds the example value of `project` (and github_repository, "
        "github_repository_id, monitoring.notification_emails): set your own, as `project = ...`, before "
        "touching a real project"
    )
    assert "example value" not in preflight("prod", str(tmp_path), tmp_path, own_settings(tmp_path / "own")).stderr
    bootstrap = subprocess.run(
        [sys.executable, "-m", "ml", "bootstrap", "--env", "dev"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert bootstrap.returncode == 1
    assert bootstrap.stderr.splitlines() == [
        "error: environments/dev.toml still holds the example value of `project` (and github_repository, "
        "github_repository_id): set your own, as `project = ...`, before touching a real project"
    ]


def test_missing_terraform_says_what_to_install(tmp_path: Path) -> None:
    result = preflight("dev", str(tmp_path), tmp_path, own_settings(tmp_path / "own"))  # a PATH with nothing on it
    assert result.returncode == 1
    assert result.stderr.startswith("error: terraform is not installed: install Terraform")
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_cdktn_cli_says_to_run_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match=r"^the cdktn CLI is not installed: run `npm ci` here"):
        require_cdktn_cli(root=tmp_path)


@pytest.mark.parametrize(
    ("version", "ok"), [("v20.20.2\n", False), ("v22.18.0", False), ("v22.19.0", True), ("v24.1.0", True)]
)
def test_cdktn_cli_needs_node_22_19(tmp_path: Path, version: str, ok: bool) -> None:
    cli = tmp_path / "node_modules" / ".bin" / "cdktn"
    cli.parent.mkdir(parents=True)
    cli.touch()
    if ok:
        require_cdktn_cli(root=tmp_path, node_version=version)
    else:
        with pytest.raises(PreflightError, match=rf"needs Node.js >= 22.19 but found {version.strip()}: install"):
            require_cdktn_cli(root=tmp_path, node_version=version)


# In a process of its own: google-auth reads NO_GCE_CHECK when it is first imported.
CHECK_CREDENTIALS = """
import sys
from infra.preflight import PreflightError, require_credentials
try:
    require_credentials()
except PreflightError as error:
    sys.exit(f"error: {error}")
"""


def test_missing_credentials_says_how_to_log_in(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK_CREDENTIALS],
        cwd=ROOT,
        env={"HOME": str(tmp_path), "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "NO_GCE_CHECK": "true"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "error: no Google Cloud credentials: run `gcloud auth application-default login`"
    )


def test_destroying_prod_needs_confirm() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "destroy", "ENV=prod"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "error: destroying prod needs CONFIRM=prod" in result.stderr


def test_synth_without_node_says_to_install_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "main.py"],
        cwd=ROOT,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: Node.js is not installed; cdktn needs it to synthesize: install Node.js 20 or newer"
    )
