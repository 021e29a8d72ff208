"""RandomAffine: one resampling per image, only while training, reproducible for a seed."""

from __future__ import annotations

import numpy as np

from ml.automl.augment import RandomAffine


def blobs() -> np.ndarray:
    images = np.zeros((16, 28, 28, 1), np.float32)
    images[:, 10:18, 12:16] = 1.0
    return images


def centre(image: np.ndarray) -> np.ndarray:
    """(row, column) of an image's centre of mass."""
    weights, positions = image[..., 0], np.arange(28)
    rows, columns = weights.sum(axis=1) @ positions, weights.sum(axis=0) @ positions
    return np.array([rows, columns]) / float(weights.sum())


def test_inference_and_zero_ranges_leave_images_unchanged() -> None:
    images = blobs()
    np.testing.assert_array_equal(np.asarray(RandomAffine(10, 0.1, 0.1, seed=1)(images)), images)
    np.testing.assert_array_equal(np.asarray(RandomAffine(0, 0, 0, seed=1)(images, training=True)), images)


def test_translation_moves_each_image_within_its_range_and_keeps_its_ink() -> None:
    images = blobs()
    moved = np.asarray(RandomAffine(0, 0, 0.1, seed=1)(images, training=True))
    np.testing.assert_allclose(moved.sum(axis=(1, 2, 3)), images.sum(axis=(1, 2, 3)), rtol=1e-4)
    offsets = np.array([centre(m) - centre(i) for m, i in zip(moved, images, strict=True)])
    assert np.abs(offsets).max() <= 0.1 * 28 + 1e-3
    assert len({tuple(o) for o in offsets.round(3)}) == len(images), "each image draws its own offset"


def test_rotation_and_zoom_change_images_reproducibly_for_a_seed() -> None:
    images = blobs()
    first = np.asarray(RandomAffine(10, 0.1, 0.08, seed=3)(images, training=True))
    again = np.asarray(RandomAffine(10, 0.1, 0.08, seed=3)(images, training=True))
    other = np.asarray(RandomAffine(10, 0.1, 0.08, seed=4)(images, training=True))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert not np.allclose(first, images)
    assert first.shape == images.shape
    assert 0 <= first.min() <= first.max() <= 1 + 1e-6
