"""What `bootstrap`, `plan`, `deploy` and `destroy` need before touching a cloud (`python -m ml preflight`).

Each missing piece (the environment's own settings, the terraform binary, the cdktn CLI, Google
credentials) stops the run with one line saying what to set or install, before anything is
planned or applied.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from infra.errors import InfraError
from ml.emulators import ROOT
from ml.environments import Environment


class PreflightError(InfraError):
    """A tool or credential that a cloud operation needs is missing."""


def require_terraform() -> None:
    if shutil.which("terraform") is None:
        raise PreflightError(
            "terraform is not installed: install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)"
        )


CDKTN_CLI_NODE = (22, 19)
"""The oldest Node.js the cdktn CLI runs on (the Python app itself synthesizes on Node.js 20)."""


def require_cdktn_cli(root: Path = ROOT, node_version: str | None = None) -> None:
    """The CLI is installed, and the Node.js it would run on (`node --version`) is new enough."""
    if not (root / "node_modules" / ".bin" / "cdktn").exists():
        raise PreflightError("the cdktn CLI is not installed: run `npm ci` here (needs Node.js >= 22.19)")
    if node_version is None:
        node_version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = (int(part) for part in node_version.strip().lstrip("v").split(".")[:2])
    if (major, minor) < CDKTN_CLI_NODE:
        raise PreflightError(
            f"the cdktn CLI needs Node.js >= 22.19 but found {node_version.strip()}: install Node.js 22 or newer"
        )


def require_credentials() -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError:
        raise PreflightError(
            "no Google Cloud credentials: run `gcloud auth application-default login`, "
            "or in CI authenticate through Workload Identity Federation (google-github-actions/auth)"
        ) from None


def require_own_settings(env: Environment) -> None:
    """The environment's file holds no example left as `{ placeholder = ... }`."""
    if env.placeholders:
        first, *others = env.placeholders
        more = f" (and {', '.join(others)})" if others else ""
        raise PreflightError(
            f"environments/{env.name}.toml still holds the example value of `{first}`{more}: "
            f"set your own, as `{first.rsplit('.', 1)[-1]} = ...`, before touching a real project"
        )


def check(env: Environment) -> None:
    """PreflightError for the first thing `env`'s terraform flow lacks."""
    if env.emulated:
        raise PreflightError("ENV=local is not deployed with terraform: use make up / make down / make destroy")
    require_own_settings(env)
    require_terraform()
    require_cdktn_cli()
    require_credentials()
