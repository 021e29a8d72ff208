"""One AdaNet iteration: train every candidate beside the frozen ensemble, then score each candidate ensemble.

The candidates a process trains are one Keras model: each subnetwork trains on its own loss,
and its mixture head learns, on the ensemble's loss, how to join the frozen members. Nothing
flows between candidates, so they may as well train on different replicas (ml/automl/cluster.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt

from ml.automl import pipeline
from ml.automl.ensemble import Ensemble, Floats, Member, MixtureHead
from ml.automl.ensembler import ComplexityRegularizedEnsembler, Score
from ml.automl.generators import SubnetworkSpec, normalise
from ml.errors import TooFewStepsError

Images = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.int64]

PREVIOUS_ENSEMBLE = "previous ensemble"
"""The name under which the unchanged ensemble competes with the candidates."""


@dataclass(frozen=True)
class Training:
    """How an iteration trains: by steps (reproducible) or until a time, at a cosine-decayed rate."""

    learning_rate: float
    batch_size: int
    steps: int | None
    seconds: float
    """How long training may take, building the model included (it stops earlier after `steps`)."""
    log_dir: Path | None = None
    min_steps: int = 0
    """By time, the steps it must be able to reach: once its first steps are timed, training that
    cannot reach them stops with `TooFewStepsError` instead of exporting what it could not train."""


@dataclass
class Candidate:
    """One candidate as trained beside the frozen ensemble: what scoring it and growing by it take.

    Trained in this process it holds its model; trained on another replica, its weights
    (ml/automl/cluster.py), and the model is built from them only if it is chosen.
    """

    spec: SubnetworkSpec
    index: int
    """Its place in the iteration's candidate list."""
    head: tuple[Floats, Floats]
    """Its mixture head: weights over the members and itself, and the bias."""
    valid_sub: Floats = field(repr=False)
    """Its own logits on `valid`."""
    valid_ens: Floats = field(repr=False)
    """Its candidate ensemble's logits on `valid`."""
    steps: int
    seconds: float
    """Training time; candidates trained in one model share it."""
    curve: list[tuple[float, float]] = field(default_factory=list, repr=False)
    replica: int = 0
    """Which replica trained it: 0, the chief or the only one."""
    model: keras.Model | None = field(default=None, repr=False)
    weights: list[Floats] = field(default_factory=list, repr=False)

    def subnetwork(self, image_shape: tuple[int, int], classes: int) -> keras.Model:
        """Its subnetwork: the model it trained in, or one built from its weights."""
        if self.model is None:
            self.model = self.spec.restore(image_shape, classes, self.weights)
        return self.model


@dataclass(frozen=True)
class Dropped:
    """A candidate an iteration went without: its replica failed, restarted or missed the deadline."""

    name: str
    replica: int
    reason: str


@dataclass
class Outcome:
    """What an iteration trained and how each candidate ensemble scored; the best one grows the ensemble."""

    candidates: list[Candidate]
    scores: list[Score]
    """One per candidate, then the previous ensemble's when it competes."""
    dropped: list[Dropped] = field(default_factory=list)
    busy_seconds: float = 0.0
    """The longest any replica spent on the iteration's own work: the frozen members' logits,
    building, training and scoring its candidates (the rest of an iteration is coordination)."""

    @property
    def specs(self) -> list[SubnetworkSpec]:
        return [c.spec for c in self.candidates]

    @property
    def best(self) -> int:
        return min(range(len(self.scores)), key=lambda i: self.scores[i].objective)

    def name(self, index: int) -> str:
        return self.specs[index].name if index < len(self.specs) else PREVIOUS_ENSEMBLE

    def grow(
        self, ensembler: ComplexityRegularizedEnsembler, ensemble: Ensemble, t: int, image_shape: tuple[int, int]
    ) -> tuple[Ensemble, Floats | None]:
        """The ensemble after this iteration, and the new member's validation logits (None: unchanged)."""
        best = self.best
        if best >= len(self.candidates):
            return ensemble, None
        chosen = self.candidates[best]
        classes = chosen.valid_sub.shape[1]
        member = Member(chosen.spec, chosen.subnetwork(image_shape, classes), t)
        return ensembler.grow(ensemble, member, *chosen.head), chosen.valid_sub


