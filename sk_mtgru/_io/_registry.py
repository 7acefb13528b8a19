"""The estimators a safe file may name: a closed registry of the package's own."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["register_estimator", "estimator_class", "registered"]

# Filled as the package defines its estimators (BaseMultiTaskGRU.__init_subclass__
# calls register_estimator): closed to the package's own concrete classes, so that
# loading a file never reaches a class it does not know.
_REGISTRY: dict[str, type] = {}


def register_estimator(cls: type) -> None:
    """Let files name ``cls`` when it is one of the package's own concrete
    estimators; any other class (a user's subclass, say) is left out. Each
    declares how its targets are kept (``_targets_kind``: 'classes', 'scaling'
    or 'tasks') and whether it labels every step (``_per_step``)."""
    if cls.__module__.startswith("sk_mtgru.") and not inspect.isabstract(cls):
        _REGISTRY[cls.__name__] = cls


def estimator_class(name: str) -> Any:
    """The registered estimator class called ``name`` (KeyError if none)."""
    return _REGISTRY[name]


def registered(estimator: Any) -> bool:
    """Whether ``estimator`` is an instance of exactly a registered class."""
    return _REGISTRY.get(type(estimator).__name__) is type(estimator)


def names() -> list[str]:
    """The names files may give, sorted."""
    return sorted(_REGISTRY)
