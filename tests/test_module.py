"""The torch module: the summary is the GRU state at each sequence's real end."""

import pytest
import torch

from sk_mtgru._module import MultiTaskGRU, pool_steps


def _module(**kwargs):
    torch.manual_seed(0)
    return MultiTaskGRU(n_features=3, n_classes=[2, 4], hidden_size=5, **kwargs).eval()


def test_summary_of_a_padded_sequence_is_its_unpadded_last_state():
    module = _module()
    x = torch.randn(2, 7, 3)
    x[1, 4:] = 99.0  # padding that must never be read
    lengths = torch.tensor([7, 4])
    summary = module.summaries(x, lengths)[0]
    _, h_alone = module.gru(x[1:, :4])
    torch.testing.assert_close(summary[1], h_alone[-1, 0])


def test_bidirectional_summary_concatenates_both_directions_final_states():
    module = _module(bidirectional=True, num_layers=2)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 5])
    summary = module.summaries(x, lengths)[0]
    assert summary.shape == (3, 10)
    output, _ = module.gru(x[2:, :5])
    forward_last = output[0, -1, :5]  # forward direction after the last real step
    backward_first = output[0, 0, 5:]  # backward direction after reading back to step 0
    torch.testing.assert_close(summary[2], torch.cat([forward_last, backward_first]))


def test_forward_returns_one_logits_tensor_per_task():
    module = _module()
    logits = module(torch.randn(4, 5, 3), torch.tensor([5, 5, 3, 1]))
    assert [tuple(t.shape) for t in logits] == [(4, 2), (4, 4)]


def test_mean_summary_averages_the_outputs_over_real_steps_only():
    module = _module(summary="mean")
    x = torch.randn(2, 6, 3)
    x[1, 3:] = 99.0
    summaries = module.summaries(x, torch.tensor([6, 3]))
    output, _ = module.gru(x[1:, :3])
    torch.testing.assert_close(summaries[0][1], output[0].mean(dim=0))


def test_attention_summary_is_a_softmax_weighted_mean_of_real_steps():
    module = _module(summary="attention", bidirectional=True)
    x = torch.randn(2, 6, 3)
    x[0, 4:] = -50.0
    summaries = module.summaries(x, torch.tensor([4, 6]))
    output, _ = module.gru(x[:1, :4])
    for k in range(2):
        weights = torch.softmax(module.scorers[k](output[0]), dim=0)
        torch.testing.assert_close(summaries[k][0], (weights * output[0]).sum(dim=0))


def test_private_task_layers_read_the_shared_outputs():
    module = _module(task_layers=1)
    assert len(module.task_grus) == 2
    x = torch.randn(2, 5, 3)
    summaries = module.summaries(x, torch.tensor([5, 2]))
    shared, _ = module.gru(x[1:, :2])
    _, h_n = module.task_grus[1](shared)
    torch.testing.assert_close(summaries[1][1], h_n[-1, 0])
    assert not torch.allclose(summaries[0], summaries[1])


@pytest.mark.parametrize("summary", ["mean", "max", "mean_max"])
def test_pooling_without_padding_skips_the_mask_and_gives_the_same(summary):
    output = torch.randn(4, 7, 6)
    lengths = torch.full((4,), 7)
    mask = torch.ones(4, 7, 1, dtype=torch.bool)
    masked = pool_steps(output, lengths, mask, summary, 1)
    dense = pool_steps(output, lengths, mask, summary, 1, dense=True)
    torch.testing.assert_close(dense, masked)


def test_the_heads_share_one_pooling_of_the_shared_steps():
    module = MultiTaskGRU(3, [2, 3, 4], hidden_size=8, summary="mean_max")
    x, lengths = torch.randn(5, 9, 3), torch.tensor([9, 9, 4, 2, 9])
    summaries = module.task_summaries(module.shared(x, lengths), lengths)
    assert summaries[0] is summaries[1] is summaries[2]
    # the same as pooling once by hand, padding left out
    output, _ = module.encode(x, lengths)
    mask = torch.arange(9)[None, :, None] < lengths[:, None, None]
    expected = pool_steps(output, lengths, mask, "mean_max", 1)
    torch.testing.assert_close(summaries[0], expected)
