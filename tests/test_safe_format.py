"""The safe model format: identical round trips, and crafted files never execute."""

import json
import math
import os
import pickle
import stat
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline, make_pipeline

pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import sk_mtgru  # noqa: E402
from sk_mtgru import SequenceScaler  # noqa: E402
from sk_mtgru._io import FORMAT_VERSION  # noqa: E402
from sk_mtgru._io._format import digest  # noqa: E402
from sk_mtgru.datasets import make_multitask_sequences  # noqa: E402

from .conftest import small_classifier  # noqa: E402


def _read(path):
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["sk_mtgru"]), {
            k: f.get_tensor(k) for k in f.keys()
        }


def _write(path, document, tensors, *, sign=True):
    """Write a crafted file; signed as a crafter who recomputes the digest would
    (so that the checks past the digest are what refuses it)."""
    if sign and "sha256" in document:
        document["sha256"] = digest(json.loads(json.dumps(document)), tensors)
    save_file(tensors, str(path), metadata={"sk_mtgru": json.dumps(document)})


def _assert_crafted_file_refused(path, corrupt, match, tmp_path):
    """A copy of the file at ``path`` with its description changed by ``corrupt``
    (and signed again) fails to load with a ValueError matching ``match``."""
    document, tensors = _read(path)
    corrupt(document)
    bad = tmp_path / "bad.safetensors"
    _write(bad, document, tensors)
    with pytest.raises(ValueError, match=match):
        sk_mtgru.load(bad)


@pytest.fixture
def saved(tmp_path, string_labels):
    X, Y = string_labels
    clf = small_classifier(task_weights=(1, 2), bidirectional=True).fit(X, Y)
    path = tmp_path / "model.safetensors"
    clf.save(path)
    return clf, path, X


def test_round_trip_predicts_identically_with_labels_and_names(saved):
    clf, path, X = saved
    loaded = sk_mtgru.load(path)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    for a, b in zip(loaded.predict_proba(X), clf.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_params() == clf.get_params()
    assert loaded.classes_[0].tolist() == ["cat", "dog"]
    assert loaded.classes_[1].dtype == clf.classes_[1].dtype
    assert loaded.task_names_.tolist() == clf.task_names_.tolist()
    assert loaded.history_[:, "train_loss"] == clf.history_[:, "train_loss"]


def test_round_trip_of_a_single_task_model_from_a_dataframe(tmp_path, dense_data):
    pd = pytest.importorskip("pandas")
    X, Y = dense_data
    clf = small_classifier().fit(X[:, :, 0], pd.Series(Y[:, 1], name="subject"))
    clf.save(tmp_path / "m.safetensors")
    loaded = sk_mtgru.load(tmp_path / "m.safetensors")
    assert loaded.predict(X[:, :, 0]).shape == (60,)
    assert loaded.task_names_.tolist() == ["subject"]
    np.testing.assert_array_equal(loaded.predict(X[:, :, 0]), clf.predict(X[:, :, 0]))
    with pytest.raises(ValueError, match="is X transposed"):
        loaded.predict(X[:, :, 0].T)


def test_round_trip_keeps_the_task_affinity_recorded_in_the_history(
    tmp_path, dense_data
):
    X, Y = dense_data
    clf = small_classifier(task_affinity_interval=1).fit(X, Y)
    clf.save(tmp_path / "m.safetensors")
    loaded = sk_mtgru.load(tmp_path / "m.safetensors")
    assert loaded.history_[:, "task_affinity"] == clf.history_[:, "task_affinity"]
    np.testing.assert_allclose(loaded.task_affinity_, clf.task_affinity_)


def test_the_file_holds_no_pickle(saved):
    _, path, _ = saved
    document, tensors = _read(path)
    assert document["format_version"] == FORMAT_VERSION
    assert set(document["versions"]) == {"sk_mtgru", "torch", "scikit-learn", "skorch"}
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    assert b"\x80\x04\x95" not in path.read_bytes()  # pickle protocol 4 header


class _Payload:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_a_pickle_under_the_expected_name_is_refused_without_running(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ValueError, match="cannot be read as safetensors"):
        sk_mtgru.load(path)
    assert not (tmp_path / "PWNED").exists()


def test_a_safetensors_file_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="not an sk_mtgru model file"):
        sk_mtgru.load(path)


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda d: d.update(format_version="1"), "format_version must be of type int"),
        (lambda d: d["params"].update(hidden_size="big"), "params are invalid"),
        (
            lambda d: d["params"].update(evil={"__class__": "os.system"}),
            "unknown param",
        ),
        (lambda d: d.update(estimator="subprocess.Popen"), "unknown estimator"),
        (
            lambda d: d["fitted"]["classes"][0].update(values="cat,dog"),
            "must be of type list",
        ),
        (
            lambda d: d["fitted"]["classes"][0].update(dtype="O"),
            "must be a bool, number",
        ),
        (lambda d: d["fitted"]["classes"][1].update(values=[0, 1]), "must list the 3"),
        (lambda d: d["fitted"].update(task_names=[1, 2]), "list of str"),
        (lambda d: d["module"].update(n_classes=[2, "3"]), "list of ints"),
        (lambda d: d["module"].update(summary="median"), "unknown summary"),
        (lambda d: d["fitted"].update(history={"a": 1}), "must be of type list"),
        (lambda d: d.pop("fitted"), "lacks the entry 'fitted'"),
    ],
)
def test_json_with_unexpected_types_is_a_clear_error(saved, tmp_path, corrupt, match):
    _assert_crafted_file_refused(saved[1], corrupt, match, tmp_path)


