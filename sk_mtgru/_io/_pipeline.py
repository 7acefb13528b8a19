"""A pipeline's scalers in a safe file: each :class:`~sk_mtgru.SequenceScaler`'s
parameters and fitted arrays, and the pipeline's step names."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._frames import set_feature_names
from .._pipelines import split_scaler_pipeline
from .._preprocessing import SequenceScaler
from ._format import Reader, feature_names_entry, read_feature_names

__all__ = ["pipeline_document", "read_pipeline"]

# The SequenceScaler's fitted arrays, kept as tensors (None when not fitted).
_SCALER_ARRAYS = ("mean_", "scale_", "var_")


def pipeline_document(
    pipeline: Any,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The JSON description of a pipeline's scalers and their arrays."""
    scalers, _ = split_scaler_pipeline(pipeline, "sk_mtgru's safe format")
    names = [str(name) for name, _ in pipeline.steps]
    if pipeline.memory is not None:
        warnings.warn(
            "The pipeline's memory cache is not saved; the file records memory=None.",
            UserWarning,
            stacklevel=3,
        )
    steps: list[dict[str, Any]] = []
    tensors: dict[str, torch.Tensor] = {}
    for i, (name, scaler) in enumerate(zip(names, scalers)):
        check_is_fitted(scaler)
        steps.append(
            {
                "name": name,
                "params": scaler.get_params(),
                "fitted": {
                    "n_features_in": int(scaler.n_features_in_),
                    "n_samples_seen": int(scaler.n_samples_seen_),
                    "width_2d": scaler._width_2d,
                    "feature_names_in": feature_names_entry(scaler),
                },
            }
        )
        for attribute in _SCALER_ARRAYS:
            value = getattr(scaler, attribute)
            if value is not None:
                tensors[f"steps.{i}.{attribute}"] = torch.as_tensor(
                    np.asarray(value, dtype=np.float64)
                )
    steps.append({"name": names[-1]})
    return {"verbose": bool(pipeline.verbose), "steps": steps}, tensors


def read_pipeline(
    document: dict[str, Any], r: Reader, tensors: dict[str, torch.Tensor]
) -> tuple[list[tuple[str, Any]], dict[str, torch.Tensor]]:
    """The pipeline's fitted scalers, and the tensors left for the network."""
    pipeline = r.get(document, "pipeline", dict, "the file")
    r.get(pipeline, "verbose", bool, "pipeline")
    entries = r.get(pipeline, "steps", list, "pipeline")
    if len(entries) < 2:
        raise r.fail("pipeline.steps", "must list scalers and then the estimator.")
    names = [r.get(entry, "name", str, "pipeline.steps") for entry in entries]
    if len(set(names)) != len(names) or any("__" in n or not n for n in names):
        raise r.fail("pipeline.steps", "must have distinct names without '__'.")
    rest = dict(tensors)
    steps = []
    for i, entry in enumerate(entries[:-1]):
        where = f"pipeline.steps[{i}]"
        params = r.get(entry, "params", dict, where)
        if set(params) != {"with_mean", "with_std"} or not all(
            isinstance(v, bool) for v in params.values()
        ):
            raise r.fail(f"{where}.params", "must be SequenceScaler's two booleans.")
        fitted = r.get(entry, "fitted", dict, where)
        n_features = r.get(fitted, "n_features_in", int, f"{where}.fitted")
        n_seen = r.get(fitted, "n_samples_seen", int, f"{where}.fitted")
        width_2d = fitted.get("width_2d")
        if (
            n_features < 1
            or n_seen < 1
            or not (width_2d is None or (type(width_2d) is int and width_2d >= 1))
        ):
            raise r.fail(f"{where}.fitted", "has invalid sizes.")
        feature_names = read_feature_names(fitted, n_features, r, f"{where}.fitted")
        scaler = SequenceScaler(**params)
        arrays = {}
        for attribute in _SCALER_ARRAYS:
            tensor = rest.pop(f"steps.{i}.{attribute}", None)
            wanted = (
                attribute == "mean_"
                and params["with_mean"]
                or (attribute != "mean_" and params["with_std"])
            )
            if (tensor is None) == wanted:
                raise r.fail(
                    f"tensor 'steps.{i}.{attribute}'",
                    "is missing." if wanted else "is not expected.",
                )
            if tensor is not None:
                if tensor.dtype != torch.float64 or tuple(tensor.shape) != (
                    n_features,
                ):
                    raise r.fail(
                        f"tensor 'steps.{i}.{attribute}'",
                        f"must be float64 of shape ({n_features},).",
                    )
                values = tensor.numpy().copy()
                positive = attribute == "scale_"
                if not np.isfinite(values).all() or (positive and (values <= 0).any()):
                    raise r.fail(
                        f"tensor 'steps.{i}.{attribute}'", "has invalid values."
                    )
                tensor = values
            arrays[attribute] = tensor
        scaler.n_features_in_ = n_features
        scaler.n_samples_seen_ = n_seen
        scaler._width_2d = width_2d
        set_feature_names(scaler, feature_names)
        for attribute, value in arrays.items():
            setattr(scaler, attribute, value)
        steps.append((names[i], scaler))
    stray = sorted(key for key in rest if key.startswith("steps."))
    if stray:
        raise r.fail("tensors", f"include unexpected scaler arrays {stray}.")
    return steps, rest
