"""The torch module: the summary is the GRU state at each sequence's real end."""

import torch

from sk_mtgru._module import MultiTaskGRU


def _module(**kwargs):
    torch.manual_seed(0)
    return MultiTaskGRU(n_features=3, n_classes=[2, 4], hidden_size=5, **kwargs).eval()


def test_summary_of_a_padded_sequence_is_its_unpadded_last_state():
    module = _module()
    x = torch.randn(2, 7, 3)
    x[1, 4:] = 99.0  # padding that must never be read
    lengths = torch.tensor([7, 4])
    summary = module.encode(x, lengths)
    _, h_alone = module.gru(x[1:, :4])
    torch.testing.assert_close(summary[1], h_alone[-1, 0])


def test_bidirectional_summary_concatenates_both_directions_final_states():
    module = _module(bidirectional=True, num_layers=2)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 5])
    summary = module.encode(x, lengths)
    assert summary.shape == (3, 10)
    output, _ = module.gru(x[2:, :5])
    forward_last = output[0, -1, :5]  # forward direction after the last real step
    backward_first = output[0, 0, 5:]  # backward direction after reading back to step 0
    torch.testing.assert_close(summary[2], torch.cat([forward_last, backward_first]))


def test_forward_returns_one_logits_tensor_per_task():
    module = _module()
    logits = module(torch.randn(4, 5, 3), torch.tensor([5, 5, 3, 1]))
    assert [tuple(t.shape) for t in logits] == [(4, 2), (4, 4)]
