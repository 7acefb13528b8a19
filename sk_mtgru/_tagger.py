"""MultiTaskGRUTagger: a label per time step for every task (sequence labelling)."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import torch

from ._base import _BASE_CONSTRAINTS, _CLASSIFICATION_CONSTRAINTS, BaseMultiTaskGRU
from ._data import SequenceDataset, pad_sequences
from ._encoding import TaskEncoding
from ._mixed_targets import MixedTargetsMixin
from ._regression import REGRESSION_LOSSES
from ._tagger_module import MultiTaskGRUTaggerModule
from ._targets import Targets, decode_predictions, step_targets
from ._validation import StrOptions, per_task

__all__ = ["MultiTaskGRUTagger"]


def _side_by_side(columns: list[np.ndarray]) -> np.ndarray:
    """Columns of per-step predictions as one ``(n_steps, n_tasks)`` array, of
    their common dtype (object when they share none)."""
    try:
        dtype = np.result_type(*[c.dtype for c in columns])
    except TypeError:
        dtype = np.dtype(object)
    if dtype.kind not in "biuf":
        dtype = np.dtype(object) if len({c.dtype for c in columns}) > 1 else dtype
    steps = np.empty((len(columns[0]), len(columns)), dtype=dtype)
    for k, column in enumerate(columns):
        steps[:, k] = column
    return steps


class MultiTaskGRUTagger(MixedTargetsMixin, BaseMultiTaskGRU):
    """Multi-task sequence labelling: every task labels every time step.

    Stacked GRU layers read each sequence, in both directions by default, and each
    task's linear head maps a layer's outputs at every step to that task's class
    probabilities: ``y_{k,t} = softmax(W_k h_t + b_k)``. The layers are shared by
    all tasks; ``supervision_layers`` chooses, per task, the layer whose outputs
    feed its head, so that a low-level task can be supervised at a lower layer
    than the tasks that build on it (Søgaard and Goldberg, ACL 2016). Training
    minimises the weighted sum of the tasks' mean per-step cross-entropies, with
    the loss balancing, missing labels and class weights of
    :class:`MultiTaskGRUClassifier`. Padding never enters a loss or a metric, and
    never changes a real step's output: it comes after each sequence's end.

    Read more in the :ref:`User Guide <sequence_labelling>`.

    Parameters
    ----------
    hidden_size : int, default=32
        Size of each GRU layer's hidden state (per direction).
    num_layers : int, default=1
        Stacked GRU layers.
    bidirectional : bool, default=True
        Read each sequence in both directions, so that a step's label may depend
        on the steps after it. ``False`` gives a causal tagger, whose label for
        step ``t`` depends only on steps ``0 .. t`` -- for streaming use.
    dropout : float, default=0.0
        Dropout on every layer's outputs (between layers and before the heads).
    supervision_layers : sequence of int, dict or None, default=None
        The layer (0 = lowest, negative values count from the top as in Python)
        whose outputs feed each task's head: one entry per task, or a dict keyed
        by task name (tasks not named use the top layer). None: every task at
        the top layer.
    task_types : None, list or dict, default=None
        The kind of each task, as for :class:`MultiTaskGRUEstimator`: a label
        per step ('classification', 'binary', 'multiclass') or a value per step
        ('regression': a heart rate, a remaining time), standardised inside and
        predicted in its units. None infers it: non-integer numbers are a
        regression task. With regression tasks, ``predict_proba`` returns a dict
        of the classification tasks' probabilities, and ``score`` averages R²
        for them.
    loss : {'squared_error', 'huber'}, default='squared_error'
        The loss of the regression tasks, on their standardised scale.
    task_weights, loss_balancing, task_affinity_interval, task_affinity_measure, \
