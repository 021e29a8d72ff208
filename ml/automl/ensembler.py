"""How a candidate joins the ensemble: mixture weights learned under the AdaNet complexity penalty.

As in adanet, the ensembler is apart from the search: it builds each candidate ensemble's
mixture head, scores a candidate ensemble by the objective, and grows the ensemble by the
chosen candidate.

    F(w) = loss(sum_j w_j h_j) + sum_j (lambda * r(h_j) + beta) * |w_j|
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ml.automl.ensemble import Ensemble, Floats, Member, MixtureHead
from ml.automl.generators import SubnetworkSpec


@dataclass(frozen=True)
class Score:
    """A candidate ensemble on the validation rows."""

    objective: float
    """Validation cross-entropy plus the complexity penalty: what the search minimises."""
    loss: float
    accuracy: float
    penalty: float


@dataclass(frozen=True)
class ComplexityRegularizedEnsembler:
    """adanet's `ComplexityRegularizedEnsembler` with scalar mixture weights."""

    adanet_lambda: float = 0.005
    adanet_beta: float = 0.0

    def coefficients(self, specs: Sequence[SubnetworkSpec]) -> Floats:
        """lambda * r(h_j) + beta for each subnetwork."""
        return np.array([self.adanet_lambda * s.complexity + self.adanet_beta for s in specs], np.float32)

    def mix(self, ensemble: Ensemble, candidate: SubnetworkSpec, stacked: Any, name: str) -> tuple[MixtureHead, Any]:
        """The head mixing `stacked` (the members' logits, then the candidate's) and its output.

        The members keep their weights, scaled to make room for the candidate, which starts at
        their mean; the bias starts at the ensemble's.
        """
        count = len(ensemble.members)
        previous_mean = float(ensemble.weights.mean()) if count else 1.0
        initial = np.append(ensemble.weights, previous_mean).astype(np.float32) * (max(count, 1) / (count + 1))
        head = MixtureHead(self.coefficients([*(m.spec for m in ensemble.members), candidate]), initial, name=name)
        output = head(stacked)
        if ensemble.bias is not None:
            head.bias.assign(ensemble.bias)
        return head, output

    def score(
        self, logits: Floats, labels: npt.NDArray[np.int64], specs: Sequence[SubnetworkSpec], weights: Floats
    ) -> Score:
        loss = cross_entropy(logits, labels)
        penalty = float(np.sum(self.coefficients(specs) * np.abs(weights)))
        accuracy = float((logits.argmax(axis=1) == labels).mean())
        return Score(round(loss + penalty, 6), round(loss, 6), round(accuracy, 6), round(penalty, 6))

    def fit(
        self, members: Sequence[Member], stacked: Floats, labels: npt.NDArray[np.int64], steps: int = 300
    ) -> Ensemble:
        """An ensemble of frozen `members` whose mixture weights and bias minimise the objective on
        their logits `stacked` as `[N, members, classes]` (Adam, full batch, from equal weights)."""
        specs = [m.spec for m in members]
        coefficients = self.coefficients(specs).astype(np.float64)
        count, classes = stacked.shape[1], stacked.shape[2]
        params = np.concatenate([np.full(count, 1.0 / count), np.zeros(classes)])
        moment, second = np.zeros_like(params), np.zeros_like(params)
        one_hot = np.eye(classes)[labels]
        for step in range(1, steps + 1):
            weights, bias = params[:count], params[count:]
            logits = np.einsum("nmc,m->nc", stacked, weights) + bias
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            error = shifted / shifted.sum(axis=1, keepdims=True) - one_hot
            gradient = np.concatenate(
                [
                    np.einsum("nmc,nc->m", stacked, error) / len(labels) + coefficients * np.sign(weights),
                    error.mean(axis=0),
                ]
            )
            moment = 0.9 * moment + 0.1 * gradient
            second = 0.999 * second + 0.001 * gradient**2
            params -= 0.01 * (moment / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
        for member in members:
            member.model.trainable = False
        return Ensemble(list(members), params[:count].astype(np.float32), params[count:].astype(np.float32))

    def grow(self, ensemble: Ensemble, member: Member, weights: Floats, bias: Floats) -> Ensemble:
        """The ensemble with `member` added under the weights and bias its mixture head learned."""
        member.model.trainable = False
        return Ensemble([*ensemble.members, member], weights, bias)


def cross_entropy(logits: Floats, labels: npt.NDArray[np.int64]) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())
