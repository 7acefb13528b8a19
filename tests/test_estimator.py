"""Behaviour of MultiTaskGRUClassifier: what it learns, predicts, records and keeps."""

import copy

import numpy as np
import pytest
import torch

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru.metrics import per_task_accuracy

from .conftest import small_classifier


def _assert_beats_majority_on_held_out(clf, X, Y, margin):
    """Each task's accuracy on sequences 300+ beats predicting its majority class."""
    accuracy = per_task_accuracy(Y[300:], clf.predict(X[300:]))
    majority = [
        np.mean(Y[300:, k] == np.bincount(Y[:300, k]).argmax()) for k in range(3)
    ]
    assert np.all(accuracy >= np.array(majority) + margin), (accuracy, majority)


def test_learns_every_task_well_above_the_majority_baseline(learnable_data):
    X, Y = learnable_data
    clf = small_classifier(
        hidden_size=16, max_iter=15, batch_size=32, learning_rate_init=1e-2
    ).fit(X[:300], Y[:300])
    _assert_beats_majority_on_held_out(clf, X, Y, margin=0.15)


def test_predict_returns_the_original_labels_of_each_task(string_labels):
    X, Y = string_labels
    clf = small_classifier().fit(X, Y)
    Y_pred = clf.predict(X)
    assert Y_pred.shape == Y.shape
    assert set(Y_pred[:, 0]) <= {"cat", "dog"}
    assert set(Y_pred[:, 1]) <= {0, 1, 2}
    assert all(isinstance(v, str) for v in Y_pred[:, 0])
    assert clf.classes_[0].tolist() == ["cat", "dog"]
    assert clf.classes_[1].tolist() == [0, 1, 2]


def test_list_of_lists_keeps_each_tasks_label_type(string_labels):
    X, Y = string_labels
    clf = small_classifier().fit(X, Y.tolist())
    assert clf.classes_[0].tolist() == ["cat", "dog"]
    assert clf.classes_[1].dtype.kind == "i"
    assert all(isinstance(v, str) for v in clf.predict(X)[:, 0])
    assert all(isinstance(v, (int, np.integer)) for v in clf.predict(X)[:, 1])
    assert small_classifier().fit(X, Y[:, 1].tolist()).classes_.dtype.kind == "i"


def test_predict_keeps_a_common_label_dtype_when_tasks_share_one(dense_data):
    X, Y = dense_data
    Y_pred = small_classifier().fit(X, Y).predict(X)
    assert Y_pred.dtype == Y.dtype


def test_predict_proba_is_one_array_of_probabilities_per_task(dense_data):
    X, Y = dense_data
    clf = small_classifier().fit(X, Y)
    proba = clf.predict_proba(X)
    assert isinstance(proba, list)
    assert [p.shape for p in proba] == [(60, 2), (60, 3)]
    for p in proba:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        assert np.all((p >= 0) & (p <= 1))
    codes = np.column_stack([p.argmax(axis=1) for p in proba])
    expected = np.column_stack([clf.classes_[k][codes[:, k]] for k in range(2)])
    np.testing.assert_array_equal(clf.predict(X), expected)


def test_one_dimensional_y_behaves_like_an_ordinary_classifier(dense_data):
    X, Y = dense_data
    clf = small_classifier().fit(X, Y[:, 1])
    assert isinstance(clf.classes_, np.ndarray)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.n_tasks_ == 1
    assert clf.predict(X).shape == (60,)
    assert clf.predict_proba(X).shape == (60, 3)
    assert clf.score(X, Y[:, 1]) == np.mean(clf.predict(X) == Y[:, 1])


def test_dataframe_columns_name_the_tasks_and_key_task_weights(dense_data):
    pd = pytest.importorskip("pandas")
    X, Y = dense_data
    frame = pd.DataFrame({"exercise": Y[:, 0], "subject": Y[:, 1]})
    clf = small_classifier(task_weights={"subject": 3.0}).fit(X, frame)
    assert clf.task_names_.tolist() == ["exercise", "subject"]
    assert tuple(clf.net_.task_weights) == (1.0, 3.0)
    assert {"train_loss_exercise", "train_acc_subject"} <= set(clf.history_[-1])
    assert 0 <= clf.score(X, frame) <= 1


