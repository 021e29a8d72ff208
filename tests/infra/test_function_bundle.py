from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from infra.errors import StackError
from infra.function_bundle import FUNCTION_DIR, build_bundle


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "function"
    shutil.copytree(FUNCTION_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_same_source_gives_the_same_bytes_and_name(source: Path, tmp_path: Path) -> None:
    first = build_bundle(tmp_path / "a", source)
    (source / "main.py").touch()  # a new mtime alone must not redeploy
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    second = build_bundle(tmp_path / "b", source)
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()


def test_a_code_change_changes_the_bytes(source: Path, tmp_path: Path) -> None:
    before = build_bundle(tmp_path / "a", source)
    with (source / "main.py").open("a") as main:
        main.write("\n# changed\n")
    after = build_bundle(tmp_path / "b", source)
    assert before.sha256 != after.sha256


def test_entries_are_stored_so_no_zlib_build_changes_the_bytes(source: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(build_bundle(tmp_path, source).path) as archive:
        entries = archive.infolist()
    assert entries
    assert {e.compress_type for e in entries} == {zipfile.ZIP_STORED}
    assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}


def test_bundle_holds_the_function_and_its_requirements_without_tensorflow(source: Path, tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path, source)
    with zipfile.ZipFile(bundle.path) as archive:
        names = archive.namelist()
        lines = archive.read("requirements.txt").decode().splitlines()
    requirements = [line.strip().lower() for line in lines if line.strip() and not line.startswith("#")]
    assert {"main.py", "requirements.txt"} <= set(names)
    assert not any("__pycache__" in n for n in names)
    assert not any(r.startswith(("tensorflow", "keras")) for r in requirements)
    assert any(r.startswith("functions-framework") for r in requirements)


def test_missing_requirements_is_a_clear_error(source: Path, tmp_path: Path) -> None:
    (source / "requirements.txt").unlink()
    with pytest.raises(StackError, match=r"requirements\.txt is missing"):
        build_bundle(tmp_path, source)


def test_bundle_holds_the_same_contracts_module_as_ml(source: Path, tmp_path: Path) -> None:
    from infra.function_bundle import CONTRACTS

    with zipfile.ZipFile(build_bundle(tmp_path, source).path) as archive:
        assert archive.read("contracts.py") == CONTRACTS.read_bytes()