def test_tensors_of_the_wrong_shape_are_a_clear_error(saved, tmp_path):
    _, path, _ = saved
    document, tensors = _read(path)
    tensors["heads.0.weight"] = torch.zeros(5, 3)
    _write(tmp_path / "bad.safetensors", document, tensors)
    with pytest.raises(
        ValueError, match="tensor 'heads.0.weight' has shape \\(5, 3\\)"
    ):
        sk_mtgru.load(tmp_path / "bad.safetensors")
    tensors.pop("heads.0.weight")
    _write(tmp_path / "bad.safetensors", document, tensors)
    with pytest.raises(ValueError, match="missing \\['heads.0.weight'\\]"):
        sk_mtgru.load(tmp_path / "bad.safetensors")


def test_a_newer_format_is_an_error_and_an_older_package_a_warning(saved, tmp_path):
    _, path, X = saved
    document, tensors = _read(path)
    document["format_version"] = FORMAT_VERSION + 1
    _write(tmp_path / "newer.safetensors", document, tensors)
    with pytest.raises(ValueError, match=f"file format {FORMAT_VERSION + 1}, newer"):
        sk_mtgru.load(tmp_path / "newer.safetensors")
    document["format_version"] = FORMAT_VERSION
    document["versions"]["sk_mtgru"] = "0.0.1"
    _write(tmp_path / "older.safetensors", document, tensors)
    with pytest.warns(
        UserWarning, match=f"sk_mtgru 0.0.1 .* sk_mtgru {sk_mtgru.__version__}"
    ):
        loaded = sk_mtgru.load(tmp_path / "older.safetensors")
    assert loaded.predict(X).shape == (60, 2)


def test_round_trip_of_a_mixture_of_experts(tmp_path, dense_data):
    X, Y = dense_data
    clf = small_classifier(sharing="mmoe", n_experts=3, bidirectional=True)
    clf.fit(X, Y).save(tmp_path / "mmoe.safetensors")
    loaded = sk_mtgru.load(tmp_path / "mmoe.safetensors")
    assert loaded.net_.module_.n_experts == 3 and loaded.get_params()["n_experts"] == 3
    for a, b in zip(loaded.predict_proba(X), clf.predict_proba(X)):
        np.testing.assert_array_equal(a, b)


def test_round_trip_of_mixed_kinds_keeps_each_tasks_classes_and_scaling(
    tmp_path, dense_data
):
    X, Y = dense_data
    values = Y[:, 1] * 10.0 + 0.5  # a regression task, in its own units
    mixed = sk_mtgru.MultiTaskGRUEstimator(
        task_types=[None, "regression"], hidden_size=6, max_iter=2, random_state=0
    ).fit(X, np.column_stack([Y[:, 0], values]).astype(object))
    mixed.save(tmp_path / "mixed.safetensors")
    loaded = sk_mtgru.load(tmp_path / "mixed.safetensors")
    assert loaded.task_types_ == ["classification", "regression"]
    np.testing.assert_array_equal(loaded.classes_[0], mixed.classes_[0])
    assert loaded.classes_[1] is None
    np.testing.assert_array_equal(loaded._y_mean, mixed._y_mean)
    np.testing.assert_array_equal(loaded._y_scale, mixed._y_scale)
    np.testing.assert_array_equal(loaded.predict(X), mixed.predict(X))


