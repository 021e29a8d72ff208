"""`python -m ml data load` against the emulators: exact round trip, bad input changing nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli.commands import main
from localcloud.cloud import LocalCloud
from ml.data.images import ImageSet
from ml.data.loader import prepare
from ml.data.reader import read_table
from ml.data.sources import FILE_NAMES, from_directory
from ml.emulators import free_port
from ml.environments import ENVIRONMENTS
from tests.support.cloud import endpoint_variables, point_cli_at
from tests.support.data import mnist_dir
from tests.support.idx_files import idx_bytes, write_set

LOCAL = ENVIRONMENTS["local"]
SPLITS = ("train", "valid", "test")


def digests(cloud: LocalCloud) -> dict[str, str]:
    return {t: read_table(cloud.context, t).lineage.digest for t in SPLITS}


def test_load_reports_each_table_and_round_trips_byte_exact(mnist_cloud: tuple[LocalCloud, dict[str, Any]]) -> None:
    cloud, report = mnist_cloud
    assert {t: report["tables"][t]["rows"] for t in SPLITS} == {"train": 55000, "valid": 5000, "test": 10000}
    assert report["image_shape"] == [28, 28]
    assert report["classes"] == 10
    sources = from_directory(mnist_dir())
    train = [read_table(cloud.context, t) for t in ("train", "valid")]
    keys = np.concatenate([d.keys for d in train])
    order = np.argsort(keys)
    assert np.array_equal(keys[order], np.arange(60000))  # the two splits partition the training file
    assert np.array_equal(np.concatenate([d.images for d in train])[order], sources.train_images.array.values)
    assert np.array_equal(np.concatenate([d.labels for d in train])[order], sources.train_labels.array.values)
    test = read_table(cloud.context, "test")
    assert np.array_equal(test.keys, np.arange(10000))
    assert np.array_equal(test.images, sources.test_images.array.values)
    assert np.array_equal(test.labels, sources.test_labels.array.values)
    assert test.images.dtype == np.uint8
    assert test.labels.dtype == np.int64
    for table, data in zip(SPLITS, [*train, test], strict=True):
        assert data.lineage.digest == report["tables"][table]["digest"]
        assert data.lineage.rows == report["tables"][table]["rows"]


def _truncated(d: Path) -> None:
    path = d / FILE_NAMES["train_images"]
    path.write_bytes(path.read_bytes()[:-100])


def _corrupt_gzip(d: Path) -> None:
    path = d / FILE_NAMES["test_images"]
    path.unlink()
    (d / f"{path.name}.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 50)


def _wrong_magic(d: Path) -> None:
    path = d / FILE_NAMES["train_labels"]
    path.write_bytes(b"\x00\x00\x08\x03" + path.read_bytes()[4:])


def _counts_differ(d: Path) -> None:
    (d / FILE_NAMES["train_labels"]).write_bytes(idx_bytes(np.zeros(59, np.uint8) + 1))


def _label_out_of_range(d: Path) -> None:
    (d / FILE_NAMES["test_labels"]).write_bytes(idx_bytes(np.full(20, 7, np.uint8)))


def _sizes_differ(d: Path) -> None:
    (d / FILE_NAMES["test_images"]).write_bytes(idx_bytes(np.zeros((20, 5, 3), np.uint8)))


def _single_class(d: Path) -> None:
    (d / FILE_NAMES["train_labels"]).write_bytes(idx_bytes(np.zeros(60, np.uint8)))
    (d / FILE_NAMES["test_labels"]).write_bytes(idx_bytes(np.zeros(20, np.uint8)))


def _empty(d: Path) -> None:
    for f in d.iterdir():
        f.unlink()


BAD_INPUTS: list[tuple[Callable[[Path], None], str]] = [
    (_truncated, "train-images-idx3-ubyte: truncated: 636 bytes where its header [60, 4, 3] needs 736"),
    (_corrupt_gzip, "t10k-images-idx3-ubyte.gz: cannot be read"),
    (_wrong_magic, "train-labels-idx1-ubyte: magic number 0x00000803 where 0x00000801 (uint8, 1-D)"),
    (_counts_differ, "train-images-idx3-ubyte holds 60 images but"),
    (_label_out_of_range, "test label 7 is outside the class range 0..2"),
    (_sizes_differ, "training images are (4, 3), test images (5, 3)"),
    (_single_class, "every label is 0; a classification set needs two classes"),
    (_empty, "has no train-images-idx3-ubyte[.gz]"),
]


@pytest.mark.parametrize(("damage", "message"), BAD_INPUTS, ids=[d.__name__.strip("_") for d, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_changes_no_table(
    damage: Callable[[Path], None],
    message: str,
    mnist_cloud: tuple[LocalCloud, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cloud, report = mnist_cloud
    write_set(tmp_path)
    damage(tmp_path)
    point_cli_at(cloud, monkeypatch)
    assert main(["data", "load", "--mnist-dir", str(tmp_path), "--valid-size", "10"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ")
    assert message in err
    assert digests(cloud) == {t: report["tables"][t]["digest"] for t in SPLITS}


def test_unreachable_mirror_is_one_line_and_changes_no_table(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], tmp_path: Path
) -> None:
    cloud, report = mnist_cloud
    dead = f"http://127.0.0.1:{free_port()}/"
    result = subprocess.run(
        [sys.executable, "-m", "ml", "data", "load", "--mirror", dead, "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, **endpoint_variables(cloud.endpoints)},
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().startswith("error: no mirror served train-images-idx3-ubyte")
    assert "set MNIST_DIR" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert digests(cloud) == {t: report["tables"][t]["digest"] for t in SPLITS}


def test_any_idx_set_loads_with_its_own_image_size_and_classes(private_cloud: LocalCloud, tmp_path: Path) -> None:
    private_cloud.up()
    arrays = write_set(tmp_path, train=60, test=20, shape=(8, 6), classes=4, gz=True)
    splits = {s.schema.table_id: s for s in prepare(from_directory(tmp_path), valid_size=12)}
    env = endpoint_variables(private_cloud.endpoints)
    result = subprocess.run(
        [sys.executable, "-m", "ml", "data", "load", "--mnist-dir", str(tmp_path), "--valid-size", "12", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    assert '"rows": 48' in result.stdout
    test = read_table(private_cloud.context, "test")
    assert test.classes == 4
    assert test.images.shape == (20, 8, 6)
    assert np.array_equal(test.images, arrays["test_images"])
    valid = read_table(private_cloud.context, "valid")
    assert len(valid.keys) == 12
    assert valid.lineage.digest == splits["valid"].rows.digest()


def raw_digests(cloud: LocalCloud) -> dict[str, str]:
    """Each table's digest read without its manifest: image size from the rows themselves."""
    bq = cloud.context.bigquery
    found = {}
    for table in SPLITS:
        rows = bq.list_rows(f"{LOCAL.project}.{LOCAL.dataset_id}.{table}").to_arrow(create_bqstorage_client=False)
        size = len(rows.column("image")[0].as_py())
        found[table] = ImageSet.from_arrow(rows, (28, 28) if size == 784 else (4, 3)).digest()
    return found


