"""Where an iteration's candidates train: all in this process, or spread over a job's replicas.

The search asks a `Pool` to train an iteration's candidates and gets them back scored; it
never learns where they trained. `InProcess` trains them together in one model, as the search
always has; `ml/automl/cluster.py` spreads them round-robin over a Vertex AI job's replicas.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ml.automl.ensemble import Ensemble, Floats
from ml.automl.ensembler import ComplexityRegularizedEnsembler
from ml.automl.generators import SubnetworkSpec
from ml.automl.iteration import Candidate, Dropped, Images, Labels, Outcome, Training, scored, train_candidates


@dataclass(frozen=True)
class Problem:
    """What every iteration trains on and is judged by, alike on every replica."""

    image_shape: tuple[int, int]
    classes: int
    seed: int
    train: tuple[Images, Labels]
    valid: tuple[Images, Labels]
    ensembler: ComplexityRegularizedEnsembler
    previous_competes: bool
    search_started: float
    """This process's `time.monotonic()` when the search began: the time axis of loss curves."""


@dataclass(frozen=True)
class Round:
    """One iteration's work: its candidates, beside the frozen ensemble, within its share of the time."""

    t: int
    specs: Sequence[SubnetworkSpec]
    ensemble: Ensemble
    train_logits: Floats
    """The members' logits on `train`, `[N, members, classes]`."""
    valid_logits: Floats
    training: Training
    started: float
    """`time.monotonic()` when the iteration began: the members' logits computed since count as its work."""
    deadline: float
    """`time.monotonic()` when the iteration's share of the search's time ends."""


class Pool(Protocol):
    replicas: int

    def run(self, problem: Problem, work: Round) -> Outcome:
        """The round's candidates trained and scored (those a failed replica trained left out, with why)."""
        ...

    def decided(self, t: int, specs: Sequence[SubnetworkSpec], ensemble: Ensemble, valid_logits: Floats) -> None:
        """The ensemble iteration `t` left, chosen from `specs`, and its members' `valid` logits:
        the next round trains beside it."""
        ...

    def close(self, error: str | None = None) -> None:
        """The search has ended (with `error`, if it failed)."""
        ...


def train_share(problem: Problem, work: Round, indices: Sequence[int], replica: int = 0) -> list[Candidate]:
    """The round's candidates at `indices`, trained here, together."""
    return train_candidates(
        work.t,
        [work.specs[i] for i in indices],
        indices,
        work.ensemble,
        problem.ensembler,
        image_shape=problem.image_shape,
        classes=problem.classes,
        seed=problem.seed,
        train=problem.train,
        train_logits=work.train_logits,
        valid=problem.valid,
        valid_logits=work.valid_logits,
        training=work.training,
        search_started=problem.search_started,
        replica=replica,
    )


def score_round(
    problem: Problem, work: Round, candidates: list[Candidate], dropped: Sequence[Dropped], busy_seconds: float
) -> Outcome:
    """The round's candidates scored, and the unchanged ensemble too when it competes."""
    ensemble, valid_logits, competes = work.ensemble, work.valid_logits, problem.previous_competes
    return scored(candidates, ensemble, problem.ensembler, problem.valid, valid_logits, competes, dropped, busy_seconds)


class InProcess:
    """Every candidate in this process, together in one model."""

    replicas = 1

    def run(self, problem: Problem, work: Round) -> Outcome:
        candidates = train_share(problem, work, range(len(work.specs)))
        return score_round(problem, work, candidates, (), time.monotonic() - work.started)

    def decided(self, t: int, specs: Sequence[SubnetworkSpec], ensemble: Ensemble, valid_logits: Floats) -> None:
        pass

    def close(self, error: str | None = None) -> None:
        pass
