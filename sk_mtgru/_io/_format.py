"""The safe file itself: reading and writing it, its header, digest and limits.

A file is safetensors: the network's (and scalers') tensors, and under the
metadata key ``"sk_mtgru"`` a JSON description. Nothing in it is executed; every
value is checked before use. The format is specified in ``docs/file_format.rst``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from numbers import Real
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ._registry import names

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_EPOCHS",
    "Reader",
    "check_digest",
    "check_header",
    "digest",
    "feature_names_entry",
    "is_plain",
    "read_feature_names",
    "read_file",
    "write_file",
]

FORMAT_NAME = "sk_mtgru"
FORMAT_VERSION = 4

# JSON nested deeper than this is refused before anything walks it.
MAX_DEPTH = 32
# What a file may hold, refused before it is allocated: tensors (a network has a
# few dozen), values in its JSON description (counted in the text before it is
# parsed: ~200 MB of Python objects at most) and epochs of history.
MAX_TENSORS = 10_000
MAX_JSON_VALUES = 4_000_000
MAX_EPOCHS = 100_000


def safetensors_torch():
    try:
        from safetensors import safe_open
        from safetensors.torch import save_file
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Saving and loading safe model files needs the safetensors package: "
            "pip install 'sk_mtgru[safe]' (or pip install safetensors)."
        ) from exc
    return safe_open, save_file


def package_version() -> str:
    return __version__


def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def digest(document: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the JSON document (without its ``"sha256"`` entry, keys sorted)
    and of every tensor's name, dtype, shape and bytes, in the order of names."""
    hasher = hashlib.sha256()
    content = {key: value for key, value in document.items() if key != "sha256"}
    hasher.update(json.dumps(content, sort_keys=True, allow_nan=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        hasher.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()


def check_size(text: str, n_tensors: int, n_epochs: int | None, what: str) -> None:
    """Refuse a description or a set of tensors larger than a model needs
    (``n_epochs`` None: not counted yet)."""
    values = text.count(",") + text.count("[") + text.count("{")
    problem = None
    if n_tensors > MAX_TENSORS:
        problem = f"{n_tensors} tensors (at most {MAX_TENSORS})"
    elif values > MAX_JSON_VALUES:
        problem = f"about {values} values in its description (at most "
        problem += f"{MAX_JSON_VALUES})"
    elif n_epochs is not None and n_epochs > MAX_EPOCHS:
        problem = f"a history of {n_epochs} epochs (at most {MAX_EPOCHS})"
    if problem is not None:
        raise ValueError(
            f"{what} has {problem}: more than a model of sk_mtgru needs, so the "
            "safe format refuses it."
        )


class Reader:
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


def feature_names_entry(fitted: Any) -> list[str] | None:
    """A fitted estimator's or scaler's ``feature_names_in_`` as JSON (None:
    it has none)."""
    if not hasattr(fitted, "feature_names_in_"):
        return None
    return [str(name) for name in fitted.feature_names_in_]


def read_feature_names(
    fitted: dict[str, Any], n_features: int, r: Reader, where: str
) -> np.ndarray | None:
    """The ``feature_names_in`` entry of ``fitted``: one string per feature, or
    absent (files before it, and models fitted without names)."""
    names = fitted.get("feature_names_in")
    if names is None:
        return None
    if not (
        isinstance(names, list)
        and len(names) == n_features
        and all(isinstance(n, str) for n in names)
    ):
        raise r.fail(f"{where}.feature_names_in", "must name each feature (strings).")
    return np.asarray(names, dtype=object)


def read_file(path: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    safe_open, _ = safetensors_torch()
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            names = list(f.keys())
            if FORMAT_NAME in metadata:  # sizes refused before anything is read
                check_size(metadata[FORMAT_NAME], len(names), None, path)
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
    if depth(document) > MAX_DEPTH:
        raise ValueError(
            f"{path} is not a valid sk_mtgru model file: its description is nested "
            f"deeper than {MAX_DEPTH} levels."
        )
    return document, tensors


def depth(document: Any) -> int:
    """How deeply lists and dicts nest in ``document``, walked without recursion."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                items = value.values() if isinstance(value, dict) else value
                stack.extend((item, depth + 1) for item in items)
    return deepest


def is_plain(value: Any) -> bool:
    """A JSON scalar, or a list of them, nested (the task affinity matrix)."""
    if isinstance(value, list):
        return all(map(is_plain, value))
    return isinstance(value, (type(None), bool, Real, str))


def check_digest(
    document: dict[str, Any], tensors: dict[str, torch.Tensor], version: int, r: Reader
) -> None:
    """Refuse a file changed since it was written: its digest (format 4 on) must
    be that of its description and tensors."""
    if "sha256" not in document:
        if version >= 4:
            raise r.fail("the file", "lacks the entry 'sha256' (its digest).")
        return
    recorded = r.get(document, "sha256", str, "the file")
    if recorded != digest(document, tensors):
        raise r.fail(
            "the file",
            "was changed after it was written (or damaged): its description or "
            "tensors no longer have the SHA-256 recorded in it. Save the model again "
            "from the estimator.",
        )


def check_header(document: dict[str, Any], r: Reader) -> tuple[int, str]:
    """The file's format version and estimator, after checking its format,
    versions and estimator."""
    if r.get(document, "format", str, "the file") != FORMAT_NAME:
        raise r.fail("format", f"must be {FORMAT_NAME!r}.")
    version = r.get(document, "format_version", int, "the file")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{r.path} was written in sk_mtgru's file format {version}, newer than the "
            f"format {FORMAT_VERSION} this sk_mtgru {package_version()} reads. "
            "Upgrade sk_mtgru to load it."
        )
    if version < 1:
        raise r.fail("format_version", f"must be >= 1, got {version}.")
    versions = r.get(document, "versions", dict, "the file")
    written_by = r.get(versions, "sk_mtgru", str, "versions")
    if version_tuple(written_by) < version_tuple(package_version()):
        warnings.warn(
            f"{r.path} was written by sk_mtgru {written_by} and is loaded by sk_mtgru "
            f"{package_version()}; re-save it to update it.",
            UserWarning,
            stacklevel=3,  # the caller of load
        )
    name = r.get(document, "estimator", str, "the file")
    if name not in names():
        raise r.fail("estimator", f"names an unknown estimator {name!r}.")
    return version, name


def write_file(
    document: dict[str, Any], tensors: dict[str, torch.Tensor], path: str
) -> None:
    """Write ``document`` (with its digest) and ``tensors`` to ``path``, after
    checking that a reader will accept their sizes."""
    _, save_file = safetensors_torch()
    try:
        text = json.dumps(document, allow_nan=True)
    except TypeError as exc:
        raise ValueError(
            f"A parameter of this model cannot be written as JSON ({exc}); the safe "
            "format stores parameters as plain numbers, strings, lists and dicts."
        ) from exc
    # The digest covers the document as it will be read back (JSON turns keys
    # into strings, tuples into lists), so load recomputes exactly this.
    written = json.loads(text)
    written["sha256"] = digest(written, tensors)
    text = json.dumps(written, allow_nan=True)
    check_size(text, len(tensors), len(written["fitted"]["history"]), "this model")
    existed = os.path.exists(path)
    save_file(tensors, path, metadata={FORMAT_NAME: text})
    if not existed:  # as open() would create it
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)
