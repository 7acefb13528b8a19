"""Random-convolution features: the wide input the heads read beside the GRU's."""

import numpy as np
import pytest
import torch

import sk_mtgru
from sk_mtgru import (
    MultiTaskGRUEstimator,
    MultiTaskGRURegressor,
    StreamingPredictor,
)
from sk_mtgru._module import MultiTaskGRU
from sk_mtgru._random_features import RandomConvFeatures, _positive, dilations
from sk_mtgru.exceptions import TrainingDivergedError

from .conftest import small_classifier
from .test_safe_format import _read, _write


def _fitted_features(n_features=2, n_random=168, length=20, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(8, length, n_features)
    lengths = torch.tensor([length, 11, 15, length, 9, 20, 13, 17])
    x = x * (torch.arange(length)[None, :, None] < lengths[:, None, None])
    features = RandomConvFeatures(n_features, n_random, length)
    features.fit(x, lengths)
    return features, x, lengths


@pytest.mark.parametrize("n_random", [168, 840])  # biases compared / looked up
def test_each_feature_is_the_share_of_real_steps_where_a_kernel_exceeds_its_bias(
    n_random,
):
    features, x, lengths = _fitted_features(n_random=n_random)
    got = features._proportions(x, lengths)
    # the same by hand, with numpy, for the first kernel at every dilation
    first = 0
    for j, (dilation, count) in enumerate(zip(features.dilations, features.counts)):
        kernel = features.weight[j * 84].numpy()  # (channels, 9)
        for i in (1, 4):  # sequences of 11 and 9 steps
            seq = x[i, : lengths[i]].numpy()
            padded = np.pad(seq, ((4 * dilation, 4 * dilation), (0, 0)))
            out = np.array(
                [
                    sum(kernel[:, tap] @ padded[t + tap * dilation] for tap in range(9))
                    for t in range(len(seq))
                ]
            )
            for c in range(count):
                share = np.mean(out > features.bias[first + c].item())
                assert got[i, first + c].item() == pytest.approx(share, abs=1e-6)
        first += 84 * count


def test_padding_never_changes_the_features():
    features, x, lengths = _fitted_features()
    x = torch.randn(x.shape)  # not the sequences whose outputs are the biases
    x[1, 11:] = 50.0  # never read: past the sequence's end
    batched = features(x, lengths)
    for i in range(len(x)):
        alone = features(x[i : i + 1, : lengths[i]], lengths[i : i + 1])
        torch.testing.assert_close(batched[i : i + 1], alone, rtol=1e-5, atol=1e-6)


def test_dilations_spread_up_to_the_length_and_the_count_rounds_to_84s():
    spread, counts = dilations(10_000, 251)
    assert spread[0] == 1 and spread[-1] == 31  # 9 taps 31 apart span 249 steps
    assert 84 * sum(counts) == 9996
    assert dilations(1, 5) == ([1], [1])  # at least one per kernel


def test_features_are_standardised_on_the_training_sequences():
    features, x, lengths = _fitted_features()
    out = features(x, lengths)
    assert out.mean(dim=0).abs().max() < 1e-5
    kept = features.scale > 1e-2 * np.sqrt(features.n_out) + 1e-6  # not floored
    std = out.std(dim=0)[kept] * np.sqrt(features.n_out)
    torch.testing.assert_close(std, torch.ones_like(std), rtol=1e-4, atol=1e-4)


def test_the_heads_read_the_random_features():
    torch.manual_seed(0)
    module = MultiTaskGRU(
        n_features=3,
        n_classes=[2, 3],
        hidden_size=5,
        random_features=84,
        random_length=12,
    ).eval()
    assert module.heads[0].in_features == 5 + 84
    x, lengths = torch.randn(4, 12, 3), torch.tensor([12, 12, 8, 5])
    module.random.fit(x, lengths)
    before = module(x, lengths)[0]
    module.random.bias += 0.5  # other features: other logits
    assert not torch.allclose(module(x, lengths)[0], before)


def test_a_fit_sets_the_features_from_its_data_and_a_warm_start_keeps_them(
    ragged_data,
):
    X, Y = ragged_data
    clf = small_classifier(max_iter=1, random_features=100).fit(X, Y)
    random = clf.net_.module_.random
    assert random.n_out == 84 and random.length == int(np.median([len(s) for s in X]))
    assert random.weight.abs().sum() > 0 and not torch.all(random.bias == 0)
    values = torch.zeros(len(X), max(map(len, X)), 3)
    for i, s in enumerate(X):
        values[i, : len(s)] = torch.as_tensor(s)
    n = torch.tensor([len(s) for s in X])
    with torch.no_grad():
        assert random(values, n).mean(dim=0).abs().max() < 1e-4  # its training data
    state = {k: v.clone() for k, v in random.state_dict().items()}
    clf.set_params(warm_start=True).fit([np.tile(s, (3, 1)) for s in X], Y)
    kept = clf.net_.module_.random
    assert kept.length == random.length
    for key, value in kept.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_the_same_seed_draws_the_same_features_and_a_lazy_collection_fits(
    ragged_data,
):
    X, Y = ragged_data

    class OnDisk:  # a collection read one sequence at a time
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i]

    first = small_classifier(max_iter=1, random_features=84).fit(X, Y)
    lazy = small_classifier(max_iter=1, random_features=84).fit(OnDisk(), Y)
    np.testing.assert_array_equal(lazy.predict(X), first.predict(X))
    for a, b in zip(
        first.net_.module_.random.state_dict().values(),
        lazy.net_.module_.random.state_dict().values(),
    ):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "make",
    [
        lambda: small_classifier(
            max_iter=1, random_features=84, sharing="mmoe", n_experts=2
        ),
        lambda: small_classifier(
            max_iter=1, random_features=84, task_groups=[[0], [1]]
        ),
        lambda: small_classifier(
            max_iter=1, random_features=84, input_statistics=False
        ),
        lambda: MultiTaskGRURegressor(
            hidden_size=6,
            conv_channels=6,
            max_iter=2,
            random_features=84,
            random_state=0,
        ),
        lambda: MultiTaskGRUEstimator(
            hidden_size=6,
            conv_channels=6,
            max_iter=2,
            random_features=84,
            random_state=0,
        ),
    ],
    ids=["mmoe", "task groups", "no statistics", "regressor", "mixed kinds"],
)
def test_every_sequence_network_reads_them_and_round_trips_a_safe_file(
    make, ragged_data, tmp_path
):
    X, Y = ragged_data
    model = make().fit(X, Y.astype(float) if "Regressor" in str(make()) else Y)
    found = [
        m for m in model.net_.module_.modules() if isinstance(m, RandomConvFeatures)
    ]
    assert found and all(not torch.all(m.bias == 0) for m in found)
    model.save(tmp_path / "model.safetensors")
    back = sk_mtgru.load(tmp_path / "model.safetensors")
    assert back.random_features == 84
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_a_file_without_random_features_loads_as_a_network_without_them(
    dense_data, tmp_path
):
    X, Y = dense_data
    plain = small_classifier().fit(X, Y)
    plain.save(tmp_path / "plain.safetensors")
    document, tensors = _read(tmp_path / "plain.safetensors")
    del document["module"]["random_features"], document["module"]["random_length"]
    del document["params"]["random_features"]
    _write(tmp_path / "older.safetensors", document, tensors)
    older = sk_mtgru.load(tmp_path / "older.safetensors")
    assert older.random_features == 0 and older.net_.module_.random is None
    np.testing.assert_array_equal(older.predict(X), plain.predict(X))
    document["module"]["random_features"] = 2**40  # crafted: refused, not built
    document["module"]["random_length"] = 12
    _write(tmp_path / "crafted.safetensors", document, tensors)
    with pytest.raises(ValueError, match="random_features"):
        sk_mtgru.load(tmp_path / "crafted.safetensors")


