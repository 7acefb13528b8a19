"""ONNX export: onnxruntime alone gives the estimators' predictions, on ragged
batches of any size and length."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import sk_mtgru

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

N_SEQUENCES = 25


def _ragged(seed=0, n_features=3):
    """Sequences of 3 to 14 steps, far from standardised, and per-step labels."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 15, size=N_SEQUENCES)
    lengths[0] = 14
    X = [rng.normal(4, 3, size=(n, n_features)).astype(np.float32) for n in lengths]
    return X, lengths, rng


def _padded(X, lengths, fill):
    """The batch the ONNX graph reads, padded with ``fill`` (not only zeros)."""
    batch = np.full((len(X), max(lengths) + 2, X[0].shape[1]), fill, np.float32)
    for i, x in enumerate(X):
        batch[i, : len(x)] = x
    return batch


def _run(model, tmp_path, X, lengths, fill=7.5):
    path = tmp_path / "model.onnx"
    sk_mtgru.to_onnx(model, path)
    session = ort.InferenceSession(str(path))
    outputs = session.run(
        None, {"x": _padded(X, lengths, fill), "lengths": lengths.astype(np.int64)}
    )
    names = [o.name for o in session.get_outputs()]
    meta = json.loads(session.get_modelmeta().custom_metadata_map["sk_mtgru"])
    return dict(zip(names, outputs)), meta


def _sequence_labels():
    X, lengths, _ = _ragged()
    Y = np.column_stack([np.arange(N_SEQUENCES) % 2, np.arange(N_SEQUENCES) % 3])
    Y = Y.astype(object)
    Y[:, 0] = np.where(Y[:, 0] == 1, "walk", "sit")
    return X, lengths, Y


CLASSIFIERS = {
    # the defaults: strided convolutions, mean_max, input statistics
    "defaults": {},
    "last, 2 bidirectional layers, task layers": dict(
        summary="last", bidirectional=True, num_layers=2, task_layers=1, conv_layers=0
    ),
    "attention, bidirectional": dict(summary="attention", bidirectional=True),
    "mean, mixture of experts, rich statistics": dict(
        summary="mean", sharing="mmoe", bidirectional=True, input_statistics="rich"
    ),
    "max, dilated, stride 3, no statistics": dict(
        summary="max",
        conv_layers=2,
        conv_dilation=3,
        conv_stride=3,
        input_statistics=False,
    ),
}


@pytest.mark.parametrize("params", CLASSIFIERS.values(), ids=CLASSIFIERS.keys())
def test_classifier_probabilities_and_labels_match_on_ragged_batches(tmp_path, params):
    X, lengths, Y = _sequence_labels()
    clf = sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=6, conv_channels=4, max_iter=2, random_state=0, **params
    ).fit(X, Y)
    outputs, meta = _run(clf, tmp_path, X, lengths)
    assert list(outputs) == ["proba_task_0", "proba_task_1"]
    for k, expected in enumerate(clf.predict_proba(X)):
        got = outputs[f"proba_task_{k}"]
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        # labels decoded from the file's metadata alone
        labels = np.asarray(meta["classes"][k], dtype=object)[got.argmax(axis=1)]
        np.testing.assert_array_equal(labels, clf.predict(X)[:, k])


def test_a_scaler_pipeline_exports_with_the_scaling_folded_in(tmp_path):
    X, lengths, Y = _sequence_labels()
    pipe = make_pipeline(
        sk_mtgru.SequenceScaler(),
        sk_mtgru.SequenceScaler(with_mean=False),  # composes with the first
        sk_mtgru.MultiTaskGRUClassifier(
            hidden_size=6, conv_layers=0, max_iter=2, random_state=0
        ),
    ).fit(X, Y)
    outputs, _ = _run(pipe, tmp_path, X, lengths)
    for k, expected in enumerate(pipe.predict_proba(X)):
        np.testing.assert_allclose(outputs[f"proba_task_{k}"], expected, atol=1e-5)


