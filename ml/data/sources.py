"""Where the IDX files come from: a directory the user names, or the public MNIST mirrors.

A directory may hold any IDX image-classification set under the four MNIST file names
(gzipped or not); a `SHA256SUMS` file beside them, if any, is checked too. Downloads are
MNIST's and are checked against its published SHA-256 sums, mirror after mirror.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ml.data.idx import IdxArray, read_idx
from ml.errors import DataError

FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""SHA-256 of the uncompressed MNIST files, as every mirror serves them."""

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Public copies of the gzipped MNIST files, tried in turn (yann.lecun.com now refuses robots)."""

_TIMEOUT_S = 30


@dataclass(frozen=True)
class SourceFile:
    """One IDX file as read, and where it came from (a path or a URL)."""

    name: str
    origin: str
    array: IdxArray


@dataclass(frozen=True)
class SourceSet:
    """The four files of an image-classification set, parsed and checked."""

    train_images: SourceFile
    train_labels: SourceFile
    test_images: SourceFile
    test_labels: SourceFile

    @property
    def files(self) -> tuple[SourceFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


def from_directory(directory: Path) -> SourceSet:
    """The four IDX files in `directory`, checked against its SHA256SUMS file if it has one."""
    if not directory.is_dir():
        raise DataError(f"{directory} is not a directory; set MNIST_DIR to the folder holding the IDX files")
    paths = {}
    for role, name in FILE_NAMES.items():
        candidates = [directory / name, directory / f"{name}.gz"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DataError(f"{directory} has no {name}[.gz]; it needs {', '.join(FILE_NAMES.values())} (.gz or not)")
        paths[role] = found
    sums = _sums_file(directory)
    files = {}
    for role, path in paths.items():
        array = read_idx(path, ndim=_ndim(role))
        name = FILE_NAMES[role]
        if name in sums and sums[name] != array.sha256:
            raise DataError(f"{path}: SHA-256 {array.sha256} is not {sums[name]} (SHA256SUMS); get the file again")
        files[role] = SourceFile(name=name, origin=str(path.resolve()), array=array)
    return SourceSet(**files)


def download(mirrors: Sequence[str], cache_dir: Path) -> SourceSet:
    """MNIST from the first mirror that serves each file with the published checksum, cached in `cache_dir`."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, name in FILE_NAMES.items():
        path, origin = _fetch(name, mirrors, cache_dir)
        files[role] = SourceFile(name=name, origin=origin, array=read_idx(path, ndim=_ndim(role)))
    return SourceSet(**files)


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where downloads are kept: `$XDG_CACHE_HOME/mnist-pipeline/mnist` (default ~/.cache)."""
    return Path(environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mnist-pipeline" / "mnist"


def mnist_folder(explicit: Path | None, shared: Path, mirrors: Sequence[str], cache_dir: Path) -> Path:
    """A folder holding MNIST's IDX files: `explicit` when given (a wrong one fails where it is read,
    never falls back to a download), else `shared` if it exists, else `cache_dir`, filled from
    `mirrors` (checked against MNIST's sums) unless it holds them already."""
    if explicit is not None:
        return explicit
    if shared.is_dir():
        return shared
    download(mirrors, cache_dir)
    return cache_dir


def clone_mnist_folder(explicit: Path | None, clone: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """MNIST for the tests and the benchmarks of the clone at `clone`: `explicit`, else MNIST_DIR,
    else the team's `shared/data/mnist` beside the clone, else downloaded from MNIST_MIRRORS
    (comma-separated) or the public mirrors into the cache `make load-data` uses."""
    if explicit is None and environ.get("MNIST_DIR"):
        explicit = Path(environ["MNIST_DIR"])
    mirrors = environ["MNIST_MIRRORS"].split(",") if environ.get("MNIST_MIRRORS") else MIRRORS
    return mnist_folder(explicit, clone.parent / "shared" / "data" / "mnist", mirrors, default_cache_dir(environ))


def _ndim(role: str) -> int:
    return 3 if role.endswith("images") else 1


def _fetch(name: str, mirrors: Sequence[str], cache_dir: Path) -> tuple[Path, str]:
    target = cache_dir / f"{name}.gz"
    if target.is_file() and _sha256_gz(target) == MNIST_SHA256[name]:
        return target, target.as_uri()
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + f"/{name}.gz"
        partial = target.with_suffix(".part")
        try:
            _download(url, partial)
            digest = _sha256_gz(partial)
        except (OSError, urllib.error.URLError, EOFError, gzip.BadGzipFile) as error:
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
            partial.unlink(missing_ok=True)
            continue
        if digest != MNIST_SHA256[name]:
            failures.append(f"{url}: SHA-256 {digest} is not MNIST's {MNIST_SHA256[name]}")
            partial.unlink(missing_ok=True)
            continue
        os.replace(partial, target)
        return target, url
    raise DataError(
        f"no mirror served {name} ({'; '.join(failures)}); "
        "set MNIST_DIR to a folder holding the IDX files, or try again when a mirror is reachable"
    )


def _download(url: str, path: Path) -> None:
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, path.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], leave=False) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))


def _sha256_gz(path: Path) -> str:
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


def _sums_file(directory: Path) -> dict[str, str]:
    """`name -> sha256` of uncompressed files, from SHA256SUMS* files (`sha256sum` output) in `directory`."""
    sums: dict[str, str] = {}
    for path in sorted(directory.glob("SHA256SUMS*")):
        for line in path.read_text().splitlines():
            digest, _, name = line.strip().partition(" ")
            sums[name.strip().lstrip("*")] = digest
    return sums