def test_streaming_and_onnx_refuse_a_model_with_random_features(dense_data, tmp_path):
    X, Y = dense_data
    model = small_classifier(max_iter=1, random_features=84).fit(X, Y)
    with pytest.raises(ValueError, match="random_features=0"):
        StreamingPredictor(model)
    with pytest.raises(ValueError, match="random_features=0"):
        sk_mtgru.to_onnx(model, tmp_path / "model.onnx")


def _count_feature_passes(monkeypatch):
    calls = []
    proportions = RandomConvFeatures._proportions

    def counted(self, x, lengths):
        calls.append(len(x))
        return proportions(self, x, lengths)

    monkeypatch.setattr(RandomConvFeatures, "_proportions", counted)
    return calls


def test_a_fit_computes_the_features_once_not_every_epoch(ragged_data, monkeypatch):
    X, Y = ragged_data
    calls = _count_feature_passes(monkeypatch)
    cached = small_classifier(max_iter=3, random_features=84).fit(X, Y)
    assert calls == [len(X), len(X)]  # the scaling, then the batches' cache
    # the same fit computing them per batch learns the same model
    monkeypatch.setattr("sk_mtgru._random_features._CACHE_LIMIT", 0)
    per_batch = small_classifier(max_iter=3, random_features=84).fit(X, Y)
    assert len(calls) == 2 + 1 + 3 * 4  # the scaling, then 4 batches an epoch
    for a, b in zip(per_batch.predict_proba(X), cached.predict_proba(X)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_random_crops_compute_the_features_of_each_crop(ragged_data, monkeypatch):
    X, Y = ragged_data
    calls = _count_feature_passes(monkeypatch)
    model = small_classifier(max_iter=2, random_features=84, crop_length=8).fit(X, Y)
    assert len(calls) == 1 + 2 * 4  # the scaling, then every batch's crops
    assert model.net_.module_.random.length == 8  # the windows' length, not 12


def test_a_failed_refit_keeps_the_fitted_networks_feature_length(ragged_data):
    X, Y = ragged_data
    clf = small_classifier(max_iter=1, random_features=84).fit(X, Y)
    clf.set_params(learning_rate_init=1e37)
    with pytest.raises(TrainingDivergedError):  # a new fit on longer sequences
        clf.fit([np.tile(s, (3, 1)) for s in X], Y)
    clf.set_params(learning_rate_init=1e-3)
    assert clf._random_length == clf.net_.module_.random.length == 12
    clf.set_params(warm_start=True).fit(X, Y)  # continues the fitted network


def test_long_sequences_compare_a_few_biases_at_a_time_to_the_same_features(
    monkeypatch,
):
    features, x, lengths = _fitted_features(n_random=336)  # 2 biases a dilation
    at_once = features(x, lengths)
    monkeypatch.setattr("sk_mtgru._random_features._COMPARED", 1)  # bias by bias
    torch.testing.assert_close(features(x, lengths), at_once, rtol=0, atol=0)


@pytest.mark.parametrize("count", [2, 20])  # compared, or sorted and looked up
def test_steps_above_a_bias_are_counted_strictly_and_only_on_real_steps(count):
    generator = torch.Generator().manual_seed(0)
    out = torch.randint(-3, 4, (5, 84, 16), generator=generator).float()  # ties
    bias = torch.randint(-3, 4, (84, count), generator=generator).float()
    lengths = torch.tensor([16, 3, 9, 1, 12])
    mask = (torch.arange(16)[None, :] < lengths[:, None])[:, None, :]
    got = _positive(out, mask, bias)
    for i, n in enumerate(lengths.tolist()):
        expected = (out[i, :, None, :n] > bias[:, :, None]).sum(dim=-1)
        assert torch.equal(got[i], expected)
