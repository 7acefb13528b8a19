"""Saving and loading a model: the dispatcher of the safe format.

:func:`save` writes an estimator (and a pipeline's scalers): its parameters, its
network (:mod:`._network`), its targets in the layout of its kind
(:mod:`._targets`) and the rest of its fitted state; :func:`load` reads them
back through the same modules, refusing anything a fit could not have made, and
sets the fitted state through the estimator's own ``_set_fitted``. No estimator
class is named here: files name them, through the registry (:mod:`._registry`).
"""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from typing import Any

import numpy as np
import sklearn
import skorch
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from .._targets import Targets
from .._validation import validate_params
from ..balancing import ALIASES, LossBalancing
from ._format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_EPOCHS,
    Reader,
    check_digest,
    check_header,
    feature_names_entry,
    is_plain,
    package_version,
    read_feature_names,
    read_file,
    write_file,
)
from ._legacy import ADDED_PARAMS, FORMAT_1_PARAMS
from ._network import build_network, module_document, read_module
from ._pipeline import pipeline_document, read_pipeline
from ._registry import estimator_class, names, registered
from ._targets import LAYOUTS

__all__ = ["save", "load"]


def save(model: Any, path: str | os.PathLike) -> None:
    """Write a fitted estimator of sk_mtgru, or a ``Pipeline`` of
    :class:`~sk_mtgru.SequenceScaler` steps ending in one, to ``path`` in the safe
    format: weights in safetensors, everything else as JSON, no pickle.

    The file follows the process's umask, as files written by ``open`` (and
    joblib) do.

    Parameters
    ----------
    model : estimator of sk_mtgru or Pipeline
        The fitted model.
    path : str or path-like
        Where to write; by convention ending in ``.safetensors``.

    Raises
    ------
    TypeError
        If ``model`` is neither an estimator of sk_mtgru nor such a pipeline.

    See Also
    --------
    sk_mtgru.load : Read such a file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> import sk_mtgru
    >>> X = np.random.default_rng(0).normal(5, 3, size=(20, 6, 2))
    >>> Y = np.column_stack([np.arange(20) % 2, np.arange(20) % 3])
    >>> pipe = make_pipeline(
    ...     sk_mtgru.SequenceScaler(),
    ...     sk_mtgru.MultiTaskGRUClassifier(hidden_size=4, max_iter=1),
    ... ).fit(X, Y)
    >>> path = os.path.join(tempfile.mkdtemp(), "pipeline.safetensors")
    >>> sk_mtgru.save(pipe, path)
    >>> bool((sk_mtgru.load(path).predict(X) == pipe.predict(X)).all())
    True
    """
    pipeline: dict[str, Any] | None = None
    scaler_tensors: dict[str, torch.Tensor] = {}
    if isinstance(model, Pipeline):
        pipeline, scaler_tensors = pipeline_document(model)
        estimator = model.steps[-1][1]
    else:
        estimator = model
    if not registered(estimator):
        raise TypeError(
            f"sk_mtgru's safe format holds {', '.join(names())} models and "
            "Pipelines of SequenceScaler steps ending in one; got "
            f"{type(estimator).__name__}. Use joblib for other models."
        )
    document, tensors = _estimator_document(estimator)
    if pipeline is not None:
        document["pipeline"] = pipeline
    write_file(document, tensors | scaler_tensors, os.fspath(path))


def _estimator_document(
    estimator: Any,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """An estimator's JSON description and its network's tensors."""
    check_is_fitted(estimator)
    name = type(estimator).__name__
    params = _plain_params(estimator)
    targets = LAYOUTS[estimator._targets_kind].write(estimator)
    module = estimator.net_.module_
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": {
            "sk_mtgru": package_version(),
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "skorch": skorch.__version__,
        },
        "estimator": name,
        "params": params,
        "module": module_document(module, tagger=estimator._per_step),
        "fitted": {
            "task_names": [str(n) for n in estimator.task_names_],
            **targets,
            "one_dimensional": bool(estimator._one_dimensional_y),
            "n_features_in": int(estimator.n_features_in_),
            "feature_names_in": feature_names_entry(estimator),
            "width_2d": estimator._width_2d,
            "n_iter": int(estimator.n_iter_),
            "best_epochs": estimator.best_epochs_,
            "history": [
                {k: v for k, v in epoch.items() if k != "batches"}
                for epoch in estimator.history_
            ],
        },
    }
    tensors = {
        key: value.detach().to("cpu").contiguous()
        for key, value in module.state_dict().items()
    }
    return document, tensors


