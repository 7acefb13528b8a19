"""The torch module: a GRU encoder shared by all tasks and one linear head per task."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["MultiTaskGRU"]


class MultiTaskGRU(nn.Module):
    """Shared GRU encoder feeding one independent linear head per task.

    The summary of a sequence is the GRU's hidden state at the sequence's real
    (unpadded) end, from the top layer; with ``bidirectional=True`` the backward
    direction's state (which has read the sequence from its real end back to its
    start) is concatenated to it. Padded batches are packed, so that padding never
    enters the recurrence.

    Parameters
    ----------
    n_features : int
        Features per time step.
    n_classes : sequence of int
        Number of classes of each task; one head per entry.
    hidden_size : int
        Size of the GRU's hidden state.
    num_layers : int
        Stacked GRU layers.
    bidirectional : bool
        Whether the GRU reads each sequence in both directions.
    dropout : float
        Dropout between stacked GRU layers and on the summary fed to the heads.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: Sequence[int],
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_directions = 2 if bidirectional else 1
        self.gru = nn.GRU(
            input_size=n_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(dropout)
        summary_size = hidden_size * self.num_directions
        self.heads = nn.ModuleList(nn.Linear(summary_size, int(k)) for k in n_classes)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Summarise each sequence of a padded batch.

        Parameters
        ----------
        x : Tensor of shape (batch, max_length, n_features)
            Sequences padded at the end.
        lengths : Tensor of shape (batch,)
            Real number of steps of each sequence.

        Returns
        -------
        Tensor of shape (batch, hidden_size * num_directions)
        """
        lengths_cpu = lengths.to("cpu", torch.int64)
        max_length = int(lengths_cpu.max())
        x = x[:, :max_length]
        if bool((lengths_cpu == max_length).all()):
            _, h_n = self.gru(x)
        else:
            packed = pack_padded_sequence(
                x, lengths_cpu, batch_first=True, enforce_sorted=False
            )
            _, h_n = self.gru(packed)
        # h_n: (num_layers * num_directions, batch, hidden); keep the top layer.
        top = h_n[-self.num_directions :]
        return top.transpose(0, 1).reshape(x.shape[0], -1)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Logits of every task: a tuple of ``(batch, n_classes_k)`` tensors."""
        summary = self.dropout(self.encode(x, lengths))
        return tuple(head(summary) for head in self.heads)
