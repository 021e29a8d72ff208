"""A worker replica of a training job: it trains what the chief's plans give it and publishes nothing.

The chief runs the search, exports and publishes (ml/training/run.py); a worker reads the same
rows, then trains its share of each iteration's candidates (ml/automl/cluster.py).
"""

from __future__ import annotations

import sys
import time
from typing import IO

from ml.automl.cluster import GRACE_MAX_S, work
from ml.automl.cluster_spec import Replica
from ml.automl.exchange import Exchange
from ml.context import Context
from ml.native_logs import quiet_stderr
from ml.training.device import training_device
from ml.training.run import TrainConfig, check_tables, digests, read_tables, threads_for_quota


def serve(
    context: Context, config: TrainConfig, exchange: Exchange, replica: Replica, *, log: IO[str] | None = None
) -> int:
    """Train this replica's candidates until the chief is done; how many iterations it trained in."""
    log = log or sys.stderr
    data = read_tables(context, config, log)
    classes, image_shape = check_tables(data)
    with quiet_stderr():  # as the chief does: TensorFlow's banners before its logging settings apply
        from ml.automl.ensembler import ComplexityRegularizedEnsembler
        from ml.automl.generators import GENERATORS
        from ml.automl.pools import Problem
        from ml.automl.search import SearchConfig
    training_device(config.device)  # as the chief: a GPU asked for and missing is one line, not a CPU run
    threads_for_quota()
    settings = SearchConfig(generators=config.generators, seed=config.seed, width=config.width)
    problem = Problem(
        image_shape,
        classes,
        settings.seed,
        (data["train"].images, data["train"].labels),
        (data["valid"].images, data["valid"].labels),
        ComplexityRegularizedEnsembler(settings.adanet_lambda, settings.adanet_beta),
        not settings.force_grow,
        time.monotonic(),
    )
    generators = [GENERATORS[name]() for name in settings.generators]
    print(f"replica {replica.index} of {replica.count}: waiting for the chief's plans", file=log, flush=True)
    # the chief plans at least once per iteration, and its iterations end within the budget
    patience = config.budget_s + GRACE_MAX_S
    return work(exchange, replica, problem, generators, settings.width, digests(data), patience, log)
