"""Bad input gets a clear ValueError or TypeError, and user data is never modified."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler

from .conftest import small_classifier


@pytest.fixture(scope="module")
def fitted(request):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 6, 3))
    Y = np.column_stack([np.arange(30) % 2, np.arange(30) % 3])
    return small_classifier(max_iter=1).fit(X, Y), X, Y


def _with(X, index, value):
    X = np.array(X, dtype=float)
    X[index] = value
    return X


BAD_X = {
    "nan": (lambda X: _with(X, (0, 1, 2), np.nan), ValueError, "contains NaN"),
    "inf": (lambda X: _with(X, (3, 0, 0), np.inf), ValueError, "contains infinity"),
    "1-D": (lambda X: X[0, 0], ValueError, "expects X with 2 or 3 dimensions, got 1"),
    "4-D": (
        lambda X: X[..., None],
        ValueError,
        "expects X with 2 or 3 dimensions, got 4",
    ),
    "empty": (lambda X: X[:0], ValueError, "0 sample"),
    "empty list": (lambda X: [], ValueError, "empty list of sequences"),
    "zero-length sequence": (
        lambda X: [X[0], X[1][:0], X[2][:4]],
        ValueError,
        "zero-length sequence at index 1",
    ),
    "zero time steps": (lambda X: X[:, :0], ValueError, "zero time steps"),
    "mismatched features": (
        lambda X: [X[0], X[1][:3], X[2][:5, :2]],
        ValueError,
        "sequence 0 has 3, sequence 2 has 2",
    ),
    "3-D element": (
        lambda X: [X[0], X[1:3]],
        ValueError,
        "sequence 1 has 3 dimensions",
    ),
    "strings": (lambda X: np.full((4, 5, 3), "a"), ValueError, "could not convert"),
    "complex": (lambda X: X + 1j, ValueError, "Complex data not supported"),
    "None": (lambda X: None, ValueError, "got X=None"),
}


@pytest.mark.parametrize("case", BAD_X, ids=list(BAD_X))
def test_bad_x_at_fit_is_a_clear_error(fitted, case):
    _, X, _ = fitted
    make_bad, error, match = BAD_X[case]
    bad = make_bad(X)
    n = 1 if bad is None else len(bad)
    Y = np.column_stack([np.arange(n) % 2, np.arange(n) % 3])
    with pytest.raises(error, match=match):
        small_classifier(max_iter=1).fit(bad, Y)


@pytest.mark.parametrize("case", BAD_X, ids=list(BAD_X))
def test_bad_x_at_predict_is_a_clear_error(fitted, case):
    clf, X, _ = fitted
    make_bad, error, match = BAD_X[case]
    with pytest.raises(error, match=match):
        clf.predict(make_bad(X))


def test_sparse_x_is_a_type_error(fitted):
    sparse = pytest.importorskip("scipy.sparse")
    clf, X, _ = fitted
    with pytest.raises(TypeError, match="sparse"):
        clf.predict(sparse.csr_matrix(X[:, :, 0]))


def test_predict_with_another_number_of_features_is_an_error(fitted):
    clf, X, _ = fitted
    with pytest.raises(ValueError, match="X has 2 features per time step, but"):
        clf.predict(X[:, :, :2])


def test_transposed_2d_x_is_an_error_after_a_2d_fit(fitted):
    _, X, Y = fitted
    clf = small_classifier(max_iter=1).fit(X[:, :, 0], Y)
    with pytest.raises(ValueError, match="is X transposed"):
        clf.predict(X[:, :, 0].T)


def test_predict_before_fit_raises_not_fitted(fitted):
    _, X, _ = fitted
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError):
            getattr(MultiTaskGRUClassifier(), method)(X)
    with pytest.raises(NotFittedError):
        MultiTaskGRUClassifier().score(X, np.zeros(len(X)))
    with pytest.raises(NotFittedError):
        SequenceScaler().transform(X)


@pytest.mark.parametrize(
    "make_y, match",
    [
        (lambda Y: Y[:-1], "X has 30 sequences but Y has 29 rows"),
        (lambda Y: None, "requires y to be passed"),
        (lambda Y: Y[:, :, None], "Y must be 1-D"),
        (lambda Y: Y[:, :0], "Y has no columns"),
        (lambda Y: np.column_stack([Y[:, 0], np.zeros(30)]), "only one class"),
        (
            lambda Y: np.column_stack([Y[:, 0], np.linspace(0, 1, 30)]),
            "Unknown label type",
        ),
        (
            lambda Y: np.array([[1, "a"]] * 15 + [[2, 3]] * 15, dtype=object),
            "mixes label types",
        ),
        (
            lambda Y: np.column_stack([Y[:, 0], np.full(30, np.nan)]),
            "Task 'task_1' has no labels",
        ),
        (
            lambda Y: np.column_stack([Y[:, 0], np.where(Y[:, 1] == 0, np.nan, 1)]),
            "only one class",
        ),
    ],
    ids=[
        "length",
        "none",
        "3-D",
        "no tasks",
        "one class",
        "continuous",
        "mixed",
        "all missing",
        "one labelled class",
    ],
)
def test_bad_y_at_fit_is_a_clear_error(fitted, make_y, match):
    _, X, Y = fitted
    with pytest.raises(ValueError, match=match):
        small_classifier(max_iter=1).fit(X, make_y(Y))


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ([None], "class_weight has 1 entries but y has 2 task"),
        ({"task_7": "balanced"}, "unknown task\\(s\\) \\['task_7'\\]"),
        ([{5: 2.0}, None], "names label 5, not among its classes"),
        ([{0: -1.0}, None], "weights must be finite numbers >= 0"),
        ([{0: np.inf}, None], "weights must be finite numbers >= 0"),
        (["heavy", None], "must be None, 'balanced' or a dict"),
    ],
)
def test_bad_class_weight_is_a_clear_error(fitted, class_weight, match):
    _, X, Y = fitted
    with pytest.raises(ValueError, match=match):
        small_classifier(max_iter=1, class_weight=class_weight).fit(X, Y)


def test_score_with_another_number_of_tasks_is_an_error(fitted):
    clf, X, Y = fitted
    with pytest.raises(ValueError, match="Y has 1 task\\(s\\) but .* fitted with 2"):
        clf.score(X, Y[:, :1])


def test_score_with_renamed_task_columns_is_an_error():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4, 2))
    Y = pd.DataFrame({"a": np.arange(20) % 2, "b": np.arange(20) % 3})
    clf = small_classifier(max_iter=1).fit(X, Y)
    with pytest.raises(ValueError, match="differ from the tasks seen at fit"):
        clf.score(X, Y.rename(columns={"a": "c"}))


@pytest.mark.parametrize(
    "weights, error, match",
    [
        ((1.0,), ValueError, "1 value\\(s\\).*but Y has 2 task"),
        ((1.0, 2.0, 3.0), ValueError, "3 value\\(s\\)"),
        ((1.0, -1.0), ValueError, "non-negative; task 'task_1' has -1.0"),
        ((np.inf, 1.0), ValueError, "finite and non-negative; task 'task_0'"),
        ((np.nan, 1.0), ValueError, "finite"),
        ((0, 0), ValueError, "all zero"),
        ({"task_9": 2.0}, ValueError, "unknown task\\(s\\) \\['task_9'\\]"),
        ({"task_0": 0, "task_1": 0}, ValueError, "all zero"),
        (("a", 1.0), TypeError, "must hold numbers"),
        ("11", TypeError, "The 'task_weights' parameter of MultiTaskGRUClassifier"),
    ],
)
def test_bad_task_weights_are_a_clear_error(fitted, weights, error, match):
    _, X, Y = fitted
    with pytest.raises(error, match=match):
        small_classifier(max_iter=1, task_weights=weights).fit(X, Y)


@pytest.mark.parametrize(
    "weights, match",
    [
        (np.ones(29), "expected \\(30,\\)"),
        (-np.ones(30), "negative"),
        (np.zeros(30), "zero everywhere"),
        (np.full(30, np.nan), "NaN"),
    ],
)
def test_bad_sample_weight_is_a_clear_error(fitted, weights, match):
    _, X, Y = fitted
    with pytest.raises(ValueError, match=match):
        small_classifier(max_iter=1).fit(X, Y, sample_weight=weights)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"solver": "lbfgs"}, "solver"),
        ({"learning_rate_init": 0.0}, "learning_rate_init"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_iter": 0}, "max_iter"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"bidirectional": "yes"}, "bidirectional"),
    ],
)
def test_invalid_parameters_name_themselves(fitted, params, name):
    _, X, Y = fitted
    with pytest.raises(
        ValueError, match=f"The '{name}' parameter of MultiTaskGRUClassifier"
    ):
        small_classifier(**params).fit(X, Y)


def test_user_arrays_are_never_modified(fitted):
    _, X, Y = fitted
    X = X.astype(np.float32)
    ragged = [X[i, : 3 + i % 4].copy() for i in range(len(X))]
    weights = np.linspace(0.5, 1.5, len(X))
    copies = [X.copy(), [r.copy() for r in ragged], Y.copy(), weights.copy()]
    for data in (X, ragged):
        scaler = SequenceScaler().fit(data)
        scaled = scaler.transform(data)
        scaler.inverse_transform(scaled)
        clf = small_classifier(max_iter=1, dropout=0.2).fit(
            scaled, Y, sample_weight=weights
        )
        clf.predict_proba(data)
        clf.score(data, Y)
    np.testing.assert_array_equal(X, copies[0])
    for r, c in zip(ragged, copies[1]):
        np.testing.assert_array_equal(r, c)
    np.testing.assert_array_equal(Y, copies[2])
    np.testing.assert_array_equal(weights, copies[3])


def test_read_only_input_is_accepted(fitted):
    _, X, Y = fitted
    X = X.astype(np.float32)
    X.setflags(write=False)
    clf = small_classifier(max_iter=1).fit(X, Y)
    assert clf.predict(X).shape == Y.shape


def test_one_sequence_passed_alone_gets_a_hint_to_add_a_batch_axis(fitted):
    clf, X, _ = fitted
    one_sequence = X[0]  # (n_timesteps, n_features): read as univariate rows
    with pytest.raises(ValueError, match=r"give x\[None\] or \[x\]"):
        clf.predict(one_sequence)
    assert clf.predict(one_sequence[None]).shape[0] == 1


def test_a_list_of_untransposed_series_is_told_the_axis_order():
    channels_first = [np.zeros((3, n)) for n in (20, 25)]  # aeon's unequal layout
    with pytest.raises(ValueError, match=r"\[x\.T for x in X\]"):
        small_classifier().fit(channels_first, [0, 1])


@pytest.mark.parametrize("layout", ["3-D", "list", "2-D"])
def test_nan_in_x_says_to_pass_a_list_instead_of_nan_padding(layout):
    X = np.zeros((6, 5, 2))
    X[1, 3:] = np.nan  # tslearn's padding of a shorter series
    if layout == "list":
        X = list(X)
    elif layout == "2-D":
        X = X[:, :, 0]
    with pytest.raises(ValueError, match="contains NaN.*pass a list of"):
        small_classifier().fit(X, np.arange(6) % 2)