def test_round_trip_of_a_dilated_front_end_and_a_file_without_dilation(
    tmp_path, dense_data
):
    X, Y = dense_data
    clf = small_classifier(conv_layers=3, conv_dilation=2).fit(X, Y)
    clf.save(tmp_path / "dilated.safetensors")
    back = sk_mtgru.load(tmp_path / "dilated.safetensors")
    half = clf.conv_kernel_size // 2
    assert back.conv_dilation == 2 and back.net_.module_.conv.reach == half * (
        1 + 2 + 4
    )
    np.testing.assert_array_equal(back.predict_proba(X)[0], clf.predict_proba(X)[0])
    # a file written before dilated stacks: its convolutions are undilated
    plain = small_classifier(conv_layers=2).fit(X, Y)
    plain.save(tmp_path / "plain.safetensors")
    document, tensors = _read(tmp_path / "plain.safetensors")
    del document["module"]["conv_dilation"], document["params"]["conv_dilation"]
    _write(tmp_path / "older.safetensors", document, tensors)
    older = sk_mtgru.load(tmp_path / "older.safetensors")
    assert older.conv_dilation == 1
    np.testing.assert_array_equal(older.predict(X), plain.predict(X))
    # params that would build another stack are refused
    document["params"]["conv_dilation"] = 2
    _write(tmp_path / "odd.safetensors", document, tensors)
    with pytest.raises(ValueError, match="conv_dilation=2"):
        sk_mtgru.load(tmp_path / "odd.safetensors")


def test_a_format_1_file_loads_as_the_model_it_was(tmp_path, dense_data):
    # Format 1 came before the convolutions, the input statistics and the
    # schedule: its files name none of them and must not get today's defaults.
    X, Y = dense_data
    old = small_classifier(
        conv_layers=0,
        input_statistics=False,
        learning_rate="constant",
        max_grad_norm=None,
    ).fit(X, Y)
    old.save(tmp_path / "model.safetensors")
    document, tensors = _read(tmp_path / "model.safetensors")
    document["format_version"] = 1
    for key in ("conv_layers", "conv_channels", "conv_kernel_size", "conv_stride"):
        del document["params"][key], document["module"][key]
    for key in ("input_statistics", "learning_rate", "max_grad_norm"):
        document["params"].pop(key)
    for key in ("input_statistics", "sharing", "n_experts"):
        del document["module"][key]
    del document["params"]["sharing"], document["params"]["n_experts"]
    _write(tmp_path / "v1.safetensors", document, tensors)
    loaded = sk_mtgru.load(tmp_path / "v1.safetensors")
    params = loaded.get_params()
    assert params["conv_layers"] == 0 and params["input_statistics"] is False
    assert params["learning_rate"] == "constant" and params["max_grad_norm"] is None
    for a, b in zip(loaded.predict_proba(X), old.predict_proba(X)):
        np.testing.assert_array_equal(a, b)


