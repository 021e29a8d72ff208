"""The AdaNet search: grow the ensemble one subnetwork per iteration, within a deadline.

The first iteration screens the first generator's candidates by successive halving
(ml/automl/screen.py): the first is a practitioner's recipe, and another candidate replaces it
only by beating it on `valid`; what suits the data (network, augmentation) is chosen there. When
the screen is the only iteration (budgets below 1,200 s), the candidate kept trains the rest of
the budget on `train` and `valid` together, beside a twin from another seed where that time holds
enough epochs for two (the pair averaged); otherwise the runner-up is weighed as a second
member. Each later iteration asks every generator for candidates (the CNN's of the variant
kept), trains them beside the frozen ensemble (ml/automl/iteration.py), and keeps the
candidate whose ensemble has the lowest objective (ml/automl/ensembler.py), or the unchanged
ensemble when it scores better. Whenever an ensemble is weighed, the result says whether it
beat its best single member on `valid`.
The iterations share the time left equally, less what an iteration spends outside
training: measured as the search goes, and before the first iteration taken from
`SearchConfig.overhead_guess_s`, which the trainer measures on the machine at hand.

Where candidates train is the `Pool`'s business (ml/automl/pools.py): in this process, or
spread over a job's replicas (ml/automl/cluster.py), which `SearchConfig.width` gives more
candidates to; the choice among them is made here, alike.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np

from ml.automl import pipeline
from ml.automl.ensemble import Ensemble, Floats, Member
from ml.automl.ensembler import ComplexityRegularizedEnsembler, Score
from ml.automl.generators import GENERATORS, Generator, SubnetworkSpec
from ml.automl.iteration import Dropped, Images, Labels, Outcome, Training, member_logits
from ml.automl.pools import InProcess, Pool, Problem, Round
from ml.automl.screen import Screened, affordable, screen
from ml.records import EnsembleCheck


@dataclass(frozen=True)
class SearchConfig:
    generators: tuple[str, ...] = tuple(GENERATORS)
    iterations: int = 3
    """Iterations at most; without `iteration_steps` they share the time left equally."""
    iteration_steps: int | None = None
    """Train each iteration for exactly this many steps (reproducible); None: for its share of the time."""
    batch_size: int = 128
    adanet_lambda: float = 0.005
    adanet_beta: float = 0.0
    force_grow: bool = False
    """Always add a subnetwork; otherwise the unchanged ensemble competes too (adanet's default)."""
    seed: int = 42
    member_cost_s: float = 0.0
    """What one more member costs after the search (its export and evaluation): kept back from the
    search when the first iteration screens, since the screen may keep two members."""
    overhead_guess_s: float = 2.0
    """An iteration's time outside training (building, tracing, scoring `valid`) until the first has
    measured it; the trainer measures it on the machine at hand (ml/training/reservation.py)."""
    log_dir: Path | None = None
    """TensorBoard logs, one folder per iteration."""
    min_steps: int = 0
    """Steps the first model, trained by time, must be able to reach (`TooFewStepsError`); 0: any."""
    width: int = 1
    """Copies of each later iteration's candidate list, each copy from seeds of its own (named
    `..._s1`, `..._s2`): the wider search more replicas pay for; 1: the generators' list alone."""


@dataclass(frozen=True)
class CandidateResult:
    name: str
    objective: float
    """Validation cross-entropy of the candidate ensemble plus its complexity penalty."""
    valid_loss: float
    valid_accuracy: float
    penalty: float
    kept: bool = False
    steps: int = 0
    seconds: float = 0.0
    """Training time; candidates of an iteration after the first train together and share it."""
    rungs: int = 1
    """Screen rungs it trained in (ml/automl/screen.py); 1 outside the screen."""
    lost: str = ""
    """Why it was not kept; empty when it was."""
    replica: int = 0
    """The replica that trained it: 0, the chief or the only one."""


@dataclass(frozen=True)
class IterationRecord:
    iteration: int
    seconds: float
    steps: int
    training_seconds: float
    """Of `seconds`, those spent training (the rest: building, tracing, evaluating)."""
    candidates: list[CandidateResult]
    kept: str
    """The candidate kept, `a + b` when the screen kept two, or the previous ensemble."""
    members: list[str]
    mixture_weights: list[float]
    valid_accuracy: float
    loss_curve: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the search began, training loss) every few steps, of the candidate kept."""
    screened: bool = False
    """Its candidates trained one by one, by successive halving; otherwise together, in one model."""
    untried: list[str] = field(default_factory=list)
    """Candidates the budget left the screen no time for (ml/automl/screen.py: `affordable`, then
    `MIN_PERIOD_STEPS` at the speed measured)."""
    ensemble_check: EnsembleCheck | None = None
    """The best ensemble of two or more this iteration weighed, against its best single member."""
    replicas: int = 1
    """Replicas its candidates were spread over, round-robin."""
    dropped: list[Dropped] = field(default_factory=list)
    """Candidates left out because their replica failed, restarted or missed the deadline, with why."""
    screen_cost_s: float | None = None
    """The screen's training time, tracing included, spent on candidates other than the one kept;
    None outside a screen."""
    screen_gain: float | None = None
    """What the screen bought over the recipe, the first candidate: the kept one's valid accuracy
    minus the recipe's where the recipe was dropped; 0 when the recipe was kept. The screen chooses
    by the objective (cross-entropy), so a candidate that replaced the recipe may show a loss here."""
    saw_valid: bool = False
    """The member kept trained on `valid` in its last period: its valid figures are not held out."""
    coordination_seconds: float | None = None
    """The iteration's wall time less the longest any replica spent on the members' logits and on
    training and scoring its candidates: choosing, rebuilding, and over replicas the plans,
    uploads, downloads and waiting on the slowest; None for the screen."""

    def steps_per_second(self) -> dict[str, float]:
        """Training speed of each candidate, or of those trained together, named `a+b`."""
        if self.screened:
            return {c.name: c.steps / c.seconds for c in self.candidates if c.steps and c.seconds > 0}
        together: dict[int, list[CandidateResult]] = {}
        for c in self.candidates:
            if c.steps and c.seconds > 0:
                together.setdefault(c.replica, []).append(c)
        return {"+".join(c.name for c in cs): cs[0].steps / cs[0].seconds for cs in together.values()}


@dataclass(frozen=True)
class SearchResult:
    ensemble: Ensemble
    """The best ensemble found; no members if the deadline left no time to train one."""
    records: list[IterationRecord]

    @property
    def ensemble_check(self) -> EnsembleCheck | None:
        """The last ensemble weighed against its best single member; None: none was."""
        return next((r.ensemble_check for r in reversed(self.records) if r.ensemble_check), None)


MIN_TRAINING_S = 1.0
"""An iteration is not started unless it can train this long."""


def search(
    config: SearchConfig,
    image_shape: tuple[int, int],
    classes: int,
    train: tuple[Images, Labels],
    valid: tuple[Images, Labels],
    deadline: float,
    on_iteration: Callable[[IterationRecord], None] = lambda record: None,
    pool: Pool | None = None,
) -> SearchResult:
    """The best ensemble found on uint8 images `[N, H, W]` before `deadline` (a `time.monotonic()` value).

    Raises `TooFewStepsError` when the first model, timed over its first steps, cannot train
    `config.min_steps` in its share of the time.
    """
    pool = pool or InProcess()
    try:
        result = _search(config, image_shape, classes, train, valid, deadline, on_iteration, pool)
    except BaseException as error:
        pool.close(f"{type(error).__name__}: {error}")
        raise
    pool.close()
    return result


def candidates_for(
    generators: Sequence[Generator], members: Sequence[Member], t: int, width: int
) -> list[SubnetworkSpec]:
    """Iteration `t`'s candidates: the first generator's at the first (screened), every generator's after,
    `width` times over. A copy differs by its seeds only, which follow its place in the list."""
    specs = [spec for g in (generators if t else generators[:1]) for spec in g.candidates(members, t)]
    if t == 0:
        return specs
    return [*specs, *(replace(spec, name=f"{spec.name}_s{k}") for k in range(1, width) for spec in specs)]


def _search(
    config: SearchConfig,
    image_shape: tuple[int, int],
    classes: int,
    train: tuple[Images, Labels],
    valid: tuple[Images, Labels],
    deadline: float,
    on_iteration: Callable[[IterationRecord], None],
    pool: Pool,
) -> SearchResult:
    keras.utils.set_random_seed(config.seed)
    started = time.monotonic()
    generators = [GENERATORS[name]() for name in config.generators]
    ensembler = ComplexityRegularizedEnsembler(config.adanet_lambda, config.adanet_beta)
    problem = Problem(image_shape, classes, config.seed, train, valid, ensembler, not config.force_grow, started)
    ensemble = Ensemble()
    train_logits: Floats = np.zeros((len(train[0]), 0, classes), np.float32)
    valid_logits: Floats = np.zeros((len(valid[0]), 0, classes), np.float32)
    records: list[IterationRecord] = []
    overhead = config.overhead_guess_s  # an iteration's time outside training: building, tracing, evaluating
    for t in range(config.iterations):
        iteration_started = time.monotonic()
        left = deadline - iteration_started
        if left - overhead < MIN_TRAINING_S:
            break
        for member in ensemble.members[train_logits.shape[1] :]:  # those the last iteration added
            train_logits = _append(train_logits, member_logits(member, train[0], image_shape))
        # The first iteration screens the first generator's candidates (what suits the data); the
        # others join from the second, beside the frozen ensemble (bench/NOTES.md: why).
        specs = candidates_for(generators, ensemble.members, t, config.width)
        training = _training(config, specs[0], left / (config.iterations - t) - overhead)
        screened_count = 0
        if t == 0:  # a screen may keep two members; the second one's work after the search comes off the search
            screening = _training(config, specs[0], (left - config.member_cost_s) / config.iterations - overhead)
            screened_count = affordable(len(specs), screening)
            if screened_count >= 2:
                deadline -= config.member_cost_s
                training = screening
        if screened_count >= 2:
            screened = screen(
                specs[:screened_count],
                ensembler,
                image_shape=image_shape,
                classes=classes,
                seed=config.seed,
                train=train,
                valid=valid,
                training=training,
                search_started=started,
                second_member_s=config.member_cost_s,
                # the only iteration: nothing after it needs `valid` held out, so the member kept trains on it too
                final=_joined(train, valid) if config.iterations == 1 else None,
            )
            if screened.runner_up is None and screened.twin is None:  # a single member: no second one's work after
                deadline += config.member_cost_s
            ensemble, valid_logits, record = _after_screen(screened, ensembler, train, valid, config.seed, started)
            record = replace(record, untried=[s.name for s in [*screened.untried, *specs[screened_count:]]])
            specs = specs[:screened_count]
            del screened
            training_seconds = sum(c.seconds for c in record.candidates)
        else:
            specs = specs if t else specs[:1]  # no time to screen: the first candidate trains alone
            # Alone in the only iteration, in this process: nothing after it needs `valid` held out.
            alone = t == 0 and config.iterations == 1 and isinstance(pool, InProcess)
            learning = replace(problem, train=_joined(train, valid)) if alone else problem
            work = Round(
                t,
                specs,
                ensemble,
                np.zeros((len(learning.train[0]), 0, classes), np.float32) if alone else train_logits,
                valid_logits,
                training if t else replace(training, min_steps=config.min_steps),
                iteration_started,
                iteration_started + left / (config.iterations - t),
            )
            outcome = pool.run(learning, work)
            check = _weigh_grown(outcome, ensemble, ensembler, valid, valid_logits, image_shape)
            ensemble, new_logits = outcome.grow(ensembler, ensemble, t, image_shape)
            if new_logits is not None:
                valid_logits = _append(valid_logits, new_logits)
            ensemble = _rebuilt(ensemble, image_shape, classes)
            pool.decided(t, specs, ensemble, valid_logits)
            record = _record(t, outcome, ensemble, started, check, pool.replicas, iteration_started)
            record = replace(record, saw_valid=alone)
            training_seconds = record.training_seconds
            del outcome
        if record.screened:
            ensemble = _rebuilt(ensemble, image_shape, classes)
            pool.decided(t, specs, ensemble, valid_logits)
        # The models just released, collected now, inside the iteration's time: left to the
        # collector, they were once collected inside the export, which took 28 s instead of 9
        # under a CPU quota (bench/NOTES.md).
        gc.collect()
        records.append(record)
        on_iteration(record)
        overhead = max(overhead, time.monotonic() - iteration_started - training_seconds)
    return SearchResult(ensemble, records)


def _training(config: SearchConfig, spec: SubnetworkSpec, seconds: float) -> Training:
    return Training(
        spec.learning_rate, config.batch_size, config.iteration_steps, max(seconds, MIN_TRAINING_S), config.log_dir
    )


def _after_screen(
    screened: Screened,
    ensembler: ComplexityRegularizedEnsembler,
    train: tuple[Images, Labels],
    valid: tuple[Images, Labels],
    seed: int,
    started: float,
) -> tuple[Ensemble, Floats, IterationRecord]:
    """The ensemble the screen leaves: the candidate kept, joined by its twin at equal weights, or by
    the runner-up if together they score better.

    The pair's mixture weights and bias are fitted on a sample of `train` as large as `valid`,
    then scored on `valid` like every candidate ensemble; so is its better member alone, so that
    what the pair earns is its second member's, not the fitted bias's (compared with the member
    as trained, a second member of 2 steps once seemed to earn 0.74 points of valid accuracy).
    Without the pair, that fitted member replaces the one as trained if it scores better (under
    a CPU quota a fitted bias lifted the kept member from 0.9806 to 0.9886 valid accuracy).
    """
    kept, runner, twin = screened.kept, screened.runner_up, screened.twin
    score, kept_logits = kept.scored
    ensemble = Ensemble([Member(kept.spec, kept.subnetwork, 0)], np.ones(1, np.float32))
    valid_logits, check = kept_logits[:, None, :], None
    if twin is not None:  # trained on `valid` as well: equal weights, since nothing held out could fit others
        ensemble = Ensemble([*ensemble.members, Member(twin.spec, twin.subnetwork, 0)], np.full(2, 0.5, np.float32))
        valid_logits = np.stack([kept_logits, twin.scored[1]], axis=1)
        score = ensembler.score(ensemble.mix(valid_logits), valid[1], [kept.spec, twin.spec], ensemble.weights)
    if runner is not None:
        sample = np.random.default_rng(seed).choice(len(train[0]), min(len(valid[0]), len(train[0])), replace=False)
        pair = [kept, runner]
        members = [Member(t.spec, t.subnetwork, 0) for t in pair]
        stacked = np.stack([pipeline.predict(t.model, train[0][sample]) for t in pair], axis=1)
        together = ensembler.fit(members, stacked, train[1][sample])
        pair_logits = np.stack([kept_logits, runner.scored[1]], axis=1)
        pair_score = ensembler.score(together.mix(pair_logits), valid[1], [t.spec for t in pair], together.weights)
        b = min(range(len(pair)), key=lambda i: pair[i].scored[0].objective)
        single = ensembler.fit(members[b : b + 1], stacked[:, b : b + 1], train[1][sample])
        alone = ensembler.score(single.mix(pair_logits[:, b : b + 1]), valid[1], [pair[b].spec], single.weights)
        check = _check(members, pair_score, pair[b].spec, alone, pair_score.objective < alone.objective)
        if check.kept:
            ensemble, valid_logits, score, runner.lost = together, pair_logits, pair_score, ""
        else:
            if pair[b] is kept and alone.objective < score.objective:
                ensemble, valid_logits, score = single, pair_logits[:, :1], alone
            runner.lost += (
                f"; as a second member beside {kept.spec.name}: objective {pair_score.objective:.4f} (valid accuracy "
                f"{pair_score.accuracy:.4f}) against {alone.objective:.4f} ({alone.accuracy:.4f}) for "
                f"{pair[b].spec.name} alone, its weight and bias fitted alike"
            )
    names = [m.spec.name for m in ensemble.members]
    candidates = [
        CandidateResult(
            t.spec.name,
            *_score_fields(t.scored[0]),
            kept=t.spec.name in names,
            steps=t.steps,
            seconds=round(t.seconds, 2),
            rungs=t.rungs,
            lost=t.lost,
        )
        for t in screened.trials
    ]
    record = IterationRecord(
        iteration=0,
        seconds=round(time.monotonic() - started, 2),
        steps=sum(t.steps for t in screened.trials),
        training_seconds=round(sum(t.seconds for t in screened.trials), 2),
        candidates=candidates,
        kept=" + ".join(names),
        members=names,
        mixture_weights=[float(w) for w in ensemble.weights],
        valid_accuracy=score.accuracy,
        loss_curve=kept.curve,
        screened=True,
        ensemble_check=check,
        screen_cost_s=round(screened.cost_s, 2),
        screen_gain=round(screened.gain, 4),
        saw_valid=screened.saw_valid,
    )
    return ensemble, valid_logits, record


def _rebuilt(ensemble: Ensemble, image_shape: tuple[int, int], classes: int) -> Ensemble:
    """The ensemble in models of its own, apart from those it was trained in: a member still tied
    to the screen's or the iteration's trained models, their optimizers and traced functions made
    the export take 34 s instead of 9 on 2 cores, and 67 s instead of 8 under a CPU quota
    (bench/NOTES.md)."""
    members = [
        Member.frozen(m.spec, m.model.get_weights(), m.iteration, image_shape, classes) for m in ensemble.members
    ]
    return Ensemble(members, ensemble.weights, ensemble.bias)


def _weigh_grown(
    outcome: Outcome,
    ensemble: Ensemble,
    ensembler: ComplexityRegularizedEnsembler,
    valid: tuple[Images, Labels],
    valid_logits: Floats,
    image_shape: tuple[int, int],
) -> EnsembleCheck | None:
    """The best candidate ensemble of an iteration that grows one, against its best single member."""
    if not ensemble.members or not outcome.candidates:
        return None
    i = min(range(len(outcome.candidates)), key=lambda i: outcome.scores[i].objective)
    candidate = outcome.candidates[i]
    alone = [(m.spec, valid_logits[:, j, :]) for j, m in enumerate(ensemble.members)]
    alone.append((candidate.spec, candidate.valid_sub))
    scores = [(s, ensembler.score(logits, valid[1], [s], np.ones(1, np.float32))) for s, logits in alone]
    best, best_score = min(scores, key=lambda pair: pair[1].objective)
    model = candidate.subnetwork(image_shape, candidate.valid_sub.shape[1])
    members = [*ensemble.members, Member(candidate.spec, model, len(ensemble.members))]
    return _check(members, outcome.scores[i], best, best_score, kept=outcome.best == i)


def _check(members: Sequence[Member], together: Score, best: SubnetworkSpec, alone: Score, kept: bool) -> EnsembleCheck:
    return EnsembleCheck(
        members=tuple(m.spec.name for m in members),
        ensemble_valid_accuracy=together.accuracy,
        ensemble_objective=together.objective,
        best_member=best.name,
        best_member_valid_accuracy=alone.accuracy,
        best_member_objective=alone.objective,
        kept=kept,
    )


def _record(
    t: int,
    outcome: Outcome,
    ensemble: Ensemble,
    started: float,
    check: EnsembleCheck | None,
    replicas: int,
    iteration_started: float,
) -> IterationRecord:
    best = outcome.best
    kept, kept_score = outcome.name(best), outcome.scores[best]
    candidates = []
    for i, s in enumerate(outcome.scores):
        trained = outcome.candidates[i] if i < len(outcome.candidates) else None  # else the previous ensemble's
        against = f"against {kept_score.objective:.4f} ({kept_score.accuracy:.4f}) for {kept}"
        lost = "" if i == best else f"objective {s.objective:.4f} (valid accuracy {s.accuracy:.4f}) {against}"
        candidates.append(
            CandidateResult(
                outcome.name(i),
                *_score_fields(s),
                kept=i == best,
                steps=trained.steps if trained else 0,
                seconds=round(trained.seconds, 2) if trained else 0.0,
                lost=lost,
                replica=trained.replica if trained else 0,
            )
        )
    trained_by = outcome.candidates[best] if best < len(outcome.candidates) else None
    wall = time.monotonic() - iteration_started
    return IterationRecord(
        iteration=t,
        seconds=round(time.monotonic() - started, 2),
        steps=max((c.steps for c in outcome.candidates), default=0),
        training_seconds=round(max((c.seconds for c in outcome.candidates), default=0.0), 2),
        candidates=candidates,
        kept=kept,
        members=[m.spec.name for m in ensemble.members],
        mixture_weights=[float(w) for w in ensemble.weights],
        valid_accuracy=kept_score.accuracy,
        loss_curve=(trained_by or outcome.candidates[0]).curve if outcome.candidates else [],
        ensemble_check=check,
        replicas=replicas,
        dropped=outcome.dropped,
        coordination_seconds=round(max(wall - outcome.busy_seconds, 0.0), 2),
    )


def _score_fields(score: Score) -> tuple[float, float, float, float]:
    """A score as CandidateResult's objective, valid_loss, valid_accuracy and penalty."""
    return score.objective, score.loss, score.accuracy, score.penalty


def _joined(train: tuple[Images, Labels], valid: tuple[Images, Labels]) -> tuple[Images, Labels]:
    return np.concatenate([train[0], valid[0]]), np.concatenate([train[1], valid[1]])


def _append(stacked: Floats, logits: Floats) -> Floats:
    return np.concatenate([stacked, logits[:, None, :].astype(np.float32)], axis=1)
