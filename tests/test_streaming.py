"""Streaming prediction: any chunking of a sequence predicts as offline predict."""

import functools
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline

import sk_mtgru
from sk_mtgru import StreamingPredictor

N_FEATURES = 3

# Causal classifiers: every summary, the front end (strided, dilated or neither),
# private task layers, stacked layers, the mixture of experts, the rich statistics
# (kept steps), an encoder per task group (tasks listed out of order); one behind a
# scaler pipeline.
CONFIGS = {
    "defaults, scaled": dict(),
    "last, 2 layers, no front end": dict(summary="last", num_layers=2, conv_layers=0),
    "attention": dict(summary="attention"),
    "attention, task layers": dict(summary="attention", task_layers=1, conv_layers=0),
    "mean, experts, rich statistics": dict(
        summary="mean", sharing="mmoe", input_statistics="rich"
    ),
    "max, 3 convolutions of stride 3": dict(
        summary="max", conv_layers=3, conv_kernel_size=3, conv_stride=3
    ),
    "last, 2 task layers, stride 1": dict(summary="last", task_layers=2, conv_stride=1),
    "task groups, dilated stack": dict(
        task_groups=[[1], [0]], conv_layers=3, conv_kernel_size=3, conv_dilation=2
    ),
}


def _recordings(seed=0, n=30):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 20, size=n)
    return [rng.normal(2, 3, size=(k, N_FEATURES)).astype(np.float32) for k in lengths]


@functools.cache
def _classifier(name):
    X = _recordings()
    Y = np.column_stack([np.arange(30) % 2, np.arange(30) % 3])
    clf = sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=5, conv_channels=4, max_iter=2, random_state=0, **CONFIGS[name]
    )
    if name.endswith("scaled"):
        return make_pipeline(sk_mtgru.SequenceScaler(), clf).fit(X, Y)
    return clf.fit(X, Y)


@functools.cache
def _tagger():
    X = _recordings()
    rng = np.random.default_rng(1)
    Y = [np.column_stack([np.arange(len(x)) % 3, rng.normal(size=len(x))]) for x in X]
    tagger = sk_mtgru.MultiTaskGRUTagger(
        hidden_size=5,
        num_layers=2,
        supervision_layers=[0, -1],
        bidirectional=False,
        max_iter=2,
        random_state=0,
    )
    return make_pipeline(sk_mtgru.SequenceScaler(), tagger).fit(X, Y)


def _margin(proba):
    """The gap between the two likeliest classes, along the last axis."""
    top = np.sort(proba, axis=-1)
    return top[..., -1] - top[..., -2]


@st.composite
def sequence_and_chunks(draw):
    """A sequence of 1 to 24 steps and a way of cutting it (empty chunks too)."""
    n = draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).normal(2, 3, size=(n, N_FEATURES))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    bounds = [0, *cuts, n]
    return x.astype(np.float32), list(zip(bounds[:-1], bounds[1:]))


@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=15, deadline=None)
@given(case=sequence_and_chunks())
def test_every_chunking_predicts_as_offline_predict_on_the_steps_so_far(name, case):
    model = _classifier(name)
    x, chunks = case
    stream = StreamingPredictor(model)
    for start, end in chunks:
        if end == 0:  # nothing has arrived yet
            continue
        labels = stream.update(x[start:end])
        prefix = [x[:end]]
        offline = model.predict_proba(prefix)
        for got, expected in zip(stream.predict_proba(), offline):
            np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        # the labels too, for every task whose two likeliest classes are apart
        # by more than float rounding could move them
        clear = [_margin(p[0]) > 1e-4 for p in offline]
        np.testing.assert_array_equal(labels[:, clear], model.predict(prefix)[:, clear])
    assert stream.n_steps_seen_ == len(x)


@settings(max_examples=25, deadline=None)
@given(case=sequence_and_chunks())
def test_a_causal_tagger_streams_each_step_as_offline(case):
    tagger = _tagger()
    x, chunks = case
    stream = StreamingPredictor(tagger)
    predicted = [stream.update(x[start:end]) for start, end in chunks]
    offline = tagger.predict([x])[0]
    # the classification task, at the steps whose two likeliest classes are apart
    # by more than float rounding could move them
    clear = _margin(tagger.predict_proba([x])["task_0"][0]) > 1e-4
    np.testing.assert_array_equal(
        np.concatenate(predicted)[clear, 0], offline[clear, 0]
    )
    np.testing.assert_allclose(
        np.concatenate(predicted)[:, 1].astype(float),
        offline[:, 1].astype(float),
        atol=1e-5,
    )
    # the last chunk's probabilities, by task name
    last_start, last_end = chunks[-1]
    np.testing.assert_allclose(
        stream.predict_proba()["task_0"],
        tagger.predict_proba([x])["task_0"][0][last_start:last_end],
        atol=1e-5,
    )


