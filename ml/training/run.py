"""One training run: read the tables, search, evaluate on `test`, export, and write the run directory.

The run directory (`RunDirectory` in ml/contracts.py names its files) is written as
`<name>.partial/` and renamed when complete, so a failed or interrupted run never leaves a
directory that looks like a model. Its files:

    report.json            what `--json` prints: accuracy, seconds, budget, artifact paths (`RunReport`)
    iterations.json        every iteration: candidates, their objective, which was kept
    metrics.json           test accuracy, loss, per-class precision/recall, confusion matrix (`Metrics`)
    lineage.json           the rows read (table, snapshot, digest), the config, the git commit (`RunLineage`)
    learning_curves.png, confusion_matrix.png, tensorboard/
    model/saved_model/, model/model.tflite
"""

from __future__ import annotations

import math
import secrets
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ml.automl.generators import GENERATORS
from ml.context import Context
from ml.contracts import RunDirectory
from ml.data import Dataset, read_table
from ml.emulators import ROOT
from ml.errors import TooFewStepsError, TrainingError
from ml.native_logs import quiet_stderr
from ml.records import GitState, RunLineage, RunReport, write_json
from ml.training.device import check_backend, training_device

if TYPE_CHECKING:
    from ml.automl.cluster_spec import Replica
    from ml.automl.exchange import Exchange
    from ml.automl.search import SearchConfig

MIN_TRAINING_S = 10.0
"""Less training than this cannot train anything worth exporting: on 2 cores, about 5 s go to
tracing the first step, and 5 s more are about 25 steps of the first CNN (bench/NOTES.md). The
check before the search uses it; once the first model's steps are timed, `MIN_STEPS` decides."""
MIN_STEPS = 50
"""Steps the first model must be able to train, or the run stops with the smallest budget that
fits: after 7 steps the first CNN scored 0.25 valid accuracy on MNIST, after 125 0.94 (under a
CPU quota, bench/NOTES.md)."""