def train_candidates(
    t: int,
    specs: Sequence[SubnetworkSpec],
    indices: Sequence[int],
    ensemble: Ensemble,
    ensembler: ComplexityRegularizedEnsembler,
    *,
    image_shape: tuple[int, int],
    classes: int,
    seed: int,
    train: tuple[Images, Labels],
    train_logits: Floats,
    valid: tuple[Images, Labels],
    valid_logits: Floats,
    training: Training,
    search_started: float,
    replica: int = 0,
) -> list[Candidate]:
    """Train `specs` together beside `ensemble` (its members' logits given as `[N, members, classes]`).

    `indices`: each spec's place in the iteration's whole candidate list. Its seeds follow that
    place and the batches follow the seed and the iteration, not what this process ran before,
    so a candidate trains alike whichever replica trains it, alone or beside others.
    """
    keras.utils.set_random_seed(seed + 1000 * t)
    begun = time.monotonic()  # building the model counts in `training.seconds`, as its tracing does
    model, subnetworks, heads = _joint_model(
        specs, indices, ensemble, ensembler, image_shape, classes, seed, t, training.learning_rate
    )
    started = time.monotonic()
    steps, curve = _train(model, train, train_logits, training, begun + training.seconds, search_started, t)
    seconds = time.monotonic() - started
    outputs: dict[str, Floats] = pipeline.predict(model, _inputs(valid[0], valid_logits))
    return [
        Candidate(
            spec,
            index,
            (heads[i].get_weights()[0], heads[i].get_weights()[1]),
            outputs[f"sub{i}"],
            outputs[f"ens{i}"],
            steps,
            seconds,
            curve,
            replica,
            subnetworks[i],
        )
        for i, (spec, index) in enumerate(zip(specs, indices, strict=True))
    ]


def scored(
    candidates: list[Candidate],
    ensemble: Ensemble,
    ensembler: ComplexityRegularizedEnsembler,
    valid: tuple[Images, Labels],
    valid_logits: Floats,
    previous_competes: bool,
    dropped: Sequence[Dropped] = (),
    busy_seconds: float = 0.0,
) -> Outcome:
    """Each candidate ensemble scored by the objective, and the unchanged ensemble too when it competes."""
    members = [m.spec for m in ensemble.members]
    scores = [ensembler.score(c.valid_ens, valid[1], [*members, c.spec], c.head[0]) for c in candidates]
    if ensemble.members and previous_competes:
        scores.append(ensembler.score(ensemble.mix(valid_logits), valid[1], members, ensemble.weights))
    return Outcome(candidates, scores, list(dropped), busy_seconds)


def member_logits(member: Member, images: Images, image_shape: tuple[int, int]) -> Floats:
    """A frozen member's logits, computed once and reused by every later iteration."""
    image = keras.Input(image_shape, dtype="uint8")
    model = keras.Model(image, member.model(normalise(image, image_shape), training=False))
    logits: Floats = pipeline.predict(model, images)
    return logits


def _joint_model(
    specs: Sequence[SubnetworkSpec],
    indices: Sequence[int],
    ensemble: Ensemble,
    ensembler: ComplexityRegularizedEnsembler,
    image_shape: tuple[int, int],
    classes: int,
    seed: int,
    t: int,
    learning_rate: float,
) -> tuple[keras.Model, list[keras.Model], list[MixtureHead]]:
    count = len(ensemble.members)
    image = keras.Input(image_shape, dtype="uint8", name="image")
    previous = keras.Input((count, classes), name="previous")
    x = normalise(image, image_shape)
    outputs, subnetworks, heads = {}, [], []
    for i, (spec, index) in enumerate(zip(specs, indices, strict=True)):
        subnetwork = spec.build(image_shape, classes, seed + 1000 * t + 100 * index)
        logits = subnetwork(x)
        new = keras.ops.expand_dims(keras.ops.stop_gradient(logits), 1)
        stacked = keras.ops.concatenate([previous, new], axis=1) if count else new
        head, mixed = ensembler.mix(ensemble, spec, stacked, name=f"mixture{i}")
        outputs[f"sub{i}"] = logits
        outputs[f"ens{i}"] = mixed
        subnetworks.append(subnetwork)
        heads.append(head)
    model = keras.Model({"image": image, "previous": previous} if count else {"image": image}, outputs)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer(learning_rate), loss=dict.fromkeys(outputs, loss), jit_compile=False)
    return model, subnetworks, heads


WEIGHT_DECAY = 1e-4
"""AdamW's decoupled weight decay, the PyTorch peer's (bench/NOTES.md)."""


