"""The AdaNet search loop: grow the ensemble one subnetwork per iteration, within a deadline."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from ml.automl.ensemble import Ensemble, Floats, Member, MixtureHead, complexity_penalty, cross_entropy
from ml.automl.subnetworks import GENERATORS, SubnetworkSpec

Images = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SearchConfig:
    generators: tuple[str, ...] = ("cnn", "dnn")
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
    candidates: list[CandidateResult]
    kept: str
    members: list[str]
    mixture_weights: list[float]
    valid_accuracy: float
    loss_curve: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the search began, training loss) every few steps."""


class AdaNet:
    """Runs the search on uint8 images `[N, H, W]` and integer labels."""

    def __init__(
        self,
        config: SearchConfig,
        image_shape: tuple[int, int],
        classes: int,
        on_iteration: Callable[[IterationRecord], None] = lambda record: None,
    ) -> None:
        self.config = config
        self.image_shape = image_shape
        self.classes = classes
        self.on_iteration = on_iteration
        self.generators = [GENERATORS[name]() for name in config.generators]

    def search(self, train: tuple[Images, Labels], valid: tuple[Images, Labels], deadline: float) -> Ensemble:
        """The best ensemble found before `deadline` (a `time.monotonic()` value)."""
        keras.utils.set_random_seed(self.config.seed)
        started = time.monotonic()
        ensemble = Ensemble()
        train_logits = np.zeros((len(train[0]), 0, self.classes), np.float32)
        valid_logits = np.zeros((len(valid[0]), 0, self.classes), np.float32)
        self.records: list[IterationRecord] = []
        overhead = _FIRST_OVERHEAD_S  # an iteration's time outside training: building, tracing, evaluating
        for t in range(self.config.iterations):
            iteration_started = time.monotonic()
            left = deadline - iteration_started
            if left - overhead < _MIN_TRAINING_S:
                break
            if train_logits.shape[1] < len(ensemble.members):  # the member the last iteration added
                train_logits = _append(train_logits, self._logits(ensemble.members[-1], train[0]))
            share = left / (self.config.iterations - t) - overhead
            seconds = max(share, _MIN_TRAINING_S)
            specs = [spec for g in self.generators for spec in g.candidates(ensemble.members, t)]
            model, subnetworks, heads = self._joint_model(specs, ensemble, t)
            training_started = time.monotonic()
            steps, curve = self._train(model, train, train_logits, training_started + seconds, started, t)
            training_seconds = time.monotonic() - training_started
            results, outputs = self._evaluate(model, specs, heads, ensemble, valid, valid_logits)
            best = min(range(len(results)), key=lambda i: results[i].objective)
            kept = "previous ensemble"
            if best < len(specs):
                member = Member(specs[best], subnetworks[best], t)
                member.model.trainable = False
                weights, bias = heads[best].get_weights()
                ensemble = Ensemble([*ensemble.members, member], weights, bias)
                valid_logits = _append(valid_logits, outputs[f"sub{best}"])
                kept = specs[best].name
            results[best] = replace(results[best], kept=True)
            record = IterationRecord(
                iteration=t,
                seconds=round(time.monotonic() - started, 2),
                steps=steps,
                candidates=results,
                kept=kept,
                members=[m.spec.name for m in ensemble.members],
                mixture_weights=[float(w) for w in ensemble.weights],
                valid_accuracy=results[best].valid_accuracy,
                loss_curve=curve,
            )
            self.records.append(record)
            self.on_iteration(record)
            overhead = max(overhead, time.monotonic() - iteration_started - training_seconds)
        return ensemble

    def _joint_model(
        self, specs: Sequence[SubnetworkSpec], ensemble: Ensemble, t: int
    ) -> tuple[keras.Model, list[keras.Model], list[MixtureHead]]:
        """All candidates of an iteration in one model: each trains on its own loss, its mixture on the ensemble's."""
        count = len(ensemble.members)
        image = keras.Input(self.image_shape, dtype="uint8", name="image")
        previous = keras.Input((count, self.classes), name="previous")
        x = _normalise(image, self.image_shape)
        outputs, subnetworks, heads = {}, [], []
        previous_mean = float(ensemble.weights.mean()) if count else 1.0
        initial = np.append(ensemble.weights, previous_mean).astype(np.float32) * (max(count, 1) / (count + 1))
        for i, spec in enumerate(specs):
            subnetwork = spec.build(self.image_shape, self.classes, self.config.seed + 1000 * t + 100 * i)
            logits = subnetwork(x)
            new = keras.ops.expand_dims(keras.ops.stop_gradient(logits), 1)
            stacked = keras.ops.concatenate([previous, new], axis=1) if count else new
            head = MixtureHead(
                [*[m.spec for m in ensemble.members], spec],
                self.config.adanet_lambda,
                self.config.adanet_beta,
                initial=initial,
                name=f"mixture{i}",
            )
            outputs[f"sub{i}"] = logits
            outputs[f"ens{i}"] = head(stacked)
            if ensemble.bias is not None:
                head.bias.assign(ensemble.bias)
            subnetworks.append(subnetwork)
            heads.append(head)
        model = keras.Model({"image": image, "previous": previous} if count else {"image": image}, outputs)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = keras.optimizers.Adam(self.config.learning_rate)
        model.compile(optimizer=optimizer, loss=dict.fromkeys(outputs, loss), jit_compile=False)
        return model, subnetworks, heads

    def _train(
        self,
        model: keras.Model,
        train: tuple[Images, Labels],
        previous: Floats,
        until: float,
        started: float,
        t: int,
    ) -> tuple[int, list[tuple[float, float]]]:
        schedule = _Schedule(self.config.learning_rate, self.config.iteration_steps, until, started)
        callbacks: list[keras.callbacks.Callback] = [schedule]
        if self.config.log_dir is not None:
            callbacks.append(
                keras.callbacks.TensorBoard(str(self.config.log_dir / f"iteration_{t}"), write_graph=False)
            )
        model.fit(
            _inputs(train[0], previous),
            {name: train[1] for name in _output_names(model)},
            batch_size=self.config.batch_size,
            epochs=1_000_000,
            shuffle=True,
            verbose=0,
            callbacks=callbacks,
        )
        return schedule.steps, schedule.curve

    def _evaluate(
        self,
        model: keras.Model,
        specs: Sequence[SubnetworkSpec],
        heads: Sequence[MixtureHead],
        ensemble: Ensemble,
        valid: tuple[Images, Labels],
        previous: Floats,
    ) -> tuple[list[CandidateResult], dict[str, Floats]]:
        outputs: dict[str, Floats] = model.predict(_inputs(valid[0], previous), batch_size=1024, verbose=0)
        results = []
        members = [m.spec for m in ensemble.members]
        for i, spec in enumerate(specs):
            weights = heads[i].get_weights()[0]
            results.append(self._result(spec.name, outputs[f"ens{i}"], valid[1], [*members, spec], weights))
        if ensemble.members and not self.config.force_grow:
            results.append(
                self._result("previous ensemble", ensemble.mix(previous), valid[1], members, ensemble.weights)
            )
        return results, outputs

    def _result(
        self, name: str, logits: Floats, labels: Labels, specs: Sequence[SubnetworkSpec], weights: Floats
    ) -> CandidateResult:
        loss = cross_entropy(logits, labels)
        penalty = complexity_penalty(specs, weights, self.config.adanet_lambda, self.config.adanet_beta)
        accuracy = float((logits.argmax(axis=1) == labels).mean())
        return CandidateResult(name, round(loss + penalty, 6), round(loss, 6), round(accuracy, 6), round(penalty, 6))

    def _logits(self, member: Member, images: Images) -> Floats:
        image = keras.Input(self.image_shape, dtype="uint8")
        model = keras.Model(image, member.model(_normalise(image, self.image_shape), training=False))
        logits: Floats = model.predict(images, batch_size=1024, verbose=0)
        return logits


