"""MultiTaskGRUTagger: a label per step and task, padding never seen, layers chosen."""

import copy
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold

import sk_mtgru
from sk_mtgru import MultiTaskGRUTagger
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.metrics import task_scorer


def small_tagger(**params):
    defaults = dict(hidden_size=6, max_iter=2, batch_size=8, random_state=0)
    defaults.update(params)
    return MultiTaskGRUTagger(**defaults)


@pytest.fixture
def streams():
    """30 streams of 6 to 16 steps x 4 features; 2 tasks (3 classes each) per step."""
    return make_multitask_sequences(
        30, n_tasks=2, length=(6, 16), per_step=True, noise=0.2, random_state=0
    )


def test_predictions_have_a_label_per_step_and_task(streams):
    X, Y = streams
    tagger = small_tagger().fit(X, Y)
    Y_pred = tagger.predict(X)
    assert [p.shape for p in Y_pred] == [y.shape for y in Y]
    assert set(np.concatenate(Y_pred).ravel()) <= {0, 1, 2}
    proba = tagger.predict_proba(X)
    assert len(proba) == 2 and len(proba[0]) == len(X)
    for task, classes in zip(proba, tagger.classes_):
        for p, x in zip(task, X):
            assert p.shape == (len(x), len(classes))
            np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert 0.0 <= tagger.score(X, Y) <= 1.0


def test_string_labels_and_one_task_come_back_as_given(streams):
    X, Y = streams
    names = np.array(["still", "walk", "run"])
    Y_one = [names[y[:, 0]] for y in Y]
    tagger = small_tagger().fit(X, Y_one)
    Y_pred = tagger.predict(X)
    assert Y_pred[0].shape == (len(X[0]),) and Y_pred[0].dtype.kind == "U"
    assert set(tagger.classes_) <= {"run", "still", "walk"}
    assert tagger.predict_proba(X)[0].shape == (len(X[0]), len(tagger.classes_))


def test_dense_and_univariate_input(streams):
    X, Y = make_multitask_sequences(12, length=9, per_step=True, random_state=1)
    assert X.shape == (12, 9, 4) and Y.shape == (12, 9, 3)
    assert small_tagger().fit(X, Y).predict(X)[0].shape == (9, 3)
    univariate = X[:, :, 0]
    tagger = small_tagger().fit(univariate, Y)
    assert tagger.n_features_in_ == 1 and tagger.predict(univariate)[3].shape == (9, 3)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_changes_no_prediction(streams, bidirectional):
    X, Y = streams
    tagger = small_tagger(bidirectional=bidirectional, num_layers=2).fit(X, Y)
    shortest = int(np.argmin([len(x) for x in X]))
    in_batch = tagger.predict_proba(X)
    alone = tagger.predict_proba([X[shortest]])
    for k in range(2):
        np.testing.assert_allclose(alone[k][0], in_batch[k][shortest], atol=1e-6)


def test_padding_never_enters_the_loss(streams):
    X, Y = streams
    tagger = small_tagger(batch_size=len(X)).fit(X, Y)
    first = copy.deepcopy(tagger)
    tagger.set_params(warm_start=True, max_iter=1).fit(X, Y)
    # One batch of every stream, padded to the longest: its loss, computed with
    # the first fit's weights before the step, is the mean over real steps only.
    for k in range(2):
        proba = np.concatenate(first.predict_proba(X)[k])
        labels = np.concatenate(Y)[:, k]
        log_loss = -np.log(proba[np.arange(len(labels)), labels]).mean()
        assert tagger.history_[-1, f"train_loss_task_{k}"] == pytest.approx(
            log_loss, rel=1e-5
        )


def test_a_causal_tagger_never_looks_ahead(streams):
    X, Y = streams
    causal = small_tagger(bidirectional=False).fit(X, Y)
    both = small_tagger(bidirectional=True).fit(X, Y)
    changed = X[0].copy()
    changed[5:] += 3.0  # change the future of step 4
    for model, looks_ahead in ((causal, False), (both, True)):
        before = model.predict_proba([X[0]])[0][0][:5]
        after = model.predict_proba([changed])[0][0][:5]
        assert np.allclose(before, after, atol=1e-6) is not looks_ahead


