"""The torch module: a GRU encoder shared by all tasks and one linear head per task."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._gru import real_steps, run_gru

__all__ = ["MultiTaskGRU", "SUMMARIES"]


SUMMARIES = ("last", "mean", "attention")


class MultiTaskGRU(nn.Module):
    """Shared GRU encoder feeding one head per task, optionally through private layers.

    The shared GRU reads each sequence; padding never enters a recurrence (see
    :func:`~sk_mtgru._gru.run_gru`). Each task then summarises the sequence into one
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
    gru_kernel : {'auto', 'torch', 'sk_mtgru'}
        Which implementation runs the GRUs; see :func:`~sk_mtgru._gru.run_gru`.
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
        gru_kernel: str = "auto",
    ) -> None:
        super().__init__()
        if summary not in SUMMARIES:
            raise ValueError(f"summary must be one of {SUMMARIES}, got {summary!r}.")
        self.summary = summary
        self.task_layers = task_layers
        self.gru_kernel = gru_kernel
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

    def _last(self, top: torch.Tensor) -> torch.Tensor:
        # top: (num_directions, batch, hidden) -> (batch, num_directions * hidden)
        return top.transpose(0, 1).reshape(top.shape[1], -1)

    def shared(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The representation every task reads: the shared encoder's output.

        ``(batch, width)`` -- the state at each sequence's end -- when the tasks
        read nothing else (``summary='last'``, no private layers); otherwise the
        outputs at every step, ``(batch, max_length, width)``, zero past each end.
        Gradient-based strategies and task affinity take gradients here.
        """
        lengths_cpu = lengths.to("cpu", torch.int64)
        x = x[:, : int(lengths_cpu.max())]
        output, top = run_gru(self.gru, x, lengths_cpu, self.gru_kernel)
        if self.summary == "last" and self.task_layers == 0:
            return self._last(top)
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
        mask = real_steps(lengths.to(shared.device), max_length)
        result = []
        for k in range(n_tasks):
            output = shared
            if self.task_layers:
                output, top = run_gru(
                    self.task_grus[k], shared, lengths_cpu, self.gru_kernel
                )
            if self.summary == "last":
                result.append(self._last(top))
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
        summaries = self.task_summaries(shared, lengths)
        if self.training and self.dropout.p:
            summaries = [self.dropout(summary) for summary in summaries]
        return tuple(head(summary) for head, summary in zip(self.heads, summaries))

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Logits of every task: a tuple of ``(batch, n_classes_k)`` tensors."""
        return self.task_logits(self.shared(x, lengths), lengths)