def test_named_series_names_its_single_task(dense_data):
    pd = pytest.importorskip("pandas")
    X, Y = dense_data
    clf = small_classifier().fit(X, pd.Series(Y[:, 0], name="arm"))
    assert clf.task_names_.tolist() == ["arm"]


def test_score_is_the_mean_of_per_task_accuracies(dense_data):
    X, Y = dense_data
    clf = small_classifier().fit(X, Y)
    Y_pred = clf.predict(X)
    expected = np.mean([np.mean(Y_pred[:, k] == Y[:, k]) for k in range(2)])
    assert clf.score(X, Y) == pytest.approx(expected)
    weights = np.arange(60, dtype=float)
    weighted = np.mean(
        [np.average(Y_pred[:, k] == Y[:, k], weights=weights) for k in range(2)]
    )
    assert clf.score(X, Y, sample_weight=weights) == pytest.approx(weighted)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"bidirectional": True},
        {"num_layers": 2, "bidirectional": True},
        {"summary": "mean"},
        {"summary": "attention", "bidirectional": True},
        {"task_layers": 1},
        {"task_layers": 2, "summary": "attention", "bidirectional": True},
    ],
    ids=[
        "unidirectional",
        "bidirectional",
        "two-layer-bidirectional",
        "mean",
        "attention-bidirectional",
        "private-layer",
        "private-layers-attention",
    ],
)
def test_padding_does_not_change_predictions(ragged_data, params):
    X, Y = ragged_data
    clf = small_classifier(**params).fit(X, Y)
    short = X[int(np.argmin([len(s) for s in X]))]
    long = X[int(np.argmax([len(s) for s in X]))]
    assert len(short) < len(long)
    alone = clf.predict_proba([short])
    in_batch = clf.predict_proba([long, short, long])
    for p_alone, p_batch in zip(alone, in_batch):
        np.testing.assert_allclose(p_batch[1], p_alone[0], rtol=1e-5, atol=1e-6)


def test_list_of_equal_length_sequences_matches_the_3d_array(dense_data):
    X, Y = dense_data
    clf = small_classifier().fit(X, Y)
    np.testing.assert_allclose(
        clf.predict_proba(list(X))[1], clf.predict_proba(X)[1], rtol=1e-6
    )


def test_two_dimensional_x_is_read_as_univariate_sequences(dense_data):
    X, Y = dense_data
    univariate = X[:, :, 0]
    clf = small_classifier().fit(univariate, Y)
    assert clf.n_features_in_ == 1
    np.testing.assert_allclose(
        clf.predict_proba(univariate)[0],
        clf.predict_proba(univariate[:, :, np.newaxis])[0],
        rtol=1e-6,
    )
    # Univariate sequences of another length go through a 3-D array or a list.
    assert clf.predict(univariate[:, :7, np.newaxis]).shape == (60, 2)


def test_fits_with_the_same_random_state_are_identical(ragged_data):
    X, Y = ragged_data
    first = small_classifier(dropout=0.3, random_state=7).fit(X, Y).predict_proba(X)
    second = small_classifier(dropout=0.3, random_state=7).fit(X, Y).predict_proba(X)
    other = small_classifier(dropout=0.3, random_state=8).fit(X, Y).predict_proba(X)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])


def test_fit_leaves_torch_and_numpy_global_random_state_untouched(dense_data):
    X, Y = dense_data
    torch.manual_seed(123)
    np.random.seed(123)
    torch_before = torch.get_rng_state()
    numpy_before = np.random.get_state()[1].copy()
    small_classifier(dropout=0.2, random_state=0).fit(X, Y)
    assert torch.equal(torch.get_rng_state(), torch_before)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_before)


def test_sample_weight_decides_between_conflicting_labels(dense_data):
    X, Y = dense_data
    X_twice = np.concatenate([X, X])
    y_conflict = np.concatenate([np.zeros(60, int), np.ones(60, int)])
    favour_zero = np.concatenate([np.ones(60), np.zeros(60)])
    params = dict(max_iter=10, learning_rate_init=1e-2)
    zeros = small_classifier(**params).fit(
        X_twice, y_conflict, sample_weight=favour_zero
    )
    ones = small_classifier(**params).fit(
        X_twice, y_conflict, sample_weight=1 - favour_zero
    )
    assert np.all(zeros.predict(X) == 0)
    assert np.all(ones.predict(X) == 1)


