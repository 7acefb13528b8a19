"""The pipelines the package saves, exports and streams: scalers, then a model."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline

from ._preprocessing import SequenceScaler

__all__ = ["split_scaler_pipeline"]


def split_scaler_pipeline(model: Any, what: str) -> tuple[list[Any], Any]:
    """A ``Pipeline``'s :class:`~sk_mtgru.SequenceScaler` steps and its last step,
    or no scalers and ``model`` itself when it is not a pipeline.

    ``what`` names the caller in the ``TypeError`` raised for a pipeline with
    other steps before its last.
    """
    if not isinstance(model, Pipeline):
        return [], model
    *steps, (_, estimator) = model.steps
    scalers = [step for _, step in steps]
    if not scalers or not all(isinstance(step, SequenceScaler) for step in scalers):
        raise TypeError(
            f"{what} takes a fitted estimator of sk_mtgru or a Pipeline of "
            "SequenceScaler steps ending in one; this pipeline has "
            f"{[type(s).__name__ for s in scalers]} before its estimator."
        )
    return scalers, estimator