def test_saving_an_unfitted_model_is_not_fitted_error(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        sk_mtgru.MultiTaskGRUClassifier().save(tmp_path / "m.safetensors")


def test_a_random_state_instance_is_saved_as_none_with_a_warning(tmp_path, dense_data):
    X, Y = dense_data
    clf = small_classifier(random_state=np.random.RandomState(0)).fit(X, Y)
    with pytest.warns(UserWarning, match="random_state=None"):
        clf.save(tmp_path / "m.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sk_mtgru.load(tmp_path / "m.safetensors").random_state is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_fitted_on_gpu_loads_and_predicts_in_a_cpu_only_process(
    tmp_path, dense_data
):
    import os
    import subprocess
    import sys

    X, Y = dense_data
    clf = small_classifier(device="cuda").fit(X, Y)
    clf.save(tmp_path / "m.safetensors")
    np.save(tmp_path / "X.npy", X)
    code = (
        "import numpy as np, sk_mtgru, torch; assert not torch.cuda.is_available(); "
        f"m = sk_mtgru.load({str(tmp_path / 'm.safetensors')!r}); "
        f"np.save({str(tmp_path / 'p.npy')!r}, "
        f"m.predict_proba(np.load({str(tmp_path / 'X.npy')!r}))[0])"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    np.testing.assert_allclose(
        np.load(tmp_path / "p.npy"), clf.predict_proba(X)[0], rtol=1e-3, atol=1e-3
    )


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda d: d["fitted"]["targets"].update(scale=[-1.0, 1.0]), "positive scale"),
        # finite, but predictions in these units would not be
        (lambda d: d["fitted"]["targets"].update(scale=[1e308, 1.0]), "within 3.4"),
        (lambda d: d["fitted"]["targets"].update(mean=[0.0, -1e308]), "within 3.4"),
        (lambda d: d["fitted"]["targets"].update(mean=["a", 1.0]), "must hold numbers"),
        (lambda d: d["fitted"].pop("targets"), "targets"),
        (lambda d: d["module"].update(n_classes=[2, 1]), "must be 1 for every target"),
        (lambda d: d.update(estimator="GradientBoosting"), "unknown estimator"),
        # another estimator of the package: its parameters are not the regressor's
        (lambda d: d.update(estimator="MultiTaskGRUTagger"), "unknown parameter"),
    ],
)
def test_a_regressor_file_with_a_bad_target_scaling_is_refused(
    tmp_path, dense_data, corrupt, match
):
    X, Y = dense_data
    values = np.column_stack([X[:, :, 0].sum(1), 50 + X[:, :, 1].mean(1)])
    regressor = sk_mtgru.MultiTaskGRURegressor(
        hidden_size=4, max_iter=1, random_state=0
    )
    path = tmp_path / "regressor.safetensors"
    regressor.fit(X, values).save(path)
    document, tensors = _read(path)
    corrupt(document)
    _write(path, document, tensors)
    with pytest.raises(ValueError, match=match) as info:
        sk_mtgru.load(path)
    assert str(path) in str(info.value)


# ------------------------------------------------ params that lie about the network
@pytest.mark.parametrize(
    "param, value",
    [
        ("hidden_size", 10_000_000),
        ("summary", "mean"),
        ("conv_stride", 1),  # same shapes, another network
        ("bidirectional", False),
        ("input_statistics", False),
    ],
)
def test_params_that_disagree_with_the_network_are_refused(
    tmp_path, dense_data, param, value
):
    X, Y = dense_data
    clf = small_classifier(bidirectional=True, max_iter=1).fit(X, Y)
    clf.save(tmp_path / "m.safetensors")
    document, tensors = _read(tmp_path / "m.safetensors")
    document["params"][param] = value
    _write(tmp_path / "lie.safetensors", document, tensors)
    with pytest.raises(ValueError, match=f"lie.safetensors .*params disagree.*{param}"):
        sk_mtgru.load(tmp_path / "lie.safetensors")


def test_a_huge_network_described_over_small_tensors_allocates_nothing(saved, tmp_path):
    # Both the params and the module claim ten million units; the tensors hold 8.
    # The check runs on torch's meta device, so it fails at once, in words.
    _, path, _ = saved
    document, tensors = _read(path)
    document["params"]["hidden_size"] = document["module"]["hidden_size"] = 10**7
    _write(tmp_path / "huge.safetensors", document, tensors)
    with pytest.raises(ValueError, match="huge.safetensors .*needs \\(30000000, "):
        sk_mtgru.load(tmp_path / "huge.safetensors")


def test_json_nested_beyond_what_python_parses_is_a_value_error(saved, tmp_path):
    _, path, _ = saved
    _, tensors = _read(path)
    text = '{"format": "sk_mtgru", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    save_file(tensors, str(tmp_path / "deep.safetensors"), metadata={"sk_mtgru": text})
    with pytest.raises(ValueError, match="deep.safetensors is not a valid.*Recursion"):
        sk_mtgru.load(tmp_path / "deep.safetensors")


