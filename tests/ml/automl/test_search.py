"""The AdaNet search on small slices of MNIST: selection by objective, growth, determinism, deadline."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from ml.automl.ensemble import Member
from ml.automl.generators import CNN_VARIANTS, CnnGenerator, DnnGenerator, _fitting_blocks
from ml.automl.search import SearchConfig, SearchResult, search
from ml.data.loader import prepare
from ml.data.sources import from_directory
from ml.errors import TooFewStepsError
from tests.support.data import mnist_dir

pytestmark = pytest.mark.integration  # trains, or runs a slow tool: not in `make test-fast`


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


@pytest.fixture(scope="module")
def two_iterations(mnist: dict[str, tuple[np.ndarray, np.ndarray]]) -> SearchResult:
    """A screen, then an iteration of every generator's candidates beside the frozen ensemble."""
    return run(mnist)


def test_each_iteration_keeps_the_candidate_with_the_lowest_objective(two_iterations: SearchResult) -> None:
    first, second = two_iterations.records
    assert (first.iteration, first.screened, second.iteration, second.screened) == (0, True, 1, False)
    # The screen: the best of the last rung is kept; every candidate left out says why.
    last_rung = max(c.rungs for c in first.candidates)
    finalist = min((c for c in first.candidates if c.rungs == last_rung), key=lambda c: c.objective)
    assert first.kept.split(" + ")[0] == finalist.name
    assert all(c.lost for c in first.candidates if not c.kept)
    assert {c.name.split("_")[3] for c in first.candidates} == {"none", "shift", "flip", "affine"}
    # A later iteration: every generator's candidates train together beside the frozen ensemble.
    assert {c.name.split("_")[1] for c in second.candidates if c.name != "previous ensemble"} == {"cnn", "dnn"}
    best = min(second.candidates, key=lambda c: c.objective)
    assert [c.name for c in second.candidates if c.kept] == [best.name] == [second.kept]
    for candidate in second.candidates:
        assert candidate.objective == pytest.approx(candidate.valid_loss + candidate.penalty, abs=2e-6)
        assert candidate.penalty > 0  # lambda * sqrt(depth) * |w|
        assert bool(candidate.lost) != candidate.kept
    assert "previous ensemble" in {c.name for c in second.candidates}  # adanet's default: it may stay as it is
    assert len(second.mixture_weights) == len(second.members)


def test_the_search_says_whether_the_ensemble_beat_its_best_single_member(two_iterations: SearchResult) -> None:
    """The screen's runner-up is weighed as a second member; the pair is kept only if it scores better."""
    first, second = two_iterations.records
    check = first.ensemble_check
    assert check is not None
    assert len(check.members) == 2
    assert check.best_member in check.members
    assert check.kept == (check.ensemble_objective < check.best_member_objective)
    assert len(first.members) == (2 if check.kept else 1)
    # Against the best member with a weight and bias of its own fitted like the pair's, not as trained.
    as_trained = next(c for c in first.candidates if c.name == check.best_member)
    assert check.best_member_objective != as_trained.objective
    if not check.kept and check.best_member_objective < as_trained.objective:
        assert first.mixture_weights != [1.0], "the better member, its weight and bias fitted, replaces it as trained"
    # The next iteration weighs its best candidate ensemble the same way; the result reports the last.
    assert second.ensemble_check is not None
    assert len(second.ensemble_check.members) == len(first.members) + 1
    assert two_iterations.ensemble_check == second.ensemble_check
    assert second.ensemble_check.kept == (second.kept != "previous ensemble")


def test_only_the_last_stretch_of_a_single_iteration_learns_from_valid(
    mnist: dict[str, tuple[np.ndarray, np.ndarray]], two_iterations: SearchResult
) -> None:
    """With later iterations to judge on `valid`, no member learns from it; a single iteration's
    one candidate does (a screen's kept candidate does in its last rung: tests/ml/automl/test_screen.py)."""
    assert [r.saw_valid for r in two_iterations.records] == [False, False]
    [alone] = run(mnist, generators=("dnn",), iterations=1).records
    assert (alone.screened, alone.saw_valid) == (False, True)


def test_force_grow_adds_a_subnetwork_every_iteration(mnist: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    result = run(mnist, force_grow=True, generators=("dnn",))
    assert [len(r.members) for r in result.records] == [1, 2]
    assert "previous ensemble" not in {c.name for c in result.records[1].candidates}


def test_same_seed_same_ensemble_on_cpu(mnist: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    images = mnist["valid"][0][:100].astype(np.float32)
    ensembles = [run(mnist, generators=("dnn",), iterations=1, seed=seed).ensemble for seed in (7, 7, 8)]
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


@pytest.mark.parametrize("seconds", [8.0, 1.5])
def test_a_first_model_that_cannot_reach_its_minimum_steps_stops_the_search_with_what_it_lacks(
    mnist: dict[str, tuple[np.ndarray, np.ndarray]], seconds: float
) -> None:
    """Timed over its first steps, the first model cannot train a million: the search stops rather
    than hand on a model it could not train, and says how much training time was missing. With
    1.5 s, time runs out before the steps that time it (the first is its tracing); it trains on
    for them, so the time it names is a step's, not the tracing's."""
    config = SearchConfig(iterations=1, batch_size=64, generators=("dnn",), min_steps=1_000_000, overhead_guess_s=0)
    with pytest.raises(TooFewStepsError) as short:
        search(config, (28, 28), 10, mnist["train"], mnist["valid"], time.monotonic() + seconds)
    assert 0 < short.value.reachable < short.value.needed == 1_000_000
    assert 0 < short.value.step_s < short.value.tracing_s
    assert short.value.missing_s == pytest.approx((1_000_000 - short.value.reachable) * short.value.step_s)


def test_generators_grow_from_the_last_subnetwork_of_their_kind() -> None:
    dnn, cnn = DnnGenerator(), CnnGenerator(max_blocks=3)
    assert [s.depth for s in dnn.candidates([], 0)] == [1]
    first = cnn.candidates([], 0)  # one per variant, for the screen
    expected = [(2, v.body, v.augmentation, v.filters) for v in CNN_VARIANTS]
    assert [(s.depth, s.body, s.augmentation, s.width) for s in first] == expected
    assert first[0].body == "plain"  # the practitioner's recipe, which the screen must beat
    flip = next(s for s in first if s.augmentation == "flip")
    members = [Member(dnn._spec(2, 256, 0), model=None, iteration=0), Member(flip, None, 0)]
    assert [s.depth for s in dnn.candidates(members, 1)] == [2, 3]
    # Later CNN candidates keep the variant the screen kept, one block deeper.
    [grown] = cnn.candidates(members, 1)
    assert (grown.depth, grown.body, grown.augmentation, grown.width) == (3, "vgg", "flip", 32)
    assert grown.learning_rate == flip.learning_rate
    assert [s.depth for s in cnn.candidates([Member(grown, None, 1)], 2)] == [3]  # max_blocks
    assert dnn._spec(4, 256, 0).complexity == 2.0
    assert [s.depth for s in CnnGenerator().candidates(members, 1)] == [2]  # two blocks fill 28 pixels


def test_cnn_blocks_stop_where_the_image_has_no_room() -> None:
    assert [_fitting_blocks(size, 3) for size in (28, 12, 6, 5)] == [2, 1, 1, 0]