def test_each_task_is_supervised_at_its_layer(streams):
    X, Y = streams
    tagger = small_tagger(num_layers=2, supervision_layers=[0, -1]).fit(X, Y)
    assert tagger.supervision_layers_ == [0, 1]
    before = tagger.predict_proba(X[:3])
    with torch.no_grad():  # the top layer feeds task 1 only
        for parameter in tagger.net_.module_.grus[1].parameters():
            parameter.add_(0.5)
    after = tagger.predict_proba(X[:3])
    np.testing.assert_allclose(after[0][0], before[0][0], atol=1e-6)
    assert not np.allclose(after[1][0], before[1][0], atol=1e-3)


def test_supervision_layers_by_task_name(streams):
    pd = pytest.importorskip("pandas")
    X, Y = streams
    frames = [pd.DataFrame(y, columns=["pos", "chunk"]) for y in Y]
    tagger = small_tagger(num_layers=3, supervision_layers={"pos": 0}).fit(X, frames)
    assert tagger.task_names_.tolist() == ["pos", "chunk"]
    assert tagger.supervision_layers_ == [0, 2]


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"supervision_layers": [0, 2]}, ValueError, "num_layers=2"),
        ({"supervision_layers": [0]}, ValueError, "1 entries but y has 2 task"),
        ({"supervision_layers": {"nope": 0}}, ValueError, "unknown task"),
        ({"supervision_layers": [0, 0.5]}, TypeError, "layers are ints"),
    ],
)
def test_bad_supervision_layers_are_clear_errors(streams, params, error, match):
    X, Y = streams
    with pytest.raises(error, match=match):
        small_tagger(num_layers=2, **params).fit(X, Y)


def test_label_sequence_of_the_wrong_length_names_the_sample(streams):
    X, Y = streams
    Y = list(Y)
    Y[7] = Y[7][:-1]
    with pytest.raises(ValueError, match=r"y\[7\] has \d+ labels but X\[7\] has"):
        small_tagger().fit(X, Y)


@pytest.mark.parametrize(
    "bad, match",
    [
        (None, "requires y"),
        ("labels", "list of per-step label arrays"),
        ("short", "label sequences but X has 30"),
        ("mixed", "mixes 1-D and 2-D"),
        ("widths", "different numbers of tasks"),
    ],
)
def test_bad_label_sequences_are_clear_errors(streams, bad, match):
    X, Y = streams
    Y = {
        None: None,
        "labels": "labels",
        "short": Y[:-1],
        "mixed": [Y[0][:, 0]] + list(Y[1:]),
        "widths": [np.column_stack([Y[0], Y[0][:, 0]])] + list(Y[1:]),
    }[bad]
    with pytest.raises((ValueError, TypeError), match=match):
        small_tagger().fit(X, Y)


def test_missing_step_labels_leave_training_and_score(streams):
    X, Y = make_multitask_sequences(
        30,
        n_tasks=2,
        length=(6, 16),
        per_step=True,
        missing_fraction=0.3,
        random_state=0,
    )
    tagger = small_tagger(missing_label=-1).fit(X, Y)
    assert all(-1 not in c and len(c) >= 2 for c in tagger.classes_)
    steps, pred = np.concatenate(Y), np.concatenate(tagger.predict(X))
    labelled = steps != -1
    expected = np.mean(
        [np.mean(pred[labelled[:, k], k] == steps[labelled[:, k], k]) for k in (0, 1)]
    )
    assert tagger.score(X, Y) == pytest.approx(expected)


