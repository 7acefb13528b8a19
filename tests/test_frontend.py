"""The convolutional front end, the pooled summaries and the input statistics."""

import numpy as np
import pytest
import torch

from sk_mtgru._frontend import ConvFrontEnd, input_statistics
from sk_mtgru._module import MultiTaskGRU

from .conftest import small_classifier


def _module(**kwargs):
    torch.manual_seed(0)
    return MultiTaskGRU(n_features=3, n_classes=[2, 4], hidden_size=5, **kwargs).eval()


@pytest.mark.parametrize("summary", ["last", "mean", "max", "mean_max", "attention"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_padding_changes_no_output_of_the_convolutions_or_any_summary(summary, stride):
    module = _module(
        conv_layers=2,
        conv_channels=6,
        conv_kernel_size=5,
        conv_stride=stride,
        conv_dilation=stride,  # undilated, and dilated stacks of either stride
        summary=summary,
        input_statistics=True,
    )
    x = torch.randn(3, 11, 3)
    lengths = torch.tensor([11, 4, 7])
    x[1, 4:] = 99.0  # padding that must never be read
    x[2, 7:] = -50.0
    batched = module(x, lengths)
    for i in range(3):
        alone = module(x[i : i + 1, : lengths[i]], lengths[i : i + 1])
        for b, a in zip(batched, alone):
            torch.testing.assert_close(b[i : i + 1], a, rtol=1e-5, atol=1e-6)


def test_the_last_convolution_strides_and_shortens_the_sequences():
    front = ConvFrontEnd(n_features=3, n_layers=2, channels=4, kernel_size=3, stride=2)
    x = torch.randn(2, 9, 3)
    x[1, 5:] = 0.0
    out, lengths = front(x, torch.tensor([9, 5]))
    assert out.shape == (2, 5, 4)
    assert lengths.tolist() == [5, 3]
    assert torch.all(out[1, 3:] == 0)
    assert [conv.stride[0] for conv in front.convs] == [1, 2]


@pytest.mark.parametrize("dilation, reach", [(1, 3), (2, 7), (3, 13)])
def test_a_dilated_stack_reads_as_far_as_its_reach_and_no_further(dilation, reach):
    # 3 convolutions of 3 taps: each reads 1, d, d**2 steps to either side
    front = ConvFrontEnd(
        3, n_layers=3, channels=4, kernel_size=3, stride=1, dilation=dilation
    )
    assert front.reach == reach
    assert front.sizes() == (3, 4, 3, 1, dilation)
    with torch.no_grad():  # positive weights: no ReLU hides a change
        for conv in front.convs:
            conv.weight.fill_(0.1)
            conv.bias.fill_(1.0)
    x = torch.rand(1, 40, 3) + 1
    lengths = torch.tensor([40])
    base, _ = front(x, lengths)
    t = 20
    for step, reads in [
        (t + reach, True),
        (t - reach, True),
        (t + reach + 1, False),
        (t - reach - 1, False),
    ]:
        moved = x.clone()
        moved[0, step] += 1.0
        out, _ = front(moved, lengths)
        assert bool((out[0, t] != base[0, t]).any()) == reads, step


def test_a_dilation_beyond_any_sequence_is_a_clear_error():
    with pytest.raises(ValueError, match="smaller conv_dilation"):
        ConvFrontEnd(3, n_layers=4, channels=4, kernel_size=3, stride=1, dilation=10**4)


def test_an_even_kernel_size_is_a_clear_error():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ConvFrontEnd(n_features=3, n_layers=1, channels=4, kernel_size=4, stride=1)
    X = np.random.default_rng(0).normal(size=(20, 10, 3))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        small_classifier(conv_kernel_size=4).fit(X, np.arange(20) % 2)


def test_input_statistics_are_those_of_the_real_steps():
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(n, 2)).astype(np.float32) for n in (6, 3)]
    x = torch.zeros(2, 6, 2)
    for i, seq in enumerate(sequences):
        x[i, : len(seq)] = torch.from_numpy(seq)
    x[1, 3:] = 1e3  # padding
    got = input_statistics(x, torch.tensor([6, 3])).numpy()
    for row, seq in zip(got, sequences):
        expected = np.concatenate(
            [
                seq.mean(0),
                seq.std(0),
                seq.min(0),
                seq.max(0),
                [np.log(len(seq))],
            ]
        )
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-6)


def test_rich_statistics_are_those_of_the_real_steps():
    rng = np.random.default_rng(1)
    sequences = [rng.normal(size=(n, 2)).astype(np.float32) for n in (7, 4, 1)]
    x = torch.full((3, 7, 2), 1e3)  # padding that must not count
    for i, seq in enumerate(sequences):
        x[i, : len(seq)] = torch.from_numpy(seq)
    got = input_statistics(x, torch.tensor([7, 4, 1]), "rich").numpy()
    assert got.shape == (3, 10 * 2 + 1)
    for row, seq in zip(got, sequences):
        n = len(seq)
        centred = seq - seq.mean(0)
        steps = np.arange(n) - (n - 1) / 2
        variance = (centred**2).sum(0)
        expected = np.concatenate(
            [
                seq.mean(0),
                seq.std(0),
                seq.min(0),
                seq.max(0),
                *np.quantile(seq, [0.1, 0.5, 0.9], axis=0, method="nearest"),
                np.abs(np.diff(seq, axis=0)).mean(0) if n > 1 else np.zeros(2),
                (steps[:, None] * centred).sum(0) / max((steps**2).sum(), 1e-12),
                (centred[1:] * centred[:-1]).sum(0) / np.maximum(variance, 1e-12),
                [np.log(n)],
            ]
        )
        np.testing.assert_allclose(row, expected, rtol=1e-4, atol=1e-5)


