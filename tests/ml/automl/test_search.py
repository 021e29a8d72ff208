"""The AdaNet search on small slices of MNIST: selection by objective, growth, determinism, deadline."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from ml.automl.ensemble import Member
from ml.automl.generators import CnnGenerator, DnnGenerator, _fitting_blocks
from ml.automl.search import SearchConfig, SearchResult, search
from ml.data.loader import prepare
from ml.data.sources import from_directory
from tests.support.data import mnist_dir


@pytest.fixture(scope="module")
def mnist() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    splits = {s.schema.table_id: s.rows for s in prepare(from_directory(mnist_dir()))}
    return {
        "train": (splits["train"].images[:2000], splits["train"].labels[:2000]),
        "valid": (splits["valid"].images[:400], splits["valid"].labels[:400]),
    }


def run(mnist: dict[str, tuple[np.ndarray, np.ndarray]], **options: Any) -> SearchResult:
    config = SearchConfig(**{"iterations": 2, "iteration_steps": 12, "batch_size": 64, **options})
    return search(config, (28, 28), 10, mnist["train"], mnist["valid"], time.monotonic() + 120)


def test_each_iteration_keeps_the_candidate_with_the_lowest_objective(
    mnist: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    result = run(mnist)
    assert [r.iteration for r in result.records] == [0, 1]
    for record in result.records:
        best = min(record.candidates, key=lambda c: c.objective)
        assert [c.name for c in record.candidates if c.kept] == [best.name] == [record.kept]
        for candidate in record.candidates:
            assert candidate.objective == pytest.approx(candidate.valid_loss + candidate.penalty, abs=2e-6)
            assert candidate.penalty > 0  # lambda * sqrt(depth) * |w|
    second = {c.name for c in result.records[1].candidates}
    assert "previous ensemble" in second  # adanet's default: the ensemble may stay as it is
    assert len(result.records[1].mixture_weights) == len(result.records[1].members)


def test_force_grow_adds_a_subnetwork_every_iteration(mnist: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    result = run(mnist, force_grow=True, generators=("dnn",))
    assert [len(r.members) for r in result.records] == [1, 2]
    assert "previous ensemble" not in {c.name for c in result.records[1].candidates}


def test_same_seed_same_ensemble_on_cpu(mnist: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    images = mnist["valid"][0][:100].astype(np.float32)
    ensembles = [run(mnist, generators=("dnn",), seed=seed).ensemble for seed in (7, 7, 8)]
    predictions = [e.serving_model((28, 28)).predict(images, verbose=0) for e in ensembles]
    assert np.array_equal(predictions[0], predictions[1])
    assert not np.array_equal(predictions[0], predictions[2])


def test_the_search_ends_by_its_deadline_with_the_best_ensemble_so_far(
    mnist: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    config = SearchConfig(iterations=50, batch_size=64, generators=("dnn",))
    started = time.monotonic()
    result = search(config, (28, 28), 10, mnist["train"], mnist["valid"], started + 12)
    ensemble = result.ensemble
    elapsed = time.monotonic() - started
    # Late by less than its longest iteration (a slow one on a busy machine is what makes it
    # late at all); 50 iterations would take far longer.
    longest = float(np.diff([0.0, *(r.seconds for r in result.records)]).max())
    assert elapsed < 12 + longest, (elapsed, longest)
    assert ensemble.members
    assert len(result.records) < 50


def test_generators_grow_from_the_last_subnetwork_of_their_kind() -> None:
    dnn, cnn = DnnGenerator(), CnnGenerator(max_blocks=3)
    assert [s.depth for s in dnn.candidates([], 0)] == [1]
    assert [s.depth for s in cnn.candidates([], 0)] == [2]
    members = [Member(dnn._spec(2, 256, 0), model=None, iteration=0), Member(cnn._spec(2, 32, 0), None, 0)]
    assert [s.depth for s in dnn.candidates(members, 1)] == [2, 3]
    assert [s.depth for s in cnn.candidates(members, 1)] == [3]
    assert [s.depth for s in cnn.candidates([Member(cnn._spec(3, 32, 1), None, 1)], 2)] == [3]  # max_blocks
    assert dnn._spec(4, 256, 0).complexity == 2.0
    assert [s.depth for s in CnnGenerator().candidates(members, 1)] == [2]  # two blocks fill 28 pixels


def test_cnn_blocks_stop_where_the_image_has_no_room() -> None:
    assert [_fitting_blocks(size, 3) for size in (28, 12, 6, 5)] == [2, 1, 1, 0]
