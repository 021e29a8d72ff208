"""Training-time augmentation of images, as layers that pass images through unchanged at inference."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import keras

if TYPE_CHECKING:
    from ml.automl.generators import Augmentation


class RandomAffine(keras.layers.Layer):  # type: ignore[misc]
    """Random rotation, zoom, translation and mirroring of `[N, H, W, C]` images, in one bilinear resampling.

    Keras has a layer for each, but chaining them resamples an image several times and blurs
    it; this draws them per image and composes them into one transform. Pixels moved in from
    outside the image are 0.
    """

    def __init__(
        self, rotation: float, zoom: float, shift: float, flip: bool = False, seed: int | None = None, **kwargs: Any
    ) -> None:
        """`rotation` in degrees either way, `zoom` and `shift` as fractions of the image size."""
        super().__init__(**kwargs)
        self.rotation, self.zoom, self.shift, self.flip = rotation, zoom, shift, flip
        self.seed_generator = keras.random.SeedGenerator(seed)

    @classmethod
    def of(cls, augmentation: Augmentation, seed: int | None = None) -> RandomAffine:
        a = augmentation
        return cls(a.rotation, a.zoom, a.shift, a.flip, seed=seed)

    def call(self, images: Any, training: bool = False) -> Any:
        if not training:
            return images
        ops = keras.ops
        height, width = images.shape[1], images.shape[2]

        def uniform() -> Any:
            return keras.random.uniform((ops.shape(images)[0],), -1.0, 1.0, seed=self.seed_generator)

        angle = uniform() * (self.rotation * math.pi / 180)
        scale = 1.0 + uniform() * self.zoom
        dx, dy = uniform() * (self.shift * width), uniform() * (self.shift * height)
        mirror = ops.where(uniform() < 0, -1.0, 1.0) if self.flip else ops.ones_like(angle)
        cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
        cx, cy = (width - 1) / 2, (height - 1) / 2
        # Output pixel (x, y) samples the input at (cos·m·x' - sin·y' + cx + dx, sin·m·x' + cos·y' + cy + dy),
        # where (x', y') = (x - cx, y - cy) and m = ±1: a mirroring, a rotation and scaling about the
        # centre, then the translation.
        zero = ops.zeros_like(angle)
        transform = ops.stack(
            [
                cos * mirror,
                -sin,
                cx - cos * mirror * cx + sin * cy + dx,
                sin * mirror,
                cos,
                cy - sin * mirror * cx - cos * cy + dy,
                zero,
                zero,
            ],
            axis=1,
        )
        return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="constant")
