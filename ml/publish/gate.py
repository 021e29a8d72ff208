"""The champion/challenger gate: whether a new version takes the serving alias. A pure function."""

from __future__ import annotations

from dataclasses import dataclass

from ml.contracts import SERVING_ALIAS
from ml.records import Metrics


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    challenger: Metrics,
    champion: Metrics | None,
    *,
    version: str,
    champion_version: str | None,
    min_gain: float = 0.0,
    force: bool = False,
    champion_lost: str | None = None,
) -> Decision:
    """Promote `version` when it is at least as accurate as the champion plus `min_gain`, when there is
    no champion, when it already is the champion, when the champion's record or artifacts are gone
    (`champion_lost` says why: nothing can serve or evaluate it), or when `force` says so; the reason in words."""
    if champion_version == version:
        return Decision(True, f"version {version} already is {SERVING_ALIAS}")
    if champion_lost is not None:
        lost = f"{SERVING_ALIAS} version {champion_version} can be neither evaluated nor served"
        return Decision(True, f"promoted: {lost} ({champion_lost})")
    if champion is None:
        return Decision(True, f"promoted: no {SERVING_ALIAS} version yet")
    needed = champion.accuracy + min_gain
    if challenger.accuracy >= needed:
        return Decision(
            True, f"promoted: accuracy {challenger.accuracy:.4f} >= champion {champion.accuracy:.4f} + {min_gain:g}"
        )
    if force:
        return Decision(True, f"promoted by FORCE although accuracy {challenger.accuracy:.4f} < {needed:.4f}")
    return Decision(False, f"kept version {champion_version}: accuracy {challenger.accuracy:.4f} < {needed:.4f}")
