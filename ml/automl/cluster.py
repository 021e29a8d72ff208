"""AdaNet across a Vertex AI job's replicas: each iteration's candidates trained in parallel.

The chief (worker pool 0) runs the search as one process would. At each iteration it
publishes a plan: the candidates, candidate i to replica i mod N (adanet's round-robin
placement), and until when they train. Every replica trains its own beside the frozen
ensemble and uploads, whole, what choosing among them takes: each candidate's weights, its
mixture head and its `valid` logits (ml/automl/exchange.py). The chief scores them all by the
same objective, keeps the best, and publishes the ensemble the next iteration trains beside.
The first iteration's screen (successive halving, rung after rung) runs on the chief alone.

Faults: a replica that fails, restarts (Vertex AI restarts a worker that exits non-zero) or
has reported nothing by the iteration's deadline plus `grace_s` is left out of that iteration,
its candidates recorded as dropped with the reason; the chief never waits longer. A chief that
restarts cannot resume a search: it fails the job, and nothing is published.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import IO

import numpy as np

from ml.automl.cluster_spec import Replica, task_of
from ml.automl.ensemble import Ensemble, Floats, Member
from ml.automl.exchange import POLL_S, Exchange
from ml.automl.generators import Generator, SubnetworkSpec
from ml.automl.iteration import Candidate, Dropped, Outcome, Training, member_logits
from ml.automl.pools import Problem, Round, score_round, train_share
from ml.automl.search import candidates_for
from ml.errors import ClusterError
from ml.records import JsonObject

GRACE_MIN_S = 5.0
GRACE_SHARE = 0.05
GRACE_MAX_S = 30.0


def grace_s(share_s: float) -> float:
    """How long past an iteration's deadline the chief waits for a replica: 5 s and a twentieth
    of the iteration's share of the time, at most 30 s. A replica lost in the last iteration
    makes the run end up to that much past its budget."""
    return min(GRACE_MAX_S, GRACE_MIN_S + GRACE_SHARE * share_s)


class ChiefPool:
    """The chief's side: a `Pool` (ml/automl/pools.py) that spreads each round over the job's replicas."""

    def __init__(self, exchange: Exchange, replica: Replica, digests: Mapping[str, str]) -> None:
        start = exchange.attempt(0)
        if start > 1:
            raise ClusterError(
                f"the chief restarted (start {start}): a search cannot resume where it stopped, so this job "
                "fails and publishes nothing; run train-publish again"
            )
        self.exchange, self.replicas, self.digests = exchange, replica.count, dict(digests)
        self.planned: set[int] = set()

    def run(self, problem: Problem, work: Round) -> Outcome:
        t, specs, training = work.t, work.specs, work.training
        assignment = [i % self.replicas for i in range(len(specs))]
        # A worker computes the members' logits once it has the plan, as the chief did before it:
        # it trains as long as the chief from then on, and reports by the deadline plus the grace.
        now, logits_s = time.monotonic(), time.monotonic() - work.started
        wall = time.time() - now  # added to a monotonic time, the wall clock's
        self._plan(t, specs, assignment, training, wall + now + logits_s + training.seconds, wall + work.deadline)
        candidates = train_share(problem, work, [i for i, r in enumerate(assignment) if r == 0])
        busy = [time.monotonic() - work.started]
        grace = grace_s(work.deadline - work.started)
        others, dropped = self._gather(t, specs, assignment, work.deadline + grace, grace)
        for replica_candidates, replica_busy in others:
            candidates += replica_candidates
            busy.append(replica_busy)
        candidates.sort(key=lambda c: c.index)
        return score_round(problem, work, candidates, dropped, max(busy))

    def decided(self, t: int, specs: Sequence[SubnetworkSpec], ensemble: Ensemble, valid_logits: Floats) -> None:
        if t not in self.planned:  # trained here alone (the screen): the workers learn its candidates' names
            self._plan(t, specs, [0] * len(specs), None, time.time(), time.time())
        self.exchange.put_ensemble(t, ensemble, valid_logits)

    def close(self, error: str | None = None) -> None:
        self.exchange.put_done(error)

    def _plan(
        self,
        t: int,
        specs: Sequence[SubnetworkSpec],
        assignment: list[int],
        training: Training | None,
        train_until: float,
        deadline: float,
    ) -> None:
        plan = {
            "iteration": t,
            "candidates": [s.name for s in specs],
            "assignment": assignment,
            "training": None
            if training is None
            else {
                "learning_rate": training.learning_rate,
                "batch_size": training.batch_size,
                "steps": training.steps,
                "min_steps": training.min_steps,
            },
            "train_until": train_until,
            "deadline": deadline,
            "digests": self.digests,
        }
        self.exchange.put_plan(t, plan)
        self.planned.add(t)

    def _gather(
        self, t: int, specs: Sequence[SubnetworkSpec], assignment: list[int], until: float, grace: float
    ) -> tuple[list[tuple[list[Candidate], float]], list[Dropped]]:
        """Each other replica's candidates and busy seconds, until `until`; the candidates of those
        that failed or are late, dropped."""
        waiting = set(assignment) - {0}
        gathered: list[tuple[list[Candidate], float]] = []
        dropped: list[Dropped] = []

        def drop(replica: int, reason: str) -> None:
            names = [specs[i].name for i, r in enumerate(assignment) if r == replica]
            dropped.extend(Dropped(name, replica, f"{task_of(replica)} {reason}") for name in names)

        while waiting:
            reports = self.exchange.reports(t)
            for replica in sorted(waiting & reports.keys()):
                if reports[replica] == "npz":
                    gathered.append(self.exchange.candidates(t, replica, specs))
                else:
                    drop(replica, self.exchange.failure(t, replica))
                waiting.discard(replica)
            if waiting and time.monotonic() >= until:
                for replica in sorted(waiting):
                    drop(replica, f"reported nothing by the iteration's deadline and {grace:.0f} s of grace")
                break
            if waiting:
                time.sleep(POLL_S)
        return gathered, dropped


def work(
    exchange: Exchange,
    replica: Replica,
    problem: Problem,
    generators: Sequence[Generator],
    width: int,
    digests: Mapping[str, str],
    patience_s: float,
    log: IO[str],
) -> int:
    """A worker's side: train the candidates each plan gives this replica, until the chief is done.

    Returns how many iterations it trained in. Raises `ClusterError` when its tables differ from
    the chief's, when the chief proposes candidates it cannot build (another image), or when the
    chief publishes nothing for `patience_s`.
    """
    start = exchange.attempt(replica.index)
    restarted = start > 1  # what it was training, if anything, is lost: the chief is told so
    known: dict[str, SubnetworkSpec] = {}
    ensemble, valid_logits = Ensemble(), np.zeros((len(problem.valid[1]), 0, problem.classes), np.float32)
    train_logits: dict[str, Floats] = {}
    build = functools.partial(_member, known, {}, problem)  # `known` grows as the plans come
    t, trained, heard = 0, 0, time.monotonic()
    while True:
        plan = exchange.plan(t)
        if plan is None:
            if exchange.done():
                return trained
            if time.monotonic() - heard > patience_s:
                raise ClusterError(
                    f"the chief published nothing for {patience_s:.0f} s after iteration {t}: it has stopped; "
                    "see its log (workerpool0-0)"
                )
            restarted = False  # between iterations: nothing was lost
            time.sleep(POLL_S)
            continue
        heard = time.monotonic()
        if plan["digests"] != dict(digests):
            raise ClusterError(
                f"{replica.task} read other rows than the chief ({digests} against {plan['digests']}): "
                "the tables changed while the job ran; run it again"
            )
        if t > 0:
            ensemble, valid_logits = exchange.ensemble(t - 1, build)
        specs = candidates_for(generators, ensemble.members, t, width)
        known |= {s.name: s for s in specs}
        if [s.name for s in specs[: len(plan["candidates"])]] != plan["candidates"]:
            raise ClusterError(
                f"the chief's candidates {plan['candidates']} are not the ones {replica.task} proposes "
                f"{[s.name for s in specs]}: the replicas run different code; give them one image"
            )
        mine = [i for i, r in enumerate(plan["assignment"]) if r == replica.index]
        decided = exchange.has_ensemble(t)  # the chief went on without it: nothing to do
        if mine and not decided and replica.index not in exchange.reports(t):
            if restarted:
                exchange.put_failure(t, replica.index, f"restarted (start {start}); what it was training is lost")
            else:
                _train(exchange, replica, problem, t, plan, specs, mine, ensemble, train_logits, valid_logits, log)
                trained += 1
        restarted = restarted and decided  # caught up: the iterations after this one are new to it
        t += 1


def _train(
    exchange: Exchange,
    replica: Replica,
    problem: Problem,
    t: int,
    plan: JsonObject,
    specs: Sequence[SubnetworkSpec],
    mine: list[int],
    ensemble: Ensemble,
    train_logits: dict[str, Floats],
    valid_logits: Floats,
    log: IO[str],
) -> None:
    begun = time.monotonic()
    stacked = np.zeros((len(problem.train[1]), 0, problem.classes), np.float32)
    for member in ensemble.members:  # each member's logits on `train`, computed once
        if member.spec.name not in train_logits:
            train_logits[member.spec.name] = member_logits(member, problem.train[0], problem.image_shape)
        stacked = np.concatenate([stacked, train_logits[member.spec.name][:, None, :].astype(np.float32)], axis=1)
    settings = plan["training"]
    seconds = max(plan["train_until"] - time.time(), 1.0)
    training = Training(
        settings["learning_rate"], settings["batch_size"], settings["steps"], seconds, min_steps=settings["min_steps"]
    )
    work = Round(t, specs, ensemble, stacked, valid_logits, training, begun, begun + seconds)
    print(f"iteration {t + 1}: training {', '.join(specs[i].name for i in mine)}", file=log, flush=True)
    try:
        candidates = train_share(problem, work, mine, replica.index)
    except Exception as error:
        exchange.put_failure(t, replica.index, f"failed: {type(error).__name__}: {error}")
        raise
    exchange.put_candidates(t, replica.index, candidates, time.monotonic() - begun)
    steps = max(c.steps for c in candidates)
    print(f"iteration {t + 1}: {steps} steps in {candidates[0].seconds:.1f} s, uploaded", file=log, flush=True)


def _member(
    known: Mapping[str, SubnetworkSpec],
    built: dict[str, Member],
    problem: Problem,
    name: str,
    weights: list[Floats],
    iteration: int,
) -> Member:
    """The member `name` of the chief's ensemble: built once, the first time an ensemble holds it."""
    if name not in built:
        spec = known.get(name)
        if spec is None:
            raise ClusterError(
                f"the chief's ensemble holds {name}, which no plan proposed: give the replicas one image"
            )
        built[name] = Member.frozen(spec, weights, iteration, problem.image_shape, problem.classes)
    return built[name]