def test_regression_outputs_are_in_the_targets_units(tmp_path):
    X, lengths, rng = _ragged()
    y = np.column_stack([rng.normal(50, 10, N_SEQUENCES), rng.normal(size=25)])
    regressor = sk_mtgru.MultiTaskGRURegressor(
        hidden_size=6, conv_channels=4, max_iter=2, random_state=0
    ).fit(X, y)
    outputs, meta = _run(regressor, tmp_path, X, lengths)
    assert meta["task_types"] == ["regression", "regression"]
    expected = regressor.predict(X)
    for k, name in enumerate(outputs):
        assert name == f"value_task_{k}"
        np.testing.assert_allclose(outputs[name], expected[:, k], rtol=1e-5, atol=1e-4)


def test_mixed_tasks_give_probabilities_and_values(tmp_path):
    X, lengths, rng = _ragged()
    Y = np.column_stack([np.arange(N_SEQUENCES) % 3, rng.normal(100, 20, 25)])
    model = sk_mtgru.MultiTaskGRUEstimator(
        hidden_size=6, conv_channels=4, max_iter=2, random_state=0
    ).fit(X, Y)
    outputs, meta = _run(model, tmp_path, X, lengths)
    assert list(outputs) == ["proba_task_0", "value_task_1"]
    assert meta["classes"][1] is None
    np.testing.assert_allclose(
        outputs["proba_task_0"], model.predict_proba(X)["task_0"], atol=1e-5
    )
    predicted = np.asarray(model.predict(X))
    np.testing.assert_allclose(
        outputs["value_task_1"], predicted[:, 1].astype(float), rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("bidirectional", [True, False])
def test_tagger_gives_every_real_step_its_output(tmp_path, bidirectional):
    X, lengths, rng = _ragged()
    Y = [np.column_stack([np.arange(n) % 2, rng.normal(size=n)]) for n in lengths]
    tagger = sk_mtgru.MultiTaskGRUTagger(
        hidden_size=6,
        num_layers=2,
        supervision_layers=[0, -1],
        bidirectional=bidirectional,
        max_iter=2,
        random_state=0,
    )
    pipe = make_pipeline(sk_mtgru.SequenceScaler(), tagger).fit(X, Y)
    outputs, meta = _run(pipe, tmp_path, X, lengths)
    assert meta["per_step"] and meta["task_types"] == ["classification", "regression"]
    proba, predicted = pipe.predict_proba(X)["task_0"], pipe.predict(X)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(outputs["proba_task_0"][i, :n], proba[i], atol=1e-5)
        np.testing.assert_allclose(
            outputs["value_task_1"][i, :n],
            predicted[i][:, 1].astype(float),
            rtol=1e-5,
            atol=1e-5,
        )


def test_the_file_runs_in_a_process_without_torch_or_sk_mtgru(tmp_path):
    X, lengths, Y = _sequence_labels()
    clf = sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=6, conv_channels=4, max_iter=2, random_state=0
    ).fit(X, Y)
    sk_mtgru.to_onnx(clf, tmp_path / "model.onnx")
    np.save(tmp_path / "x.npy", _padded(X, lengths, 0.0))
    np.save(tmp_path / "lengths.npy", lengths.astype(np.int64))
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["torch"] = None  # importing either now fails
        sys.modules["sk_mtgru"] = None
        import numpy as np
        import onnxruntime
        session = onnxruntime.InferenceSession({str(tmp_path / "model.onnx")!r})
        meta = json.loads(session.get_modelmeta().custom_metadata_map["sk_mtgru"])
        outputs = session.run(None, {{
            "x": np.load({str(tmp_path / "x.npy")!r}),
            "lengths": np.load({str(tmp_path / "lengths.npy")!r}),
        }})
        labels = [
            [str(meta["classes"][k][j]) for j in out.argmax(axis=1)]
            for k, out in enumerate(outputs)
        ]
        print(json.dumps(labels))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    labels = json.loads(result.stdout)
    expected = clf.predict(X)
    for k in range(2):
        assert labels[k] == [str(v) for v in expected[:, k]]


def test_what_cannot_be_exported_says_why(tmp_path):
    X, lengths, Y = _sequence_labels()
    cropped = sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=4, conv_layers=0, crop_length=6, max_iter=1, random_state=0
    ).fit(X, Y)
    with pytest.raises(ValueError, match="crop_length=None"):
        sk_mtgru.to_onnx(cropped, tmp_path / "m.onnx")
    other = make_pipeline(FunctionTransformer(), cropped.set_params(crop_length=None))
    with pytest.raises(TypeError, match="FunctionTransformer"):
        sk_mtgru.to_onnx(other, tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="got SequenceScaler"):
        sk_mtgru.to_onnx(sk_mtgru.SequenceScaler().fit(X), tmp_path / "m.onnx")
    unfitted = sk_mtgru.MultiTaskGRUTagger()
    with pytest.raises(Exception, match="not fitted"):
        sk_mtgru.to_onnx(unfitted, tmp_path / "m.onnx")