def test_sample_weight_equals_repetition_in_full_batch_training(dense_data):
    X, Y = dense_data
    X, Y = X[:20], Y[:20]
    weights = np.tile([0, 1, 2, 3], 5)
    # Without dropout, whose masks depend on the batch's size.
    params = dict(batch_size=64, max_iter=5, learning_rate_init=1e-2, dropout=0.0)
    weighted = small_classifier(**params).fit(X, Y, sample_weight=weights)
    repeated = small_classifier(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(Y, weights, axis=0)
    )
    for a, b in zip(weighted.predict_proba(X), repeated.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_task_weighted_zero_has_no_influence_on_training(dense_data):
    X, Y = dense_data
    rng = np.random.default_rng(0)
    shuffled = Y.copy()
    shuffled[:, 1] = rng.permutation(Y[:, 1])
    params = dict(task_weights=(1.0, 0.0), max_iter=4)
    original = small_classifier(**params).fit(X, Y)
    other_labels = small_classifier(**params).fit(X, shuffled)
    np.testing.assert_array_equal(
        original.predict_proba(X)[0], other_labels.predict_proba(X)[0]
    )
    heavier = small_classifier(task_weights=(1.0, 5.0), max_iter=4).fit(X, Y)
    assert not np.allclose(heavier.predict_proba(X)[0], original.predict_proba(X)[0])


def test_loss_is_the_task_weighted_sum_of_weighted_cross_entropies(dense_data):
    X, Y = dense_data
    clf = small_classifier(task_weights=(0.5, 2.0)).fit(X, Y)
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(5, 2)), rng.normal(size=(5, 3)))
    targets = np.array([[0, 2], [1, -1], [1, 1], [-1, 0], [1, 2]])  # -1: missing
    # Per sample and task: sample weight x class weight, 0 where the label is missing.
    weights = np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 6.0], [0.0, 0.5], [1.0, 1.0]])

    def cross_entropy(z, y):
        z = z - z.max(axis=1, keepdims=True)
        return np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]

    expected = 0.0
    for k, (task_weight, z) in enumerate(zip((0.5, 2.0), logits)):
        labelled = targets[:, k] >= 0
        w = weights[labelled, k]
        ce = cross_entropy(z[labelled], targets[labelled, k])
        expected += task_weight * np.sum(w * ce) / w.sum()
    loss = clf.net_.get_loss(
        tuple(torch.tensor(z, dtype=torch.float32) for z in logits),
        torch.tensor(targets),
        X={
            "loss_weight": torch.tensor(weights, dtype=torch.float32),
            "sample_weight": torch.ones(5),
        },
        training=False,
    )
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_history_records_each_tasks_loss_and_accuracy_per_epoch(dense_data):
    X, Y = dense_data
    clf = small_classifier(max_iter=4).fit(X, Y)
    assert len(clf.history_) == 4 == clf.n_iter_
    keys = {"train_loss", "dur"} | {
        f"train_{m}_task_{k}" for m in ("loss", "acc") for k in (0, 1)
    }
    assert keys <= set(clf.history_[-1])
    total = np.array(clf.history_[:, "train_loss"])
    per_task = np.array(clf.history_[:, "train_loss_task_0"]) + np.array(
        clf.history_[:, "train_loss_task_1"]
    )
    np.testing.assert_allclose(total, per_task, rtol=1e-5)
    accuracy = np.array(clf.history_[:, "train_acc_task_1"])
    assert np.all((accuracy >= 0) & (accuracy <= 1))


def test_early_stopping_records_validation_and_restores_the_best_epoch(dense_data):
    X, Y = dense_data
    # With an unreachable tolerance no epoch improves on the first one: training
    # stops after the patience runs out, and the first epoch's weights come back.
    # (A constant rate: a schedule spread over max_iter would differ between fits.)
    params = dict(
        early_stopping=True,
        n_iter_no_change=2,
        tol=1e6,
        max_iter=20,
        learning_rate="constant",
    )
    stopped = small_classifier(**params).fit(X, Y)
    assert stopped.n_iter_ == 3
    assert {"valid_loss", "valid_loss_task_0", "valid_acc_task_1"} <= set(
        stopped.history_[-1]
    )
    one_epoch = small_classifier(**{**params, "max_iter": 1}).fit(X, Y)
    for a, b in zip(stopped.predict_proba(X), one_epoch.predict_proba(X)):
        np.testing.assert_array_equal(a, b)


