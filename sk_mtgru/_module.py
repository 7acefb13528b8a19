"""The torch module: a GRU encoder shared by all tasks and one linear head per task."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["MultiTaskGRU", "SUMMARIES", "unpacked_forward"]


SUMMARIES = ("last", "mean", "attention")


def unpacked_forward(
    gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A forward-only GRU over a padded batch, exact without packing.

    A forward GRU's output at step ``t`` depends on steps ``0 .. t`` only, so the
    padding after a sequence's end changes none of its real outputs: the padded
    batch runs through torch's fused kernel (several times faster on CPU than the
    packed path) and the outputs past each end are zeroed. Returns the outputs and,
    like ``nn.GRU``, a ``(1, batch, hidden)`` tensor of the top layer's state at
    each sequence's real end.
    """
    output, _ = gru(x)
    real = (
        torch.arange(x.shape[1], device=x.device)[None, :]
        < lengths.to(x.device)[:, None]
    )
    output = output * real.unsqueeze(-1).to(output.dtype)
    batch = torch.arange(x.shape[0], device=x.device)
    last = output[batch, lengths.to(x.device) - 1]
    return output, last.unsqueeze(0)


class MultiTaskGRU(nn.Module):
    """Shared GRU encoder feeding one head per task, optionally through private layers.

    The shared GRU reads each sequence; padded batches are packed, so that padding
    never enters a recurrence. Each task then summarises the sequence into one
    vector, from the shared GRU's outputs or, with ``task_layers > 0``, from those of
    a GRU of its own stacked on them, and a linear head maps the summary to the
    task's logits. The summary is, by ``summary``:

    - ``'last'``: the hidden state at the sequence's real (unpadded) end, from the top
      layer; with ``bidirectional=True`` the backward direction's state (which has
      read the sequence from its real end back to its start) is concatenated;
    - ``'mean'``: the mean of the outputs over the sequence's real steps;
    - ``'attention'``: a weighted mean of the outputs over the real steps, with
      weights from a learned score of each step (one scorer per task).

    Parameters
    ----------
    n_features : int
        Features per time step.
    n_classes : sequence of int
        Number of classes of each task; one head per entry.
    hidden_size : int
        Size of the GRUs' hidden states.
    num_layers : int
        Stacked layers of the shared GRU.
    bidirectional : bool
        Whether the GRUs read each sequence in both directions.
    dropout : float
        Dropout between stacked GRU layers and on the summary fed to the heads.
    summary : {'last', 'mean', 'attention'}
        How a sequence is summarised for each head.
    task_layers : int
        GRU layers private to each task, on top of the shared encoder (0: none).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: Sequence[int],
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        summary: str = "last",
        task_layers: int = 0,
    ) -> None:
        super().__init__()
        if summary not in SUMMARIES:
            raise ValueError(f"summary must be one of {SUMMARIES}, got {summary!r}.")
        self.summary = summary
        self.task_layers = task_layers
        self.num_directions = 2 if bidirectional else 1
        self.gru = nn.GRU(
            input_size=n_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        width = hidden_size * self.num_directions
        self.task_grus = nn.ModuleList(
            nn.GRU(
                input_size=width,
                hidden_size=hidden_size,
                num_layers=task_layers,
                bidirectional=bidirectional,
                dropout=dropout if task_layers > 1 else 0.0,
                batch_first=True,
            )
            for _ in (n_classes if task_layers > 0 else ())
        )
        self.scorers = nn.ModuleList(
            nn.Linear(width, 1) for _ in (n_classes if summary == "attention" else ())
        )
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleList(nn.Linear(width, int(k)) for k in n_classes)

    def _run(
        self, gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor, ragged: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs (batch, length, width), zero past each end, and the final states."""
        if not ragged:
            return gru(x)
        if not gru.bidirectional:
            return unpacked_forward(gru, x, lengths)
        packed = pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        output, h_n = gru(packed)
        output, _ = pad_packed_sequence(
            output, batch_first=True, total_length=x.shape[1]
        )
        return output, h_n

    def _last(self, h_n: torch.Tensor) -> torch.Tensor:
        # h_n: (num_layers * num_directions, batch, hidden); keep the top layer.
        top = h_n[-self.num_directions :]
        return top.transpose(0, 1).reshape(h_n.shape[1], -1)

    def shared(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The representation every task reads: the shared encoder's output.

        ``(batch, width)`` -- the state at each sequence's end -- when the tasks
        read nothing else (``summary='last'``, no private layers); otherwise the
        outputs at every step, ``(batch, max_length, width)``, zero past each end.
        Gradient-based strategies and task affinity take gradients here.
        """
        lengths_cpu = lengths.to("cpu", torch.int64)
        max_length = int(lengths_cpu.max())
        x = x[:, :max_length]
        ragged = not bool((lengths_cpu == max_length).all())
        if self.summary == "last" and self.task_layers == 0:
            if ragged and self.num_directions == 1:
                _, h_n = unpacked_forward(self.gru, x, lengths_cpu)
            elif ragged:
                packed = pack_padded_sequence(
                    x, lengths_cpu, batch_first=True, enforce_sorted=False
                )
                _, h_n = self.gru(packed)
            else:
                _, h_n = self.gru(x)
            return self._last(h_n)
        output, _ = self._run(self.gru, x, lengths_cpu, ragged)
        return output

    def task_summaries(
        self, shared: torch.Tensor, lengths: torch.Tensor
    ) -> list[torch.Tensor]:
        """Each task's summary, ``(batch, width)``, from the shared representation."""
        n_tasks = len(self.heads)
        if shared.dim() == 2:
            return [shared] * n_tasks
        lengths_cpu = lengths.to("cpu", torch.int64)
        max_length = shared.shape[1]
        ragged = not bool((lengths_cpu == max_length).all())
        mask = (
            torch.arange(max_length, device=shared.device)[None, :]
            < lengths.to(shared.device)[:, None]
        ).unsqueeze(-1)
        result = []
        for k in range(n_tasks):
            output = shared
            if self.task_layers:
                output, h_n = self._run(self.task_grus[k], shared, lengths_cpu, ragged)
            if self.summary == "last":
                result.append(self._last(h_n))
            elif self.summary == "mean":
                total = (output * mask).sum(dim=1)
                result.append(total / lengths.to(shared.device, output.dtype)[:, None])
            else:
                scores = self.scorers[k](output).masked_fill(~mask, float("-inf"))
                weights = torch.softmax(scores, dim=1)
                result.append((weights * output).sum(dim=1))
        return result

    def summaries(self, x: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Each task's summary of each sequence of a padded batch.

        Parameters
        ----------
        x : Tensor of shape (batch, max_length, n_features)
            Sequences padded at the end.
        lengths : Tensor of shape (batch,)
            Real number of steps of each sequence.

        Returns
        -------
        list of Tensor of shape (batch, hidden_size * num_directions), one per task
        """
        return self.task_summaries(self.shared(x, lengths), lengths)

    def task_logits(
        self, shared: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Logits of every task from the shared representation."""
        return tuple(
            head(self.dropout(summary))
            for head, summary in zip(self.heads, self.task_summaries(shared, lengths))
        )

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Logits of every task: a tuple of ``(batch, n_classes_k)`` tensors."""
        return self.task_logits(self.shared(x, lengths), lengths)
