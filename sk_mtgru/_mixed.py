"""MultiTaskGRUEstimator: tasks of different kinds -- classes and numbers -- at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.multiclass import type_of_target

from ._base import (
    _BASE_CONSTRAINTS,
    _CLASSIFICATION_CONSTRAINTS,
    _SEQUENCE_NETWORK_CONSTRAINTS,
    BaseMultiTaskGRU,
)
from ._classification import _mean_probability_logits, check_given_classes
from ._regression import REGRESSION_LOSSES, numeric_column, standardise
from ._targets import (
    Targets,
    check_targets,
    class_weights,
    decode_predictions,
    encode_known,
    encode_targets,
    loss_weights,
    missing_mask,
)
from ._validation import StrOptions, entries_by_task
from ._windows import window_means

__all__ = ["MixedTargetsMixin", "MultiTaskGRUEstimator"]

# The kinds a task may be declared as; 'binary' and 'multiclass' are
# classification tasks whose number of classes is checked.
TASK_TYPES = ("classification", "binary", "multiclass", "regression")


class MixedTargetsMixin:
    """Targets of either kind, task by task: the hooks of
    :class:`~sk_mtgru._base.BaseMultiTaskGRU` for :class:`MultiTaskGRUEstimator`
    and the tagger.

    A classification task's labels are encoded as indices into its sorted
    classes (-1 where missing) and weighed by ``class_weight``; a regression
    task's values are standardised (NaN where missing). Both sit side by side in
    one float32 array.
    """

    task_types: Any
    missing_label: Any
    class_weight: Any
    loss: str
    classes_: Any
    task_types_: list[str]
    _y_mean: np.ndarray
    _y_scale: np.ndarray

    def _resolve_types(self, targets: Targets, task_names: list[str]) -> list[str]:
        """Each task's kind, from ``task_types`` or inferred, checked."""
        given = self.task_types
        if given is None:
            entries: list[Any] = [None] * targets.n_tasks
        elif isinstance(given, dict):
            entries = entries_by_task(given, task_names, "task_types", default=None)
        else:
            entries = list(given)
            if len(entries) != targets.n_tasks:
                raise ValueError(
                    f"task_types has {len(entries)} entries but y has "
                    f"{targets.n_tasks} task(s) {task_names}; give one per task, or "
                    "a dict keyed by task name."
                )
        kinds = []
        for name, entry, column in zip(task_names, entries, targets.columns):
            if entry is None:
                labelled = column[~missing_mask(column, self.missing_label)]
                continuous = len(labelled) and (
                    type_of_target(np.asarray(labelled.tolist())) == "continuous"
                )
                kinds.append("regression" if continuous else "classification")
                continue
            if entry not in TASK_TYPES:
                raise ValueError(
                    f"task_types gives task {name!r} the kind {entry!r}; use one of "
                    f"{list(TASK_TYPES)}."
                )
            kinds.append("regression" if entry == "regression" else "classification")
        self._declared = dict(zip(task_names, entries))
        return kinds

    def _encode(
        self,
        targets: Targets,
        task_names: list[str],
        known: Any,
        unit_weights: np.ndarray,
    ) -> tuple[dict[str, Any], np.ndarray]:
        """Class codes for the classification tasks, standardised values for the
        regression tasks, side by side in one float32 array."""
        kinds = (
            self._resolve_types(targets, task_names)
            if known is None
            else known["kinds"]
        )
        self._encoded_kinds = kinds
        n_units = len(targets.columns[0])
        encoded = np.empty((n_units, len(kinds)), dtype=np.float32)
        classes: list[np.ndarray | None] = [None] * len(kinds)
        mean = np.full(len(kinds), np.nan)
        scale = np.full(len(kinds), np.nan)
        which = [k for k, kind in enumerate(kinds) if kind == "classification"]
        if which:
            names = [task_names[k] for k in which]
            sub = Targets([targets.columns[k] for k in which], None, False)
            if known is None:
                found, codes = encode_targets(sub, names, self.missing_label)
                for k, task_classes in zip(which, found):
                    declared = self._declared.get(task_names[k])
                    n = len(task_classes)
                    if (declared == "binary" and n != 2) or (
                        declared == "multiclass" and n < 3
                    ):
                        raise ValueError(
                            f"task_types says task {task_names[k]!r} is {declared}, "
                            f"but it has {n} classes."
                        )
            else:
                found = [known["classes"][k] for k in which]
                codes = np.column_stack(
                    [
                        encode_known(column, c, name, self.missing_label)
                        for column, c, name in zip(sub.columns, found, names)
                    ]
                )
            encoded[:, which] = codes
            for k, task_classes in zip(which, found):
                classes[k] = task_classes
        numeric = [k for k, kind in enumerate(kinds) if kind == "regression"]
        if numeric:
            values = np.column_stack(
                [
                    numeric_column(
                        targets.columns[k], task_names[k], type(self).__name__
                    )
                    for k in numeric
                ]
            )
            scaling = (
                None
                if known is None
                else (known["mean"][numeric], known["scale"][numeric])
            )
            m, s, standard = standardise(values, unit_weights, scaling)
            encoded[:, numeric] = standard
            mean[numeric], scale[numeric] = m, s
        encoding = {"kinds": kinds, "classes": classes, "mean": mean, "scale": scale}
        return encoding, encoded

    def _fitted_encoding(self) -> dict[str, Any]:
        classes = self.classes_ if isinstance(self.classes_, list) else [self.classes_]
        return {
            "kinds": list(self.task_types_),
            "classes": classes,
            "mean": self._y_mean,
            "scale": self._y_scale,
        }

    def _loss_weight(
        self,
        targets: Targets,
        task_names: list[str],
        encoding: dict[str, Any],
        encoded: np.ndarray,
        unit_weights: np.ndarray,
        incremental: bool,
    ) -> np.ndarray:
        kinds = encoding["kinds"]
        weights = (unit_weights[:, None] * ~np.isnan(encoded)).astype(np.float32)
        which = [k for k, kind in enumerate(kinds) if kind == "classification"]
        if which:
            spec = self._classification_class_weight(task_names, kinds)
            if incremental and spec == "balanced":
                raise ValueError(
                    "class_weight='balanced' is not available to partial_fit; pass "
                    "{label: weight} dicts."
                )
            codes = encoded[:, which].astype(np.int64)
            per_class = class_weights(
                spec,
                [encoding["classes"][k] for k in which],
                codes,
                [task_names[k] for k in which],
                one_dimensional=False,
            )
            weights[:, which] = loss_weights(unit_weights, codes, per_class)
        return weights

    def _classification_class_weight(
        self, task_names: list[str], kinds: list[str]
    ) -> Any:
        """``class_weight`` restricted to the classification tasks."""
        spec = self.class_weight
        regression = {n for n, kind in zip(task_names, kinds) if kind == "regression"}
        if isinstance(spec, dict):
            named = sorted(regression & set(spec))
            if any(spec[n] is not None for n in named):
                raise ValueError(
                    f"class_weight weighs the classes of {named}, which are "
                    "regression tasks; give weights to classification tasks only."
                )
            return {n: w for n, w in spec.items() if n not in regression}
        if isinstance(spec, (list, tuple)):
            if len(spec) != len(task_names):
                raise ValueError(
                    f"class_weight has {len(spec)} entries but y has "
                    f"{len(task_names)} task(s): give one per task (None for the "
                    "regression tasks)."
                )
            bad = [n for n, w in zip(task_names, spec) if n in regression and w]
            if bad:
                raise ValueError(
                    f"class_weight weighs the classes of {bad}, which are "
                    "regression tasks; give them None."
                )
            return [w for n, w in zip(task_names, spec) if n not in regression]
        return spec

    def _n_outputs(self, encoding: dict[str, Any]) -> list[int]:
        return [1 if c is None else len(c) for c in encoding["classes"]]

    def _net_targets(self, encoding: dict[str, Any]) -> dict[str, Any]:
        scale = encoding["scale"]
        return {
            "task_kinds": list(encoding["kinds"]),
            "regression_loss": self.loss,
            "target_scales": [1.0 if np.isnan(s) else float(s) for s in scale],
            "target_means": [float(m) for m in encoding["mean"]],
        }

    def _set_encoding(self, encoding: dict[str, Any], targets: Targets) -> None:
        self.task_types_ = list(encoding["kinds"])
        classes = list(encoding["classes"])
        self.classes_ = classes[0] if targets.one_dimensional else classes
        self._y_mean, self._y_scale = encoding["mean"], encoding["scale"]
        self._y_frame = targets.names is not None and not targets.one_dimensional

    def _given_encoding(
        self, classes: Any, targets: Targets, task_names: list[str]
    ) -> dict[str, Any]:
        """``partial_fit``'s ``classes``: all the classes of each task, when every
        task is a classification task."""
        kinds = self._resolve_types(targets, task_names)
        if "regression" in kinds:
            raise ValueError(
                "partial_fit's classes fixes the classes of classification tasks; "
                "with regression tasks, let the first call's y fix them."
            )
        checked = check_given_classes(classes, targets, task_names)
        nan = np.full(len(kinds), np.nan)
        return {"kinds": kinds, "classes": checked, "mean": nan, "scale": nan}

    def _unscaled(self, k: int, standard: np.ndarray) -> np.ndarray:
        """Regression task ``k``'s standardised outputs in its units."""
        return standard * self._y_scale[k] + self._y_mean[k]


class MultiTaskGRUEstimator(MixedTargetsMixin, BaseMultiTaskGRU):
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
    n_tasks_, task_names_, n_features_in_, n_iter_, task_affinity_, history_, \
net_
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
        | _SEQUENCE_NETWORK_CONSTRAINTS
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
        input_statistics: bool = True,
        crop_length: int | None = None,
        sharing: str = "hard",
        n_experts: int | None = None,
        task_weights: Any = None,
        loss_balancing: Any = None,
        task_affinity_interval: int | None = 10,
        missing_label: Any = None,
        class_weight: Any = None,
        solver: str = "adamw",
        learning_rate_init: float = 3e-3,
        learning_rate: str = "one_cycle",
        max_grad_norm: float | None = 1.0,
        momentum: float = 0.9,
        alpha: float = 1e-2,
        batch_size: int = 32,
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
        self.input_statistics = input_statistics
        self.crop_length = crop_length
        self.sharing = sharing
        self.n_experts = n_experts
        self.task_weights = task_weights
        self.loss_balancing = loss_balancing
        self.task_affinity_interval = task_affinity_interval
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