def test_json_nested_deeper_than_a_model_needs_is_refused(saved, tmp_path):
    # Parseable, and in the history, whose values may be nested lists.
    _, path, _ = saved
    document, tensors = _read(path)
    document["fitted"]["history"][0]["task_affinity"] = json.loads("[" * 40 + "]" * 40)
    _write(tmp_path / "deep.safetensors", document, tensors)
    with pytest.raises(ValueError, match="deep.safetensors .*nested deeper than 32"):
        sk_mtgru.load(tmp_path / "deep.safetensors")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_a_new_file_follows_the_umask_as_joblib_files_do(saved, tmp_path, umask, mode):
    clf, _, _ = saved
    previous = os.umask(umask)
    try:
        clf.save(tmp_path / "m.safetensors")
        joblib.dump(clf, tmp_path / "m.joblib")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "m.safetensors").st_mode) == mode
    assert stat.S_IMODE(os.stat(tmp_path / "m.joblib").st_mode) == mode


# ------------------------------------------------------------------ pipelines
@pytest.fixture
def scaled_pipeline(tmp_path, dense_data):
    X, Y = dense_data
    X = X * 50.0 + 200.0  # far from standardised: the scaler matters
    pipe = make_pipeline(SequenceScaler(), small_classifier()).fit(X, Y)
    path = tmp_path / "pipe.safetensors"
    sk_mtgru.save(pipe, path)
    return pipe, path, X


def test_a_scaler_pipeline_round_trips_as_a_pipeline(scaled_pipeline):
    pipe, path, X = scaled_pipeline
    loaded = sk_mtgru.load(path)
    assert isinstance(loaded, Pipeline)
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipe.steps]
    np.testing.assert_array_equal(loaded[0].mean_, pipe[0].mean_)
    np.testing.assert_array_equal(loaded[0].scale_, pipe[0].scale_)
    for a, b in zip(loaded.predict_proba(X), pipe.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_params(deep=True).keys() == pipe.get_params(deep=True).keys()


def test_a_pipeline_of_something_else_is_refused_with_a_type_error(
    tmp_path, dense_data
):
    from sklearn.preprocessing import FunctionTransformer

    X, Y = dense_data
    pipe = make_pipeline(FunctionTransformer(), small_classifier(max_iter=1)).fit(X, Y)
    with pytest.raises(TypeError, match="SequenceScaler steps"):
        sk_mtgru.save(pipe, tmp_path / "p.safetensors")
    with pytest.raises(TypeError, match="got SequenceScaler"):
        sk_mtgru.save(SequenceScaler().fit(X), tmp_path / "s.safetensors")


def _scaler_of_4_features(document, tensors):
    """A consistent scaler, for 4 features where the model reads 3."""
    document["pipeline"]["steps"][0]["fitted"]["n_features_in"] = 4
    for name in ("mean_", "scale_", "var_"):
        tensors[f"steps.0.{name}"] = torch.ones(4, dtype=torch.float64)


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda d, t: t.pop("steps.0.mean_"), "'steps.0.mean_' is missing"),
        (
            lambda d, t: t.update({"steps.0.scale_": torch.zeros(3, dtype=float)}),
            "'steps.0.scale_' has invalid values",
        ),
        (
            lambda d, t: t.update({"steps.0.mean_": torch.zeros(4, dtype=float)}),
            "must be float64 of shape \\(3,\\)",
        ),
        (
            lambda d, t: d["pipeline"]["steps"][0].update(params={"evil": True}),
            "SequenceScaler's two booleans",
        ),
        (lambda d, t: d.update(format_version=2), "not part of format 2"),
        (_scaler_of_4_features, "features differ from the model's"),
        (
            lambda d, t: d["pipeline"]["steps"][0].update(name="a__b"),
            "distinct names",
        ),
    ],
)
def test_a_crafted_pipeline_file_is_a_clear_error(
    scaled_pipeline, tmp_path, corrupt, match
):
    _, path, _ = scaled_pipeline
    document, tensors = _read(path)
    corrupt(document, tensors)
    _write(tmp_path / "bad.safetensors", document, tensors)
    with pytest.raises(ValueError, match=match):
        sk_mtgru.load(tmp_path / "bad.safetensors")


def test_a_format_2_classifier_file_still_loads(saved, tmp_path):
    clf, path, X = saved
    document, tensors = _read(path)
    document["format_version"] = 2
    _write(tmp_path / "v2.safetensors", document, tensors)
    np.testing.assert_array_equal(
        sk_mtgru.load(tmp_path / "v2.safetensors").predict(X), clf.predict(X)
    )


