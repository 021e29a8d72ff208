"""The ensemble: frozen subnetworks whose logits are mixed by scalar weights and a bias."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from ml.automl.generators import SubnetworkSpec

Floats = npt.NDArray[np.float32]


@dataclass
class Member:
    """A subnetwork kept in the ensemble: frozen from the iteration that chose it."""

    spec: SubnetworkSpec
    model: keras.Model
    iteration: int

    @classmethod
    def frozen(
        cls, spec: SubnetworkSpec, weights: list[Floats], iteration: int, image_shape: tuple[int, int], classes: int
    ) -> Member:
        """A member in a model of its own holding `weights`, frozen."""
        model = spec.restore(image_shape, classes, weights)
        model.trainable = False
        return cls(spec, model, iteration)


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

    def serving_model(self, image_shape: tuple[int, int]) -> keras.Model:
        """One Keras model for the whole ensemble: raw pixels 0..255 `[N, H, W]` to probabilities."""
        image = keras.Input(image_shape, name="image")
        x = keras.layers.Reshape((*image_shape, 1))(keras.layers.Rescaling(1 / 255)(image))
        logits = [m.model(x, training=False) for m in self.members]
        stacked = keras.ops.stack(logits, axis=1)
        head = MixtureHead(np.zeros(len(self.members), np.float32), trainable=False)
        mixed = head(stacked)
        head.set_weights([self.weights, self.bias if self.bias is not None else np.zeros(mixed.shape[-1], np.float32)])
        return keras.Model(image, keras.layers.Softmax()(mixed))


class _WeightedL1(keras.regularizers.Regularizer):  # type: ignore[misc]
    def __init__(self, coefficients: Floats) -> None:
        self.coefficients = coefficients

    def __call__(self, weights: Any) -> Any:
        return keras.ops.sum(self.coefficients * keras.ops.abs(weights))


class MixtureHead(keras.layers.Layer):  # type: ignore[misc]
    """Scalar mixture weights and a bias over stacked member logits, each weight L1-penalised by its
    coefficient (the ensembler's complexity coefficients; zeros: no penalty)."""

    def __init__(self, coefficients: Floats, initial: Floats | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = len(coefficients)
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