# Graphs of each kind the probe broke: the defaults (convolutions, statistics),
# 'last' without convolutions, and the bidirectional tagger.
HOSTILE = {
    "defaults": lambda: sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=6, conv_channels=4, max_iter=1, random_state=0
    ),
    "last, no convolutions": lambda: sk_mtgru.MultiTaskGRUClassifier(
        hidden_size=6, summary="last", conv_layers=0, max_iter=1, random_state=0
    ),
    "tagger": lambda: sk_mtgru.MultiTaskGRUTagger(
        hidden_size=6, max_iter=1, random_state=0
    ),
}


@pytest.fixture(scope="module")
def hostile_sessions(tmp_path_factory):
    """One exported graph of each kind (an export takes seconds)."""
    X, lengths, Y = _sequence_labels()
    sessions = {}
    for name, make in HOSTILE.items():
        y = [np.column_stack([np.arange(n) % 2] * 2) for n in lengths]
        model = make().fit(X, y if name == "tagger" else Y)
        path = tmp_path_factory.mktemp("hostile") / f"{name}.onnx"
        sk_mtgru.to_onnx(model, path)
        sessions[name] = ort.InferenceSession(str(path))
    return sessions


def _outputs(session, x, lengths):
    return session.run(None, {"x": x, "lengths": np.asarray(lengths, np.int64)})


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_padding_never_reaches_an_output(hostile_sessions, name, fill):
    X, lengths, _ = _sequence_labels()
    session = hostile_sessions[name]
    clean = _outputs(session, _padded(X, lengths, 0.0), lengths)
    dirty = _outputs(session, _padded(X, lengths, fill), lengths)
    for got, want in zip(dirty, clean):
        if got.ndim == 3:  # per step: the real steps
            for i, n in enumerate(lengths):
                np.testing.assert_array_equal(got[i, :n], want[i, :n])
            assert np.isfinite(got).all()
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", HOSTILE)
def test_lengths_outside_one_to_steps_are_clamped_into_it(hostile_sessions, name):
    X, lengths, _ = _sequence_labels()
    x = _padded(X[:4], lengths[:4], 0.0)
    steps = x.shape[1]
    session = hostile_sessions[name]
    bad = _outputs(session, x, [0, -3, steps + 1, 10**6])
    clamped = _outputs(session, x, [1, 1, steps, steps])
    for got, want in zip(bad, clamped):
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_batch_of_no_steps_runs_without_aborting(hostile_sessions, name):
    session = hostile_sessions[name]
    empty = np.zeros((3, 0, 3), np.float32)
    one_zero_step = np.zeros((3, 1, 3), np.float32)
    got = _outputs(session, empty, [0, 0, 0])
    want = _outputs(session, one_zero_step, [1, 1, 1])
    for g, w in zip(got, want):
        if g.ndim == 3:  # per step: no step, no output
            assert g.shape == (3, 0, w.shape[2])
        else:
            np.testing.assert_array_equal(g, w)


def test_a_model_with_task_groups_exports_each_task_from_its_branch(tmp_path):
    X, lengths, rng = _ragged()
    Y = np.column_stack([np.arange(N_SEQUENCES) % k for k in (2, 3, 4)])
    model = make_pipeline(
        sk_mtgru.SequenceScaler(),
        sk_mtgru.MultiTaskGRUClassifier(
            hidden_size=6,
            conv_channels=4,
            max_iter=2,
            random_state=0,
            task_groups=[[2, 0], [1]],
        ),
    ).fit(X, Y)
    outputs, _ = _run(model, tmp_path, X, lengths)
    expected = model.predict_proba(X)
    for k, got in enumerate(outputs.values()):
        assert got.shape == expected[k].shape  # task k from its own head
        np.testing.assert_allclose(got, expected[k], atol=2e-5)