missing_label, \
class_weight, solver, learning_rate_init, learning_rate, max_grad_norm, momentum, \
alpha, \
length_bucketing, gru_kernel, \
early_stopping, scoring, validation_fraction, n_iter_no_change, tol, device, \
accelerator, random_state, n_threads, verbose, warm_start
        As for :class:`MultiTaskGRUClassifier`, with the same defaults
        (``task_weights=None``, ``loss_balancing=None``,
        ``task_affinity_interval=None``, ``task_affinity_measure='lookahead'``,
        ``missing_label=None``,
        ``class_weight=None``, ``solver='adamw'``, ``learning_rate_init=3e-3``,
        ``learning_rate='one_cycle'``, ``max_grad_norm=1.0``, ``momentum=0.9``,
        ``alpha=1e-2``, ``length_bucketing=True``,
        ``gru_kernel='auto'``, ``early_stopping=False``, ``scoring=None``,
        ``validation_fraction=0.1``, ``n_iter_no_change=10``, ``tol=1e-4``,
        ``device='cpu'``, ``accelerator=None``, ``random_state=None``,
        ``n_threads='auto'``,
        ``verbose=0``,
        ``warm_start=False``) and steps in place of sequences: a missing label
        leaves that step out of that task's loss and accuracy,
        ``class_weight='balanced'`` counts steps, and the history's accuracies are
        per step.
    batch_size : int or 'auto', default=32
        Sequences per training batch, as for the classifier, whose default is
        'auto'. A stream's every step is labelled, so few streams already give
        many labels: on the accuracy suite's stream segmentation (150 training
        streams), 'auto''s batches of 18 labelled fewer steps right than 32
        (0.727 against 0.734; ``benchmarks/results/batch_size_auto.txt`` and
        ``batch_size_32.txt``).
    max_iter : int, default=50
        Most epochs, as for the classifier, whose default is 100: on the accuracy
        suite's stream segmentation, 50 epochs labelled more steps right than
        100 (see the :ref:`benchmarks <accuracy_suite>`).

    Attributes
    ----------
    classes_ : list of ndarray, or ndarray
        Each task's classes (one array when ``y``'s label sequences were 1-D);
        None for a regression task.
    task_types_ : list of str
        Each task's kind, 'classification' or 'regression'.
    task_names_ : ndarray of str
        The tasks' names (DataFrame columns, else ``task_0``, ``task_1``, ...).
    n_tasks_ : int
        Number of tasks.
    n_features_in_ : int
        Features per time step.
    feature_names_in_ : ndarray of str
        As the classifier's: the feature columns' names, when ``fit`` saw them.
    supervision_layers_ : list of int
        The layer (0 = lowest) feeding each task's head.
    n_iter_ : int
        Epochs run by the last ``fit``.
    history_ : skorch History
        Per epoch: the training loss, each task's per-step loss and accuracy, and
        with ``early_stopping`` their validation figures.
    task_affinity_ : ndarray of shape (n_tasks, n_tasks) or None
        As the classifier's: the affinity of the tasks through the shared layers.
    best_epochs_ : dict or None
        With early stopping (``'per_task'`` too), the epoch whose weights each
        task's head has, and under ``'shared'`` the layers'.
    net_ : skorch NeuralNet
        The trained network.

    See Also
    --------
    MultiTaskGRUClassifier : One label per task for each whole sequence.

    Notes
    -----
    ``save`` writes the safe format :func:`sk_mtgru.load` reads; a causal tagger
    (``bidirectional=False``) predicts as the steps arrive with
    :class:`~sk_mtgru.StreamingPredictor`, and :func:`sk_mtgru.to_onnx` exports
    it.

    Examples
    --------
    >>> from sk_mtgru import MultiTaskGRUTagger
    >>> from sk_mtgru.datasets import make_multitask_sequences
    >>> X, Y = make_multitask_sequences(40, n_tasks=2, length=(8, 15),
    ...                                 per_step=True, random_state=0)
    >>> X[0].shape, Y[0].shape          # every step has a label for each task
    ((13, 4), (13, 2))
    >>> tagger = MultiTaskGRUTagger(hidden_size=8, num_layers=2, max_iter=2,
    ...                             supervision_layers=[0, 1], random_state=0)
    >>> Y_pred = tagger.fit(X, Y).predict(X)
    >>> Y_pred[0].shape
    (13, 2)
    >>> [len(p) for p in tagger.predict_proba(X[:3])]   # per task, per sequence
    [3, 3]
    """

    _per_step = True
    _parameter_constraints: dict = (
        _BASE_CONSTRAINTS
        | _CLASSIFICATION_CONSTRAINTS
        | {
            "supervision_layers": [None, "array-like", dict],
            "task_types": [None, list, tuple, dict],
            "loss": [StrOptions(set(REGRESSION_LOSSES))],
        }
    )

    def __init__(
        self,
        hidden_size: int = 32,
        *,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        supervision_layers: Any = None,
        task_types: Any = None,
        loss: str = "squared_error",
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
        batch_size: int | str = 32,
        length_bucketing: bool = True,
        gru_kernel: str = "auto",
        max_iter: int = 50,
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
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.supervision_layers = supervision_layers
        self.task_types = task_types
        self.loss = loss
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
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> MultiTaskGRUTagger:
        """Train for one epoch on ``X``, continuing from the current weights.

        Each call makes one pass over the given sequences and keeps the
        optimizer's state between calls. The tasks, their kinds, their classes
        (from ``classes`` when given) and the regression tasks' standardisation
        are fixed by the first call. ``max_iter`` and ``early_stopping`` do not
        apply.
        A call that fails -- it diverges, raises or is interrupted -- leaves
        the model exactly as it was before it.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : list of array-like of shape (n_timesteps_i, n_tasks) or (n_timesteps_i,)
            Per-step labels or values, with the tasks of the first call.
        classes : list of array-like, or array-like, default=None
            All the classes of each task (every task a classification task), when
            the first chunk may not show them all. Only read at the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sequence; each of its steps counts with it.

        Returns
        -------
        self : MultiTaskGRUTagger
            The estimator, trained one more epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # ------------------------------------------------------- the base's hooks
    def _fit_targets(self, y: Any, X_checked: Any, name: str) -> Targets:
        lengths = np.array([len(x) for x in X_checked])
        return step_targets(y, lengths, name)

    def _unit_weights(self, weights: np.ndarray, X_checked: Any) -> np.ndarray:
        """Each step counts with its sequence's weight."""
        return np.repeat(weights, [len(x) for x in X_checked])

    def _training_dataset(
        self,
        X_checked: Any,
        codes: np.ndarray,
        weights: np.ndarray,
        step_loss_weights: np.ndarray,
        encoding: TaskEncoding,
    ) -> SequenceDataset:
        values, lengths = pad_sequences(X_checked)
        step_weights = np.repeat(weights, lengths)
        n, longest, n_tasks = len(lengths), int(lengths.max()), codes.shape[1]
        steps = np.arange(longest)[None, :] < lengths[:, None]  # (n, longest) real
        # Padding reads as missing: -1 for a classification task, NaN for a
        # regression task (integer codes when every task is a classification).
        regression = np.array([kind == "regression" for kind in encoding.kinds])
        if regression.any():
            padded_codes = np.where(regression, np.nan, -1.0) * np.ones(
                (n, longest, 1), dtype=np.float32
            )
            padded_codes = padded_codes.astype(np.float32)
        else:
            padded_codes = np.full((n, longest, n_tasks), -1, dtype=np.int64)
            codes = codes.astype(np.int64)
        padded_codes[steps] = codes
        padded_loss = np.zeros((n, longest, n_tasks), dtype=np.float32)
        padded_loss[steps] = step_loss_weights
        padded_weights = np.zeros((n, longest), dtype=np.float32)
        padded_weights[steps] = step_weights
        return SequenceDataset(
            values,
            lengths,
            padded_codes,
            sample_weight=padded_weights,
            loss_weight=padded_loss,
        )

    def _module(
        self,
        n_features: int,
        n_outputs: list[int],
        task_names: list[str],
        groups: list[list[int]] | None = None,
    ) -> tuple[type[torch.nn.Module], dict[str, Any]]:
        if groups is not None:
            raise ValueError("the tagger's tasks share one network: no task groups")
        return MultiTaskGRUTaggerModule, {
            "n_features": n_features,
            "n_classes": n_outputs,
            "layers": self._check_supervision_layers(task_names),
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "gru_kernel": self.gru_kernel,
        }

    def _fitted_architecture(self) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        module = self.net_.module_
        gru = module.grus[0]
        names = ("hidden_size", "num_layers", "bidirectional")
        return names, (gru.hidden_size, module.num_layers, module.bidirectional)

    @property
    def supervision_layers_(self) -> list[int]:
        """The layer each task's head reads, as fitted (read from the network)."""
        return list(self.net_.module_.layers)

    def _check_continuation(
        self, X_checked: Any, task_names: list[str], how: str
    ) -> None:
        super()._check_continuation(X_checked, task_names, how)
        layers = self._check_supervision_layers(task_names)
        if layers != self.supervision_layers_:
            raise ValueError(
                f"{how} cannot continue a fit whose heads read layers "
                f"{self.supervision_layers_} with supervision_layers giving {layers}. "
                "Fit with warm_start=False to start afresh."
            )

    def _check_supervision_layers(self, task_names: list[str]) -> list[int]:
        top = self.num_layers - 1
        layers = per_task(
            self.supervision_layers,
            task_names,
            "supervision_layers",
            default=top,
            what="one layer per task",
        )
        checked = []
        for name, layer in zip(task_names, layers):
            if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, Integral):
                raise TypeError(
                    f"supervision_layers gives task {name!r} the layer {layer!r}; "
                    "layers are ints (0 = lowest, -1 = top)."
                )
            if not -self.num_layers <= int(layer) < self.num_layers:
                raise ValueError(
                    f"supervision_layers gives task {name!r} the layer {layer}, but "
                    f"the network has num_layers={self.num_layers} (layers 0 .. "
                    f"{top}, or -{self.num_layers} .. -1 from the top)."
                )
            checked.append(int(layer) % self.num_layers)
        return checked

    # --------------------------------------------------------------- prediction

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities of every task at every step.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        proba : list over tasks of lists of ndarray of shape (n_timesteps_i, \
n_classes_k)
            ``proba[k][i][t]``: task ``k``'s probabilities at step ``t`` of sequence
            ``i``, in the order of ``classes_[k]``. Without the outer list when the
            label sequences were 1-D at fit. With regression tasks, a dict of the
            classification tasks' such lists, by task name.
        """
        return self._probabilities(*self._logits(X))

    def _probabilities(
        self, logits: tuple[torch.Tensor, ...], lengths: np.ndarray
    ) -> Any:
        probas = {}
        for name, task, kind in zip(self.task_names_, logits, self.task_types_):
            if kind == "classification":
                p = torch.softmax(task.double(), dim=-1).numpy()
                probas[str(name)] = [p[i, :n] for i, n in enumerate(lengths)]
        if "regression" in self.task_types_:
            return probas
        tasks = list(probas.values())
        return tasks[0] if self._one_dimensional_y else tasks

    def predict(self, X: Any) -> list[np.ndarray]:
        """Most probable label of every task at every step.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        Y_pred : list of ndarray of shape (n_timesteps_i, n_tasks), or (n_timesteps_i,)
            One array per sequence, in the original labels (and, for regression
            tasks, values in their units); 1-D arrays when the label sequences
            were 1-D at fit.
        """
        return self._predictions(*self._logits(X))

    def _predictions(
        self, logits: tuple[torch.Tensor, ...], lengths: np.ndarray
    ) -> list[np.ndarray]:
        real = np.arange(logits[0].shape[1])[None, :] < lengths[:, None]
        classes = [self.classes_] if self._one_dimensional_y else self.classes_
        columns = []
        for k, (task, kind) in enumerate(zip(logits, self.task_types_)):
            if kind == "regression":
                columns.append(self._unscaled(k, task[..., 0].double().numpy()[real]))
            else:
                codes = task.argmax(dim=-1).numpy()[real][:, np.newaxis]
                columns.append(decode_predictions([classes[k]], codes)[:, 0])
        steps = _side_by_side(columns)
        if self._one_dimensional_y:
            steps = steps[:, 0]
        return np.split(steps, np.cumsum(lengths)[:-1])

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over tasks of each task's per-step accuracy (R² for a regression
        task).

        Each task is scored on the steps labelled for it (see ``missing_label``);
        a task with no labelled step in ``y`` is left out of the mean. To score
        tasks of different kinds on their own, use
        :func:`sk_mtgru.metrics.task_scorer`.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : list of array-like of shape (n_timesteps_i, n_tasks) or (n_timesteps_i,)
            True labels of every step, with the tasks of ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence; each of its steps counts with it.

        Returns
        -------
        score : float
            The mean over tasks of each one's per-step score.
        """
        return self._score(X, y, sample_weight)

    def _score_units(self, predictions: Any) -> np.ndarray:
        steps = np.concatenate(predictions)
        return steps[:, np.newaxis] if steps.ndim == 1 else steps

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = False
        return tags