def test_a_killed_load_leaves_each_table_old_or_new_never_partial(private_cloud: LocalCloud, tmp_path: Path) -> None:
    private_cloud.up()
    write_set(tmp_path / "small")
    env = {**os.environ, **endpoint_variables(private_cloud.endpoints)}
    command = [sys.executable, "-m", "ml", "data", "load", "--valid-size", "10", "--mnist-dir"]
    subprocess.run([*command, str(tmp_path / "small")], env=env, check=True, capture_output=True)
    old = digests(private_cloud)
    new = {s.schema.table_id: s.rows.digest() for s in prepare(from_directory(mnist_dir()), valid_size=10)}
    mnist = tmp_path / "mnist"
    shutil.copytree(mnist_dir(), mnist)
    for delay in (0.0, 0.3, 0.6):
        process = subprocess.Popen([*command, str(mnist)], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        assert process.stderr is not None
        while b"loading tables" not in process.stderr.read1(4096):  # type: ignore[attr-defined]
            assert process.poll() is None
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        now = raw_digests(private_cloud)
        assert all(now[t] in (old[t], new[t]) for t in SPLITS), (delay, now)
    # Whatever state a kill left (a table may be ahead of its manifest), loading again settles it.
    subprocess.run([*command, str(mnist)], env=env, check=True, capture_output=True)
    assert digests(private_cloud) == new


def test_gzip_and_plain_files_load_the_same(tmp_path: Path) -> None:
    write_set(tmp_path / "gz", gz=True)
    write_set(tmp_path / "plain")
    packed = prepare(from_directory(tmp_path / "gz"), valid_size=5)
    plain = prepare(from_directory(tmp_path / "plain"), valid_size=5)
    assert [s.rows.digest() for s in packed] == [s.rows.digest() for s in plain]