def _plain_params(estimator: Any) -> dict[str, Any]:
    """``get_params()`` as JSON values."""
    params = estimator.get_params(deep=False)
    if not (
        params["random_state"] is None or isinstance(params["random_state"], Integral)
    ):
        warnings.warn(
            "random_state is a RandomState instance, which the safe format cannot "
            "store; the file records random_state=None.",
            UserWarning,
            stacklevel=4,
        )
        params["random_state"] = None
    if params.get("accelerator") is not None:
        warnings.warn(
            "The accelerator is not saved: it belongs to the processes that "
            "trained; the file records accelerator=None.",
            UserWarning,
            stacklevel=4,
        )
        params["accelerator"] = None
    if isinstance(params["task_weights"], np.ndarray):
        params["task_weights"] = params["task_weights"].tolist()
    if isinstance(params["device"], torch.device):
        params["device"] = str(params["device"])
    balancing = params["loss_balancing"]
    if isinstance(balancing, LossBalancing):
        if ALIASES.get(balancing.alias) is not type(balancing):
            raise ValueError(
                f"loss_balancing={balancing!r} is not one of sk_mtgru's strategies, "
                "which the safe format cannot store. Use joblib for this model."
            )
        params["loss_balancing"] = {
            "strategy": balancing.alias,
            "params": balancing.get_params(),
        }
    return params


def load(path: str | os.PathLike) -> Any:
    """Load a model written by :func:`sk_mtgru.save` or an estimator's ``save``.

    Only tensors and JSON are read: nothing from the file is executed. The file's
    format version must be one this package reads; a file written by an older
    version of sk_mtgru loads with a warning naming both versions.

    Parameters
    ----------
    path : str or path-like
        The model file.

    Returns
    -------
    model : estimator of sk_mtgru or Pipeline
        The fitted estimator (or the pipeline of scalers and estimator that was
        saved), on the CPU unless its ``device`` is available here.

    Raises
    ------
    ValueError
        If the file is not an sk_mtgru model file, was written in a newer format,
        or holds values of unexpected types or shapes, or parameters that disagree
        with its network.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import sk_mtgru
    >>> X = np.random.default_rng(0).normal(size=(20, 6, 2))
    >>> Y = np.column_stack([np.arange(20) % 2, np.arange(20) % 3])
    >>> clf = sk_mtgru.MultiTaskGRUClassifier(hidden_size=4, max_iter=1).fit(X, Y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> clf.save(path)
    >>> bool((sk_mtgru.load(path).predict(X) == clf.predict(X)).all())
    True
    """
    path = os.fspath(path)
    document, tensors = read_file(path)
    r = Reader(path)
    version, name = check_header(document, r)
    check_digest(document, tensors, version, r)
    steps: list[tuple[str, Any]] = []
    if "pipeline" in document:
        if version < 3:
            raise r.fail("pipeline", f"is not part of format {version}.")
        steps, tensors = read_pipeline(document, r, tensors)
    estimator = _read_params(document, r, version, name)
    estimator_type = estimator_class(name)
    config = read_module(document, r, version, tagger=estimator_type._per_step)
    fitted = _read_fitted(document, r, config, estimator_type._targets_kind)
    net = build_network(
        estimator, config, fitted["task_names"], fitted["encoding"], tensors, r
    )
    net.history = History(fitted["history"])
    # the targets as fit saw them: named when predictions come as a DataFrame
    names = fitted["task_names"] if fitted["y_frame"] else None
    estimator._set_fitted(
        net,
        n_iter=fitted["n_iter"],
        width_2d=fitted["width_2d"],
        task_names=fitted["task_names"],
        n_features=fitted["n_features_in"],
        encoding=fitted["encoding"],
        targets=Targets(
            columns=[], names=names, one_dimensional=fitted["one_dimensional"]
        ),
        best_epochs=fitted["best_epochs"],
        feature_names=fitted["feature_names_in"],
    )
    if not steps:
        return estimator
    last = r.get(document["pipeline"]["steps"][-1], "name", str, "pipeline.steps")
    if any(step.n_features_in_ != estimator.n_features_in_ for _, step in steps):
        raise r.fail("pipeline", "has a scaler whose features differ from the model's.")
    return Pipeline(
        [*steps, (last, estimator)], verbose=document["pipeline"]["verbose"]
    )


