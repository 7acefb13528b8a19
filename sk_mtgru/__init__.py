"""sk_mtgru: multi-task learning over sequences, as scikit-learn estimators.

A GRU encoder shared by all tasks, one output head per task, trained on a weighted
combination of the tasks' losses with skorch, behind scikit-learn's API.
"""

from ._estimator import MultiTaskGRUClassifier
from ._persistence import load
from ._preprocessing import SequenceScaler
from ._windows import sliding_windows

__version__ = "0.1.0"

__all__ = [
    "MultiTaskGRUClassifier",
    "SequenceScaler",
    "load",
    "sliding_windows",
    "__version__",
]
