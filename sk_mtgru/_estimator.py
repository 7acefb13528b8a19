"""Where :class:`~sk_mtgru.MultiTaskGRUClassifier` was defined up to 0.1.0 (now
``_classifier``): kept so that joblib files written then, which name this module,
still load."""

from ._classifier import MultiTaskGRUClassifier

__all__ = ["MultiTaskGRUClassifier"]