def optimizer(learning_rate: float) -> keras.optimizers.Optimizer:
    """AdamW at `learning_rate` (the schedule moves it), decaying every weight but the mixture
    weights, which the AdaNet objective already penalises."""
    adamw = keras.optimizers.AdamW(learning_rate, weight_decay=WEIGHT_DECAY)
    adamw.exclude_from_weight_decay(var_names=["mixture_weights"])
    return adamw


def _train(
    model: keras.Model,
    train: tuple[Images, Labels],
    previous: Floats,
    training: Training,
    until: float,
    search_started: float,
    t: int,
) -> tuple[int, list[tuple[float, float]]]:
    labels = {name: train[1] for name in _output_names(model)}
    return fit(model, _inputs(train[0], previous), labels, training, until, search_started, f"iteration_{t}")


def fit(
    model: keras.Model,
    inputs: object,
    labels: object,
    training: Training,
    until: float,
    search_started: float,
    log_name: str,
    clock_from_first_step: bool = False,
) -> tuple[int, list[tuple[float, float]]]:
    """Train a compiled model for one cosine cycle (`training.steps`, or until `until`); its steps and loss curve.

    `clock_from_first_step`: a cycle by time starts once the first step is done, so a model's
    tracing (seconds on 2 cores) does not eat its training time; `until` moves by as much.
    Raises `TooFewStepsError` when training by time cannot reach `training.min_steps`.
    """
    schedule = _Schedule(
        training.learning_rate, training.steps, until, search_started, clock_from_first_step, training.min_steps
    )
    callbacks: list[keras.callbacks.Callback] = [schedule]
    if training.log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(training.log_dir / log_name), write_graph=False))
    pipeline.fit(model, inputs, labels, training.batch_size, callbacks)
    if schedule.short is not None:
        raise schedule.short
    return schedule.steps, schedule.curve


def _inputs(images: Images, previous: Floats) -> dict[str, Images | Floats]:
    return {"image": images, "previous": previous} if previous.shape[1] else {"image": images}


def _output_names(model: keras.Model) -> list[str]:
    return [f"{kind}{i}" for i in range(len(model.outputs) // 2) for kind in ("sub", "ens")]


RATE_STEPS = 5
"""Steps after the first (its tracing) timed to tell whether training by time can reach its `min_steps`."""


class _Schedule(keras.callbacks.Callback):  # type: ignore[misc]
    """Cosine learning-rate decay over the iteration (by steps, or by time), and the stop at its end."""

    def __init__(
        self,
        base: float,
        steps: int | None,
        until: float,
        started: float,
        clock_from_first_step: bool = False,
        min_steps: int = 0,
    ) -> None:
        super().__init__()
        self.base, self.total, self.until, self.started = base, steps, until, started
        self.clock_from_first_step = clock_from_first_step
        self.min_steps = min_steps if steps is None else 0
        self.short: TooFewStepsError | None = None
        """Set when training stopped for want of time to reach `min_steps`."""
        self.begin = self.first_step_end = time.monotonic()
        self.tracing_s = 0.0
        self.steps = 0
        self.curve: list[tuple[float, float]] = []

    def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        now = time.monotonic()
        if self.total is not None:
            progress = self.steps / self.total
        else:
            progress = (now - self.begin) / max(self.until - self.begin, 1e-6)
        self.model.optimizer.learning_rate.assign(self.base * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self.steps += 1
        now = time.monotonic()
        if self.steps == 1:
            self.first_step_end, self.tracing_s = now, now - self.begin
            if self.clock_from_first_step and self.total is None:
                self.until += now - self.begin
                self.begin = now
        # Out of time before its rate is timed, it trains on to time it: it stops short either way,
        # and the smallest budget it names needs the time of a step, not of its tracing.
        timed_out = self.total is None and now >= self.until and not (self.min_steps and self.steps <= RATE_STEPS)
        if self.min_steps and self.steps == 1 + RATE_STEPS:
            self._check_reachable(now)
        if logs and self.steps % 25 == 0:
            self.curve.append((round(time.monotonic() - self.started, 2), float(logs["loss"])))
        if (self.total is not None and self.steps >= self.total) or timed_out:
            self.model.stop_training = True

    def _check_reachable(self, now: float) -> None:
        """Stop, with `short` set, if the steps timed so far say `min_steps` is out of reach."""
        step_s = (now - self.first_step_end) / (self.steps - 1)
        reachable = self.steps + int(max(self.until - now, 0.0) / max(step_s, 1e-6))
        if reachable < self.min_steps:
            self.short = TooFewStepsError(reachable, self.min_steps, step_s, self.tracing_s)
            self.model.stop_training = True
