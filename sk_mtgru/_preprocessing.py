"""SequenceScaler: standardise each feature over every time step of every sequence."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._frames import check_feature_names, feature_names, set_feature_names
from ._validation import (
    STATISTICS_DTYPES,
    check_n_features,
    check_sequences,
    n_features_of,
    validate_params,
)

__all__ = ["SequenceScaler"]


class SequenceScaler(TransformerMixin, BaseEstimator):
    """Standardise each feature of sequences to zero mean and unit variance.

    The mean and standard deviation of a feature are taken over all time steps of all
    sequences, so sequences of different lengths weigh by their length, and no
    padding is involved. The output has the form of the input: a 3-D array stays a
    3-D array ``(n_samples, n_timesteps, n_features)``, a 2-D array of univariate
    sequences stays 2-D, and a list of ``(n_timesteps_i, n_features)`` arrays stays a
    list. Input arrays are never modified.

    Parameters
    ----------
    with_mean : bool, default=True
        Whether to subtract each feature's mean.
    with_std : bool, default=True
        Whether to divide by each feature's standard deviation. A constant feature
        keeps scale 1.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,) or None
        Mean of each feature; None when ``with_mean=False``.
    var_ : ndarray of shape (n_features,) or None
        Variance of each feature; None when ``with_std=False``.
    scale_ : ndarray of shape (n_features,) or None
        Divisor of each feature; None when ``with_std=False``.
    n_features_in_ : int
        Features per time step seen during ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features per step seen during ``fit``: the columns of an
        (instance, time) frame or of a list of frames. Defined only when they
        are all strings; ``predict`` then refuses other names or another order.
    n_samples_seen_ : int
        Number of time steps the statistics were computed over.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same on 2-D tabular data.
    MultiTaskGRUClassifier : The classifier this scaler prepares data for.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mtgru import SequenceScaler
    >>> X = [np.array([[0.0, 10.0], [2.0, 10.0]]), np.array([[4.0, 40.0]])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_.tolist()
    [2.0, 20.0]
    >>> [x.shape for x in scaler.transform(X)]
    [(2, 2), (1, 2)]
    """

    _parameter_constraints: dict = {"with_mean": ["boolean"], "with_std": ["boolean"]}

    def __init__(self, *, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X: Any, y: Any = None) -> SequenceScaler:
        """Compute each feature's mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
(n_samples, n_timesteps), or list of array-like of shape (n_timesteps_i, n_features)
            Sequences.
        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
        """
        validate_params(self)
        X_checked, self._width_2d = check_sequences(
            X, dtype=STATISTICS_DTYPES, estimator=type(self).__name__
        )
        n_features = n_features_of(X_checked)
        total = np.zeros(n_features)
        total_sq = np.zeros(n_features)
        count = 0
        # Overflow (values near float64's limit) is reported below, in words.
        with np.errstate(over="ignore", invalid="ignore"):
            for block in _blocks(X_checked):
                block64 = block.astype(np.float64, copy=False)
                mean = block64.mean(axis=0)
                # Sums of squared deviations per block, merged below, are stable
                # where raw sums of squares would cancel.
                total_sq += ((block64 - mean) ** 2).sum(axis=0) + _merge_term(
                    total, count, mean, len(block64)
                )
                total += block64.sum(axis=0)
                count += len(block64)
            mean = total / count
            var = total_sq / count
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
            raise ValueError(
                f"{type(self).__name__} cannot standardise X: its values are so large "
                "that their mean or variance overflows float64. Rescale X first."
            )
        self.n_features_in_ = n_features
        set_feature_names(self, feature_names(X))
        self.n_samples_seen_ = count
        self.mean_ = mean if self.with_mean else None
        if self.with_std:
            self.var_: np.ndarray | None = var
            scale = np.sqrt(var)
            # Constant features (up to rounding error, relative to their level)
            # keep their values' scale.
            eps = np.finfo(np.float64).eps
            scale[(var == 0) | (scale < 10 * eps * np.abs(mean))] = 1.0
            self.scale_: np.ndarray | None = scale
        else:
            self.var_ = None
            self.scale_ = None
        return self

    def transform(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Standardise sequences; the result has the form of ``X``.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        X_scaled : ndarray or list of ndarray
            Scaled copy of ``X``: same form and shapes; float32 input stays float32,
            other input becomes float64.
        """
        return self._apply(X, inverse=False)

    def inverse_transform(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Undo :meth:`transform`.

        Parameters
        ----------
        X : array-like or list of array-like
            Scaled sequences.

        Returns
        -------
        X_original : ndarray or list of ndarray
        """
        return self._apply(X, inverse=True)

    def _apply(self, X: Any, *, inverse: bool) -> np.ndarray | list[np.ndarray]:
        check_is_fitted(self)
        name = type(self).__name__
        check_feature_names(getattr(self, "feature_names_in_", None), X, name)
        X_checked, width_2d = check_sequences(
            X, dtype=STATISTICS_DTYPES, estimator=name, width_2d=self._width_2d
        )
        check_n_features(X_checked, self.n_features_in_, name)

        def scale(block: np.ndarray) -> np.ndarray:
            # In float64, then back to the block's dtype: float32 data may have
            # statistics that float32 itself cannot hold.
            values = block.astype(np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                if inverse:
                    if self.scale_ is not None:
                        values *= self.scale_
                    if self.mean_ is not None:
                        values += self.mean_
                else:
                    if self.mean_ is not None:
                        values -= self.mean_
                    if self.scale_ is not None:
                        values /= self.scale_
                out = values.astype(block.dtype)
            if not np.all(np.isfinite(out)):
                raise ValueError(
                    f"{name}: X {'un' if inverse else ''}scaled has values too large "
                    f"for {block.dtype}; these sequences lie far outside the range "
                    "seen at fit."
                )
            return out

        if not isinstance(X_checked, np.ndarray):
            return [scale(seq) for seq in X_checked]
        out = np.empty(X_checked.shape, dtype=X_checked.dtype)
        rows = max(1, (1 << 22) // max(1, X_checked[:1].nbytes))  # chunks of ~4 MB
        for start in range(0, len(X_checked), rows):
            out[start : start + rows] = scale(X_checked[start : start + rows])
        return out if width_2d is None else out[:, :, 0]

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _blocks(X: Any, rows: int = 1 << 16):
    """Yield ``(n_steps, n_features)`` blocks of validated sequences."""
    if not isinstance(X, np.ndarray):  # a list, or sequences read lazily
        yield from X
        return
    flat = X.reshape(-1, X.shape[2])
    for start in range(0, len(flat), rows):
        yield flat[start : start + rows]


def _merge_term(
    total: np.ndarray, count: int, block_mean: np.ndarray, block_count: int
) -> np.ndarray:
    """Chan et al.'s correction when merging two groups' squared deviations."""
    if count == 0:
        return np.zeros_like(block_mean)
    delta = block_mean - total / count
    return delta**2 * count * block_count / (count + block_count)
