"""The AdaNet search: grow the ensemble one subnetwork per iteration, within a deadline.

Each iteration asks the generators for candidates, trains them beside the frozen ensemble
(ml/automl/iteration.py), and keeps the candidate whose ensemble has the lowest objective
(ml/automl/ensembler.py), or the unchanged ensemble when it scores better. The iterations
share the time left equally, less what an iteration spends outside training, measured as
the search goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from ml.automl.ensemble import Ensemble, Floats
from ml.automl.ensembler import ComplexityRegularizedEnsembler
from ml.automl.generators import GENERATORS
from ml.automl.iteration import Images, Labels, Training, member_logits, run_iteration


@dataclass(frozen=True)
class SearchConfig:
    generators: tuple[str, ...] = tuple(GENERATORS)
    iterations: int = 3
    """Iterations at most; without `iteration_steps` they share the time left equally."""
    iteration_steps: int | None = None
    """Train each iteration for exactly this many steps (reproducible); None: for its share of the time."""
    batch_size: int = 128
    learning_rate: float = 2e-3
    adanet_lambda: float = 0.005
    adanet_beta: float = 0.0
    force_grow: bool = False
    """Always add a subnetwork; otherwise the unchanged ensemble competes too (adanet's default)."""
    seed: int = 42
    log_dir: Path | None = None
    """TensorBoard logs, one folder per iteration."""


@dataclass(frozen=True)
class CandidateResult:
    name: str
    objective: float
    """Validation cross-entropy of the candidate ensemble plus its complexity penalty."""
    valid_loss: float
    valid_accuracy: float
    penalty: float
    kept: bool = False


@dataclass(frozen=True)
class IterationRecord:
    iteration: int
    seconds: float
    steps: int
    training_seconds: float
    """Of `seconds`, those spent training (the rest: building, tracing, evaluating)."""
    candidates: list[CandidateResult]
    kept: str
    members: list[str]
    mixture_weights: list[float]
    valid_accuracy: float
    loss_curve: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the search began, training loss) every few steps."""


@dataclass(frozen=True)
class SearchResult:
    ensemble: Ensemble
    """The best ensemble found; no members if the deadline left no time to train one."""
    records: list[IterationRecord]


MIN_TRAINING_S = 1.0
"""An iteration is not started unless it can train this long."""
FIRST_OVERHEAD_S = 2.0
"""Guess of an iteration's set-up and evaluation time before one was measured."""


def search(
    config: SearchConfig,
    image_shape: tuple[int, int],
    classes: int,
    train: tuple[Images, Labels],
    valid: tuple[Images, Labels],
    deadline: float,
    on_iteration: Callable[[IterationRecord], None] = lambda record: None,
) -> SearchResult:
    """The best ensemble found on uint8 images `[N, H, W]` before `deadline` (a `time.monotonic()` value)."""
    keras.utils.set_random_seed(config.seed)
    started = time.monotonic()
    generators = [GENERATORS[name]() for name in config.generators]
    ensembler = ComplexityRegularizedEnsembler(config.adanet_lambda, config.adanet_beta)
    ensemble = Ensemble()
    train_logits: Floats = np.zeros((len(train[0]), 0, classes), np.float32)
    valid_logits: Floats = np.zeros((len(valid[0]), 0, classes), np.float32)
    records: list[IterationRecord] = []
    overhead = FIRST_OVERHEAD_S  # an iteration's time outside training: building, tracing, evaluating
    for t in range(config.iterations):
        iteration_started = time.monotonic()
        left = deadline - iteration_started
        if left - overhead < MIN_TRAINING_S:
            break
        if train_logits.shape[1] < len(ensemble.members):  # the member the last iteration added
            train_logits = _append(train_logits, member_logits(ensemble.members[-1], train[0], image_shape))
        share = left / (config.iterations - t) - overhead
        training = Training(
            config.learning_rate, config.batch_size, config.iteration_steps, max(share, MIN_TRAINING_S), config.log_dir
        )
        outcome = run_iteration(
            t,
            [spec for g in generators for spec in g.candidates(ensemble.members, t)],
            ensemble,
            ensembler,
            image_shape=image_shape,
            classes=classes,
            seed=config.seed,
            train=train,
            train_logits=train_logits,
            valid=valid,
            valid_logits=valid_logits,
            training=training,
            search_started=started,
            previous_competes=not config.force_grow,
        )
        ensemble, new_logits = outcome.grow(ensembler, ensemble, t)
        if new_logits is not None:
            valid_logits = _append(valid_logits, new_logits)
        best = outcome.best
        candidates = [
            CandidateResult(outcome.name(i), s.objective, s.loss, s.accuracy, s.penalty, kept=i == best)
            for i, s in enumerate(outcome.scores)
        ]
        record = IterationRecord(
            iteration=t,
            seconds=round(time.monotonic() - started, 2),
            steps=outcome.steps,
            training_seconds=round(outcome.training_seconds, 2),
            candidates=candidates,
            kept=outcome.name(best),
            members=[m.spec.name for m in ensemble.members],
            mixture_weights=[float(w) for w in ensemble.weights],
            valid_accuracy=outcome.scores[best].accuracy,
            loss_curve=outcome.loss_curve,
        )
        records.append(record)
        on_iteration(record)
        overhead = max(overhead, time.monotonic() - iteration_started - outcome.training_seconds)
    return SearchResult(ensemble, records)


def _append(stacked: Floats, logits: Floats) -> Floats:
    return np.concatenate([stacked, logits[:, None, :].astype(np.float32)], axis=1)
