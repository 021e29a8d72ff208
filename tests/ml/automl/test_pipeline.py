"""The pipelines the search trains and predicts on: every example once a pass, and no tf.data tuning thread."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ml.automl import pipeline


def test_each_pass_shows_each_example_at_most_once_with_its_own_label_and_the_next_pass_reorders() -> None:
    images = np.arange(10, dtype=np.uint8).repeat(4).reshape(10, 2, 2)
    labels = np.arange(10, dtype=np.int64) * 3
    keras.utils.set_random_seed(0)
    dataset = pipeline.batches({"image": images}, {"out": labels}, count=10, batch_size=3)
    assert dataset.options().autotune.enabled is False
    passes: list[list[int]] = [[], []]
    for k, (inputs, targets) in enumerate(dataset.take(6)):
        assert inputs["image"].shape == (3, 2, 2)
        assert (inputs["image"].numpy()[:, 0, 0] * 3 == targets["out"].numpy()).all()
        passes[k // 3] += inputs["image"].numpy()[:, 0, 0].tolist()
    for seen in passes:
        assert len(seen) == len(set(seen)) == 9  # the tenth waits for a later pass
    assert passes[0] != passes[1]


def test_training_stops_when_a_callback_says_and_prediction_matches_the_model_on_every_input() -> None:
    keras.utils.set_random_seed(0)
    image = keras.Input((4,), name="image")
    model = keras.Model({"image": image}, keras.layers.Dense(3)(image))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = np.random.default_rng(0).normal(size=(2500, 4)).astype(np.float32)
    labels = (data[:, 0] > 0).astype(np.int64)

    class StopAfter(keras.callbacks.Callback):  # type: ignore[misc]
        steps = 0

        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            self.steps += 1
            self.model.stop_training = self.steps == 25  # past one pass of 10 batches

    stop = StopAfter()
    pipeline.fit(model, {"image": data}, labels, 256, [stop])
    assert stop.steps == 25
    predicted = pipeline.predict(model, {"image": data})  # 3 batches, the last partial
    assert predicted.shape == (2500, 3)
    assert predicted == pytest.approx(np.asarray(model({"image": data})), abs=1e-5)
