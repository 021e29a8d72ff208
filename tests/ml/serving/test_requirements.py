"""The function's requirements.txt is uv.lock's `function` group, exported: the function deploys
exactly the versions the tests ran, and pip, which builds it in the cloud, accepts every one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from infra.components.serving import RUNTIME
from infra.function_bundle import FUNCTION_DIR
from tests.support import ROOT

pytestmark = pytest.mark.integration  # trains, or runs a slow tool: not in `make test-fast`

REQUIREMENTS = FUNCTION_DIR / "requirements.txt"
_RUNTIME_DIGITS = RUNTIME.removeprefix("python")  # python312
FUNCTION_PYTHON = f"{_RUNTIME_DIGITS[0]}.{_RUNTIME_DIGITS[1:]}"


def pinned() -> list[tuple[Requirement, list[str]]]:
    """Each requirement with its hashes; continuation lines joined, uv's `# via` comments dropped."""
    text = REQUIREMENTS.read_text().replace("\\\n", " ")
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            spec, *options = line.split(" --hash=")
            entries.append((Requirement(spec.strip()), [o.strip() for o in options]))
    return entries


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        pytest.fail("uv is not installed: run the tests with `make test`, which installs it")
    return found


def test_requirements_are_the_lock_exported(tmp_path: Path) -> None:
    exported = tmp_path / "requirements.txt"
    result = subprocess.run(
        ["make", "-s", "function-requirements", f"FUNCTION_REQUIREMENTS={exported}", f"UV={uv()}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert exported.read_text() == REQUIREMENTS.read_text(), (
        f"{REQUIREMENTS.relative_to(ROOT)} drifted from uv.lock: run `make lock` and commit both"
    )


def test_every_requirement_is_an_exact_version_with_hashes() -> None:
    entries = pinned()
    assert entries
    for requirement, hashes in entries:
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", requirement
        assert hashes, requirement
        assert all(h.startswith("sha256:") for h in hashes), requirement


@pytest.mark.parametrize("python", [FUNCTION_PYTHON, f"{sys.version_info.major}.{sys.version_info.minor}"])
def test_the_function_runs_what_the_tests_ran_on_a_python_pip_accepts(python: str) -> None:
    # uv drops the upper bounds of Requires-Python, pip keeps them: a pin that declares
    # `<3.12` would lock and test fine here and fail the function's build in the cloud.
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    checked = 0
    for requirement, _ in pinned():
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        (specifier,) = requirement.specifier
        name = canonicalize_name(requirement.name)
        assert metadata.version(name) == specifier.version, f"{name}: the tests ran {metadata.version(name)}"
        for requires_python in metadata.metadata(name).get_all("Requires-Python", []):
            assert SpecifierSet(requires_python).contains(f"{python}.0"), (
                f"{name}=={specifier.version} declares Requires-Python {requires_python}: pip on Python {python}"
                " refuses it; constrain it in pyproject.toml ([tool.uv] constraint-dependencies) and `make lock`"
            )
        checked += 1
    assert checked >= 30, "the export holds far fewer packages than the function needs"
