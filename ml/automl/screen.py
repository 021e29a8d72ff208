"""The first iteration's screen: successive halving over the first generator's candidates.

Which augmentation, width and learning rate suit an image set is read from the data, not
assumed: every candidate trains for a short period and is scored on `valid` by the AdaNet
objective; the best go on from where they stopped, the others are dropped with the reason
recorded, and the last one left trains for the rest of the iteration. Each period is a
cosine cycle of its own (warm restarts), so candidates are compared at the bottom of their
learning rate, not mid-descent, and a model's tracing is kept out of its period.

Within a rung every candidate trains as long as the rung's first, so that none is judged on
more training than another (under a CPU quota, a candidate given the rest of the first rung,
about three times the first's period, beat it on that alone, bench/NOTES.md). On 2 cores every
candidate screened costs its period, its tracing and its scoring, taken from the one kept: the
first rung gets a quarter of the iteration and takes as many candidates as it can give the
first's period, if that period holds `MIN_PERIOD_STEPS` at the speed measured (on 2 cores two
or three at 300 s and three to five at 600 s, by the machine's speed; none beside the first on
a machine three times slower); a second rung, for the best two, only follows a first rung of
more than three. The best one dropped at the last halving is a second member the search
weighs at no further training cost (ml/automl/search.py), unless the last rung trained on `valid`
too; then, if the kept candidate is not augmented and the rung holds `TWIN_MIN_EPOCHS` for two,
it shares the rung with a twin from another seed, and the two are averaged. The first candidate
is the recipe (ml/automl/generators.py): the screen reports what it spent on the others and what
they bought over it (`Screened.cost_s`, `Screened.gain`). What the screen costs and earns:
bench/NOTES.md.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import keras
import numpy as np

from ml.automl import pipeline
from ml.automl.ensemble import Floats
from ml.automl.ensembler import ComplexityRegularizedEnsembler, Score
from ml.automl.generators import SubnetworkSpec, normalise
from ml.automl.iteration import Images, Labels, Training, fit, optimizer

FIRST_RUNG = 0.25
"""Of the iteration's training time (or steps), what the first rung's candidates share."""
SECOND_RUNG = 0.15
"""What the best `KEEP` share in a second rung, held only when the first had more than three."""
KEEP = 2
MIN_PERIOD_STEPS = 70
"""Steps each first-rung candidate needs for its score to mean something: once the first has
trained, the others train only if its period holds this many at the speed measured (under a CPU
quota, a candidate given 3 steps scored 0.17 valid accuracy and told nothing, bench/NOTES.md)."""
MIN_PERIOD_S = 15.0
"""`MIN_PERIOD_STEPS` on 2 cores: before anything is measured, the screen takes as many
candidates, in the order proposed, as the first rung gives this long; with fewer than two, the
first trains alone."""
SETUP_GUESS_S = 8.0
"""A model's tracing and first scoring on 2 cores, before the screen has measured one: the first
rung's first period leaves this much to each candidate waiting."""
WEIGHING_S = 1.0
"""Time the ensembler needs to fit two members' mixture weights, beyond their inference."""
TWIN_MIN_EPOCHS = 8.0
"""Epochs of `final` each of two members must be able to train for the last rung to be split
between the kept candidate and a twin of it. Two practitioner CNNs averaged, each trained half
the time, against one trained all of it: at 8 epochs each 0.9415 against 0.9378 on a cluttered
set and 0.9949 against 0.9947 on MNIST, at 3.5 epochs each 0.9936 against 0.9938 on MNIST
(bench/NOTES.md). An augmented candidate trains alone: it keeps improving for longer, and two
augmented VGG members of 280 s ensembled to less than one of 570 s on MNIST (0.9953 against
0.99595). The pair is taken only where it was measured to help."""


@dataclass(eq=False)
class Trial:
    """One candidate through the screen: its model, what it cost, and how far it went."""

    spec: SubnetworkSpec
    subnetwork: keras.Model
    """Normalised images to logits: what joins the ensemble."""
    model: keras.Model
    """uint8 images to logits, compiled with the candidate's own optimizer."""
    steps: int = 0
    seconds: float = 0.0
    """Training time, summed over its periods."""
    rungs: int = 0
    score: Score | None = None
    valid_logits: Floats | None = None
    lost: str = ""
    """Why it was dropped; empty for the one kept."""
    curve: list[tuple[float, float]] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    """Its valid accuracy at the end of each rung it trained in."""

    @property
    def scored(self) -> tuple[Score, Floats]:
        """Its score and validation logits at the end of its last period."""
        if self.score is None or self.valid_logits is None:
            raise RuntimeError(f"{self.spec.name} has not trained for a period yet")
        return self.score, self.valid_logits