def test_class_weight_and_sample_weight_weigh_every_step(streams):
    X, Y = streams
    first = small_tagger(batch_size=len(X)).fit(X, Y)
    class_weight = [{0: 5.0, 1: 1.0}, None]
    sample_weight = np.linspace(0.5, 2.0, len(X))
    continued = copy.deepcopy(first).set_params(
        warm_start=True, max_iter=1, class_weight=class_weight
    )
    continued.fit(X, Y, sample_weight=sample_weight)
    # The first batch's loss, before any step: each real step weighs its
    # sequence's sample weight times its label's class weight (1 if not listed).
    per_step_sample_weight = np.repeat(sample_weight, [len(x) for x in X])
    for k in range(2):
        proba = np.concatenate(first.predict_proba(X)[k])
        labels = np.concatenate(Y)[:, k]
        weights = per_step_sample_weight * np.array(
            [(class_weight[k] or {}).get(label, 1.0) for label in labels]
        )
        log_loss = -np.log(proba[np.arange(len(labels)), labels])
        assert continued.history_[-1, f"train_loss_task_{k}"] == pytest.approx(
            np.sum(weights * log_loss) / np.sum(weights), rel=1e-5
        )
    # Scores count steps too: zero weights leave sequences out.
    weights = np.zeros(len(X))
    weights[:10] = 1.0
    assert first.score(X, Y, sample_weight=weights) == pytest.approx(
        first.score(X[:10], Y[:10])
    )


@pytest.mark.parametrize("balancing", ["uncertainty", "pcgrad", "famo", "gradnorm"])
def test_loss_balancing_strategies_train_the_tagger(streams, balancing):
    X, Y = streams
    tagger = small_tagger(loss_balancing=balancing, task_affinity_interval=1)
    tagger.fit(X, Y)
    assert np.isfinite(tagger.history_[:, "train_loss"]).all()
    assert tagger.task_affinity_.shape == (2, 2)


def test_random_state_makes_fits_identical_and_clone_keeps_params(streams):
    X, Y = streams
    a = small_tagger(num_layers=2, supervision_layers=[0, 1]).fit(X, Y)
    b = clone(a).fit(X, Y)
    assert b.get_params() == a.get_params()
    for p, q in zip(a.predict_proba(X)[1], b.predict_proba(X)[1]):
        np.testing.assert_array_equal(p, q)


def test_grid_search_over_task_weights_in_parallel(streams):
    X, Y = streams
    search = GridSearchCV(
        small_tagger(),
        {"task_weights": [(1, 1), (3, 1)], "supervision_layers": [None]},
        cv=KFold(3),
        n_jobs=2,
    ).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.predict(X[:2])[0].shape == Y[0].shape


def test_warm_start_continues_and_partial_fit_trains_one_epoch(streams):
    X, Y = streams
    tagger = small_tagger(warm_start=True).fit(X, Y)
    tagger.fit(X, Y)
    assert len(tagger.history_) == 4
    tagger.partial_fit(X, Y)
    assert len(tagger.history_) == 5
    tagger.set_params(num_layers=2)
    with pytest.raises(ValueError, match="cannot continue a fit"):
        tagger.fit(X, Y)


