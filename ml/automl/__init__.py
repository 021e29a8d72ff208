"""The AdaNet algorithm (Cortes et al., ICML 2017) on Keras 3, as Google's `adanet` library ran it.

    generators.py   what may join the ensemble: candidate subnetworks per iteration, augmentation families
    augment.py      the augmentation layer: rotation, scaling, shifts and mirroring in one resampling
    ensemble.py     the ensemble: frozen members mixed by scalar weights
    ensembler.py    how a candidate joins: mixture weights under the complexity penalty, the objective
    pipeline.py     the batches the search trains and predicts on, without tf.data's autotuning stalls
    iteration.py    one iteration: train the candidates beside the frozen ensemble, score them
    screen.py       the first iteration: successive halving over the candidates, fitting the search to the data
    search.py       the search: iterations within a deadline, returning the best ensemble found
    pools.py        where an iteration's candidates train: a `Pool`, in this process by default
    cluster_spec.py this process's place in a Vertex AI job, from CLUSTER_SPEC
    cluster.py      the pool over a job's replicas: round-robin candidates, the chief's choice, faults
    exchange.py     what the replicas tell each other, as objects in the models bucket

    F(w) = loss(sum_j w_j h_j) + sum_j (lambda * r(h_j) + beta) * |w_j|

where r(h) is a subnetwork's complexity (sqrt of its depth).

Import from the modules: this package imports nothing, so that naming a generator does not
load Keras.
"""
