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


def test_parameters_the_classifier_and_regressor_share_are_documented_alike():
    # scikit-learn's way: the copies are checked, word for word and type for type
    pytest.importorskip("numpydoc")
    from sklearn.utils._testing import assert_docstring_consistency

    assert_docstring_consistency(
        [MultiTaskGRUClassifier, MultiTaskGRURegressor],
        include_params=True,
        # the windows' outputs are combined as probabilities or as values
        exclude_params=["crop_length"],
    )


def _grouped_defaults(cls):
    """The names of an entry documenting several parameters at once, and the
    ``name=value`` defaults its text states for them."""
    match = re.search(
        r"^    (\w+(?:, \\\n?\w+|, \w+)+)\n(.*?)(?=^    \w+ :|^    \w+$|\Z)",
        cls.__doc__,
        re.M | re.S,
    )
    assert match, f"{cls.__name__} has no grouped entry"
    names = re.findall(r"\w+", match.group(1))
    stated = {}
    for name, text in re.findall(r"``(\w+)=([^`]+)``", match.group(2)):
        stated.setdefault(name, ast.literal_eval(text))  # the first: the default
    return names, stated


def test_the_taggers_grouped_entry_states_every_default_of_its_signature():
    names, stated = _grouped_defaults(MultiTaskGRUTagger)
    signature = inspect.signature(MultiTaskGRUTagger.__init__).parameters
    assert set(stated) == set(names)
    for name in names:
        assert stated[name] == signature[name].default, name
