"""What the estimators with numeric targets share: checks, scaling, losses, R²."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._encoding import TaskEncoding
from ._targets import Targets, check_targets
from ._windows import window_means

__all__ = [
    "REGRESSION_LOSSES",
    "RegressionTargetsMixin",
    "check_regression_targets",
    "numeric_column",
    "TARGET_LIMIT",
    "scaling_is_valid",
    "standardise",
]

REGRESSION_LOSSES = ("squared_error", "huber")


def check_regression_targets(Y: Any, n_samples: int, *, estimator: str) -> Targets:
    """Validate numeric ``Y``: one float64 column per target, NaN where missing.

    None counts as missing too. Infinite values, non-numeric values and a target
    without any value are errors.
    """
    targets = check_targets(Y, n_samples, estimator=estimator)
    columns = [
        numeric_column(
            column, targets.names[k] if targets.names else f"task_{k}", estimator
        )
        for k, column in enumerate(targets.columns)
    ]
    return Targets(
        columns=columns, names=targets.names, one_dimensional=targets.one_dimensional
    )


def numeric_column(column: np.ndarray, name: str, estimator: str) -> np.ndarray:
    """One target as float64, NaN where missing (None or NaN); errors for
    non-numeric or infinite values and for a target without any value."""
    if column.dtype == object:
        column = np.array(
            [np.nan if v is None else v for v in column.tolist()], dtype=object
        )
    if column.dtype.kind in "USb" or column.dtype.kind == "c":
        values = None
    else:
        try:
            values = np.asarray(column, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
    if values is None:
        example = next(
            (v for v in column.tolist() if not isinstance(v, (int, float))),
            column[0],
        )
        raise ValueError(
            f"{estimator} needs numeric targets, but target {name!r} holds "
            f"{example!r}. Encode it as numbers, or use MultiTaskGRUClassifier "
            "for class labels."
        )
    if np.isinf(values).any():
        raise ValueError(
            f"Input y contains infinity: target {name!r} of {estimator} has "
            "infinite values. Mark a missing target with NaN (or None)."
        )
    if np.isnan(values).all():
        raise ValueError(
            f"Input y contains NaN only: target {name!r} of {estimator} has no "
            "value at all; drop it or give some values."
        )
    return values


#: The largest magnitude of a regression target, as of a value of X: float32's.
#: Means and scales stay within it, so predictions in the targets' units are finite.
TARGET_LIMIT = float(np.finfo(np.float32).max)


def scaling_is_valid(mean: Any, scale: Any) -> bool:
    """Whether a target standardisation is one ``fit`` could make: means within
    :data:`TARGET_LIMIT`, scales positive and within it."""
    mean, scale = np.asarray(mean, dtype=float), np.asarray(scale, dtype=float)
    return bool(
        np.all(np.abs(mean) <= TARGET_LIMIT)
        and np.all((scale > 0) & (scale <= TARGET_LIMIT))
    )


def standardise(
    values: np.ndarray, unit_weights: np.ndarray, known: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column's mean and scale (``known``, or weighted by ``unit_weights``:
    a weight of 2 standardises as a repeated sample would; a constant column
    keeps scale 1) and the standardised values as float32, NaN kept."""
    labelled = values[~np.isnan(values)]
    if not (np.abs(labelled) <= TARGET_LIMIT).all():
        raise ValueError(
            f"y has values too large (beyond {TARGET_LIMIT:.3g} in magnitude) to "
            "predict in their units; scale the targets first (e.g. to thousands)."
        )
    if known is None:
        known_values = ~np.isnan(values)
        w = unit_weights[:, None] * known_values
        total = w.sum(axis=0)
        total[total <= 0] = 1.0  # every weight 0: any centre will do
        filled = np.where(known_values, values, 0.0)
        mean = (w * filled).sum(axis=0) / total
        scale = np.sqrt((w * (filled - mean) ** 2).sum(axis=0) / total)
        scale[~(scale > 0)] = 1.0
    else:
        mean, scale = known
    encoded = ((values - mean) / scale).astype(np.float32)
    if not np.isfinite(encoded[~np.isnan(values)]).all():
        raise ValueError(
            "y has values too far from those of the first fit to standardise in "
            "float32; fit afresh (warm_start=False)."
        )
    return mean, scale, encoded