def test_joblib_round_trip_in_a_fresh_process(tmp_path, streams):
    X, Y = streams
    tagger = small_tagger().fit(X, Y)
    joblib.dump(tagger, tmp_path / "tagger.joblib")
    joblib.dump(X, tmp_path / "X.joblib")
    code = textwrap.dedent(
        f"""
        import joblib, numpy as np
        model = joblib.load({str(tmp_path / "tagger.joblib")!r})
        X = joblib.load({str(tmp_path / "X.joblib")!r})
        np.save({str(tmp_path / "pred.npy")!r}, np.concatenate(model.predict(X)))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    np.testing.assert_array_equal(
        np.load(tmp_path / "pred.npy"), np.concatenate(tagger.predict(X))
    )


def test_safe_file_round_trip_keeps_layers_kinds_and_predictions(tmp_path, streams):
    pytest.importorskip("safetensors")
    X, Y = streams
    rng = np.random.default_rng(0)
    # a classification task read at the lower layer, a regression task at the top
    Y_mixed = [np.column_stack([y[:, 0], rng.normal(size=len(y))]) for y in Y]
    tagger = small_tagger(num_layers=2, supervision_layers=[0, -1]).fit(X, Y_mixed)
    tagger.save(tmp_path / "t.safetensors")
    loaded = sk_mtgru.load(tmp_path / "t.safetensors")
    assert loaded.task_types_ == ["classification", "regression"]
    assert loaded.supervision_layers_ == [0, 1]
    assert loaded.get_params() == tagger.get_params()
    for a, b in zip(loaded.predict(X), tagger.predict(X)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        loaded.predict_proba(X)["task_0"], tagger.predict_proba(X)["task_0"]
    ):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_validates_on_held_out_streams(streams):
    X, Y = streams
    tagger = small_tagger(early_stopping=True, max_iter=3, length_bucketing=True)
    tagger.fit(X, Y)
    last = tagger.history_[-1]
    assert 0.0 <= last["valid_acc_task_0"] <= 1.0
    assert np.isfinite(last["valid_loss_task_1"])


def test_predictions_over_several_prediction_batches_match_one_at_a_time(streams):
    X, Y = streams
    tagger = small_tagger().fit(X, Y)
    # 300 streams: two prediction batches (of at least 256), padded to different
    # lengths, whose per-step outputs are joined.
    rng = np.random.default_rng(1)
    many = [X[i] for i in rng.integers(0, len(X), size=300)]
    many[-1] = np.concatenate([X[0], X[1], X[2]])  # the longest, in the 2nd batch
    together = tagger.predict_proba(many)
    for i in (0, 255, 299):
        alone = tagger.predict_proba([many[i]])
        for k in range(2):
            np.testing.assert_allclose(together[k][i], alone[k][0], atol=1e-6)


@pytest.fixture
def heart_streams():
    """40 streams of 8 to 20 steps; per step a class (is feature 0 positive) and a
    value in the hundreds (a heart rate following feature 1 over the last steps)."""
    rng = np.random.default_rng(0)
    X, Y = [], []
    for n in rng.integers(8, 21, size=40):
        x = rng.normal(size=(n, 3)).astype(np.float32)
        rate = 70 + 10 * np.convolve(x[:, 1], np.ones(3) / 3)[:n]
        Y.append(np.column_stack([(x[:, 0] > 0).astype(int), rate]))
        X.append(x)
    return X, Y


def test_a_value_per_step_is_regressed_beside_a_label_per_step(heart_streams):
    X, Y = heart_streams
    tagger = small_tagger(
        hidden_size=16, bidirectional=False, max_iter=40, learning_rate_init=1e-2
    ).fit(X[:30], Y[:30])
    assert tagger.task_types_ == ["classification", "regression"]
    predicted = tagger.predict(X[30:])
    assert [p.shape for p in predicted] == [y.shape for y in Y[30:]]
    steps_true, steps_pred = np.concatenate(Y[30:]), np.concatenate(predicted)
    assert r2_score(steps_true[:, 1], steps_pred[:, 1]) > 0.5
    assert 60 < steps_pred[:, 1].mean() < 80  # in the value's units
    proba = tagger.predict_proba(X[30:])
    assert list(proba) == ["task_0"] and proba["task_0"][0].shape == (len(X[30]), 2)
    assert np.isfinite(tagger.history_[:, "train_mse_task_1"]).all()
    assert task_scorer(1, "r2")(tagger, X[30:], Y[30:]) == pytest.approx(
        r2_score(steps_true[:, 1], steps_pred[:, 1])
    )
    # score: the mean of the label's accuracy and the value's R².
    accuracy = np.mean(steps_true[:, 0] == steps_pred[:, 0])
    assert tagger.score(X[30:], Y[30:]) == pytest.approx(
        (accuracy + r2_score(steps_true[:, 1], steps_pred[:, 1])) / 2
    )


def test_padding_changes_no_value_per_step(heart_streams):
    X, Y = heart_streams
    tagger = small_tagger(task_types=["binary", "regression"]).fit(X, Y)
    shortest = int(np.argmin([len(x) for x in X]))
    alone = tagger.predict([X[shortest]])[0]
    np.testing.assert_allclose(tagger.predict(X)[shortest], alone, rtol=1e-5)
    with pytest.raises(ValueError, match="classes fixes the classes of classif"):
        small_tagger().partial_fit(X, Y, classes=[[0, 1], [0, 1]])
