"""The ensemble: frozen subnetworks mixed by learned scalar weights, and its AdaNet objective."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from ml.automl.subnetworks import SubnetworkSpec

Floats = npt.NDArray[np.float32]


@dataclass
class Member:
    """A subnetwork kept in the ensemble: frozen from the iteration that chose it."""

    spec: SubnetworkSpec
    model: keras.Model
    iteration: int


@dataclass
class Ensemble:
    """`logits = sum_j weights[j] * member_j(x) + bias`: adanet's scalar mixture weights."""

    members: list[Member] = field(default_factory=list)
    weights: Floats = field(default_factory=lambda: np.zeros(0, np.float32))
    bias: Floats | None = None

    def mix(self, member_logits: Floats) -> Floats:
        """Ensemble logits from the members' logits stacked as `[N, members, classes]`."""
        mixed: Floats = np.einsum("nmc,m->nc", member_logits, self.weights)
        return mixed + self.bias if self.bias is not None else mixed

    def penalty(self, adanet_lambda: float, adanet_beta: float) -> float:
        return complexity_penalty([m.spec for m in self.members], self.weights, adanet_lambda, adanet_beta)

    def serving_model(self, image_shape: tuple[int, int]) -> keras.Model:
        """One Keras model for the whole ensemble: raw pixels 0..255 `[N, H, W]` to probabilities."""
        image = keras.Input(image_shape, name="image")
        x = keras.layers.Reshape((*image_shape, 1))(keras.layers.Rescaling(1 / 255)(image))
        logits = [m.model(x, training=False) for m in self.members]
        stacked = keras.ops.stack(logits, axis=1)
        head = MixtureHead([m.spec for m in self.members], trainable=False)
        mixed = head(stacked)
        head.set_weights([self.weights, self.bias if self.bias is not None else np.zeros(mixed.shape[-1], np.float32)])
        return keras.Model(image, keras.layers.Softmax()(mixed))


def complexity_penalty(
    specs: Sequence[SubnetworkSpec], weights: Floats, adanet_lambda: float, adanet_beta: float
) -> float:
    """sum_j (lambda * r(h_j) + beta) * |w_j|."""
    coefficients = np.array([adanet_lambda * s.complexity + adanet_beta for s in specs], np.float32)
    return float(np.sum(coefficients * np.abs(weights)))


def cross_entropy(logits: Floats, labels: npt.NDArray[np.int64]) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


class _WeightedL1(keras.regularizers.Regularizer):  # type: ignore[misc]
    def __init__(self, coefficients: Floats) -> None:
        self.coefficients = coefficients

    def __call__(self, weights: Any) -> Any:
        return keras.ops.sum(self.coefficients * keras.ops.abs(weights))


class MixtureHead(keras.layers.Layer):  # type: ignore[misc]
    """Scalar mixture weights and a bias over stacked member logits, L1-penalised by complexity."""

    def __init__(
        self,
        specs: Sequence[SubnetworkSpec],
        adanet_lambda: float = 0.0,
        adanet_beta: float = 0.0,
        initial: Floats | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.count = len(specs)
        coefficients = np.array([adanet_lambda * s.complexity + adanet_beta for s in specs], np.float32)
        self.penalty = _WeightedL1(coefficients) if coefficients.any() else None
        self.initial = initial if initial is not None else np.full(self.count, 1 / self.count, np.float32)

    def build(self, input_shape: Any) -> None:
        self.mixture = self.add_weight(
            shape=(self.count,),
            initializer=keras.initializers.Constant(self.initial),
            regularizer=self.penalty,
            name="mixture_weights",
        )
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, stacked: Any) -> Any:
        # multiply-and-sum, not einsum: TFLite has no kernel for this einsum and returns NaN.
        return keras.ops.sum(stacked * self.mixture[None, :, None], axis=1) + self.bias
