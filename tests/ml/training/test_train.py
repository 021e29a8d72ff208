"""`python -m ml train` end to end on the emulators: the run directory, both exports, and bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli.commands import main
from localcloud.cloud import LocalCloud
from ml.data.images import ImageSet
from ml.data.loader import load, prepare, replace_table
from ml.data.sources import from_directory
from ml.environments import ENVIRONMENTS
from ml.schemas import TRAIN
from ml.training import run as run_module
from tests.support import ROOT
from tests.support.cloud import endpoint_variables, point_cli_at
from tests.support.idx_files import write_set

LOCAL = ENVIRONMENTS["local"]
# A fixed amount of work, so the accuracies asserted below do not depend on the machine's speed
# (2-core machines of one kind differ threefold): of 200 steps the screen gives the candidate it
# keeps about 136, which reach about 0.89 on 4,000 images. The budget only bounds the run; a
# fast machine finishes well inside it.
STEPS = 200
BUDGET = 200

# Runs reported against their budget, and budgets judged by the speed measured here: alone on the machine.
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def run(mnist_cloud: tuple[LocalCloud, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny training run through the command line; its JSON report."""
    cloud, _ = mnist_cloud
    runs = tmp_path_factory.mktemp("runs")
    command = ["-m", "ml", "train", "--budget", str(BUDGET), "--iteration-steps", str(STEPS), "--limit", "4000"]
    command += ["--runs-dir", str(runs), "--json"]
    result = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        env={**without_log_settings(os.environ), **endpoint_variables(cloud.endpoints)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    report["stderr"] = result.stderr
    report["runs"] = runs
    return report


# Start-up and conversion lines of TensorFlow, absl and LiteRT that once reached the terminal.
NATIVE_LOG_LINES = ("oneDNN", "cpu_feature_guard", "absl::InitializeLog", "XNNPACK delegate", "Ignored output_format")


def without_log_settings(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in {"TF_CPP_MIN_LOG_LEVEL", "LOG_LEVEL"}}


def test_the_terminal_shows_progress_not_native_library_logs(run: dict[str, Any]) -> None:
    assert "iteration 1/" in run["stderr"]
    assert [line for line in NATIVE_LOG_LINES if line in run["stderr"]] == [], run["stderr"]


@pytest.mark.parametrize(("flag", "shown"), [("", False), ("--verbose", True)])
def test_verbose_brings_the_native_logs_back(run: dict[str, Any], flag: str, shown: bool) -> None:
    script = (
        "import sys, numpy as np; from pathlib import Path; from ml import native_logs; "
        "native_logs.configure(verbose=sys.argv[2] == '--verbose'); "
        "from ml.training.litert import tflite_probabilities; "
        "tflite_probabilities(Path(sys.argv[1]), np.zeros((1, 28, 28), np.uint8))"
    )
    tflite = Path(run["run_dir"]) / "model" / "model.tflite"
    result = subprocess.run(
        [sys.executable, "-c", script, str(tflite), flag],
        capture_output=True,
        text=True,
        env=without_log_settings(os.environ),
        check=True,
    )
    assert ("XNNPACK delegate" in result.stderr) is shown


def test_a_run_reports_one_json_object_and_writes_every_artifact(run: dict[str, Any]) -> None:
    assert 0.85 < run["test_accuracy"] <= 1.0
    assert run["budget_seconds"] == BUDGET
    assert run["wall_seconds"] <= BUDGET * 1.1
    assert [p.name for p in run["runs"].iterdir()] == [Path(run["run_dir"]).name]  # no .partial left
    for name, path in run["artifacts"].items():
        assert Path(path).exists(), (name, run["skipped"], run["stderr"][-1500:])
    assert "iteration 1/" in run["stderr"]
    assert "best valid accuracy" in run["stderr"]
    iterations = json.loads(Path(run["artifacts"]["iterations"]).read_text())
    assert all(sum(c["kept"] for c in it["candidates"]) == len(it["kept"].split(" + ")) for it in iterations)
    metrics = json.loads(Path(run["artifacts"]["metrics"]).read_text())
    assert metrics["accuracy"] == run["test_accuracy"]
    assert len(metrics["per_class"]) == 10
    assert np.array(metrics["confusion_matrix"]).sum() == metrics["examples"] == 4000
    lineage = json.loads(Path(run["artifacts"]["lineage"]).read_text())
    assert set(lineage["tables"]) == {"train", "valid", "test"}
    assert lineage["tables"]["train"]["rows"] == 4000
    assert len(lineage["git"]["commit"]) == 40
    assert Path(run["artifacts"]["learning_curves"]).read_bytes()[:4] == b"\x89PNG"
    assert any(Path(run["artifacts"]["tensorboard"]).rglob("events.out.tfevents.*"))


def test_a_run_reports_the_machine_it_trained_on_and_what_it_kept_back(run: dict[str, Any]) -> None:
    machine = run["machine"]
    assert machine["cpu_model"]
    assert machine["cpu_count"] >= 1
    assert machine["device"] == "CPU"
    [screen] = json.loads(Path(run["artifacts"]["iterations"]).read_text())
    screened = screen["candidates"]
    assert set(machine["steps_per_second"]) == {c["name"] for c in screened}  # each candidate trained on its own
    assert all(speed > 0 for speed in machine["steps_per_second"].values())
    # The only iteration: the member kept trained on `valid` too, so no pair was judged on it.
    assert screen["saw_valid"] is True
    assert run["ensemble_check"] is None
    assert len(run["ensemble"]) == 1
    # What the screen spent beside the recipe, and what it bought over it.
    recipe = screened[0]
    assert recipe["name"].startswith("t0_plaincnn_")
    assert screen["screen_cost_s"] == pytest.approx(sum(c["seconds"] for c in screened if not c["kept"]), abs=0.05)
    assert screen["screen_gain"] == 0.0 if recipe["kept"] else -1.0 <= screen["screen_gain"] <= 1.0
    assert f"the screen spent {screen['screen_cost_s']:.1f} s on" in run["stderr"]
    assert run["reserved_seconds"] > 0
    assert run["skipped"] == []
    metrics = json.loads(Path(run["artifacts"]["metrics"]).read_text())
    assert metrics["tflite_agreement"]["images"] == 1000  # the SavedModel is checked on 1,000 of the 4,000


def test_the_saved_model_takes_raw_pixels_in_every_documented_form(
    run: dict[str, Any], mnist_cloud: tuple[LocalCloud, dict[str, Any]]
) -> None:
    import tensorflow as tf

    from ml.data import read_table

    test = read_table(mnist_cloud[0].context, "test", limit=200)
    model = tf.saved_model.load(run["artifacts"]["saved_model"])
    serve, serve_uint8 = model.signatures["serving_default"], model.signatures["serving_uint8"]
    out = serve(image=tf.constant(test.images, tf.float32))
    assert out["class_ids"].dtype == tf.int64
    assert out["class_ids"].shape == (200, 1)
    assert out["probabilities"].dtype == tf.float32
    assert out["probabilities"].shape == (200, 10)
    assert np.allclose(out["probabilities"].numpy().sum(axis=1), 1, atol=1e-5)
    for images in (test.images[..., None].astype(np.float32), test.images.reshape(200, 784).astype(np.float32)):
        assert np.array_equal(serve(image=tf.constant(images))["class_ids"], out["class_ids"])
    assert np.array_equal(serve_uint8(image=tf.constant(test.images))["class_ids"], out["class_ids"])
    accuracy = float((out["class_ids"].numpy()[:, 0] == test.labels).mean())
    assert accuracy > 0.8


def test_the_tflite_file_is_quantized_and_agrees_with_the_saved_model(
    run: dict[str, Any], mnist_cloud: tuple[LocalCloud, dict[str, Any]]
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from ml.data import read_table
    from ml.training.export import (
        MAX_MEAN_PROBABILITY_DIFFERENCE,
        MAX_PROBABILITY_DIFFERENCE,
        saved_model_probabilities,
    )
    from ml.training.litert import tflite_probabilities

    interpreter = Interpreter(model_path=run["artifacts"]["tflite"])
    assert np.int8 in {tensor["dtype"] for tensor in interpreter.get_tensor_details()}  # the weights, quantized
    runner = interpreter.get_signature_runner()
    assert set(runner.get_input_details()) == {"image"}
    assert set(runner.get_output_details()) == {"class_ids", "probabilities"}
    test = read_table(mnist_cloud[0].context, "test")
    reference = saved_model_probabilities(Path(run["artifacts"]["saved_model"]), test.images)
    lite = tflite_probabilities(Path(run["artifacts"]["tflite"]), test.images)
    assert np.abs(reference - lite).mean() <= MAX_MEAN_PROBABILITY_DIFFERENCE
    assert np.abs(reference - lite).max() <= MAX_PROBABILITY_DIFFERENCE
    class_ids = runner(image=test.images[:3].astype(np.float32))["class_ids"]
    assert class_ids.dtype == np.int64
    assert class_ids.shape == (3, 1)


def _empty(rows: ImageSet) -> ImageSet:
    return rows.take(np.array([], np.int64))


def _single_class(rows: ImageSet) -> ImageSet:
    return ImageSet(rows.keys, np.zeros_like(rows.labels), rows.images)


def _label_out_of_range(rows: ImageSet) -> ImageSet:
    labels = rows.labels.copy()
    labels[5] = 12
    return ImageSet(rows.keys, labels, rows.images)


BAD_TABLES = [
    (_empty, "table train is empty; run `make load-data` first"),
    (_single_class, "table train holds only class 0; a classifier needs at least two classes"),
    (_label_out_of_range, "table train has label 12, outside the class range 0..2"),
]


@pytest.mark.parametrize(("damage", "message"), BAD_TABLES, ids=[d.__name__.strip("_") for d, _ in BAD_TABLES])
def test_a_table_unfit_to_learn_from_is_one_line_and_exports_nothing(
    damage: Any,
    message: str,
    private_cloud: LocalCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    private_cloud.up()
    write_set(tmp_path / "set", train=60, test=20, shape=(28, 28), classes=3)
    splits = prepare(from_directory(tmp_path / "set"), valid_size=12)
    list(load(private_cloud.context, splits))
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.train"
    replace_table(private_cloud.context.bigquery, table, TRAIN, damage(splits[0].rows))
    assert_fails(message, tmp_path, monkeypatch, capsys, private_cloud)


def test_images_of_another_size_are_one_line_and_export_nothing(
    private_cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    private_cloud.up()
    write_set(tmp_path / "set", train=60, test=20, shape=(28, 28), classes=3)
    splits = prepare(from_directory(tmp_path / "set"), valid_size=12)
    list(load(private_cloud.context, splits))
    rows = splits[0].rows
    smaller = ImageSet(rows.keys, rows.labels, rows.images[:, :20, :20].copy())
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.train"
    replace_table(private_cloud.context.bigquery, table, TRAIN, smaller)
    assert_fails("images of [400] bytes where 784 were expected", tmp_path, monkeypatch, capsys, private_cloud)


def test_a_budget_too_small_for_this_machine_names_the_smallest_that_fits(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = ["--budget", "12", "--limit", "1000", "--generators", "dnn"]
    err = refusal(mnist_cloud[0], tmp_path, monkeypatch, capsys, *options)
    assert re.fullmatch(
        r"error: a budget of 12 s leaves no time to train on this machine: reading, starting TensorFlow and measuring "
        r"took \d+ s, scoring `valid` takes about \d+ s and the exports and evaluation need about \d+ s; "
        r"give --budget (\d+) or more",
        err,
    ), err


def test_a_budget_that_leaves_the_first_model_too_few_steps_names_the_smallest_that_fits(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first check cannot time a training step; once the first model's steps are timed, a
    budget whose search cannot train the steps a model needs (a million here) is refused the same way."""
    monkeypatch.setattr(run_module, "MIN_STEPS", 1_000_000)
    options = ["--budget", "40", "--limit", "1000", "--generators", "dnn"]
    err = refusal(mnist_cloud[0], tmp_path, monkeypatch, capsys, *options)
    match = re.fullmatch(
        r"error: a budget of 40 s leaves the first model about (\d+) of the 1000000 training steps it needs on this "
        r"machine \(([\d.e-]+) s a step after \d+ s of tracing\); give --budget (\d+) or more",
        err,
    )
    assert match, err
    reachable, step_s, smallest = int(match[1]), float(match[2]), int(match[3])
    assert smallest >= 40 + (1_000_000 - reachable) * step_s * 0.95  # the step time shows 2 significant digits


def test_a_gpu_asked_for_and_missing_is_one_line_and_exports_nothing(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: --device gpu trains on it (tests/ml/training/test_device.py)")
    err = refusal(mnist_cloud[0], tmp_path, monkeypatch, capsys, "--budget", "20", "--limit", "100", "--device", "gpu")
    assert err.startswith("error: --device gpu: TensorFlow"), err
    assert "install `tensorflow[and-cuda]`" in err, err


def assert_fails(
    message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cloud: LocalCloud
) -> None:
    assert message in refusal(cloud, tmp_path, monkeypatch, capsys, "--budget", "20")


def refusal(
    cloud: LocalCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *options: str,
) -> str:
    """The error line of a `python -m ml train` that must fail with exit 1 and leave no run directory."""
    point_cli_at(cloud, monkeypatch)
    runs = tmp_path / "runs"
    assert main(["train", *options, "--runs-dir", str(runs)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ")
    assert not runs.exists() or not any(runs.iterdir())
    return err


def test_the_vertex_prediction_images_tensorflow_serves_the_export_alike(
    run: dict[str, Any], mnist_cloud: tuple[LocalCloud, dict[str, Any]], tmp_path: Path
) -> None:
    """Vertex versions name TF_PREDICTION_IMAGE: that image's TensorFlow loads our SavedModel and
    predicts what ours does on 100 test images (the release runs from its own environment)."""
    import tensorflow as tf

    from ml.data import read_table
    from ml.registry.vertex import TF_PREDICTION_IMAGE

    python = Path(os.environ.get("VERTEX_TF_PYTHON", str(ROOT / ".venv-vertex-tf" / "bin" / "python")))
    if not python.exists():
        pytest.fail(f"the image's TensorFlow is not installed at {python}: run the tests with `make test`")
    tag = re.search(r"tf2-cpu\.(\d+)-(\d+)", TF_PREDICTION_IMAGE)
    assert tag is not None, TF_PREDICTION_IMAGE
    test = read_table(mnist_cloud[0].context, "test", limit=100)
    np.save(tmp_path / "images.npy", test.images)
    script = (
        "import sys, numpy as np, tensorflow as tf; "
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']; "
        "out = serve(image=tf.constant(np.load(sys.argv[2]), tf.float32)); "
        "np.save(sys.argv[3], out['probabilities'].numpy()); print(tf.__version__)"
    )
    saved_model = run["artifacts"]["saved_model"]
    result = subprocess.run(
        [str(python), "-c", script, saved_model, str(tmp_path / "images.npy"), str(tmp_path / "theirs.npy")],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith(f"{tag.group(1)}.{tag.group(2)}.")
    theirs = np.load(tmp_path / "theirs.npy")
    ours = tf.saved_model.load(saved_model).signatures["serving_default"](image=tf.constant(test.images, tf.float32))
    ours_probabilities = ours["probabilities"].numpy()
    assert np.array_equal(theirs.argmax(axis=1), ours_probabilities.argmax(axis=1))
    assert np.allclose(theirs, ours_probabilities, atol=1e-5)