def _read_params(document: dict[str, Any], r: Reader, version: int, name: str) -> Any:
    """The unfitted estimator the file's ``params`` describe, validated."""
    estimator_type = estimator_class(name)
    params = r.get(document, "params", dict, "the file")
    if version == 1:
        params = FORMAT_1_PARAMS | params
    known = estimator_type().get_params(deep=False)
    params = {k: v for k, v in ADDED_PARAMS.items() if k in known} | params
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise r.fail("params", f"has unknown parameter(s) {unknown}.")
    for key, value in params.items():
        if not isinstance(value, (type(None), bool, int, float, str, list, dict)):
            raise r.fail(
                f"params.{key}", f"has a value of type {type(value).__name__}."
            )
    if isinstance(params.get("task_weights"), list):
        params["task_weights"] = tuple(params["task_weights"])
    if isinstance(params.get("loss_balancing"), dict):
        strategy = r.get(
            params["loss_balancing"], "strategy", str, "params.loss_balancing"
        )
        arguments = r.get(
            params["loss_balancing"], "params", dict, "params.loss_balancing"
        )
        if strategy not in ALIASES:
            raise r.fail(
                "params.loss_balancing", f"names an unknown strategy {strategy!r}."
            )
        try:
            params["loss_balancing"] = ALIASES[strategy](**arguments)
        except TypeError as exc:
            raise r.fail(
                "params.loss_balancing", f"has invalid parameters: {exc}"
            ) from exc
    estimator = estimator_type(**params)
    try:
        validate_params(estimator)
        estimator._parsed_device()
    except (ValueError, TypeError) as exc:
        raise r.fail("params", f"are invalid: {exc}") from exc

    return estimator


def _read_fitted(
    document: dict[str, Any], r: Reader, config: dict[str, Any], targets_kind: str
) -> dict[str, Any]:
    """The fitted attributes: task names, classes or target scaling, history, ...,
    checked against the network."""
    fitted = r.get(document, "fitted", dict, "the file")
    task_names = r.get(fitted, "task_names", list, "fitted")
    if not all(isinstance(t, str) for t in task_names):
        raise r.fail("fitted.task_names", "must be a list of str.")
    if len(set(task_names)) != len(task_names):
        raise r.fail("fitted.task_names", "must be distinct, as fit makes them.")
    encoding, y_frame = LAYOUTS[targets_kind].read(
        fitted, r, task_names, config["n_classes"]
    )
    one_dimensional = r.get(fitted, "one_dimensional", bool, "fitted")
    if one_dimensional and len(task_names) != 1:
        raise r.fail("fitted.one_dimensional", "is true for several tasks.")
    n_features_in = r.get(fitted, "n_features_in", int, "fitted")
    if n_features_in != config["n_features"]:
        raise r.fail("fitted.n_features_in", "differs from the network's input size.")
    names = read_feature_names(fitted, n_features_in, r, "fitted")
    width_2d = fitted.get("width_2d")
    if width_2d is not None and (type(width_2d) is not int or width_2d < 1):
        raise r.fail("fitted.width_2d", "must be an int >= 1 or null.")
    n_iter = r.get(fitted, "n_iter", int, "fitted")
    history = r.get(fitted, "history", list, "fitted")
    if len(history) > MAX_EPOCHS:
        raise r.fail("fitted.history", f"has more than {MAX_EPOCHS} epochs.")
    if not 0 <= n_iter <= len(history):
        raise r.fail("fitted.n_iter", "must count epochs of its history (>= 0).")
    for epoch in history:
        if not isinstance(epoch, dict) or not all(map(is_plain, epoch.values())):
            raise r.fail(
                "fitted.history",
                "must be a list of dicts of plain values (or lists of them, as the "
                "task affinity matrix).",
            )
    best_epochs = fitted.get("best_epochs")  # format 4 on
    if best_epochs is not None and not (
        isinstance(best_epochs, dict)
        and set(best_epochs) == {"shared", *task_names}
        and all(type(e) is int and 0 <= e <= len(history) for e in best_epochs.values())
    ):
        raise r.fail(
            "fitted.best_epochs", "must give the shared encoder and each task an epoch."
        )
    return {
        "best_epochs": best_epochs,
        "task_names": task_names,
        "encoding": encoding,
        "one_dimensional": one_dimensional,
        "n_features_in": n_features_in,
        "feature_names_in": names,
        "width_2d": width_2d,
        "n_iter": n_iter,
        "history": history,
        "y_frame": y_frame,
    }
