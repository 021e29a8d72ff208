"""The predict function's source, zipped byte-for-byte reproducibly.

Entries are stored, not deflated: deflate's output depends on the zlib build (zlib-ng,
Intel's, Apple's), and a zip that differs between the laptop and CI would redeploy the
function on every apply. Fixed timestamps and modes do the rest; the bundle is small.
The source bucket holds it under one name (`OBJECT_NAME`), versioned: a new bundle is a new
generation, which the function names, so it redeploys exactly when a file changes; the
bucket's lifecycle expires the generations no deployment names any more.

The bundle is the function's folder plus `contracts.py`, a copy of ml/contracts.py: the
deployed function reads its configuration and the serving manifest through the definitions
the publisher and the stacks use. The local cloud runs the same files, staged by `stage`.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.errors import StackError

FUNCTION_DIR = Path(__file__).resolve().parent.parent / "ml" / "serving" / "function"
CONTRACTS = FUNCTION_DIR.parent.parent / "contracts.py"
_EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


OBJECT_NAME = "predict.zip"


@dataclass(frozen=True)
class FunctionBundle:
    path: Path
    sha256: str


def bundle_files(source: Path = FUNCTION_DIR) -> dict[str, Path]:
    """What ships to Cloud Functions, by name in the bundle, in a stable order; caches and bytecode left out."""
    files = {
        p.relative_to(source).as_posix(): p
        for p in source.rglob("*")
        if p.is_file() and not _EXCLUDED_PARTS.intersection(p.parts) and p.suffix != ".pyc"
    }
    for required in ("main.py", "requirements.txt"):
        if required not in files:
            raise StackError(f"{source / required} is missing: Cloud Functions needs it in the function's folder")
    return dict(sorted({**files, CONTRACTS.name: CONTRACTS}.items()))


def stage(destination: Path, source: Path = FUNCTION_DIR) -> Path:
    """The bundle's files as a folder (replacing what was there): what the local cloud runs and mypy checks."""
    shutil.rmtree(destination, ignore_errors=True)
    for name, path in bundle_files(source).items():
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination / name)
    return destination


def build_bundle(out_dir: Path, source: Path = FUNCTION_DIR) -> FunctionBundle:
    """Zip the bundle into `out_dir` with fixed timestamps and modes, so equal sources give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in bundle_files(source).items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"predict-{digest[:16]}.zip"
    path.write_bytes(data)
    return FunctionBundle(path=path, sha256=digest)