def test_verbose_shows_a_progress_bar_and_an_epoch_table(dense_data, capsys):
    X, Y = dense_data
    small_classifier(verbose=1, max_iter=2).fit(X, Y)
    out, err = capsys.readouterr()
    assert "epoch" in out and "task_0:acc" in out
    assert "it/s" in err or "s/it" in err
    small_classifier(verbose=0, max_iter=2).fit(X, Y)
    assert capsys.readouterr() == ("", "")


def test_warm_start_continues_from_the_current_weights(dense_data):
    X, Y = dense_data
    clf = small_classifier(warm_start=True, max_iter=2, batch_size=len(X)).fit(X, Y)
    first = copy.deepcopy(clf)
    clf.fit(X, Y)
    assert len(clf.history_) == 4 and clf.n_iter_ == 2
    # One batch per epoch: the continued fit's first loss is computed before its
    # first step, so with the weights it started from -- the first fit's.
    for k, proba in enumerate(first.predict_proba(X)):
        log_loss = -np.log(proba[np.arange(len(X)), Y[:, k]]).mean()
        assert clf.history_[2, f"train_loss_task_{k}"] == pytest.approx(
            log_loss, rel=1e-5
        )


def test_warm_start_refuses_what_it_cannot_continue(dense_data):
    X, Y = dense_data
    clf = small_classifier(warm_start=True, max_iter=1).fit(X, Y)
    Y_new = Y.copy()
    Y_new[0, 1] = 7
    with pytest.raises(ValueError, match="label 7, unseen in the first fit"):
        clf.fit(X, Y_new)
    with pytest.raises(ValueError, match="hidden_size"):
        clf.set_params(hidden_size=4).fit(X, Y)
    with pytest.raises(ValueError, match="features per time step"):
        clf.set_params(hidden_size=8).fit(X[:, :, :2], Y)


def test_warm_start_false_refits_from_scratch(dense_data):
    X, Y = dense_data
    clf = small_classifier(max_iter=2).fit(X, Y)
    first = clf.predict_proba(X)[0]
    clf.fit(X, Y)
    assert len(clf.history_) == 2
    np.testing.assert_array_equal(clf.predict_proba(X)[0], first)


@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd"])
def test_solver_and_l2_penalty_reach_the_optimizer(dense_data, solver):
    X, Y = dense_data
    clf = small_classifier(
        solver=solver, alpha=1e-3, learning_rate_init=0.05, learning_rate="constant"
    ).fit(X, Y)
    optimizer = clf.net_.optimizer_
    expected = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "sgd": torch.optim.SGD,
    }
    assert type(optimizer) is expected[solver]
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.05 and group["weight_decay"] == 1e-3
    if solver == "sgd":
        assert group["momentum"] == 0.9


def test_task_layers_and_summary_shape_the_network_and_still_learn(learnable_data):
    X, Y = learnable_data
    clf = small_classifier(
        hidden_size=16,
        max_iter=15,
        batch_size=32,
        learning_rate_init=1e-2,
        task_layers=1,
        summary="attention",
    ).fit(X[:300], Y[:300])
    module = clf.net_.module_
    assert len(module.task_grus) == 3 and len(module.scorers) == 3
    _assert_beats_majority_on_held_out(clf, X, Y, margin=0.1)


def test_architecture_parameters_shape_the_network(dense_data):
    X, Y = dense_data
    clf = small_classifier(
        hidden_size=5,
        num_layers=2,
        bidirectional=True,
        dropout=0.1,
        summary="last",
        input_statistics=False,
    )
    module = clf.fit(X, Y).net_.module_
    assert module.gru.hidden_size == 5 and module.gru.num_layers == 2
    assert module.gru.bidirectional and module.gru.dropout == 0.1
    assert [head.in_features for head in module.heads] == [10, 10]
    assert [head.out_features for head in module.heads] == [2, 3]


