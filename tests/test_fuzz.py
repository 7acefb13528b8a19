"""Fuzzed input: every call either works with finite, well-shaped output, or raises a
ValueError or TypeError with a message -- never another exception, a crash or NaN."""

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler

# SK_MTGRU_FUZZ_EXAMPLES=5000 fuzzes deeper than the suite's default.
FUZZ = settings(
    max_examples=int(os.environ.get("SK_MTGRU_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

DTYPES = st.sampled_from(
    [
        np.bool_,
        np.int8,
        np.int64,
        np.uint8,
        np.float16,
        np.float32,
        np.float64,
        np.complex64,
        np.dtype("U3"),
        np.dtype(object),
    ]
)


def _elements(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return st.floats(width=8 * dtype.itemsize if dtype.itemsize < 8 else 64)
    if dtype.kind == "U":
        return st.sampled_from(["", "a", "1.5", "nan", "-2"])
    if dtype.kind == "O":
        return st.one_of(
            st.none(), st.integers(-3, 3), st.floats(), st.sampled_from(["x", "1"])
        )
    return None  # hypothesis' defaults for ints, bools, complex


@st.composite
def dense_arrays(draw, max_dims=4):
    dtype = draw(DTYPES)
    shape = draw(
        hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=4)
    )
    elements = _elements(dtype)
    kwargs = {} if elements is None else {"elements": elements}
    return draw(hnp.arrays(dtype, shape, **kwargs))


@st.composite
def sequence_lists(draw):
    n = draw(st.integers(0, 4))
    n_features = draw(st.integers(1, 3))
    sequences = []
    for _ in range(n):
        if draw(st.booleans()):  # a well-formed sequence
            length = draw(st.integers(0, 5))
            features = draw(st.sampled_from([n_features, n_features + 1]))
            values = draw(
                hnp.arrays(
                    np.float64,
                    (length, features),
                    elements=st.floats(-1e6, 1e6) | st.sampled_from([np.nan, np.inf]),
                )
            )
        else:
            values = draw(dense_arrays(max_dims=3))
        sequences.append(values if draw(st.booleans()) else values.tolist())
    return sequences


# Well-formed input (2 features per step, as the fitted model's) is drawn as often as
# malformed input, so that both the working paths and the errors are exercised.
WELL_FORMED = st.one_of(
    st.sampled_from([np.float16, np.float32, np.float64, np.int64, np.bool_]).flatmap(
        lambda dtype: hnp.arrays(
            dtype,
            st.tuples(st.integers(1, 8), st.integers(1, 4), st.just(2)),
            elements=st.integers(
                0 if dtype is np.bool_ else -3, 1 if dtype is np.bool_ else 3
            ),
        )
    ),
    st.lists(
        hnp.arrays(
            np.float64,
            st.tuples(st.integers(1, 5), st.just(2)),
            elements=st.floats(-1e3, 1e3),
        ),
        min_size=1,
        max_size=8,
    ),
)
X_INPUTS = st.one_of(WELL_FORMED, WELL_FORMED, dense_arrays(), sequence_lists())


@st.composite
def labels(draw, n, n_tasks=None):
    """Labels for ``n`` sequences: well-formed two times in three, else anything."""
    if draw(st.sampled_from([True, True, False])):
        n_tasks = n_tasks or draw(st.integers(1, 3))
        columns = [
            draw(
                st.lists(
                    draw(st.sampled_from([st.integers(0, 2), st.sampled_from("ab")])),
                    min_size=n,
                    max_size=n,
                )
            )
            for _ in range(n_tasks)
        ]
        Y = np.empty((n, n_tasks), dtype=object)
        for k, column in enumerate(columns):
            Y[:, k] = column
        return Y[:, 0] if n_tasks == 1 and draw(st.booleans()) else Y
    rows = draw(st.sampled_from([n, n, n, max(n - 1, 0), n + 1]))
    ndim = draw(st.sampled_from([1, 2, 2, 3]))
    n_tasks = draw(st.integers(0, 3)) if ndim > 1 else 1
    values = st.one_of(
        st.integers(0, 2),
        st.sampled_from(["a", "b"]),
        st.none(),
        st.sampled_from([np.nan, 0.0, 1.0, 1.5, -2.0]),
    )
    homogeneous = draw(st.sampled_from([True, True, False]))
    if homogeneous:
        values = draw(st.sampled_from([st.integers(0, 2), st.sampled_from(["a", "b"])]))
    flat = draw(st.lists(values, min_size=rows * n_tasks, max_size=rows * n_tasks))
    Y = np.empty(rows * n_tasks, dtype=object)
    Y[:] = flat
    if ndim == 1:
        return Y
    if ndim == 2:
        return Y.reshape(rows, n_tasks)
    return Y.reshape(rows, n_tasks, 1)


def _n_samples(X):
    try:
        return len(X)
    except TypeError:
        return 1


def _assert_finite_and_shaped(clf, X, n):
    Y_pred = clf.predict(X)
    assert len(Y_pred) == n
    proba = clf.predict_proba(X)
    for p in [proba] if isinstance(proba, np.ndarray) else proba:
        assert p.shape[0] == n and np.all(np.isfinite(p))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def _expect_clear_error(call):
    """Run ``call``; return its value, or None after a clear ValueError/TypeError.

    Each outcome is counted as a hypothesis event: ``--hypothesis-show-statistics``
    shows how many cases worked and which errors the others met.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), "an error without a message"
        event(f"{type(exc).__name__}: {str(exc)[:45]}")
        return None
    event("worked")
    return result


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4, 2))
    Y = np.column_stack(
        [np.arange(12) % 2, np.array(["u", "v", "w"])[np.arange(12) % 3]]
    )
    clf = MultiTaskGRUClassifier(hidden_size=2, max_iter=1, random_state=0).fit(X, Y)
    return clf, Y


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@FUZZ
@given(data=st.data())
def test_fit_on_fuzzed_input_works_or_raises_clearly(method, data):
    X = data.draw(X_INPUTS, label="X")
    Y = data.draw(labels(_n_samples(X)), label="Y")
    clf = MultiTaskGRUClassifier(
        hidden_size=2, max_iter=1, batch_size=2, random_state=0
    )
    if _expect_clear_error(lambda: getattr(clf, method)(X, Y)) is not None:
        _assert_finite_and_shaped(clf, X, _n_samples(X))
        assert 0 <= clf.score(X, Y) <= 1


@FUZZ
@given(X=X_INPUTS)
def test_predict_on_fuzzed_input_works_or_raises_clearly(fitted, X):
    clf, _ = fitted
    if _expect_clear_error(lambda: clf.predict(X)) is not None:
        _assert_finite_and_shaped(clf, X, _n_samples(X))


@FUZZ
@given(data=st.data())
def test_score_on_fuzzed_input_works_or_raises_clearly(fitted, data):
    clf, _ = fitted
    X = data.draw(X_INPUTS, label="X")
    Y = data.draw(labels(_n_samples(X), n_tasks=2), label="Y")
    score = _expect_clear_error(lambda: clf.score(X, Y))
    assert score is None or 0 <= score <= 1


@FUZZ
@given(data=st.data())
def test_scaler_on_fuzzed_input_works_or_raises_clearly(data):
    X = data.draw(X_INPUTS, label="X")
    scaler = SequenceScaler()
    scaled = _expect_clear_error(lambda: scaler.fit_transform(X))
    if scaled is None:
        return
    for seq in scaled if isinstance(scaled, list) else [scaled]:
        assert np.all(np.isfinite(seq))
    other = data.draw(X_INPUTS, label="X_other")
    out = _expect_clear_error(lambda: scaler.transform(other))
    for seq in [] if out is None else out if isinstance(out, list) else [out]:
        assert np.all(np.isfinite(seq))


@pytest.mark.parametrize("scale", [1e20, 1e30])
def test_huge_inputs_never_give_nan_probabilities(fitted, scale):
    clf, _ = fitted
    X = np.random.default_rng(1).normal(size=(5, 4, 2)) * scale
    try:
        proba = clf.predict_proba(X)
    except ValueError as exc:
        assert "not finite" in str(exc)
    else:
        assert all(np.all(np.isfinite(p)) for p in proba)
