"""The champion/challenger gate, case by case, without training or a cloud."""

from __future__ import annotations

import pytest

from ml.publish.gate import decide
from tests.support.records import metrics


def test_a_better_challenger_is_promoted() -> None:
    decision = decide(metrics(0.95), metrics(0.90), version="2", champion_version="1")
    assert decision.promote
    assert decision.reason == "promoted: accuracy 0.9500 >= champion 0.9000 + 0"


def test_an_equal_challenger_is_promoted() -> None:
    assert decide(metrics(0.90), metrics(0.90), version="2", champion_version="1").promote


def test_a_worse_challenger_is_kept_out() -> None:
    decision = decide(metrics(0.85), metrics(0.90), version="2", champion_version="1")
    assert not decision.promote
    assert decision.reason == "kept version 1: accuracy 0.8500 < 0.9000"


@pytest.mark.parametrize(("challenger", "promoted"), [(0.905, False), (0.91, True), (0.92, True)])
def test_min_gain_raises_the_bar(challenger: float, promoted: bool) -> None:
    decision = decide(metrics(challenger), metrics(0.90), version="2", champion_version="1", min_gain=0.01)
    assert decision.promote is promoted


def test_force_promotes_a_worse_challenger_and_says_so() -> None:
    decision = decide(metrics(0.85), metrics(0.90), version="2", champion_version="1", force=True)
    assert decision.promote
    assert decision.reason == "promoted by FORCE although accuracy 0.8500 < 0.9000"


def test_without_a_champion_the_first_version_is_promoted() -> None:
    decision = decide(metrics(0.10), None, version="1", champion_version=None, min_gain=0.5)
    assert decision.promote
    assert decision.reason == "promoted: no production version yet"


def test_a_version_that_already_is_the_champion_stays() -> None:
    decision = decide(metrics(0.90), None, version="3", champion_version="3", min_gain=0.5)
    assert decision.promote
    assert decision.reason == "version 3 already is production"