def test_device_auto_trains_on_the_available_device(dense_data):
    X, Y = dense_data
    clf = small_classifier(device="auto").fit(X, Y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(clf.net_.module_.parameters()).device.type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_a_clear_error(dense_data):
    X, Y = dense_data
    with pytest.raises(ValueError, match="CUDA is not available"):
        small_classifier(device="cuda").fit(X, Y)


def test_unknown_device_is_a_clear_error(dense_data):
    X, Y = dense_data
    with pytest.raises(ValueError, match="not a device torch knows"):
        small_classifier(device="tpu-please").fit(X, Y)


def test_parameters_are_stored_untouched_and_validated_only_at_fit(dense_data):
    X, Y = dense_data
    weights = [1, 2]
    clf = MultiTaskGRUClassifier(hidden_size=0, task_weights=weights)
    assert clf.hidden_size == 0 and clf.task_weights is weights
    with pytest.raises(ValueError, match="'hidden_size' parameter of"):
        clf.fit(X, Y)
    clf.set_params(hidden_size=4, max_iter=1).fit(X, Y)
    assert clf.task_weights is weights and weights == [1, 2]


def test_partial_fit_makes_one_pass_per_call_and_keeps_the_optimizer(dense_data):
    X, Y = dense_data
    clf = small_classifier()
    for start in range(0, 60, 20):
        clf.partial_fit(X[start : start + 20], Y[start : start + 20])
        assert clf.n_iter_ == 1
    assert len(clf.history_) == 3
    assert clf.predict(X).shape == Y.shape
    optimizer = clf.net_.optimizer_
    clf.partial_fit(X, Y)
    assert clf.net_.optimizer_ is optimizer  # the same Adam, with its moments
    assert optimizer.state


def test_partial_fit_learns_like_fit_over_the_same_epochs(learnable_data):
    X, Y = learnable_data
    params = dict(hidden_size=16, batch_size=32, learning_rate_init=1e-2)
    clf = small_classifier(**params)
    for _ in range(10):
        clf.partial_fit(X[:300], Y[:300])
    _assert_beats_majority_on_held_out(clf, X, Y, margin=0.1)


def test_partial_fit_takes_classes_the_first_chunk_does_not_show(dense_data):
    X, Y = dense_data
    first = Y[:, 1] != 2
    clf = small_classifier().partial_fit(
        X[first], Y[first], classes=[np.array([0, 1]), np.array([0, 1, 2])]
    )
    assert clf.classes_[1].tolist() == [0, 1, 2]
    clf.partial_fit(X[~first], Y[~first])
    assert [p.shape[1] for p in clf.predict_proba(X)] == [2, 3]


def test_partial_fit_rejects_labels_outside_the_fixed_classes(dense_data):
    X, Y = dense_data
    clf = small_classifier().partial_fit(X, Y)
    Y_new = Y.copy()
    Y_new[3, 0] = 5
    with pytest.raises(ValueError, match="label 5, unseen in the first fit"):
        clf.partial_fit(X, Y_new)
    with pytest.raises(ValueError, match="classes has 1 entries but y has 2 task"):
        small_classifier().partial_fit(X, Y, classes=[[0, 1]])
    with pytest.raises(ValueError, match="at least 2 distinct labels"):
        small_classifier().partial_fit(X, Y, classes=[[0, 1], [1]])


def test_sample_weights_matter_only_by_their_ratios(dense_data):
    X, Y = dense_data
    weights = np.linspace(1, 3, 60)
    small = small_classifier().fit(X, Y, sample_weight=weights)
    huge = small_classifier().fit(X, Y, sample_weight=weights * 1e300)
    for a, b in zip(small.predict_proba(X), huge.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd"])
def test_the_optimizer_takes_fused_steps_where_torch_has_them(dense_data, solver):
    X, Y = dense_data
    clf = small_classifier(solver=solver, max_iter=1).fit(X, Y)
    # torch 2.4 added fused CPU steps for Adam, AdamW and SGD.
    version = tuple(int(part) for part in torch.__version__.split(".")[:2])
    expected = version >= (2, 4)
    assert bool(clf.net_.optimizer_.defaults.get("fused")) == expected


def test_an_optimizer_without_a_fused_step_is_used_unfused():
    from sk_mtgru._base import _has_fused_step

    class PlainSGD(torch.optim.SGD):
        def __init__(self, params, lr, fused=None):
            if fused:
                raise RuntimeError("`fused=True` is not supported on this device")
            super().__init__(params, lr=lr)

    assert not _has_fused_step(PlainSGD, "cpu")
