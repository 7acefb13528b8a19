"""sk_mtgru: multi-task learning over sequences, as scikit-learn estimators.

A GRU encoder shared by all tasks, one output head per task, trained on a weighted
combination of the tasks' losses with skorch, behind scikit-learn's API:
:class:`MultiTaskGRUClassifier` labels whole sequences,
:class:`MultiTaskGRURegressor` predicts numbers for them,
:class:`MultiTaskGRUEstimator` mixes tasks of both kinds, and
:class:`MultiTaskGRUTagger` labels every time step.
"""

from ._classifier import MultiTaskGRUClassifier
from ._io import load, save
from ._mixed import MultiTaskGRUEstimator
from ._onnx import to_onnx
from ._preprocessing import SequenceScaler
from ._regressor import MultiTaskGRURegressor
from ._streaming import StreamingPredictor
from ._tagger import MultiTaskGRUTagger
from ._version import __version__
from ._windows import sliding_windows

__all__ = [
    "MultiTaskGRUClassifier",
    "MultiTaskGRUEstimator",
    "MultiTaskGRURegressor",
    "MultiTaskGRUTagger",
    "SequenceScaler",
    "StreamingPredictor",
    "load",
    "save",
    "sliding_windows",
    "to_onnx",
    "__version__",
]
