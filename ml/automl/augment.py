"""Training-time augmentation of images, as layers that pass images through unchanged at inference."""

from __future__ import annotations

import math
from typing import Any

import keras


class RandomAffine(keras.layers.Layer):  # type: ignore[misc]
    """Random rotation, zoom and translation of `[N, H, W, C]` images, in one bilinear resampling.

    Keras has a layer for each of the three, but chaining them resamples an image three times
    and blurs it; this draws the three per image and composes them into one transform.
    Pixels moved in from outside the image are 0.
    """

    def __init__(self, rotation: float, zoom: float, shift: float, seed: int | None = None, **kwargs: Any) -> None:
        """`rotation` in degrees either way, `zoom` and `shift` as fractions of the image size."""
        super().__init__(**kwargs)
        self.rotation, self.zoom, self.shift = rotation, zoom, shift
        self.seed_generator = keras.random.SeedGenerator(seed)

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
        cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
        cx, cy = (width - 1) / 2, (height - 1) / 2
        # Output pixel (x, y) samples the input at (cos·x' - sin·y' + cx + dx, sin·x' + cos·y' + cy + dy),
        # where (x', y') = (x - cx, y - cy): a rotation and scaling about the centre, then the translation.
        zero = ops.zeros_like(angle)
        transform = ops.stack(
            [cos, -sin, cx - cos * cx + sin * cy + dx, sin, cos, cy - sin * cx - cos * cy + dy, zero, zero], axis=1
        )
        return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="constant")
