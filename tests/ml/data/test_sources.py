"""Source files: a directory (checked against its SHA256SUMS), or the mirrors over real HTTP."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.data.sources import FILE_NAMES, MNIST_SHA256, clone_mnist_folder, download, from_directory, mnist_folder
from ml.emulators import free_port
from ml.errors import DataError
from tests.support.data import mnist_dir
from tests.support.idx_files import write_set


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving a folder: (its URL, the folder)."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist/", root
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_directory_of_mnist_is_read_and_checked_against_its_sums() -> None:
    sources = from_directory(mnist_dir())
    assert {f.name: f.array.sha256 for f in sources.files} == MNIST_SHA256
    assert sources.train_images.array.values.shape == (60000, 28, 28)
    assert sources.test_labels.array.values.shape == (10000,)


def test_a_file_that_disagrees_with_sha256sums_is_refused(tmp_path: Path) -> None:
    write_set(tmp_path)
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  {FILE_NAMES['test_labels']}\n")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: SHA-256 \w+ is not 0{64} \(SHA256SUMS\)"):
        from_directory(tmp_path)


def test_empty_or_missing_directory_says_which_files_it_needs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="has no train-images-idx3-ubyte"):
        from_directory(tmp_path)
    with pytest.raises(DataError, match="is not a directory; set MNIST_DIR"):
        from_directory(tmp_path / "nowhere")


def test_download_skips_a_dead_mirror_and_verifies_checksums(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    shutil.copytree(mnist_dir(), root / "mnist", dirs_exist_ok=True)
    dead = f"http://127.0.0.1:{free_port()}/"
    sources = download([dead, url], tmp_path / "cache")
    assert {f.name: f.array.sha256 for f in sources.files} == MNIST_SHA256
    assert {f.origin for f in sources.files} == {url + f"{name}.gz" for name in FILE_NAMES.values()}
    # A second download is served from the cache, so no mirror is needed.
    assert download([dead], tmp_path / "cache").train_images.origin.startswith("file://")


def test_a_mirror_serving_other_bytes_is_refused(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    write_set(root / "mnist", gz=True)
    with pytest.raises(DataError, match=r"no mirror served train-images-idx3-ubyte \(.*is not MNIST's"):
        download([url], tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())  # nothing half-downloaded is kept


def test_unreachable_mirrors_end_in_one_line_naming_the_fix(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(DataError, match=r"no mirror served .*Connection refused.*set MNIST_DIR") as error:
        download([dead], tmp_path / "cache")
    assert "\n" not in str(error.value)


def test_mnist_folder_takes_the_named_folder_then_the_shared_copy_then_the_mirrors(
    mirror: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = mirror
    shutil.copytree(mnist_dir(), root / "mnist", dirs_exist_ok=True)
    shared, cache, named = tmp_path / "shared", tmp_path / "cache", tmp_path / "named-but-missing"
    dead = [f"http://127.0.0.1:{free_port()}/"]
    # A named folder is used as named, even a wrong one: it fails where it is read, never downloads.
    assert mnist_folder(named, shared, dead, cache) == named
    assert not cache.exists()
    shared.mkdir()
    assert mnist_folder(None, shared, dead, cache) == shared
    shared.rmdir()
    assert mnist_folder(None, shared, [url], cache) == cache
    assert {f.array.sha256 for f in from_directory(cache).files} == set(MNIST_SHA256.values())


def test_a_clone_finds_mnist_by_its_option_then_mnist_dir_then_mnist_mirrors(
    mirror: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = mirror
    shutil.copytree(mnist_dir(), root / "mnist", dirs_exist_ok=True)
    clone = tmp_path / "clone"  # no shared/ beside it, as in a user's clone
    named, by_variable = tmp_path / "named", tmp_path / "by-variable"
    environ = {"MNIST_DIR": str(by_variable), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert clone_mnist_folder(named, clone, environ) == named
    assert clone_mnist_folder(None, clone, environ) == by_variable
    environ = {"MNIST_MIRRORS": f"http://127.0.0.1:{free_port()}/,{url}", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    folder = clone_mnist_folder(None, clone, environ)
    assert folder == tmp_path / "cache" / "mnist-pipeline" / "mnist"
    assert {f.array.sha256 for f in from_directory(folder).files} == set(MNIST_SHA256.values())
