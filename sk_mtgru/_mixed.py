"""MultiTaskGRUEstimator: tasks of different kinds -- classes and numbers -- at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._base import _BASE_CONSTRAINTS, _CLASSIFICATION_CONSTRAINTS
from ._classification import _mean_probability_logits
from ._mixed_targets import MixedTargetsMixin
from ._regression import REGRESSION_LOSSES
from ._sequence import SEQUENCE_NETWORK_CONSTRAINTS, SequenceLevelGRU
from ._targets import (
    Targets,
    check_targets,
    decode_predictions,
)
from ._validation import StrOptions
from ._windows import window_means

__all__ = ["MultiTaskGRUEstimator"]


# The kinds a task may be declared as; 'binary' and 'multiclass' are
# classification tasks whose number of classes is checked.
class MultiTaskGRUEstimator(MixedTargetsMixin, SequenceLevelGRU):
    """Multi-task sequence model whose tasks are of different kinds.

    One shared GRU encoder, one head per task: a softmax head for a
    classification task, a linear head for a regression task -- for instance
    in-hospital mortality (binary), the diagnosis (multiclass) and the length of
    stay (a number) of the same recording. Each task's loss is its own
    (cross-entropy, or the squared error or Huber loss of its standardised
    values), and training minimises ``sum_k task_weights[k] * loss_k``. Losses
    of different kinds live on different scales: ``task_weights``,
    :func:`~sk_mtgru.model_selection.task_weight_grid` and ``loss_balancing``
    (``'uncertainty'`` was designed for exactly this) balance them.

    The network, its defaults and every training parameter are those of
    :class:`MultiTaskGRUClassifier` and :class:`MultiTaskGRURegressor`; see them
    for the parameters not listed here.

    **Not a classifier nor a regressor to scikit-learn.** It has no ``score``:
    ``GridSearchCV`` and ``cross_validate`` need a ``scoring``, for which
    :func:`sk_mtgru.metrics.task_scorer` scores any task with its own metric
    (``{"mortality": task_scorer("mortality", "roc_auc"), "los":
    task_scorer("los", "neg_mean_absolute_error")}``, with ``refit=`` naming
    the one that picks the model). An integer ``cv`` then means unshuffled
    ``KFold``: pass :class:`~sk_mtgru.model_selection.MultiTaskStratifiedKFold`
    instead.

    Parameters
    ----------
    task_types : None, list or dict, default=None
        The kind of each task: 'classification' (or 'binary' / 'multiclass',
        which also check the number of classes) or 'regression'; a list in the
        order of ``Y``'s columns, or a dict keyed by task name (tasks it leaves
        out are inferred). None infers every task: a column of non-integer
        numbers is a regression task, any other a classification task (as
        ``sklearn.utils.multiclass.type_of_target`` reads 'continuous').
    loss : {'squared_error', 'huber'}, default='squared_error'
        The loss of the regression tasks, on their standardised scale.
    missing_label : scalar or None, default=None
        A label meaning "no label" for the classification tasks, besides None
        and NaN, which always mean "missing" (for regression tasks too).
    class_weight : None, 'balanced', list or dict, default=None
        As :class:`MultiTaskGRUClassifier`'s, for the classification tasks: a
        list gives one entry per task (None for regression tasks), a dict names
        classification tasks, 'balanced' applies to every classification task.
    **other parameters
        ``hidden_size``, ``num_layers``, ..., ``warm_start``: as
        :class:`MultiTaskGRUClassifier`'s.

    Attributes
    ----------
    task_types_ : list of str
        Each task's kind, 'classification' or 'regression'.
    classes_ : list of (ndarray or None)
        The classes of each classification task; None for a regression task.
    n_tasks_, task_names_, n_features_in_, feature_names_in_, n_iter_, \