_MIN_TRAINING_S = 1.0
"""An iteration is not started unless it can train this long."""
_FIRST_OVERHEAD_S = 2.0
"""Guess of an iteration's set-up and evaluation time before one was measured."""


def _inputs(images: Images, previous: Floats) -> dict[str, Any]:
    return {"image": images, "previous": previous} if previous.shape[1] else {"image": images}


def _output_names(model: keras.Model) -> list[str]:
    return [f"{kind}{i}" for i in range(len(model.outputs) // 2) for kind in ("sub", "ens")]


def _normalise(image: Any, image_shape: tuple[int, int]) -> Any:
    x = keras.ops.cast(image, "float32") / 255.0
    return keras.ops.reshape(x, (-1, *image_shape, 1))


def _append(stacked: Floats, logits: Floats) -> Floats:
    return np.concatenate([stacked, logits[:, None, :].astype(np.float32)], axis=1)


class _Schedule(keras.callbacks.Callback):  # type: ignore[misc]
    """Cosine learning-rate decay over the iteration (by steps, or by time), and the stop at its end."""

    def __init__(self, base: float, steps: int | None, until: float, started: float) -> None:
        super().__init__()
        self.base, self.total, self.until, self.started = base, steps, until, started
        self.begin = time.monotonic()
        self.steps = 0
        self.curve: list[tuple[float, float]] = []

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if self.total is not None:
            progress = self.steps / self.total
        else:
            progress = (now - self.begin) / max(self.until - self.begin, 1e-6)
        self.model.optimizer.learning_rate.assign(self.base * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.steps += 1
        if logs and self.steps % 25 == 0:
            self.curve.append((round(time.monotonic() - self.started, 2), float(logs["loss"])))
        if (self.total is not None and self.steps >= self.total) or time.monotonic() >= self.until:
            self.model.stop_training = True