# --------------------------------------------- the tagger's and mixed tasks' files
@pytest.fixture
def saved_tagger(tmp_path):
    X, Y = make_multitask_sequences(
        20, n_tasks=2, length=(5, 9), per_step=True, random_state=0
    )
    rng = np.random.default_rng(0)
    Y = [np.column_stack([y[:, 0], rng.normal(size=len(y))]) for y in Y]
    tagger = sk_mtgru.MultiTaskGRUTagger(
        hidden_size=4, num_layers=2, supervision_layers=[0, 1], max_iter=1
    ).fit(X, Y)
    path = tmp_path / "tagger.safetensors"
    tagger.save(path)
    return path


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda d: d["module"].update(layers=[0, 5]), "give each head a layer"),
        (lambda d: d["params"].update(supervision_layers=[1, 1]), "params disagree"),
        (lambda d: d["fitted"]["tasks"][1].update(kind="ranking"), "'regression'"),
        (lambda d: d["fitted"]["tasks"][1].update(scale=0.0), "positive scale"),
        (lambda d: d["fitted"]["tasks"][0].update(kind="regression"), "head of sev"),
        (lambda d: d["fitted"]["tasks"].pop(), "numbers of tasks and heads"),
        (lambda d: d["fitted"].update(y_frame="yes"), "y_frame must be of type"),
    ],
)
def test_a_crafted_tagger_file_is_a_clear_error(saved_tagger, tmp_path, corrupt, match):
    _assert_crafted_file_refused(saved_tagger, corrupt, match, tmp_path)


# ------------------------------------------- files that load only as fit made them
def _classes(document, k):
    return document["fitted"]["classes"][k]


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda d: d["fitted"].update(task_names=["a", "a"]), "must be distinct"),
        (lambda d: _classes(d, 1).update(values=[0, 0, 2]), "distinct and sorted"),
        (lambda d: _classes(d, 1).update(values=[2, 1, 0]), "distinct and sorted"),
        (
            lambda d: _classes(d, 1).update(dtype="<f8", values=[0.0, 1.0, math.nan]),
            "finite numbers",
        ),
        # "10" and "11" read as '<U1' would both be "1"
        (lambda d: _classes(d, 0).update(dtype="<U1", values=["10", "11"]), "change"),
        (lambda d: _classes(d, 1).update(values=[0, 1, 2**70]), "do not fit dtype"),
        (lambda d: d["params"].update(device="meta"), "holds no data"),
        (lambda d: d["params"].update(batch_size=10**30), "'batch_size' parameter"),
        (lambda d: d["params"].update(n_experts=-2), "'n_experts' parameter"),
        (lambda d: d["fitted"].update(width_2d=-3), "width_2d must be an int >= 1"),
        (lambda d: d["fitted"].update(n_iter=-1), "n_iter must count epochs"),
        (lambda d: d["fitted"].update(history=[{}] * 100_001), "more than 100000"),
        (lambda d: d["fitted"].update(history=[{}] * 2_100_000), "about 42"),
    ],
)
def test_a_file_loads_only_with_what_fit_would_have_produced(
    saved, tmp_path, corrupt, match
):
    _assert_crafted_file_refused(saved[1], corrupt, match, tmp_path)


def test_too_many_tensors_are_refused_before_any_is_read(saved, tmp_path):
    _, path, _ = saved
    document, tensors = _read(path)
    tensors |= {f"extra.{i}": torch.zeros(0) for i in range(10_001)}
    _write(tmp_path / "bad.safetensors", document, tensors)
    with pytest.raises(ValueError, match=r"100\d\d tensors \(at most 10000\)"):
        sk_mtgru.load(tmp_path / "bad.safetensors")


@pytest.mark.parametrize(
    "change",
    [
        lambda d, t: d["params"].update(crop_length=5),
        lambda d, t: d["fitted"].update(n_iter=0),
        lambda d, t: d.pop("sha256") and d.update(sha256="0" * 64),
    ],
    ids=["crop_length edited", "n_iter edited", "another digest"],
)
def test_a_file_changed_after_it_was_written_is_refused(saved, tmp_path, change):
    _, path, _ = saved
    document, tensors = _read(path)
    change(document, tensors)
    _write(tmp_path / "changed.safetensors", document, tensors, sign=False)
    with pytest.raises(ValueError, match="changed after it was written"):
        sk_mtgru.load(tmp_path / "changed.safetensors")


