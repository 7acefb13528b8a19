"""The estimators' docstrings state the defaults their signatures have."""

import ast
import inspect
import re

import pytest

from sk_mtgru import (
    MultiTaskGRUClassifier,
    MultiTaskGRUEstimator,
    MultiTaskGRURegressor,
    MultiTaskGRUTagger,
    SequenceScaler,
)
from sk_mtgru.model_selection import MultiTaskStratifiedKFold

ESTIMATORS = [
    MultiTaskGRUClassifier,
    MultiTaskGRURegressor,
    MultiTaskGRUEstimator,
    MultiTaskGRUTagger,
    SequenceScaler,
    MultiTaskStratifiedKFold,
]


def _documented_defaults(cls):
    """``{name: value}`` for every ``name : type, default=value`` entry."""
    entries = re.findall(r"^    (\w+) : [^\n]*?default=([^\n]+)$", cls.__doc__, re.M)
    defaults = {}
    for name, text in entries:
        try:
            defaults[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            defaults[name] = text.strip()
    return defaults


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_documented_default_is_the_signatures(cls):
    documented = _documented_defaults(cls)
    signature = inspect.signature(cls.__init__).parameters
    assert documented, f"{cls.__name__} documents no default"
    for name, value in documented.items():
        assert name in signature, f"{cls.__name__} documents {name}, not a parameter"
        assert signature[name].default == value, (cls.__name__, name, value)
