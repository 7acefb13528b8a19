"""A safe model file: weights in safetensors, everything else as JSON. No pickle.

Loading reads tensors and JSON text only: nothing in the file is executed or
imported, and every value is checked before use, so a file from an untrusted source
can at worst fail to load with a ``ValueError``. The format -- its layout, versions,
digest and limits -- is specified in the docs (``docs/file_format.rst``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import sklearn
import skorch
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from ._module import SHARINGS, SUMMARIES
from ._pipelines import split_scaler_pipeline
from ._preprocessing import SequenceScaler
from ._regression import TARGET_LIMIT, scaling_is_valid
from ._targets import Targets
from ._training import seeded_torch
from ._validation import check_task_weights, validate_params
from ._version import __version__
from .balancing import ALIASES, LossBalancing

FORMAT_NAME = "sk_mtgru"
FORMAT_VERSION = 4

# Format 1 predates these parameters: its models were built and trained as these
# values build and train them.
_FORMAT_1_PARAMS = {
    "conv_layers": 0,
    "input_statistics": False,
    "learning_rate": "constant",
    "max_grad_norm": None,
    "sharing": "hard",
    "n_experts": None,
}
_FORMAT_1_MODULE = {
    "conv_layers": 0,
    "conv_channels": 0,
    "conv_kernel_size": 0,
    "conv_stride": 0,
    "input_statistics": False,
    "sharing": "hard",
    "n_experts": 1,
}
_CLASS_DTYPE_KINDS = "biufU"  # bools, ints, unsigned ints, floats, strings

__all__ = ["save", "load", "FORMAT_VERSION"]

# The SequenceScaler's fitted arrays, kept as tensors (None when not fitted).
_SCALER_ARRAYS = ("mean_", "scale_", "var_")
# JSON nested deeper than this is refused before anything walks it.
_MAX_DEPTH = 32
# What a file may hold, refused before it is allocated: tensors (a network has a
# few dozen), values in its JSON description (counted in the text before it is
# parsed: ~200 MB of Python objects at most) and epochs of history.
_MAX_TENSORS = 10_000
_MAX_JSON_VALUES = 4_000_000
_MAX_EPOCHS = 100_000


# The estimators a file may name, filled as the package defines them (see
# register_estimator): closed to the package's own classes, so loading stays safe.
_REGISTRY: dict[str, type] = {}


def register_estimator(cls: type) -> None:
    """Let files name ``cls`` when it is one of the package's own concrete
    estimators; any other class (a user's subclass, say) is left out. Each
    declares how its targets are written (``_targets_kind``: 'classes',
    'scaling' or 'tasks')."""
    if cls.__module__.startswith("sk_mtgru.") and not inspect.isabstract(cls):
        _REGISTRY[cls.__name__] = cls


def _estimator_class(name: str) -> Any:
    return _REGISTRY[name]


def _safetensors_torch():
    try:
        from safetensors import safe_open
        from safetensors.torch import save_file
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Saving and loading safe model files needs the safetensors package: "
            "pip install 'sk_mtgru[safe]' (or pip install safetensors)."
        ) from exc
    return safe_open, save_file


def _package_version() -> str:
    return __version__


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


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
    _, save_file = _safetensors_torch()
    pipeline: dict[str, Any] | None = None
    scaler_tensors: dict[str, torch.Tensor] = {}
    if isinstance(model, Pipeline):
        pipeline, scaler_tensors = _pipeline_document(model)
        estimator = model.steps[-1][1]
    else:
        estimator = model
    if _REGISTRY.get(type(estimator).__name__) is not type(estimator):
        raise TypeError(
            f"sk_mtgru's safe format holds {', '.join(sorted(_REGISTRY))} models and "
            "Pipelines of SequenceScaler steps ending in one; got "
            f"{type(estimator).__name__}. Use joblib for other models."
        )
    document, tensors = _estimator_document(estimator)
    if pipeline is not None:
        document["pipeline"] = pipeline
    try:
        text = json.dumps(document, allow_nan=True)
    except TypeError as exc:
        raise ValueError(
            f"A parameter of this model cannot be written as JSON ({exc}); the safe "
            "format stores parameters as plain numbers, strings, lists and dicts."
        ) from exc
    tensors = tensors | scaler_tensors
    # The digest covers the document as it will be read back (JSON turns keys
    # into strings, tuples into lists), so load recomputes exactly this.
    written = json.loads(text)
    written["sha256"] = _digest(written, tensors)
    text = json.dumps(written, allow_nan=True)
    _check_size(text, len(tensors), len(written["fitted"]["history"]), "this model")
    path = os.fspath(path)
    existed = os.path.exists(path)
    save_file(tensors, path, metadata={FORMAT_NAME: text})
    if not existed:  # as open() would create it
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)


def _pipeline_document(
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


def _estimator_document(
    estimator: Any,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """An estimator's JSON description and its network's tensors."""
    check_is_fitted(estimator)
    name = type(estimator).__name__
    params = _plain_params(estimator)
    targets: dict[str, Any]
    if estimator._targets_kind == "tasks":
        targets = {
            "tasks": [
                _task_document(estimator, k, kind)
                for k, kind in enumerate(estimator.task_types_)
            ],
            "y_frame": bool(estimator._y_frame),
        }
    elif estimator._targets_kind == "scaling":
        targets = {
            "targets": {
                "mean": [float(v) for v in estimator._y_mean],
                "scale": [float(v) for v in estimator._y_scale],
            }
        }
    else:
        targets = {
            "classes": [
                _classes_document(task, c)
                for task, c in zip(estimator.task_names_, _listed(estimator.classes_))
            ]
        }
    module = estimator.net_.module_
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": {
            "sk_mtgru": _package_version(),
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "skorch": skorch.__version__,
        },
        "estimator": name,
        "params": params,
        "module": _module_document(module, tagger=estimator._per_step),
        "fitted": {
            "task_names": [str(n) for n in estimator.task_names_],
            **targets,
            "one_dimensional": bool(estimator._one_dimensional_y),
            "n_features_in": int(estimator.n_features_in_),
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


def _listed(classes: Any) -> list[Any]:
    return classes if isinstance(classes, list) else [classes]


def _classes_document(task: Any, classes: np.ndarray) -> dict[str, Any]:
    if classes.dtype.kind not in _CLASS_DTYPE_KINDS:
        raise ValueError(
            f"Task {task!r} has classes of dtype {classes.dtype}, which the safe "
            "format cannot store (it keeps bools, ints, floats and strings). Use "
            "joblib for this model."
        )
    return {"dtype": classes.dtype.str, "values": classes.tolist()}


def _task_document(estimator: Any, k: int, kind: str) -> dict[str, Any]:
    """A mixed estimator's task ``k``: its classes, or its values' scaling."""
    if kind == "regression":
        return {
            "kind": kind,
            "mean": float(estimator._y_mean[k]),
            "scale": float(estimator._y_scale[k]),
        }
    classes = _listed(estimator.classes_)[k]
    return {
        "kind": kind,
        **_classes_document(estimator.task_names_[k], classes),
    }


def _module_document(module: Any, *, tagger: bool) -> dict[str, Any]:
    """The architecture of the network, as built."""
    heads = [head.out_features for head in module.heads]
    if tagger:
        gru = module.grus[0]
        return {
            "n_features": gru.input_size,
            "n_classes": heads,
            "hidden_size": gru.hidden_size,
            "num_layers": module.num_layers,
            "bidirectional": module.bidirectional,
            "dropout": module.dropout.p,
            "layers": list(module.layers),
        }
    gru = module.gru
    return {
        "n_features": module.n_features,
        "n_classes": heads,
        "hidden_size": gru.hidden_size,
        "num_layers": gru.num_layers,
        "bidirectional": gru.bidirectional,
        "dropout": module.dropout.p,
        "summary": module.summary,
        "task_layers": module.task_layers,
        **dict(
            zip(
                ("conv_layers", "conv_channels", "conv_kernel_size", "conv_stride"),
                module.conv.sizes() if module.conv is not None else (0, 0, 0, 0),
            )
        ),
        "input_statistics": module.input_statistics,
        "sharing": module.sharing,
        "n_experts": module.n_experts,
    }


def _digest(document: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the JSON document (without its ``"sha256"`` entry, keys sorted)
    and of every tensor's name, dtype, shape and bytes, in the order of names."""
    digest = hashlib.sha256()
    content = {key: value for key, value in document.items() if key != "sha256"}
    digest.update(json.dumps(content, sort_keys=True, allow_nan=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _check_size(text: str, n_tensors: int, n_epochs: int | None, what: str) -> None:
    """Refuse a description or a set of tensors larger than a model needs
    (``n_epochs`` None: not counted yet)."""
    values = text.count(",") + text.count("[") + text.count("{")
    problem = None
    if n_tensors > _MAX_TENSORS:
        problem = f"{n_tensors} tensors (at most {_MAX_TENSORS})"
    elif values > _MAX_JSON_VALUES:
        problem = f"about {values} values in its description (at most "
        problem += f"{_MAX_JSON_VALUES})"
    elif n_epochs is not None and n_epochs > _MAX_EPOCHS:
        problem = f"a history of {n_epochs} epochs (at most {_MAX_EPOCHS})"
    if problem is not None:
        raise ValueError(
            f"{what} has {problem}: more than a model of sk_mtgru needs, so the "
            "safe format refuses it."
        )


# ---------------------------------------------------------------- loading
class _Reader:
    """Typed access to the JSON document, with errors that say where and what."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> ValueError:
        return ValueError(
            f"{self.path} is not a valid sk_mtgru model file: {where} {message}"
        )

    def get(self, obj: Any, key: str, kind: Any, where: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise self.fail(where, f"lacks the entry {key!r}.")
        value = obj[key]
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            name = getattr(kind, "__name__", str(kind))
            raise self.fail(
                f"{where}.{key}", f"must be of type {name}, got {type(value).__name__}."
            )
        return value


def _read_file(path: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    safe_open, _ = _safetensors_torch()
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            names = list(f.keys())
            if FORMAT_NAME in metadata:  # sizes refused before anything is read
                _check_size(metadata[FORMAT_NAME], len(names), None, path)
            tensors = {key: f.get_tensor(key) for key in names}
    except (FileNotFoundError, ValueError):
        raise
    except Exception as exc:  # safetensors raises its own errors on malformed files
        raise ValueError(
            f"{path} is not a valid sk_mtgru model file: it cannot be read as "
            f"safetensors ({type(exc).__name__}: {exc}). Files written by joblib or "
            "pickle load with joblib.load, from trusted sources only."
        ) from exc
    if FORMAT_NAME not in metadata:
        raise ValueError(
            f"{path} is a safetensors file but not an sk_mtgru model file: its "
            f"metadata has no {FORMAT_NAME!r} entry."
        )
    try:
        document = json.loads(metadata[FORMAT_NAME])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(
            f"{path} is not a valid sk_mtgru model file: its description is not JSON "
            f"that can be read ({type(exc).__name__}: {exc})."
        ) from exc
    if _depth(document) > _MAX_DEPTH:
        raise ValueError(
            f"{path} is not a valid sk_mtgru model file: its description is nested "
            f"deeper than {_MAX_DEPTH} levels."
        )
    return document, tensors


def _depth(document: Any) -> int:
    """How deeply lists and dicts nest in ``document``, walked without recursion."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            deepest = max(deepest, depth)
            if depth <= _MAX_DEPTH:
                items = value.values() if isinstance(value, dict) else value
                stack.extend((item, depth + 1) for item in items)
    return deepest


def _is_plain(value: Any) -> bool:
    """A JSON scalar, or a list of them, nested (the task affinity matrix)."""
    if isinstance(value, list):
        return all(map(_is_plain, value))
    return isinstance(value, (type(None), bool, Real, str))


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
    document, tensors = _read_file(path)
    r = _Reader(path)
    version, name = _check_header(document, r)
    _check_digest(document, tensors, version, r)
    steps: list[tuple[str, Any]] = []
    if "pipeline" in document:
        if version < 3:
            raise r.fail("pipeline", f"is not part of format {version}.")
        steps, tensors = _read_pipeline(document, r, tensors)
    estimator = _read_params(document, r, version, name)
    config = _read_module(document, r, version, tagger=_estimator_class(name)._per_step)
    fitted = _read_fitted(document, r, config, name)
    net = _build_network(
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
    )
    if not steps:
        return estimator
    last = r.get(document["pipeline"]["steps"][-1], "name", str, "pipeline.steps")
    if any(step.n_features_in_ != estimator.n_features_in_ for _, step in steps):
        raise r.fail("pipeline", "has a scaler whose features differ from the model's.")
    return Pipeline(
        [*steps, (last, estimator)], verbose=document["pipeline"]["verbose"]
    )


def _read_pipeline(
    document: dict[str, Any], r: _Reader, tensors: dict[str, torch.Tensor]
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
        for attribute, value in arrays.items():
            setattr(scaler, attribute, value)
        steps.append((names[i], scaler))
    stray = sorted(key for key in rest if key.startswith("steps."))
    if stray:
        raise r.fail("tensors", f"include unexpected scaler arrays {stray}.")
    return steps, rest


def _check_digest(
    document: dict[str, Any], tensors: dict[str, torch.Tensor], version: int, r: _Reader
) -> None:
    """Refuse a file changed since it was written: its digest (format 4 on) must
    be that of its description and tensors."""
    if "sha256" not in document:
        if version >= 4:
            raise r.fail("the file", "lacks the entry 'sha256' (its digest).")
        return
    recorded = r.get(document, "sha256", str, "the file")
    if recorded != _digest(document, tensors):
        raise r.fail(
            "the file",
            "was changed after it was written (or damaged): its description or "
            "tensors no longer have the SHA-256 recorded in it. Save the model again "
            "from the estimator.",
        )


def _check_header(document: dict[str, Any], r: _Reader) -> tuple[int, str]:
    """The file's format version and estimator, after checking its format,
    versions and estimator."""
    if r.get(document, "format", str, "the file") != FORMAT_NAME:
        raise r.fail("format", f"must be {FORMAT_NAME!r}.")
    version = r.get(document, "format_version", int, "the file")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{r.path} was written in sk_mtgru's file format {version}, newer than the "
            f"format {FORMAT_VERSION} this sk_mtgru {_package_version()} reads. "
            "Upgrade sk_mtgru to load it."
        )
    if version < 1:
        raise r.fail("format_version", f"must be >= 1, got {version}.")
    versions = r.get(document, "versions", dict, "the file")
    written_by = r.get(versions, "sk_mtgru", str, "versions")
    if _version_tuple(written_by) < _version_tuple(_package_version()):
        warnings.warn(
            f"{r.path} was written by sk_mtgru {written_by} and is loaded by sk_mtgru "
            f"{_package_version()}; re-save it to update it.",
            UserWarning,
            stacklevel=3,  # the caller of load
        )
    name = r.get(document, "estimator", str, "the file")
    if name not in _REGISTRY:
        raise r.fail("estimator", f"names an unknown estimator {name!r}.")
    return version, name


def _read_params(document: dict[str, Any], r: _Reader, version: int, name: str) -> Any:
    """The unfitted estimator the file's ``params`` describe, validated."""
    estimator_class = _estimator_class(name)

    params = r.get(document, "params", dict, "the file")
    if version == 1:
        params = _FORMAT_1_PARAMS | params
    known = estimator_class().get_params(deep=False)
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
    estimator = estimator_class(**params)
    try:
        validate_params(estimator)
        estimator._parsed_device()
    except (ValueError, TypeError) as exc:
        raise r.fail("params", f"are invalid: {exc}") from exc

    return estimator


def _read_module(
    document: dict[str, Any], r: _Reader, version: int, *, tagger: bool
) -> dict[str, Any]:
    """The network's architecture, checked for consistency."""
    module_doc = r.get(document, "module", dict, "the file")
    if tagger:
        return _read_tagger_module(module_doc, r)
    if version == 1 and isinstance(module_doc, dict):
        module_doc = _FORMAT_1_MODULE | module_doc
    config = {
        "n_features": r.get(module_doc, "n_features", int, "module"),
        "n_classes": r.get(module_doc, "n_classes", list, "module"),
        "hidden_size": r.get(module_doc, "hidden_size", int, "module"),
        "num_layers": r.get(module_doc, "num_layers", int, "module"),
        "bidirectional": r.get(module_doc, "bidirectional", bool, "module"),
        "dropout": r.get(module_doc, "dropout", float, "module"),
        "summary": r.get(module_doc, "summary", str, "module"),
        "task_layers": r.get(module_doc, "task_layers", int, "module"),
        "conv_layers": r.get(module_doc, "conv_layers", int, "module"),
        "conv_channels": r.get(module_doc, "conv_channels", int, "module"),
        "conv_kernel_size": r.get(module_doc, "conv_kernel_size", int, "module"),
        "conv_stride": r.get(module_doc, "conv_stride", int, "module"),
        "input_statistics": r.get(module_doc, "input_statistics", bool, "module"),
        "sharing": r.get(module_doc, "sharing", str, "module"),
        "n_experts": r.get(module_doc, "n_experts", int, "module"),
    }
    if config["sharing"] not in SHARINGS or not 1 <= config["n_experts"] <= 1024:
        raise r.fail("module", "has an unknown sharing or an invalid n_experts.")
    if (config["sharing"] == "mmoe") != (config["n_experts"] > 1):
        raise r.fail("module", "has n_experts that do not match its sharing.")
    if config["summary"] not in SUMMARIES or config["task_layers"] < 0:
        raise r.fail("module", "has an unknown summary or a negative task_layers.")
    if not all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1
        for k in config["n_classes"]
    ):
        raise r.fail("module.n_classes", "must be a list of ints >= 1.")
    if min(config["n_features"], config["hidden_size"], config["num_layers"]) < 1:
        raise r.fail("module", "has sizes < 1.")
    if config["conv_layers"] < 0 or (
        config["conv_layers"]
        and (
            min(config["conv_channels"], config["conv_stride"]) < 1
            or config["conv_kernel_size"] < 1
            or config["conv_kernel_size"] % 2 == 0
        )
    ):
        raise r.fail("module", "has invalid convolution sizes.")

    return config


def _read_tagger_module(module_doc: dict[str, Any], r: _Reader) -> dict[str, Any]:
    """The tagger's stacked layers and the layer each head reads."""
    config = {
        "n_features": r.get(module_doc, "n_features", int, "module"),
        "n_classes": r.get(module_doc, "n_classes", list, "module"),
        "hidden_size": r.get(module_doc, "hidden_size", int, "module"),
        "num_layers": r.get(module_doc, "num_layers", int, "module"),
        "bidirectional": r.get(module_doc, "bidirectional", bool, "module"),
        "dropout": r.get(module_doc, "dropout", float, "module"),
        "layers": r.get(module_doc, "layers", list, "module"),
    }
    if min(config["n_features"], config["hidden_size"], config["num_layers"]) < 1:
        raise r.fail("module", "has sizes < 1.")
    if not all(type(k) is int and k >= 1 for k in config["n_classes"]):
        raise r.fail("module.n_classes", "must be a list of ints >= 1.")
    if len(config["layers"]) != len(config["n_classes"]) or not all(
        type(layer) is int and 0 <= layer < config["num_layers"]
        for layer in config["layers"]
    ):
        raise r.fail("module.layers", "must give each head a layer of the network.")
    return config


def _check_params_match_module(
    estimator: Any, config: dict[str, Any], task_names: list[str], r: _Reader
) -> None:
    """Refuse a file whose ``params`` describe another network than ``module``:
    ``get_params()`` would report it, and a ``clone(...).fit`` would build it."""
    params = estimator.get_params(deep=False)
    names = ["hidden_size", "num_layers", "bidirectional", "dropout"]
    expected = {name: params[name] for name in names}
    if "layers" in config:  # the tagger
        try:
            expected["layers"] = estimator._check_supervision_layers(task_names)
        except (TypeError, ValueError) as exc:
            raise r.fail("params.supervision_layers", f"are invalid: {exc}") from exc
    else:
        names = [
            "summary",
            "task_layers",
            "conv_layers",
            "input_statistics",
            "sharing",
        ]
        expected |= {name: params[name] for name in names}
        if params["conv_layers"]:
            for name in ("conv_channels", "conv_kernel_size", "conv_stride"):
                expected[name] = params[name]
        if params["sharing"] == "mmoe":
            expected["n_experts"] = estimator._n_experts(len(task_names))
    differ = [
        f"{name}={value!r} (the network's: {config[name]!r})"
        for name, value in expected.items()
        if value != config[name]
    ]
    if differ:
        raise r.fail(
            "params",
            f"disagree with the network it holds: {', '.join(differ)}.",
        )


def _read_fitted(
    document: dict[str, Any], r: _Reader, config: dict[str, Any], name: str
) -> dict[str, Any]:
    """The fitted attributes: task names, classes or target scaling, history, ...,
    checked against the network."""
    fitted = r.get(document, "fitted", dict, "the file")
    task_names = r.get(fitted, "task_names", list, "fitted")
    if not all(isinstance(t, str) for t in task_names):
        raise r.fail("fitted.task_names", "must be a list of str.")
    if len(set(task_names)) != len(task_names):
        raise r.fail("fitted.task_names", "must be distinct, as fit makes them.")
    y_frame = False
    kind = _estimator_class(name)._targets_kind
    if kind == "tasks":
        encoding: Any = _read_tasks(fitted, r, task_names, config)
        y_frame = r.get(fitted, "y_frame", bool, "fitted")
    elif kind == "scaling":
        encoding = _read_target_scaling(fitted, r, task_names, config)
    else:
        encoding = _read_classes(fitted, r, task_names, config)
    one_dimensional = r.get(fitted, "one_dimensional", bool, "fitted")
    if one_dimensional and len(task_names) != 1:
        raise r.fail("fitted.one_dimensional", "is true for several tasks.")
    n_features_in = r.get(fitted, "n_features_in", int, "fitted")
    if n_features_in != config["n_features"]:
        raise r.fail("fitted.n_features_in", "differs from the network's input size.")
    width_2d = fitted.get("width_2d")
    if width_2d is not None and (type(width_2d) is not int or width_2d < 1):
        raise r.fail("fitted.width_2d", "must be an int >= 1 or null.")
    n_iter = r.get(fitted, "n_iter", int, "fitted")
    history = r.get(fitted, "history", list, "fitted")
    if len(history) > _MAX_EPOCHS:
        raise r.fail("fitted.history", f"has more than {_MAX_EPOCHS} epochs.")
    if not 0 <= n_iter <= len(history):
        raise r.fail("fitted.n_iter", "must count epochs of its history (>= 0).")
    for epoch in history:
        if not isinstance(epoch, dict) or not all(map(_is_plain, epoch.values())):
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
        "width_2d": width_2d,
        "n_iter": n_iter,
        "history": history,
        "y_frame": y_frame,
    }


def _read_tasks(
    fitted: dict[str, Any], r: _Reader, task_names: list[str], config: dict[str, Any]
) -> dict[str, Any]:
    """A mixed estimator's tasks: each one's kind, and its classes or scaling."""
    tasks = r.get(fitted, "tasks", list, "fitted")
    if not len(task_names) == len(tasks) == len(config["n_classes"]):
        raise r.fail("fitted", "has different numbers of tasks and heads.")
    n = len(tasks)
    encoding: dict[str, Any] = {
        "kinds": [],
        "classes": [None] * n,
        "mean": np.full(n, np.nan),
        "scale": np.full(n, np.nan),
    }
    for k, entry in enumerate(tasks):
        where = f"fitted.tasks[{k}]"
        kind = r.get(entry, "kind", str, where)
        if kind == "regression":
            if config["n_classes"][k] != 1:
                raise r.fail(where, "is a regression task with a head of several.")
            mean = r.get(entry, "mean", float, where)
            scale = r.get(entry, "scale", float, where)
            if not scaling_is_valid(mean, scale):
                raise r.fail(
                    where,
                    "must have a finite mean and a positive scale, within "
                    f"{TARGET_LIMIT:.3g}.",
                )
            encoding["mean"][k], encoding["scale"][k] = mean, scale
        elif kind == "classification":
            if config["n_classes"][k] < 2:
                raise r.fail(where, "is a classification task with one output.")
            encoding["classes"][k] = _read_class_entry(
                entry, r, where, config["n_classes"][k]
            )
        else:
            raise r.fail(f"{where}.kind", "must be 'classification' or 'regression'.")
        encoding["kinds"].append(kind)
    return encoding


def _read_target_scaling(
    fitted: dict[str, Any], r: _Reader, task_names: list[str], config: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """A regressor's per-target mean and scale; its heads give one value each."""
    scaling = r.get(fitted, "targets", dict, "fitted")
    mean = r.get(scaling, "mean", list, "fitted.targets")
    scale = r.get(scaling, "scale", list, "fitted.targets")
    if not (len(task_names) == len(mean) == len(scale) == len(config["n_classes"])):
        raise r.fail("fitted", "has different numbers of targets, scalings and heads.")
    if any(k != 1 for k in config["n_classes"]):
        raise r.fail("module.n_classes", "must be 1 for every target of a regressor.")
    values = mean + scale
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise r.fail("fitted.targets", "must hold numbers.")
    mean_arr, scale_arr = np.asarray(mean, float), np.asarray(scale, float)
    if not scaling_is_valid(mean_arr, scale_arr):
        raise r.fail(
            "fitted.targets",
            f"must have finite means and positive scales, within {TARGET_LIMIT:.3g}.",
        )
    return mean_arr, scale_arr


def _read_classes(
    fitted: dict[str, Any], r: _Reader, task_names: list[str], config: dict[str, Any]
) -> list[np.ndarray]:
    """A classifier's classes of each task, one per output of its head."""
    if any(k < 2 for k in config["n_classes"]):
        raise r.fail("module.n_classes", "must be a list of ints >= 2.")
    classes_doc = r.get(fitted, "classes", list, "fitted")
    if not (len(task_names) == len(classes_doc) == len(config["n_classes"])):
        raise r.fail("fitted", "has different numbers of tasks, classes and heads.")
    return [
        _read_class_entry(entry, r, f"fitted.classes[{k}]", config["n_classes"][k])
        for k, entry in enumerate(classes_doc)
    ]


def _read_class_entry(entry: Any, r: _Reader, where: str, n_classes: int) -> np.ndarray:
    """One task's classes, ``{"dtype": ..., "values": [...]}``, for a head of
    ``n_classes`` outputs."""
    dtype_str = r.get(entry, "dtype", str, where)
    values = r.get(entry, "values", list, where)
    try:
        dtype = np.dtype(dtype_str)
    except TypeError as exc:
        raise r.fail(f"{where}.dtype", f"is not a dtype: {dtype_str!r}.") from exc
    if dtype.kind not in _CLASS_DTYPE_KINDS:
        raise r.fail(
            f"{where}.dtype", f"must be a bool, number or str dtype, got {dtype}."
        )
    if not all(isinstance(v, (bool, int, float, str)) for v in values):
        raise r.fail(f"{where}.values", "must hold bools, numbers or strings.")
    try:
        task_classes = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise r.fail(f"{where}.values", f"do not fit dtype {dtype}.") from exc
    if task_classes.ndim != 1 or len(task_classes) != n_classes:
        raise r.fail(
            f"{where}.values", f"must list the {n_classes} classes of its head."
        )
    if dtype.kind == "f" and not np.isfinite(task_classes).all():
        raise r.fail(f"{where}.values", "must be finite numbers.")
    if task_classes.tolist() != values:  # e.g. "10" and "11" cut to '<U1'
        raise r.fail(f"{where}.values", f"change when read as dtype {dtype}.")
    if not np.array_equal(np.unique(task_classes), task_classes):
        raise r.fail(
            f"{where}.values", "must be distinct and sorted, as fit makes them."
        )
    return task_classes


def _build_network(
    estimator: Any,
    config: dict[str, Any],
    task_names: list[str],
    encoding: Any,
    tensors: dict[str, torch.Tensor],
    r: _Reader,
) -> Any:
    """The skorch net the estimator's parameters build, holding the file's weights
    once they are checked against it.

    The parameters must agree with the file's ``module``, and the network is first
    built on torch's ``meta`` device, which allocates nothing, to check the
    tensors' names and shapes: a crafted file cannot make this allocate more than
    the weights it holds.
    """
    _check_params_match_module(estimator, config, task_names, r)
    n_outputs = config["n_classes"]
    module_class, module_params = estimator._module(
        config["n_features"], n_outputs, task_names
    )
    with torch.device("meta"):
        expected = module_class(**module_params).state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise r.fail(
            "tensors",
            f"do not match the network: missing {missing}, unexpected {extra}.",
        )
    for key, value in expected.items():
        got = tensors[key]
        if tuple(got.shape) != tuple(value.shape) or got.dtype != value.dtype:
            raise r.fail(
                f"tensor {key!r}",
                f"has shape {tuple(got.shape)} and dtype {got.dtype}; the network "
                f"needs {tuple(value.shape)} and {value.dtype}.",
            )
        if not bool(torch.isfinite(got).all()):
            raise r.fail(f"tensor {key!r}", "has non-finite values.")
    device = torch.device("cpu")
    try:
        device = estimator._resolve_device()
    except ValueError:
        pass  # e.g. saved from a GPU, loaded where there is none: use the CPU
    task_weights = check_task_weights(estimator.task_weights, task_names)
    with seeded_torch(0, device):
        net = estimator._build_net(
            n_features=config["n_features"],
            n_outputs=n_outputs,
            task_names=task_names,
            task_weights=task_weights,
            device=device,
            seed=0,
            validation=False,
            **estimator._net_targets(encoding),
        )
        net.initialize()
    net.module_.load_state_dict(tensors)
    return net