def test_regressor_and_mixed_estimator_stream_their_values():
    X = _recordings()
    rng = np.random.default_rng(2)
    y = rng.normal(40, 10, size=30)
    regressor = sk_mtgru.MultiTaskGRURegressor(
        hidden_size=5, conv_channels=4, max_iter=2, random_state=0
    ).fit(X, y)
    mixed = sk_mtgru.MultiTaskGRUEstimator(
        hidden_size=5, conv_channels=4, max_iter=2, random_state=0
    ).fit(X, np.column_stack([np.arange(30) % 2, y]))
    x = X[0]
    for model in (regressor, mixed):
        stream = StreamingPredictor(model)
        stream.update(x[:2])
        got = stream.update(x[2:])
        np.testing.assert_allclose(
            np.asarray(got, dtype=float), np.asarray(model.predict([x]), dtype=float)
        )


def test_a_chunk_is_read_not_modified():
    model = _classifier("defaults, scaled")
    chunk = np.random.default_rng(0).normal(size=(5, N_FEATURES))
    before = chunk.copy()
    StreamingPredictor(model).update(chunk)
    np.testing.assert_array_equal(chunk, before)


def test_models_that_look_ahead_are_refused_and_bad_chunks_explained():
    X = _recordings()
    Y = np.arange(30) % 2
    both_ways = sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=3, bidirectional=True, conv_layers=0, max_iter=1
    ).fit(X, Y)
    with pytest.raises(ValueError, match="bidirectional=False"):
        StreamingPredictor(both_ways)
    cropped = sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=3, crop_length=4, conv_layers=0, max_iter=1
    ).fit(X, Y)
    with pytest.raises(ValueError, match="crop_length=None"):
        StreamingPredictor(cropped)
    stream = StreamingPredictor(_classifier("attention"))
    with pytest.raises(ValueError, match="No steps have arrived"):
        stream.predict()
    with pytest.raises(ValueError, match=r"shape \(n_steps, 3\).*got shape \(4, 2\)"):
        stream.update(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        stream.update(np.full((2, 3), np.nan))
    with pytest.raises(TypeError, match="real numbers"):
        stream.update(np.array([["a", "b", "c"]]))
    stream.update(np.zeros((2, 3)))
    assert stream.reset().n_steps_seen_ == 0


@pytest.mark.parametrize("value", [1e300, -1e39])
def test_a_chunk_too_large_for_float32_is_refused_as_predict_refuses_it(value):
    clf = _classifier("last, 2 layers, no front end")
    stream = StreamingPredictor(clf)
    chunk = np.full((3, N_FEATURES), value)
    with pytest.raises(ValueError, match="too large for float32"):
        clf.predict([chunk])
    with pytest.raises(ValueError, match="too large for float32"):
        stream.update(chunk)
    assert stream.n_steps_seen_ == 0


@pytest.mark.parametrize("name", ["defaults, scaled", "last, 2 layers, no front end"])
def test_a_chunk_the_network_cannot_read_is_refused_and_the_stream_goes_on(name):
    model = _classifier(name)
    X = _recordings(seed=2, n=1)[0]
    poisoned = np.full((2, N_FEATURES), 1e30)
    with pytest.raises(ValueError, match="not finite"):
        model.predict([np.concatenate([X[:4], poisoned])])
    stream = StreamingPredictor(model)
    stream.update(X[:4])
    with pytest.raises(ValueError, match="not finite"):
        stream.update(poisoned)
    assert stream.n_steps_seen_ == 4
    # the refused chunk left no trace: the rest predicts as the clean sequence
    stream.update(X[4:])
    for got, want in zip(stream.predict_proba(), model.predict_proba([X])):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("name", ["defaults, scaled", "tagger"])
def test_two_threads_feeding_one_predictor_lose_no_step(name):
    model = _tagger() if name == "tagger" else _classifier(name)
    stream = StreamingPredictor(model)
    step = _recordings(seed=3, n=1)[0][:1]  # every chunk the same step: any order
    start = threading.Barrier(2)

    def feed():
        start.wait()
        for _ in range(150):
            stream.update(step)

    threads = [threading.Thread(target=feed) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: races show at once
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert stream.n_steps_seen_ == 300
    whole = np.repeat(step, 300, axis=0)
    # every step reached the network: the probabilities are offline predict's
    got, want = stream.predict_proba(), model.predict_proba([whole])
    if name == "tagger":  # the state carried 299 steps: the last one tags as offline
        got, want = got["task_0"], want["task_0"][0][-1:]
        np.testing.assert_allclose(got, want, atol=1e-5)
    else:
        for got_task, want_task in zip(got, want):
            np.testing.assert_allclose(got_task, want_task, atol=1e-5)
