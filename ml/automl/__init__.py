"""The AdaNet algorithm (Cortes et al., ICML 2017) on Keras 3, as Google's `adanet` library ran it.

Each iteration trains a few candidate subnetworks beside the frozen ensemble built so far,
learns the mixture weights of each candidate ensemble, and keeps the candidate whose
ensemble minimises the complexity-regularised objective on the validation rows:

    F(w) = loss(sum_j w_j h_j) + sum_j (lambda * r(h_j) + beta) * |w_j|

where r(h) is a subnetwork's complexity (sqrt of its depth). The search stops at a
wall-clock deadline or an iteration limit and always ends with the best ensemble found.
"""

from ml.automl.ensemble import Ensemble, Member
from ml.automl.search import AdaNet, IterationRecord, SearchConfig
from ml.automl.subnetworks import CnnGenerator, DnnGenerator, Generator, SubnetworkSpec

__all__ = [
    "AdaNet",
    "CnnGenerator",
    "DnnGenerator",
    "Ensemble",
    "Generator",
    "IterationRecord",
    "Member",
    "SearchConfig",
    "SubnetworkSpec",
]
