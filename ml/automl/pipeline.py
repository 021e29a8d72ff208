"""The tf.data pipelines the search trains and predicts on: Keras's own, less tf.data's autotuning.

Given NumPy arrays, Keras builds an autotuned pipeline. Its tuning thread sleeps between rounds
for periods that double up to a minute, and destroying the pipeline's iterator waits for that
sleep to end, with nothing running: at the end of every epoch, where Keras makes a new iterator,
and wherever a trained model is collected. On 2 cores that cost 3 to 5 s at an epoch's end and
up to 45 s in one collection, past the budget's end (bench/NOTES.md, "What the stall was"). These pipelines
gather shuffled batches by index as Keras does, through one iterator per `fit`, with no tuning
thread; the same training ran 19% more steps in the same time.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

PREDICT_BATCH = 1024
"""Images per inference batch when scoring: larger batches cost less per image on CPU."""


def fit(
    model: keras.Model, inputs: Any, labels: Any, batch_size: int, callbacks: list[keras.callbacks.Callback]
) -> None:
    """Train on endless shuffled batches until a callback stops it."""
    count = len(tf.nest.flatten(labels)[0])
    batch_size = min(batch_size, count)
    model.fit(
        batches(inputs, labels, count, batch_size),
        steps_per_epoch=count // batch_size,
        epochs=1_000_000,
        shuffle=False,  # the batches come shuffled
        verbose=0,
        callbacks=callbacks,
    )


def predict(model: keras.Model, inputs: Any) -> Any:
    """The model's outputs on every input, in `PREDICT_BATCH` batches."""
    return model.predict(_untuned(tf.data.Dataset.from_tensor_slices(inputs).batch(PREDICT_BATCH)), verbose=0)


def batches(inputs: Any, labels: Any, count: int, batch_size: int) -> tf.data.Dataset:
    """`(inputs, labels)` in batches of `batch_size`, in a new order at each pass over the data; each
    pass leaves out the `count % batch_size` its order puts last."""
    kept = count // batch_size * batch_size
    orders = tf.data.Dataset.from_tensors(tf.range(count, dtype=tf.int64)).repeat().map(tf.random.shuffle)
    indices = orders.flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(tf.reshape(order[:kept], (-1, batch_size)))
    )
    data = tf.data.Dataset.from_tensors((inputs, labels)).repeat()  # one copy, not one per batch
    return _untuned(
        tf.data.Dataset.zip(indices, data).map(
            lambda i, arrays: tf.nest.map_structure(lambda a: tf.gather(a, i), arrays)
        )
    )


def _untuned(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.autotune.enabled = False
    # As Keras does: the default rewrites serialize the pipeline's graph, its arrays included.
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options).prefetch(1)