@dataclass(frozen=True)
class Screened:
    trials: list[Trial]
    """Every candidate trained, in the order proposed."""
    kept: Trial
    runner_up: Trial | None
    """The best one the last halving dropped: a possible second member."""
    untried: list[SubnetworkSpec]
    """Candidates the first rung, at the speed measured, could not give `MIN_PERIOD_STEPS`."""
    twin: Trial | None = None
    """The kept candidate's network from another seed, trained on `final` beside it in the last
    rung: a second member of equal weight, as no held-out image is left to weigh one."""
    saw_valid: bool = False
    """The kept candidate's last period trained on `valid` too: its last score there is not held out."""

    @property
    def cost_s(self) -> float:
        """Training time, tracing included, spent on candidates other than the one kept."""
        return sum(t.seconds for t in self.trials if t is not self.kept and t is not self.twin)

    @property
    def gain(self) -> float:
        """What the screen bought over the recipe, its first candidate: the kept one's valid accuracy
        minus the recipe's, at the rung where the recipe was dropped; 0 when the recipe was kept."""
        recipe = self.trials[0]
        if recipe is self.kept:
            return 0.0
        return self.kept.accuracies[recipe.rungs - 1] - recipe.accuracies[-1]


def affordable(candidates: int, training: Training) -> int:
    """How many of the candidates, in the order proposed, the screen takes: all of them when
    training counts steps; by time, as many as the first rung gives `MIN_PERIOD_S` each."""
    if training.steps is not None:
        return candidates
    return min(candidates, int(training.seconds * FIRST_RUNG // (MIN_PERIOD_S + SETUP_GUESS_S)))


def rungs(candidates: int) -> list[tuple[float, int]]:
    """Each rung's share of the iteration and how many candidates train in it."""
    plan = [(FIRST_RUNG, candidates)]
    if candidates > 3:
        plan.append((SECOND_RUNG, KEEP))
    return [*plan, (1 - sum(share for share, _ in plan), 1)]


def screen(
    specs: Sequence[SubnetworkSpec],
    ensembler: ComplexityRegularizedEnsembler,
    *,
    image_shape: tuple[int, int],
    classes: int,
    seed: int,
    train: tuple[Images, Labels],
    valid: tuple[Images, Labels],
    training: Training,
    search_started: float,
    second_member_s: float = 0.0,
    final: tuple[Images, Labels] | None = None,
) -> Screened:
    """Successive halving over `specs`, within `training.seconds` (or its steps), weighing time included.

    `second_member_s`: time the caller keeps back for a second member after the search; when the
    screen ends without a runner-up, its last rung trains for it instead. `final`: what the last
    rung trains on where nothing after the screen needs `valid` held out (`train` and `valid`
    together, as a practitioner's final fit uses all it has), and then no runner-up is left to
    weigh as a second member, since no held-out image could judge the pair; None: `train`.
    When `final` is given, the kept candidate is not augmented, and the last rung holds
    `TWIN_MIN_EPOCHS` of `final` for two, the rung is split between it and its twin
    (`Screened.twin`).
    """
    started = time.monotonic()
    end = started + training.seconds
    trials = [_trial(spec, image_shape, classes, seed + 100 * i) for i, spec in enumerate(specs)]
    alive, runner_up, untried, twin = list(trials), None, [], None
    # Measured as the screen goes: per period, the time outside training (scoring `valid`); per
    # model, its first step's tracing (outside its period's clock); per candidate, scoring alone.
    # Each is taken as its median so far: one stall of half a minute, taken as the largest, cut
    # the last rung of a 600 s run by 100 s (bench/NOTES.md).
    overheads: list[float] = []
    tracings: list[float] = []
    inferences: list[float] = []
    rates: list[float] = []
    plan, done, rung = rungs(len(specs)), 0.0, 0
    while True:
        share, last = plan[rung][0], rung == len(plan) - 1
        done += share
        rung_end = started + done * training.seconds
        if last and final is not None and training.steps is None:
            span = rung_end - time.monotonic() - 2 * _typical(overheads) - _typical(tracings)
            kept = alive[0]
            epochs = span / 2 * kept.steps / kept.seconds * training.batch_size / len(final[1])
            if kept.spec.augmentation == "none" and epochs >= TWIN_MIN_EPOCHS:
                name = f"{kept.spec.name}_s1"
                twin = _trial(replace(kept.spec, name=name), image_shape, classes, seed + 100 * len(trials))
                alive.append(twin)
                trials.append(twin)
        # The last rung: less the weighing of a second member; with none left, plus the time kept back for it.
        if last and twin is None:
            rung_end += -(2 * _typical(inferences) + WEIGHING_S) if runner_up is not None else second_member_s
        i, rung_period = 0, None  # a rung compares its candidates after equal periods: the first's
        while i < len(alive):
            trial, begun = alive[i], time.monotonic()
            fresh = trial.steps == 0
            if training.steps is not None:
                steps, until = max(1, round(training.steps * share / len(alive))), end
            else:
                if rung == 0 and rung_period is not None:  # as long as the first's, with MIN_PERIOD_STEPS in it
                    fits = _fitting(alive[i:], rung_end - begun, rung_period, min(rates), overheads, tracings)
                    untried += alive[i + fits :]
                    alive = alive[: i + fits]
                    if i == len(alive):
                        break
                waiting = alive[i:]
                untraced = sum(t.steps == 0 for t in waiting)
                # before anything is measured, each candidate's tracing and scoring is the 2-core guess
                per_period, per_model = (_typical(overheads), _typical(tracings)) if overheads else (0.0, SETUP_GUESS_S)
                spare = rung_end - begun - len(waiting) * per_period - untraced * per_model
                each = spare / len(waiting) if rung_period is None else min(spare / len(waiting), rung_period)
                steps, until = None, begun + max(each, 0.5)
            period = Training(trial.spec.learning_rate, training.batch_size, steps, until - begun, training.log_dir)
            data = final if last and final is not None else train
            trained_s, trained_steps = _train(trial, data, period, until, search_started)
            if fresh and steps is None:
                tracings.append(trained_s - period.seconds)
                rates.append(trained_steps / max(period.seconds, 1e-6))
            if rung_period is None and not last and steps is None:
                rung_period = period.seconds
            scored = time.monotonic()
            logits: Floats = pipeline.predict(trial.model, valid[0])
            trial.valid_logits = logits
            trial.score = ensembler.score(logits, valid[1], [trial.spec], np.ones(1, np.float32))
            trial.rungs = rung + 1
            trial.accuracies.append(trial.score.accuracy)
            inferences.append(time.monotonic() - scored)
            overheads.append(time.monotonic() - begun - trained_s)
            i += 1
        if last:
            break
        if rung == 0 and untried:  # fewer candidates than planned: the rungs after the first are theirs
            plan = [plan[0], *rungs(len(alive))[1:]]
        ranked = sorted(alive, key=lambda t: t.scored[0].objective)
        keep = plan[rung + 1][1]
        alive = ranked[:keep]
        for trial in ranked[keep:]:
            trial.lost = _why(trial, rung, len(plan), alive[-1])
        # A member trained on `valid` leaves no held-out images to judge a pair on: it stands alone.
        runner_up = ranked[keep] if len(ranked) > keep and final is None else None
        rung += 1
    screened = [t for t in trials if t not in untried]
    return Screened(screened, alive[0], runner_up, [t.spec for t in untried], twin, saw_valid=final is not None)


def _fitting(
    waiting: list[Trial], seconds: float, period: float, rate: float, overheads: list[float], tracings: list[float]
) -> int:
    """How many of the `waiting` first-rung candidates `seconds` can give a `period` each, with their
    tracing and scoring; none unless the period holds `MIN_PERIOD_STEPS` at `rate` steps/s."""
    if period * rate < MIN_PERIOD_STEPS:
        return 0
    each = period + _typical(overheads) + _typical(tracings)
    return min(len(waiting), int(max(seconds, 0.0) // each))


def _typical(seconds: list[float]) -> float:
    return statistics.median(seconds) if seconds else 0.0


def _trial(spec: SubnetworkSpec, image_shape: tuple[int, int], classes: int, seed: int) -> Trial:
    subnetwork = spec.build(image_shape, classes, seed)
    image = keras.Input(image_shape, dtype="uint8", name="image")
    model = keras.Model(image, subnetwork(normalise(image, image_shape)))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer(spec.learning_rate), loss=loss, jit_compile=False)
    return Trial(spec, subnetwork, model)


def _train(
    trial: Trial, train: tuple[Images, Labels], period: Training, until: float, search_started: float
) -> tuple[float, int]:
    """One period of training, from where the last one stopped; its seconds and steps.

    Only a model's first period starts its clock after the first step (its tracing); a later
    period's first step once stalled for half a minute (bench/NOTES.md: tf.data's autotuner), and
    any such pause counts.
    """
    begun, fresh = time.monotonic(), trial.steps == 0
    name = f"iteration_0_{trial.spec.name}"
    steps, curve = fit(
        trial.model, train[0], train[1], period, until, search_started, name, clock_from_first_step=fresh
    )
    seconds = time.monotonic() - begun
    trial.steps, trial.seconds, trial.curve = trial.steps + steps, trial.seconds + seconds, trial.curve + curve
    return seconds, steps


def _why(trial: Trial, rung: int, rungs: int, last_kept: Trial) -> str:
    mine, theirs = trial.scored[0], last_kept.scored[0]
    return (
        f"dropped after rung {rung + 1} of {rungs}: objective {mine.objective:.4f} (valid accuracy "
        f"{mine.accuracy:.4f}) against {theirs.objective:.4f} ({theirs.accuracy:.4f}) for {last_kept.spec.name}, "
        f"the last kept"
    )
