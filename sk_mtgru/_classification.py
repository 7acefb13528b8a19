"""What the estimators with class labels share: classes, class weights, windows."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._encoding import TaskEncoding
from ._targets import Targets, class_weights, encode_known, encode_targets, loss_weights
from ._windows import window_means

__all__ = ["ClassificationTargetsMixin"]


def _mean_probability_logits(
    logits: tuple[torch.Tensor, ...], owners: np.ndarray, n_sequences: int
) -> tuple[torch.Tensor, ...]:
    """Per sequence, the log of its windows' mean class probabilities: logits
    whose softmax is that mean."""
    return tuple(
        torch.log(
            window_means(torch.softmax(task.double(), dim=1), owners, n_sequences)
        )
        for task in logits
    )


def _balanced_entries(class_weight: Any) -> list[Any]:
    """The entries of a ``class_weight`` specification that may say 'balanced'."""
    if isinstance(class_weight, str):
        return [class_weight]
    if isinstance(class_weight, dict):
        return [v for v in class_weight.values() if isinstance(v, str)]
    if isinstance(class_weight, (list, tuple)):
        return [v for v in class_weight if isinstance(v, str)]
    return []


def check_given_classes(
    classes: Any, targets: Targets, task_names: list[str]
) -> list[np.ndarray]:
    """Validate ``partial_fit``'s ``classes``: all the classes of each task."""
    given = [classes] if targets.one_dimensional else list(classes)
    if len(given) != targets.n_tasks:
        raise ValueError(
            f"classes has {len(given)} entries but y has {targets.n_tasks} "
            "task(s): give the classes of each task (one array for a 1-D y)."
        )
    checked = []
    for name, task_classes in zip(task_names, given):
        unique = np.unique(np.asarray(task_classes))
        if unique.ndim != 1 or len(unique) < 2:
            raise ValueError(
                f"classes of task {name!r} must list at least 2 distinct labels, "
                f"got {task_classes!r}."
            )
        checked.append(unique)
    return checked


class ClassificationTargetsMixin:
    """Targets that are class labels: the hooks of
    :class:`~sk_mtgru._base.BaseMultiTaskGRU` for the classifier (the tagger and
    ``MultiTaskGRUEstimator`` mix kinds with ``MixedTargetsMixin``).

    Each task's labels are encoded as indices into its sorted classes (-1 where a
    label is missing); ``class_weight`` weighs them in the loss.
    """

    missing_label: Any
    #: How a safe file keeps these targets: each task's classes.
    _targets_kind = "classes"
    class_weight: Any
    classes_: Any
    _fit: Any

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> Any:
        """Train for one epoch on ``X``, continuing from the current weights.

        For data that arrives in chunks, or does not fit in memory at once: each call
        makes one pass over the given sequences and keeps the optimizer's state
        between calls. The tasks and their classes are fixed by the first call,
        from ``classes`` when given, else from that call's ``y``. ``max_iter`` and
        ``early_stopping`` do not apply.
        A call that fails -- it diverges, raises or is interrupted -- leaves
        the model exactly as it was before it.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like of shape (n_samples, n_tasks) or (n_samples,)
            Labels, with the tasks of the first call.
        classes : list of array-like, or array-like, default=None
            All the classes of each task (an array for a 1-D ``y``), when the first
            chunk may not show them all. Only read at the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sequence in every task's loss.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode(
        self,
        targets: Targets,
        task_names: list[str],
        known: Any,
        unit_weights: np.ndarray | None = None,
    ) -> tuple[TaskEncoding, np.ndarray]:
        """Each task's classes and the targets' integer codes (-1: missing); with
        ``known`` classes, codes in them."""
        if known is None:
            found, codes = encode_targets(targets, task_names, self.missing_label)
            return TaskEncoding.of_classes(found), codes
        classes = list(known.classes)
        codes = np.column_stack(
            [
                encode_known(column, task_classes, task_name, self.missing_label)
                for column, task_classes, task_name in zip(
                    targets.columns, classes, task_names
                )
            ]
        )
        return known, codes

    def _fitted_encoding(self) -> TaskEncoding:
        classes = self.classes_
        return TaskEncoding.of_classes(
            classes if isinstance(classes, list) else [classes]
        )

    def _given_encoding(
        self, classes: Any, targets: Targets, task_names: list[str]
    ) -> TaskEncoding:
        return TaskEncoding.of_classes(
            check_given_classes(classes, targets, task_names)
        )

    def _loss_weight(
        self,
        targets: Targets,
        task_names: list[str],
        encoding: TaskEncoding,
        codes: np.ndarray,
        unit_weights: np.ndarray,
        incremental: bool,
    ) -> np.ndarray:
        """Each unit's sample weight times its class's weight in each task, from
        ``class_weight``; 0 where the label is missing."""
        if incremental and "balanced" in _balanced_entries(self.class_weight):
            raise ValueError(
                "class_weight='balanced' is not available to partial_fit, which sees "
                "one chunk of the data at a time; compute each task's weights over "
                "all the data and pass them as {label: weight} dicts."
            )
        per_class = class_weights(
            self.class_weight,
            encoding.classes_of(range(encoding.n_tasks)),
            codes,
            task_names,
            one_dimensional=targets.one_dimensional,
        )
        return loss_weights(unit_weights, codes, per_class)

    def _set_encoding(self, encoding: TaskEncoding, targets: Targets) -> None:
        self.classes_ = encoding.fitted_classes(targets.one_dimensional)

    def _combine_windows(
        self, outputs: tuple[torch.Tensor, ...], owners: np.ndarray, n: int
    ) -> tuple[torch.Tensor, ...]:
        return _mean_probability_logits(outputs, owners, n)
