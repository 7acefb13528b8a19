"""Tasks of mixed kinds: the hooks of the estimators whose tasks may each be a
classification or a regression (``MultiTaskGRUEstimator`` and the tagger)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.multiclass import type_of_target

from ._classification import check_given_classes
from ._encoding import TaskEncoding
from ._regression import numeric_column, standardise
from ._targets import (
    Targets,
    class_weights,
    encode_known,
    encode_targets,
    loss_weights,
    missing_mask,
)
from ._validation import per_task

__all__ = ["TASK_TYPES", "MixedTargetsMixin"]

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

    #: How a safe file keeps these targets: each task's kind, and its classes or
    #: scaling.
    _targets_kind = "tasks"

    task_types: Any
    missing_label: Any
    class_weight: Any
    loss: str
    classes_: Any
    task_types_: list[str]
    _y_mean: np.ndarray
    _y_scale: np.ndarray

    def _resolve_types(
        self, targets: Targets, task_names: list[str]
    ) -> tuple[list[str], dict[str, Any]]:
        """Each task's kind, from ``task_types`` or inferred, checked; and each
        task's entry of ``task_types`` (None where inferred)."""
        entries = per_task(
            self.task_types,
            task_names,
            "task_types",
            default=None,
            what="one kind per task",
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
        return kinds, dict(zip(task_names, entries))

    def _encode(
        self,
        targets: Targets,
        task_names: list[str],
        known: Any,
        unit_weights: np.ndarray,
    ) -> tuple[TaskEncoding, np.ndarray]:
        """Class codes for the classification tasks, standardised values for the
        regression tasks, side by side in one float32 array."""
        if known is None:
            kinds, declared = self._resolve_types(targets, task_names)
        else:
            kinds, declared = list(known.kinds), {}
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
                    said = declared.get(task_names[k])
                    n = len(task_classes)
                    if (said == "binary" and n != 2) or (
                        said == "multiclass" and n < 3
                    ):
                        raise ValueError(
                            f"task_types says task {task_names[k]!r} is {said}, "
                            f"but it has {n} classes."
                        )
            else:
                found = [known.classes[k] for k in which]
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
                None if known is None else (known.mean[numeric], known.scale[numeric])
            )
            m, s, standard = standardise(values, unit_weights, scaling)
            encoded[:, numeric] = standard
            mean[numeric], scale[numeric] = m, s
        return TaskEncoding.of(kinds, classes, mean, scale), encoded

    def _fitted_encoding(self) -> TaskEncoding:
        classes = self.classes_ if isinstance(self.classes_, list) else [self.classes_]
        return TaskEncoding.of(self.task_types_, classes, self._y_mean, self._y_scale)

    def _loss_weight(
        self,
        targets: Targets,
        task_names: list[str],
        encoding: TaskEncoding,
        encoded: np.ndarray,
        unit_weights: np.ndarray,
        incremental: bool,
    ) -> np.ndarray:
        weights = (unit_weights[:, None] * ~np.isnan(encoded)).astype(np.float32)
        which = encoding.indices("classification")
        if which:
            spec = self._classification_class_weight(task_names, encoding.kinds)
            if incremental and spec == "balanced":
                raise ValueError(
                    "class_weight='balanced' is not available to partial_fit; pass "
                    "{label: weight} dicts."
                )
            codes = encoded[:, which].astype(np.int64)
            per_class = class_weights(
                spec,
                encoding.classes_of(which),
                codes,
                [task_names[k] for k in which],
                one_dimensional=False,
            )
            weights[:, which] = loss_weights(unit_weights, codes, per_class)
        return weights

    def _classification_class_weight(
        self, task_names: list[str], kinds: tuple[str, ...]
    ) -> Any:
        """``class_weight`` restricted to the classification tasks."""
        spec = self.class_weight
        if spec is None or isinstance(spec, str):
            return spec
        entries = per_task(
            spec,
            task_names,
            "class_weight",
            default=None,
            what="one entry per task (None for the regression tasks)",
        )
        bad = [
            n
            for n, w, kind in zip(task_names, entries, kinds)
            if kind == "regression" and w is not None
        ]
        if bad:
            raise ValueError(
                f"class_weight weighs the classes of {bad}, which are "
                "regression tasks; give them None (or leave them out of a dict)."
            )
        return [w for w, kind in zip(entries, kinds) if kind == "classification"]

    def _set_encoding(self, encoding: TaskEncoding, targets: Targets) -> None:
        self.task_types_ = list(encoding.kinds)
        self.classes_ = encoding.fitted_classes(targets.one_dimensional)
        self._y_mean, self._y_scale = encoding.mean, encoding.scale
        self._y_frame = targets.names is not None and not targets.one_dimensional

    def _given_encoding(
        self, classes: Any, targets: Targets, task_names: list[str]
    ) -> TaskEncoding:
        """``partial_fit``'s ``classes``: all the classes of each task, when every
        task is a classification task."""
        kinds, _ = self._resolve_types(targets, task_names)
        if "regression" in kinds:
            raise ValueError(
                "partial_fit's classes fixes the classes of classification tasks; "
                "with regression tasks, let the first call's y fix them."
            )
        return TaskEncoding.of_classes(
            check_given_classes(classes, targets, task_names)
        )

    def _unscaled(self, k: int, standard: np.ndarray) -> np.ndarray:
        """Regression task ``k``'s standardised outputs in its units."""
        return standard * self._y_scale[k] + self._y_mean[k]