task_affinity_, task_groups_, history_, net_
        As :class:`MultiTaskGRUClassifier`'s; the history records
        ``train_acc_<task>`` for classification tasks and ``train_mse_<task>``
        for regression tasks.

    See Also
    --------
    MultiTaskGRUClassifier : Every task a classification task.
    MultiTaskGRURegressor : Every task a regression task.
    sk_mtgru.metrics.task_scorer : A scorer of one task, for searches.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sk_mtgru import MultiTaskGRUEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 12, 3))
    >>> Y = pd.DataFrame({"alarm": (X[:, :, 0].mean(1) > 0).astype(int),
    ...                   "level": 50 + X[:, :, 1].sum(1)})
    >>> model = MultiTaskGRUEstimator(hidden_size=8, max_iter=3, random_state=0)
    >>> model.fit(X, Y).task_types_
    ['classification', 'regression']
    >>> model.predict(X[:2]).dtypes.tolist()  # each task in its own type
    [dtype('int64'), dtype('float64')]
    >>> list(model.predict_proba(X[:2]))  # the classification tasks'
    ['alarm']
    """

    _parameter_constraints: dict = (
        _BASE_CONSTRAINTS
        | SEQUENCE_NETWORK_CONSTRAINTS
        | _CLASSIFICATION_CONSTRAINTS
        | {
            "task_types": [None, list, tuple, dict],
            "loss": [StrOptions(set(REGRESSION_LOSSES))],
        }
    )

    def __init__(
        self,
        hidden_size: int = 64,
        *,
        task_types: Any = None,
        loss: str = "squared_error",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        summary: str = "mean_max",
        task_layers: int = 0,
        conv_layers: int = 2,
        conv_channels: int = 64,
        conv_kernel_size: int = 5,
        conv_stride: int = 2,
        conv_dilation: int = 1,
        input_statistics: bool | str = True,
        random_features: int = 0,
        crop_length: int | None = None,
        sharing: str = "hard",
        n_experts: int | None = None,
        task_groups: Any = None,
        task_weights: Any = None,
        loss_balancing: Any = None,
        task_affinity_interval: int | None = None,
        task_affinity_measure: str = "lookahead",
        missing_label: Any = None,
        class_weight: Any = None,
        solver: str = "adamw",
        learning_rate_init: float = 3e-3,
        learning_rate: str = "one_cycle",
        max_grad_norm: float | None = 1.0,
        momentum: float = 0.9,
        alpha: float = 1e-2,
        batch_size: int | str = "auto",
        length_bucketing: bool = True,
        gru_kernel: str = "auto",
        max_iter: int = 100,
        early_stopping: bool | str = False,
        scoring: Any = None,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        device: str = "cpu",
        accelerator: Any = None,
        random_state: Any = None,
        n_threads: Any = "auto",
        verbose: int = 0,
        warm_start: bool = False,
    ) -> None:
        self.hidden_size = hidden_size
        self.task_types = task_types
        self.loss = loss
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.summary = summary
        self.task_layers = task_layers
        self.conv_layers = conv_layers
        self.conv_channels = conv_channels
        self.conv_kernel_size = conv_kernel_size
        self.conv_stride = conv_stride
        self.conv_dilation = conv_dilation
        self.input_statistics = input_statistics
        self.random_features = random_features
        self.crop_length = crop_length
        self.sharing = sharing
        self.n_experts = n_experts
        self.task_groups = task_groups
        self.task_weights = task_weights
        self.loss_balancing = loss_balancing
        self.task_affinity_interval = task_affinity_interval
        self.task_affinity_measure = task_affinity_measure
        self.missing_label = missing_label
        self.class_weight = class_weight
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.max_grad_norm = max_grad_norm
        self.momentum = momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.length_bucketing = length_bucketing
        self.gru_kernel = gru_kernel
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.scoring = scoring
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.accelerator = accelerator
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None
    ) -> MultiTaskGRUEstimator:
        """Train for one epoch on ``X``, continuing from the current weights.

        Each call makes one pass over the given sequences and keeps the optimizer's
        state between calls. The tasks, their kinds, the classification tasks'
        classes and the regression tasks' standardisation are fixed by the first
        call, from its ``y``: a later label unseen then is an error.
        A call that fails -- it diverges, raises or is interrupted -- leaves
        the model exactly as it was before it.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like of shape (n_samples, n_tasks) or DataFrame
            Labels and values, with the tasks of the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sequence in every task's loss.

        Returns
        -------
        self : MultiTaskGRUEstimator
            The estimator, trained one more epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    # ------------------------------------------------------- the base's hooks
    def _fit_targets(self, y: Any, X_checked: Any, name: str) -> Targets:
        return check_targets(y, len(X_checked), estimator=name)

    def _combine_windows(
        self, outputs: tuple[torch.Tensor, ...], owners: np.ndarray, n: int
    ) -> tuple[torch.Tensor, ...]:
        return tuple(
            _mean_probability_logits((output,), owners, n)[0]
            if kind == "classification"
            else window_means(output, owners, n)
            for output, kind in zip(outputs, self.task_types_)
        )

    # --------------------------------------------------------------- prediction
    def predict(self, X: Any) -> Any:
        """Every task's prediction, in its own type.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        Y_pred : DataFrame or ndarray of shape (n_samples, n_tasks)
            The most probable label of each classification task and the value of
            each regression task (in its units): a DataFrame with the task names
            as columns when ``Y`` was one at fit, else an object array (1-D for a
            1-D ``Y``).
        """
        return self._predictions(*self._logits(X))

    def _predictions(
        self, outputs: tuple[torch.Tensor, ...], lengths: np.ndarray
    ) -> Any:
        columns = []
        for k, (output, kind) in enumerate(zip(outputs, self.task_types_)):
            if kind == "classification":
                codes = output.argmax(dim=1).numpy()[:, np.newaxis]
                columns.append(decode_predictions([self.classes_[k]], codes)[:, 0])
            else:
                value = output[:, 0].double().numpy()
                columns.append(self._unscaled(k, value))
        if self._y_frame:
            import pandas as pd

            names = [str(n) for n in self.task_names_]
            return pd.DataFrame(dict(zip(names, columns)))
        Y_pred = np.empty((len(columns[0]), len(columns)), dtype=object)
        for k, column in enumerate(columns):
            Y_pred[:, k] = column
        return Y_pred[:, 0] if self._one_dimensional_y else Y_pred

    def predict_proba(self, X: Any) -> dict[str, np.ndarray]:
        """Class probabilities of the classification tasks.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        proba : dict of str to ndarray of shape (n_samples, n_classes_k)
            For each classification task, by name, its probabilities in the
            order of ``classes_[k]``.
        """
        return self._probabilities(*self._logits(X))

    def _probabilities(
        self, outputs: tuple[torch.Tensor, ...], lengths: np.ndarray
    ) -> dict[str, np.ndarray]:
        return {
            str(name): torch.softmax(output.double(), dim=1).numpy()
            for name, output, kind in zip(self.task_names_, outputs, self.task_types_)
            if kind == "classification"
        }
