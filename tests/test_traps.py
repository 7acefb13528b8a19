"""Mistakes users make with their labels get a warning that says what happened."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru.datasets import make_multitask_sequences

from .conftest import small_classifier


def test_the_text_nan_as_a_class_warns_where_numpy_made_it_from_a_missing_label():
    X, Y = make_multitask_sequences(40, n_tasks=2, length=6, random_state=0)
    labels = np.where(Y[:, 1] == 0, "squat", "lunge").astype(object)
    labels[:4] = np.nan
    as_text = np.array(labels.tolist())  # numpy's str array: 'nan'
    with pytest.warns(UserWarning, match="has the text 'nan' as a class") as caught:
        clf = small_classifier(max_iter=1).fit(X, np.column_stack([Y[:, 0], as_text]))
    assert caught[0].filename == __file__  # points at the user's call
    assert "nan" in clf.classes_[1].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the real missing values of an object array: no class 'nan', no warning
        clf = small_classifier(max_iter=1).fit(
            X, np.column_stack([Y[:, 0], labels]).astype(object)
        )
        assert clf.classes_[1].tolist() == ["lunge", "squat"]
        # told that the text marks missing labels: no warning either
        small_classifier(max_iter=1, missing_label="nan").fit(
            X, np.column_stack([Y[:, 0], as_text])
        )
