"""The safe model format: identical round trips, and crafted files never execute."""

import json
import pickle
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import sk_mtgru  # noqa: E402
from sk_mtgru._persistence import FORMAT_VERSION  # noqa: E402

from .conftest import small_classifier  # noqa: E402


def _read(path):
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["sk_mtgru"]), {
            k: f.get_tensor(k) for k in f.keys()
        }


def _write(path, document, tensors):
    save_file(tensors, str(path), metadata={"sk_mtgru": json.dumps(document)})


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
    _, path, _ = saved
    document, tensors = _read(path)
    corrupt(document)
    bad = tmp_path / "bad.safetensors"
    _write(bad, document, tensors)
    with pytest.raises(ValueError, match=match):
        sk_mtgru.load(bad)


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
        (lambda d: d["fitted"]["targets"].update(mean=["a", 1.0]), "must hold numbers"),
        (lambda d: d["fitted"].pop("targets"), "targets"),
        (lambda d: d["module"].update(n_classes=[2, 1]), "must be 1 for every target"),
        (lambda d: d.update(estimator="MultiTaskGRUTagger"), "unknown estimator"),
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