def default_iterations(budget: float) -> int:
    """One iteration below 1,200 s, then one more per 600 s: fewer, longer iterations win at
    these budgets on 2 cores (bench/NOTES.md)."""
    return 1 + max(0, int((budget - 600) // 600))


@dataclass(frozen=True)
class TrainConfig:
    budget_s: float = 300.0
    iterations: int | None = None
    """None: `default_iterations(budget_s)`."""
    iteration_steps: int | None = None
    generators: tuple[str, ...] = tuple(GENERATORS)
    seed: int = 42
    limit: int | None = None
    """Read at most this many rows of each table (quick runs and tests)."""
    runs_dir: Path = ROOT / "runs"
    width: int = 1
    """`SearchConfig.width`: copies of each later iteration's candidates (`--search-width`)."""
    device: str = "auto"
    """`--device` (ml/training/device.py): `auto`, `cpu` or `gpu`."""


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    report: RunReport


def train(
    context: Context,
    config: TrainConfig,
    *,
    log: IO[str] | None = None,
    cluster: tuple[Exchange, Replica] | None = None,
) -> RunResult:
    """Search, evaluate, export and report within `config.budget_s` seconds, all of it included.

    What the work after the search costs is measured first (ml/training/reservation.py) and kept
    back from the search; the plots run only if they still fit, and the report says what did not.
    `cluster`: as a job's chief, where its replicas meet and how many there are; each iteration's
    candidates are then spread over them (ml/automl/cluster.py).
    """
    log = log or sys.stderr
    started = time.monotonic()
    deadline = started + config.budget_s
    if config.budget_s < MIN_TRAINING_S:
        raise TrainingError(f"a budget of {config.budget_s:g} s cannot train anything; give a larger --budget")
    check_backend()
    data = read_tables(context, config, log)
    classes, image_shape = check_tables(data)

    # Where oneDNN's operations are on (Intel CPUs with AVX-512), TensorFlow announces them on
    # import, before its logging reads TF_CPP_MIN_LOG_LEVEL.
    with quiet_stderr():
        from ml.automl.cluster import ChiefPool
        from ml.automl.search import IterationRecord, SearchConfig, search
        from ml.training import export, metrics, plots, reservation
        from ml.training.host import this_machine
        from ml.training.litert import tflite_probabilities

    device = training_device(config.device)
    threads_for_quota()
    print(f"training on {device}", file=log)
    test = data["test"]
    iterations = config.iterations or default_iterations(config.budget_s)
    cost = reservation.measure(config.generators, image_shape, classes, test.images)
    # Each iteration adds a member at most; a screen's second member is kept back by the search itself.
    reserved = cost.required_s(iterations, len(test.labels))
    scoring = cost.evaluation_s(len(data["valid"].labels))  # an iteration's time outside training
    print(
        f"measured in {cost.measured_in_s:.1f} s: the exports and the test evaluation need about {reserved:.1f} s "
        "after the search",
        file=log,
    )
    spent = time.monotonic() - started
    if config.budget_s - spent - reserved < scoring + MIN_TRAINING_S:
        smallest = math.ceil(spent + scoring + MIN_TRAINING_S + reserved)
        raise TrainingError(
            f"a budget of {config.budget_s:g} s leaves no time to train on this machine: reading, starting "
            f"TensorFlow and measuring took {spent:.0f} s, scoring `valid` takes about {scoring:.0f} s and the exports "
            f"and evaluation need about {reserved:.0f} s; give --budget {smallest} or more"
        )

    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    partial = config.runs_dir / f"{name}.partial"
    partial.mkdir(parents=True)
    partial_run, run = RunDirectory(partial), RunDirectory(config.runs_dir / name)
    try:
        settings = SearchConfig(
            generators=config.generators,
            iterations=iterations,
            iteration_steps=config.iteration_steps,
            seed=config.seed,
            member_cost_s=cost.required_s(1, len(test.labels)),
            overhead_guess_s=scoring,
            log_dir=partial_run["tensorboard"],
            min_steps=MIN_STEPS,
            width=config.width,
        )
        pool = ChiefPool(*cluster, digests(data)) if cluster else None

        def progress(record: IterationRecord) -> None:
            print(
                f"iteration {record.iteration + 1}/{iterations}  {time.monotonic() - started:6.1f}/"
                f"{config.budget_s:g} s  {record.steps:5d} steps  kept {record.kept:<18} "
                f"best valid accuracy {record.valid_accuracy:.4f}",
                file=log,
                flush=True,
            )
            for c in record.candidates if record.screened else ():
                outcome = "kept" if c.kept else f"out after rung {c.rungs}"
                print(
                    f"  {c.name:<26} {c.steps:5d} steps in {c.seconds:5.1f} s  valid accuracy {c.valid_accuracy:.4f}"
                    f"  {outcome}",
                    file=log,
                )
            if record.untried:
                print(f"  not screened, for lack of time: {', '.join(record.untried)}", file=log)
            if record.screen_cost_s is not None and len(record.candidates) > 1:
                recipe, spent = record.candidates[0], f"the screen spent {record.screen_cost_s:.1f} s on"
                if recipe.kept:
                    print(f"  {spent} other candidates and kept the recipe, {recipe.name}", file=log)
                else:
                    gain = f"bought {record.screen_gain:+.4f} valid accuracy over the recipe, {recipe.name}"
                    print(f"  {spent} candidates beside {record.kept} and {gain}", file=log)
            if record.saw_valid:
                kept = " and ".join(record.members) + ", averaged," if len(record.members) > 1 else "the member kept"
                print(f"  {kept} trained on train and valid for the rest of the budget", file=log)
            trained = [c for c in record.candidates if c.steps]
            on = {c.replica for c in trained}
            if record.replicas > 1 and not record.screened and (len(on) > 1 or record.dropped):
                print(
                    f"  {len(trained)} candidates trained on {len(on)} of {record.replicas} replicas, "
                    f"{record.coordination_seconds:.1f} s coordinating",
                    file=log,
                )
            for dropped in record.dropped:
                print(f"  dropped {dropped.name}: {dropped.reason}", file=log)

        try:
            result = search(
                settings,
                image_shape,
                classes,
                _xy(data["train"]),
                _xy(data["valid"]),
                deadline - reserved,
                progress,
                pool,
            )
        except TooFewStepsError as short:
            # the iterations share the search's time equally: each needs as much more as the first
            smallest = math.ceil(config.budget_s + iterations * short.missing_s * reservation.MARGIN)
            raise TrainingError(
                f"a budget of {config.budget_s:g} s leaves the first model about {short.reachable} of the "
                f"{short.needed} training steps it needs on this machine ({short.step_s:.2g} s a step after "
                f"{short.tracing_s:.0f} s of tracing); give --budget {smallest} or more"
            ) from None
        ensemble, check = result.ensemble, result.ensemble_check
        if not ensemble.members:
            raise TrainingError("the search ended before any subnetwork was trained; give a larger --budget")
        if check is not None:
            print(
                f"ensemble {' + '.join(check.members)}: valid accuracy {check.ensemble_valid_accuracy:.4f} against "
                f"{check.best_member_valid_accuracy:.4f} for its best member alone; "
                f"{'kept' if check.kept else 'not kept'}",
                file=log,
            )

        partial_run.model_dir.mkdir()
        saved_model, tflite = export.export(ensemble, image_shape, partial_run["saved_model"], partial_run["tflite"])
        probabilities = tflite_probabilities(tflite, test.images)  # the served artifact's own answers
        parity = slice(0, reservation.PARITY_IMAGES)
        agreement = export.compare_probabilities(
            export.saved_model_probabilities(saved_model, test.images[parity]), probabilities[parity]
        )
        scores = metrics.classification_metrics(probabilities, test.labels)

        write_json(partial_run["iterations"], [asdict(r) for r in result.records])
        write_json(partial_run["metrics"], {**scores.to_json_object(), "tflite_agreement": asdict(agreement)})
        write_json(partial_run["lineage"], _lineage(context, data, config, settings).to_json_object())
        skipped = []
        left, needed = deadline - time.monotonic(), cost.plots_s * reservation.MARGIN
        if left >= needed:
            plots.learning_curves(result.records, partial_run["learning_curves"])
            plots.confusion_matrix(scores.confusion_matrix or (), partial_run["confusion_matrix"])
        else:
            skipped.append(
                f"learning_curves.png, confusion_matrix.png: they take about {needed:.1f} s, "
                f"{max(left, 0):.1f} s of the budget were left"
            )
            print(f"skipped {skipped[-1]}", file=log)

        report = RunReport(
            test_accuracy=scores.accuracy,
            test_loss=scores.loss,
            wall_seconds=round(time.monotonic() - started, 2),
            budget_seconds=config.budget_s,
            iterations=len(result.records),
            ensemble=tuple(m.spec.name for m in ensemble.members),
            run_dir=str(run.root),
            artifacts=run.files(),
            reserved_seconds=round(reserved, 2),
            skipped=tuple(skipped),
            machine=this_machine({k: v for r in result.records for k, v in r.steps_per_second().items()}, device),
            ensemble_check=check,
        )
        write_json(partial_run["report"], report.to_json_object())
        partial.rename(run.root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return RunResult(run_dir=run.root, report=report)


def read_tables(context: Context, config: TrainConfig, log: IO[str]) -> dict[str, Dataset]:
    """The train, valid and test tables (`config.limit` rows of each at most)."""
    started = time.monotonic()
    data = {t: read_table(context, t, limit=config.limit) for t in ("train", "valid", "test")}
    print(
        f"read {', '.join(f'{t} {len(d.keys)}' for t, d in data.items())} rows in {time.monotonic() - started:.1f} s",
        file=log,
    )
    return data


def digests(data: dict[str, Dataset]) -> dict[str, str]:
    """Each table's digest: replicas of one job check that they learn from the same rows."""
    return {t: d.lineage.digest for t, d in data.items()}


def threads_for_quota() -> None:
    """TensorFlow's thread pools sized to the CPU time at hand, not to the cores: under a quota of
    0.66 CPU on 2 cores, a CNN trained 129 steps in 40 s with two threads per op and 153 with one
    (bench/NOTES.md). Without a quota, TensorFlow's own choice stands. Once TensorFlow has started
    (an earlier run in this process), its pools stay as they are."""
    import tensorflow as tf

    from ml.training.host import cpu_quota, usable_cpus

    if (quota := cpu_quota()) is None:
        return
    cpus = usable_cpus(quota)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass


def check_tables(data: dict[str, Dataset]) -> tuple[int, tuple[int, int]]:
    """The number of classes and the image shape, once the tables are fit to learn from."""
    for table, d in data.items():
        if len(d.keys) == 0:
            raise TrainingError(f"table {table} is empty; run `make load-data` first")
    classes = data["train"].classes
    for table, d in data.items():
        low, high = int(d.labels.min()), int(d.labels.max())
        if low < 0 or high >= classes:
            raise TrainingError(
                f"table {table} has label {high if high >= classes else low}, outside the class range "
                f"0..{classes - 1} of its manifest; reload the data with `make load-data`"
            )
    if len(np.unique(data["train"].labels)) < 2:
        raise TrainingError(
            f"table train holds only class {int(data['train'].labels[0])}; a classifier needs at least two classes"
        )
    shapes = {d.images.shape[1:] for d in data.values()}
    if len(shapes) > 1:
        raise TrainingError(f"the tables hold images of different sizes {sorted(shapes)}; reload them together")
    height, width = data["train"].images.shape[1:]
    return classes, (int(height), int(width))


def _xy(data: Dataset) -> tuple[Any, Any]:
    return data.images, data.labels


def _lineage(context: Context, data: dict[str, Dataset], config: TrainConfig, search: SearchConfig) -> RunLineage:
    return RunLineage(
        environment=context.env.name,
        tables={t: d.lineage for t, d in data.items()},
        training_config={
            **{k: v for k, v in asdict(config).items() if k != "runs_dir"},
            **{k: v for k, v in asdict(search).items() if k != "log_dir"},
        },
        git=GitState.of(ROOT),
        python=sys.version.split()[0],
    )
