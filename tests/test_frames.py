"""pandas input as sensor data arrive: long frames, (instance, time) frames, a
Series of arrays, and the feature names they carry."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

import sk_mtgru
from sk_mtgru import SequenceScaler
from sk_mtgru.datasets import from_long, make_multitask_sequences

from .conftest import small_classifier

pd = pytest.importorskip("pandas")

SENSORS = ["acc_x", "acc_y", "gyro_z"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def recordings():
    """A long frame of 30 recordings (rows shuffled) and a label table missing
    two of them."""
    X, Y = make_multitask_sequences(
        30, n_tasks=2, n_features=3, length=(5, 9), random_state=0
    )
    rows = []
    for i, x in enumerate(X):
        for t, step in enumerate(x):
            rows.append({"rec": f"rec{i:03d}", "t": t, **dict(zip(SENSORS, step))})
    long = pd.DataFrame(rows).sample(frac=1.0, random_state=0)
    first_seen = list(dict.fromkeys(long["rec"]))
    table = pd.DataFrame(
        {
            "rec": [f"rec{i:03d}" for i in range(30)],
            "exercise": Y[:, 0],
            "side": Y[:, 1],
        }
    ).drop(index=[3, 7])
    return long, table, X, Y, first_seen


def test_from_long_gives_sequences_in_time_order_and_labels_aligned_to_them(
    recordings,
):
    long, table, X, Y, first_seen = recordings
    data = from_long(long, id="rec", time="t", labels=table)
    assert data.ids.tolist() == first_seen
    assert list(data.feature_names) == SENSORS
    for rec, x in zip(data.ids, data.X):
        i = int(rec[3:])
        np.testing.assert_allclose(x.to_numpy(), X[i])  # sorted by t
        if i in (3, 7):
            assert data.y.loc[rec].isna().all()  # no row: missing labels
        else:
            assert data.y.loc[rec, "exercise"] == Y[i, 0]
    assert list(data.y.columns) == ["exercise", "side"]


def test_a_model_fits_a_long_frame_through_from_long_and_keeps_feature_names(
    recordings,
):
    long, table, *_ = recordings
    data = from_long(long, id="rec", time="t", labels=table)
    model = make_pipeline(SequenceScaler(), small_classifier(max_iter=2))
    model.fit(data.X, data.y)
    assert list(model.feature_names_in_) == SENSORS
    assert not hasattr(model[-1], "feature_names_in_")  # the scaler's are arrays
    assert list(model[-1].task_names_) == ["exercise", "side"]
    assert len(model.predict(data.X)) == 30
    reordered = [x[["acc_y", "acc_x", "gyro_z"]] for x in data.X]
    with pytest.raises(ValueError, match="order differs"):
        model.predict(reordered)
    renamed = [x.rename(columns={"gyro_z": "gyro_x"}) for x in data.X]
    with pytest.raises(ValueError, match=r"unseen at fit time: \['gyro_x'\]"):
        model.predict(renamed)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict([x.to_numpy() for x in data.X])


def test_feature_names_survive_a_safe_file(recordings, tmp_path):
    long, table, *_ = recordings
    data = from_long(long, id="rec", time="t", labels=table)
    clf = small_classifier(max_iter=1).fit(data.X, data.y)
    assert list(clf.feature_names_in_) == SENSORS
    model = make_pipeline(SequenceScaler(), small_classifier(max_iter=1))
    model.fit(data.X, data.y)
    for fitted, name in ((clf, "clf"), (model, "pipe")):
        sk_mtgru.save(fitted, tmp_path / f"{name}.skmtgru")
        back = sk_mtgru.load(tmp_path / f"{name}.skmtgru")
        assert list(back.feature_names_in_) == SENSORS
        with pytest.raises(ValueError, match="order differs"):
            back.predict([x[SENSORS[::-1]] for x in data.X])


@pytest.mark.parametrize(
    "where, names",
    [
        (lambda d: d["fitted"], ["acc_x", "acc_y"]),  # one name short
        (lambda d: d["pipeline"]["steps"][0]["fitted"], ["acc_x", "acc_y", 3]),
    ],
    ids=["estimator, too few", "scaler, not a string"],
)
def test_a_file_whose_feature_names_do_not_name_each_feature_is_refused(
    recordings, tmp_path, where, names
):
    from .test_safe_format import _read, _write

    long, table, *_ = recordings
    data = from_long(long, id="rec", time="t", labels=table)
    model = make_pipeline(SequenceScaler(), small_classifier(max_iter=1))
    model[-1].fit(data.X, data.y)  # the estimator too carries the names
    model[0].fit(data.X)
    sk_mtgru.save(model, tmp_path / "good.skmtgru")
    document, tensors = _read(tmp_path / "good.skmtgru")
    where(document)["feature_names_in"] = names
    _write(tmp_path / "bad.skmtgru", document, tensors)
    with pytest.raises(
        ValueError, match="fitted.feature_names_in must name each feature"
    ):
        sk_mtgru.load(tmp_path / "bad.skmtgru")


def test_an_instance_time_frame_and_a_series_of_arrays_are_sequences(recordings):
    long, table, X, Y, _ = recordings
    indexed = long.sort_values(["rec", "t"]).set_index(["rec", "t"])[SENSORS]
    labels = table.set_index("rec").reindex(indexed.index.unique(level=0))
    clf = small_classifier(max_iter=1).fit(indexed, labels.astype(object))
    assert list(clf.feature_names_in_) == SENSORS
    series = pd.Series([x for x in X])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        proba_series = clf.predict_proba(series)
        proba_list = clf.predict_proba(list(X))
    for a, b in zip(proba_series, proba_list):
        np.testing.assert_allclose(a, b)
    by_frame = clf.predict_proba(indexed)
    order = [int(r[3:]) for r in indexed.index.unique(level=0)]
    np.testing.assert_allclose(by_frame[0], proba_list[0][order], rtol=1e-5)


def test_a_long_frame_passed_as_it_is_is_refused_with_the_converter_named(
    recordings,
):
    long, table, *_ = recordings
    with pytest.raises(TypeError, match="not numbers \\('rec'\\).*from_long"):
        small_classifier().fit(long, table)
    numeric = long.assign(rec=long["rec"].str[3:].astype(int))
    with pytest.raises(ValueError, match="from_long"):
        small_classifier().fit(numeric, table[["exercise", "side"]])


def test_from_long_refuses_what_it_cannot_align(recordings):
    long, table, *_ = recordings
    with pytest.raises(ValueError, match="id='recording' is not a column"):
        from_long(long, id="recording")
    with pytest.raises(ValueError, match="must be numbers"):
        from_long(long.assign(note="x"), id="rec", time="t")
    extra = pd.concat([table, pd.DataFrame({"rec": ["rec999"], "exercise": [0]})])
    with pytest.raises(ValueError, match=r"recordings the frame does not have"):
        from_long(long, id="rec", labels=extra)
    twice = pd.concat([table, table.iloc[:1]])
    with pytest.raises(ValueError, match="more than one row"):
        from_long(long, id="rec", labels=twice)