def test_rich_statistics_train_and_save(dense_data, tmp_path):
    import sk_mtgru

    X, Y = dense_data
    clf = small_classifier(input_statistics="rich", max_iter=1).fit(X, Y)
    assert clf.net_.module_.heads[0].in_features == 8 * 2 + 10 * 3 + 1
    sk_mtgru.save(clf, tmp_path / "rich.skmtgru")
    back = sk_mtgru.load(tmp_path / "rich.skmtgru")
    assert back.input_statistics == "rich"
    np.testing.assert_allclose(back.predict_proba(X)[0], clf.predict_proba(X)[0])


def test_max_and_mean_max_pool_the_outputs_over_real_steps():
    module = _module(summary="mean_max")
    x = torch.randn(1, 6, 3)
    lengths = torch.tensor([4])
    output, _ = module.gru(x[:, :4])
    summary = module.summaries(x, lengths)[0][0]
    torch.testing.assert_close(
        summary, torch.cat([output[0].mean(0), output[0].amax(0)])
    )


def test_the_heads_read_the_pooled_state_and_the_input_statistics(dense_data):
    X, Y = dense_data  # 3 features
    clf = small_classifier(
        hidden_size=8, summary="mean_max", input_statistics=True, conv_channels=5
    ).fit(X, Y)
    module = clf.net_.module_
    assert module.gru.input_size == 5  # the GRU reads the convolutions
    assert [head.in_features for head in module.heads] == [2 * 8 + 4 * 3 + 1] * 2
    plain = small_classifier(summary="last", input_statistics=False, conv_layers=0).fit(
        X, Y
    )
    assert plain.net_.module_.conv is None
    assert plain.net_.module_.gru.input_size == 3


@pytest.mark.parametrize("summary", ["last", "mean_max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_changes_no_output_of_a_mixture_of_experts(summary, bidirectional):
    module = _module(
        sharing="mmoe",
        n_experts=3,
        summary=summary,
        bidirectional=bidirectional,
        conv_layers=1,
        conv_channels=4,
        conv_kernel_size=3,
    )
    x = torch.randn(2, 9, 3)
    lengths = torch.tensor([9, 5])
    x[1, 5:] = 99.0
    batched = module(x, lengths)
    alone = module(x[1:, :5], lengths[1:])
    for b, a in zip(batched, alone):
        torch.testing.assert_close(b[1:], a, rtol=1e-5, atol=1e-6)


def test_each_task_mixes_the_experts_with_its_own_gate():
    module = _module(sharing="mmoe", n_experts=3, summary="mean")
    assert len(module.experts) == 2 and len(module.gates) == 2
    x, lengths = torch.randn(4, 6, 3), torch.tensor([6, 6, 3, 2])
    gates = module.gate_weights(x, lengths)
    assert gates.shape == (2, 4, 3)
    torch.testing.assert_close(gates.sum(dim=2), torch.ones(2, 4))
    # A task whose gate picks one expert reads that expert's summary alone.
    with torch.no_grad():
        for gate in module.gates:
            gate.weight.zero_()
            gate.bias.copy_(torch.tensor([0.0, 50.0, 0.0]))
        expert, _ = module.experts[0](x[2:3, :3])
    summary = module.summaries(x, lengths)[0][2]
    torch.testing.assert_close(summary, expert[0].mean(0), rtol=1e-4, atol=1e-5)


def test_mmoe_has_one_expert_per_task_by_default_and_refuses_what_it_cannot_mix(
    dense_data,
):
    X, Y = dense_data
    clf = small_classifier(sharing="mmoe").fit(X, np.column_stack([Y, Y[:, 0]]))
    assert clf.net_.module_.n_experts == 3
    with pytest.raises(ValueError, match="task_layers > 0 or summary='attention'"):
        small_classifier(sharing="mmoe", summary="attention").fit(X, Y)
    with pytest.raises(ValueError, match="n_experts"):
        small_classifier(sharing="mmoe", n_experts=1).fit(X, Y)


def test_warm_start_continues_whatever_n_experts_hard_sharing_ignores(dense_data):
    X, Y = dense_data
    hard = small_classifier(n_experts=3, warm_start=True, max_iter=1).fit(X, Y)
    hard.fit(X, Y)  # hard sharing has one encoder: n_experts does not shape it
    assert len(hard.history_) == 2
    mixed = small_classifier(sharing="mmoe", warm_start=True, max_iter=1).fit(X, Y)
    mixed.fit(X, Y)
    with pytest.raises(ValueError, match="cannot continue"):
        mixed.set_params(n_experts=3).fit(X, Y)


def test_predictions_do_not_depend_on_the_order_of_the_sequences(ragged_data):
    # Up to float32 rounding: the heads' matrix products round by row position
    # when their inner size is not a multiple of 4 (see test_sklearn_compat).
    X, Y = ragged_data
    clf = small_classifier(hidden_size=16).fit(X, Y)
    order = np.random.default_rng(0).permutation(len(X))
    shuffled = clf.predict_proba([X[i] for i in order])
    for task, proba in enumerate(clf.predict_proba(X)):
        np.testing.assert_allclose(proba[order], shuffled[task], rtol=1e-5, atol=1e-6)
        assert clf.net_.module_.heads[task].in_features % 4 != 0  # the rounding case