def test_bit_flips_in_the_weights_are_refused_not_predicted_with(saved, tmp_path):
    clf, path, X = saved
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")  # safetensors: weights after it
    rng = np.random.default_rng(0)
    for _ in range(20):
        flipped = bytearray(data)
        position = int(rng.integers(header, len(data)))
        flipped[position] ^= 1 << int(rng.integers(8))
        (tmp_path / "flipped.safetensors").write_bytes(flipped)
        with pytest.raises(ValueError, match="changed after it was written"):
            sk_mtgru.load(tmp_path / "flipped.safetensors")


def test_a_format_4_file_without_its_digest_is_refused(saved, tmp_path):
    _, path, _ = saved
    document, tensors = _read(path)
    del document["sha256"]
    _write(tmp_path / "bad.safetensors", document, tensors)
    with pytest.raises(ValueError, match="lacks the entry 'sha256'"):
        sk_mtgru.load(tmp_path / "bad.safetensors")


def test_a_format_3_file_written_before_digests_still_loads(saved, tmp_path):
    clf, path, X = saved
    document, tensors = _read(path)
    del document["sha256"]
    document["format_version"] = 3
    _write(tmp_path / "v3.safetensors", document, tensors)
    np.testing.assert_array_equal(
        sk_mtgru.load(tmp_path / "v3.safetensors").predict(X), clf.predict(X)
    )


def test_fit_refuses_what_load_refuses(dense_data):
    X, Y = dense_data
    with pytest.raises(ValueError, match="'batch_size' parameter"):
        small_classifier(batch_size=10**30).fit(X, Y)
    with pytest.raises(ValueError, match="holds no data"):
        small_classifier(device="meta").fit(X, Y)
    with pytest.raises(ValueError, match="y has values too large"):
        sk_mtgru.MultiTaskGRURegressor(max_iter=1).fit(X, np.full(len(X), 1e300))


# ------------------------------------------------ files of the previous release
DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("kind", ["joblib", "safetensors"])
def test_files_written_by_the_previous_release_still_load(kind):
    # written by sk_mtgru 0.1.0 at 1b5503c (safe format 3): a scaler pipeline
    stored = np.load(DATA / "classifier_0.1.0_1b5503c_expected.npz")
    X = [x[:n] for x, n in zip(stored["X"], stored["lengths"])]
    path = DATA / f"classifier_0.1.0_1b5503c.{kind}"
    model = joblib.load(path) if kind == "joblib" else sk_mtgru.load(path)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba[0], stored["proba0"], atol=1e-6)
    np.testing.assert_allclose(proba[1], stored["proba1"], atol=1e-6)
    np.testing.assert_array_equal(model.predict(X), stored["labels"])


@pytest.mark.parametrize("early_stopping", [True, "per_task"])
def test_load_sets_every_fitted_attribute_fit_sets(
    tmp_path, dense_data, early_stopping
):
    X, Y = dense_data
    clf = small_classifier(early_stopping=early_stopping, max_iter=4).fit(X, Y)
    assert clf.best_epochs_ is not None
    clf.save(tmp_path / "m.safetensors")
    loaded = sk_mtgru.load(tmp_path / "m.safetensors")
    fitted = {k for k in vars(clf) if k.endswith("_") and not k.startswith("_")}
    assert fitted <= set(vars(loaded))
    assert loaded.best_epochs_ == clf.best_epochs_
    for name in ("n_iter_", "n_tasks_", "n_features_in_"):
        assert getattr(loaded, name) == getattr(clf, name)


def test_best_epochs_that_name_other_tasks_are_refused(tmp_path, dense_data):
    X, Y = dense_data
    small_classifier(early_stopping=True, max_iter=3).fit(X, Y).save(
        tmp_path / "m.safetensors"
    )
    _assert_crafted_file_refused(
        tmp_path / "m.safetensors",
        lambda d: d["fitted"].update(best_epochs={"shared": 1, "other": 1}),
        "best_epochs must give",
        tmp_path,
    )