def r2_of_labelled(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None
) -> float:
    """R² of one target over the rows where ``y_true`` is not NaN (NaN if none)."""
    labelled = ~np.isnan(y_true)
    if not labelled.any():
        return float("nan")
    weights = np.ones(len(y_true)) if sample_weight is None else sample_weight
    w, t, p = weights[labelled], y_true[labelled], y_pred[labelled]
    if w.sum() <= 0:
        return float("nan")
    mean = np.average(t, weights=w)
    total = np.sum(w * (t - mean) ** 2)
    residual = np.sum(w * (t - p) ** 2)
    if total == 0:  # as scikit-learn's r2_score: 1 if perfect, else 0
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


class RegressionTargetsMixin:
    """Numeric targets: the hooks of :class:`~sk_mtgru._base.BaseMultiTaskGRU` for
    the regressor.

    Each target is standardised with the mean and standard deviation of its
    values at the first fit (a constant target keeps scale 1), so that the
    network learns on a scale where every target weighs alike, and predictions
    are mapped back. A missing target (NaN) is left out of that target's loss.
    """

    #: How a safe file keeps these targets: each target's mean and scale.
    _targets_kind = "scaling"

    loss: str
    _y_mean: np.ndarray
    _y_scale: np.ndarray
    _fit: Any

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Train for one epoch on ``X``, continuing from the current weights.

        For data that arrives in chunks, or does not fit in memory at once: each
        call makes one pass over the given sequences and keeps the optimizer's
        state between calls. The targets and their standardisation are fixed by
        the first call. ``max_iter`` and ``early_stopping`` do not apply.
        A call that fails -- it diverges, raises or is interrupted -- leaves
        the model exactly as it was before it.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like of shape (n_samples, n_targets) or (n_samples,)
            Targets, those of the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sequence in every target's loss.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode(
        self,
        targets: Targets,
        task_names: list[str],
        known: Any,
        unit_weights: np.ndarray,
    ) -> tuple[TaskEncoding, np.ndarray]:
        """The targets' mean and scale, and the standardised targets (float32).

        The mean and standard deviation weigh each value by its sample weight, so
        that a weight of 2 standardises as a repeated sample would.
        """
        values = np.column_stack(targets.columns)
        scaling = None if known is None else (known.mean, known.scale)
        mean, scale, encoded = standardise(values, unit_weights, scaling)
        return TaskEncoding.of_scaling(mean, scale), encoded

    def _fitted_encoding(self) -> TaskEncoding:
        return TaskEncoding.of_scaling(self._y_mean, self._y_scale)

    def _loss_weight(
        self,
        targets: Targets,
        task_names: list[str],
        encoding: Any,
        encoded: np.ndarray,
        unit_weights: np.ndarray,
        incremental: bool,
    ) -> np.ndarray:
        """The unit's sample weight for each target it has; 0 where missing."""
        return (unit_weights[:, None] * ~np.isnan(encoded)).astype(np.float32)

    def _set_encoding(self, encoding: TaskEncoding, targets: Targets) -> None:
        self._y_mean, self._y_scale = encoding.mean, encoding.scale

    def _combine_windows(
        self, outputs: tuple[torch.Tensor, ...], owners: np.ndarray, n: int
    ) -> tuple[torch.Tensor, ...]:
        """Each sequence's prediction: the mean of its windows'."""
        return tuple(window_means(output, owners, n) for output in outputs)

    def _unscale(self, outputs: tuple[torch.Tensor, ...]) -> np.ndarray:
        """Predictions in the targets' units, ``(n_samples, n_targets)``."""
        standard = np.column_stack([o[..., 0].double().numpy() for o in outputs])
        return standard * self._y_scale + self._y_mean
