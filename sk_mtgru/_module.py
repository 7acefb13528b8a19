"""The torch module: a GRU encoder shared by all tasks and one linear head per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from ._frontend import (
    ConvFrontEnd,
    input_statistics,
    n_input_statistics,
    statistics_kind,
)
from ._gru import real_steps, run_gru
from ._random_features import RandomConvFeatures

__all__ = ["MultiTaskGRU", "SHARINGS", "SUMMARIES", "pool_steps"]


SUMMARIES = ("last", "mean", "max", "mean_max", "attention")
SHARINGS = ("hard", "mmoe")


def _real_input(
    x: torch.Tensor, lengths: torch.Tensor, zero_padding: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` cut to the longest sequence, its padding zeroed when ``zero_padding``
    (for readers that see past each end: convolutions, statistics), and the
    lengths as int64 on the CPU."""
    lengths_cpu = lengths.to("cpu", torch.int64)
    x = x[:, : int(lengths_cpu.max())]
    if zero_padding and not bool((lengths_cpu == x.shape[1]).all()):
        x = x * real_steps(lengths.to(x.device), x.shape[1]).to(x.dtype)
    return x, lengths_cpu


def pool_steps(
    output: torch.Tensor,
    lengths: torch.Tensor,
    mask: torch.Tensor,
    summary: str,
    num_directions: int,
    dense: bool = False,
) -> torch.Tensor:
    """Mean, max or both of ``output`` over the real steps (``mask``, ``(batch,
    steps, 1)``), or for 'last' its forward half at the real end and its backward
    half at the start: every summary but attention. ``dense``: every step is real
    (no padding), so the mask is not read. The exported graph
    (:mod:`sk_mtgru._onnx`) pools with it too."""
    if summary == "last":
        rows = torch.arange(output.shape[0], device=output.device)
        last = output[rows, lengths - 1]
        if num_directions == 1:
            return last
        half = output.shape[-1] // 2
        return torch.cat([last[:, :half], output[:, 0, half:]], dim=1)
    pooled = []
    if summary != "max":
        pooled.append(
            output.mean(dim=1)
            if dense
            else (output * mask).sum(dim=1) / lengths.to(output.dtype)[:, None]
        )
    if summary != "mean":
        pooled.append(
            output.amax(dim=1)
            if dense
            else output.masked_fill(~mask, float("-inf")).amax(dim=1)
        )
    return torch.cat(pooled, dim=1) if len(pooled) > 1 else pooled[0]


class MultiTaskGRU(nn.Module):
    """Shared GRU encoder feeding one head per task, optionally through private layers.

    Optionally, 1-D convolutions (``conv_layers > 0``) read each sequence first and
    the GRU reads their outputs. The shared GRU reads each sequence; padding steps
    come after each sequence's end and never change its outputs (see
    :func:`~sk_mtgru._gru.run_gru`). Each task then summarises the sequence into one
    vector, from the shared GRU's outputs or, with ``task_layers > 0``, from those of
    a GRU of its own stacked on them, and a linear head maps the summary -- beside
    the input's own summary statistics when ``input_statistics=True`` -- to the
    task's logits. The summary is, by ``summary``:

    - ``'last'``: the hidden state at the sequence's real (unpadded) end, from the top
      layer; with ``bidirectional=True`` the backward direction's state (which has
      read the sequence from its real end back to its start) is concatenated;
    - ``'mean'``: the mean of the outputs over the sequence's real steps;
    - ``'max'``: their maximum over the real steps, feature by feature;
    - ``'mean_max'``: the mean and the maximum, concatenated;
    - ``'attention'``: a weighted mean of the outputs over the real steps, with
      weights from a learned score of each step (one scorer per task).

    With ``sharing='mmoe'`` (a multi-gate mixture of experts, Ma et al., KDD 2018),
    ``n_experts`` GRUs read the sequence side by side instead of one, each is
    summarised as above, and each task mixes the experts' summaries with weights
    from a softmax gate of its own over the input's summary statistics: tasks that
    compete for the encoder can each lean on different experts. ``gru`` is the
    first expert, ``experts`` the others.

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
    summary : {'last', 'mean', 'max', 'mean_max', 'attention'}
        How a sequence is summarised for each head.
    task_layers : int
        GRU layers private to each task, on top of the shared encoder (0: none).
    gru_kernel : {'auto', 'torch', 'sk_mtgru'}
        Which implementation runs the GRUs; see :func:`~sk_mtgru._gru.run_gru`.
    conv_layers : int
        1-D convolutions before the GRU (0: the GRU reads the input).
    conv_channels, conv_kernel_size, conv_stride, conv_dilation : int
        Their filters, filter width, the last one's stride and the growth of the
        filters' dilation from one to the next; see
        :class:`~sk_mtgru._frontend.ConvFrontEnd`.
    input_statistics : bool or 'rich'
        Whether each head also reads the input's per-channel mean, standard
        deviation, minimum and maximum and the log of the sequence's length;
        'rich' adds percentiles, mean absolute change, slope and lag-1
        autocorrelation (see :func:`~sk_mtgru._frontend.input_statistics`).
    sharing : {'hard', 'mmoe'}
        One GRU shared by every task, or a mixture of ``n_experts`` GRUs with a
        gate per task.
    n_experts : int
        Experts of ``sharing='mmoe'`` (ignored with 'hard').
    random_features : int
        MiniRocket-style random-convolution features each head also reads (0:
        none); see :class:`~sk_mtgru._random_features.RandomConvFeatures`.
    random_length : int
        The typical training length that sets their dilations.
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
        conv_layers: int = 0,
        conv_channels: int = 64,
        conv_kernel_size: int = 5,
        conv_stride: int = 1,
        conv_dilation: int = 1,
        input_statistics: bool | str = False,
        sharing: str = "hard",
        n_experts: int = 2,
        random_features: int = 0,
        random_length: int = 0,
    ) -> None:
        super().__init__()
        if summary not in SUMMARIES:
            raise ValueError(f"summary must be one of {SUMMARIES}, got {summary!r}.")
        if sharing not in SHARINGS:
            raise ValueError(f"sharing must be one of {SHARINGS}, got {sharing!r}.")
        if sharing == "mmoe" and (task_layers or summary == "attention"):
            raise ValueError(
                "sharing='mmoe' mixes the experts' pooled summaries: it does not "
                "combine with task_layers > 0 or summary='attention'. Use "
                "sharing='hard' for those."
            )
        if sharing == "mmoe" and n_experts < 2:
            raise ValueError(f"sharing='mmoe' needs n_experts >= 2, got {n_experts}.")
        self.sharing = sharing
        self.n_experts = n_experts if sharing == "mmoe" else 1
        self.n_features = n_features
        self.summary = summary
        self.task_layers = task_layers
        self.gru_kernel = gru_kernel
        self.input_statistics = input_statistics
        self.num_directions = 2 if bidirectional else 1
        self.conv = (
            ConvFrontEnd(
                n_features,
                conv_layers,
                conv_channels,
                conv_kernel_size,
                conv_stride,
                conv_dilation,
            )
            if conv_layers
            else None
        )

        def encoder() -> nn.GRU:
            return nn.GRU(
                input_size=conv_channels if conv_layers else n_features,
                hidden_size=hidden_size,
                num_layers=num_layers,
                bidirectional=bidirectional,
                dropout=dropout if num_layers > 1 else 0.0,
                batch_first=True,
            )

        self.gru = encoder()
        self.experts = nn.ModuleList(encoder() for _ in range(self.n_experts - 1))
        statistics_width = n_input_statistics(n_features, self._statistics_kind)
        self.random = (
            RandomConvFeatures(n_features, random_features, random_length)
            if random_features
            else None
        )
        self.gates = nn.ModuleList(
            nn.Linear(statistics_width, self.n_experts)
            for _ in (n_classes if sharing == "mmoe" else ())
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
        head_width = width * (2 if summary == "mean_max" else 1)
        if input_statistics:
            head_width += statistics_width
        if self.random is not None:
            head_width += self.random.n_out
        self.heads = nn.ModuleList(nn.Linear(head_width, int(k)) for k in n_classes)
        self._statistics: torch.Tensor | None = None

    @property
    def _statistics_kind(self) -> str:
        """The statistics the heads and gates read: the experts' gates read the
        basic ones when the heads read none. (Computed, not stored: a network
        pickled by an earlier release has no such attribute.)"""
        return statistics_kind(self.input_statistics) or "basic"

    def _last(self, top: torch.Tensor) -> torch.Tensor:
        # top: (num_directions, batch, hidden) -> (batch, num_directions * hidden)
        return top.transpose(0, 1).reshape(top.shape[1], -1)

    def shared(
        self, x: torch.Tensor, lengths: torch.Tensor, wide: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The representation every task reads: the shared encoder's output.

        ``(batch, width)`` -- the state at each sequence's end -- when the tasks
        read nothing else (``summary='last'``, no private layers); otherwise the
        outputs at every step, ``(batch, max_length, width)``, zero past each end.
        Gradient-based strategies and task affinity take gradients here. With a
        strided convolutional front end, ``max_length`` counts its output steps.
        The input statistics, which no parameter shapes, are kept for the
        :meth:`task_logits` call that follows (training is one thread; ``forward``
        passes them along instead, so that threads may predict at once).
        ``wide``: the random-convolution features, when already computed.
        """
        shared, self._statistics = self.encode(x, lengths, wide)
        return shared

    def encode(
        self, x: torch.Tensor, lengths: torch.Tensor, wide: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`shared`'s representation and the input statistics (None when
        nothing reads them), the random-convolution features (``wide`` when
        given: a fit computes them once) last."""
        random = getattr(self, "random", None)  # absent from earlier releases
        statistics = bool(self.input_statistics) or self.sharing == "mmoe"
        x, lengths_cpu = _real_input(
            x,
            lengths,
            zero_padding=self.conv is not None or statistics or random is not None,
        )
        stats = (
            input_statistics(x, lengths, self._statistics_kind) if statistics else None
        )
        if random is not None:  # the heads read them after the statistics
            if wide is None:
                wide = random(x, lengths_cpu)
            stats = wide if stats is None else torch.cat([stats, wide], dim=1)
        if self.conv is not None:
            x, lengths_cpu = self.conv(x, lengths_cpu)
        if self.sharing == "mmoe":  # every expert's outputs, side by side
            outputs = [
                run_gru(gru, x, lengths_cpu, self.gru_kernel)[0]
                for gru in (self.gru, *self.experts)
            ]
            return torch.cat(outputs, dim=-1), stats
        output, top = run_gru(self.gru, x, lengths_cpu, self.gru_kernel)
        if self.summary == "last" and self.task_layers == 0:
            return self._last(top), stats
        return output, stats

    def task_summaries(
        self,
        shared: torch.Tensor,
        lengths: torch.Tensor,
        statistics: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """Each task's summary, ``(batch, width)``, from the shared representation
        (and, for the experts' gates, the input statistics: by default those kept
        by the last :meth:`shared`)."""
        if statistics is None:
            statistics = self._statistics
        n_tasks = len(self.heads)
        if shared.dim() == 2:
            return [shared] * n_tasks
        lengths_cpu = lengths.to("cpu", torch.int64)
        if self.conv is not None:
            lengths_cpu = self.conv.output_lengths(lengths_cpu)
            lengths = lengths_cpu.to(lengths.device)
        max_length = shared.shape[1]
        mask = real_steps(lengths.to(shared.device), max_length)
        if self.sharing == "mmoe":
            if statistics is None:
                raise ValueError("the experts' gates read the input statistics")
            return self._mixtures(shared, lengths.to(shared.device), mask, statistics)
        if not self.task_layers and self.summary in ("mean", "max", "mean_max"):
            dense = bool((lengths_cpu == max_length).all())
            pooled = pool_steps(
                shared,
                lengths.to(shared.device),
                mask,
                self.summary,
                self.num_directions,
                dense,
            )
            return [pooled] * n_tasks  # one pooling of the shared steps serves all
        result = []
        for k in range(n_tasks):
            output = shared
            if self.task_layers:
                output, top = run_gru(
                    cast(nn.GRU, self.task_grus[k]),
                    shared,
                    lengths_cpu,
                    self.gru_kernel,
                )
            if self.summary == "last":
                result.append(self._last(top))
            elif self.summary in ("mean", "max", "mean_max"):
                result.append(
                    pool_steps(
                        output,
                        lengths.to(shared.device),
                        mask,
                        self.summary,
                        self.num_directions,
                    )
                )
            else:
                scores = self.scorers[k](output).masked_fill(~mask, float("-inf"))
                weights = torch.softmax(scores, dim=1)
                result.append((weights * output).sum(dim=1))
        return result

    def _mixtures(
        self,
        shared: torch.Tensor,
        lengths: torch.Tensor,
        mask: torch.Tensor,
        statistics: torch.Tensor,
    ) -> list[torch.Tensor]:
        """Each task's gated mixture of the experts' summaries."""
        experts = torch.stack(
            [
                pool_steps(output, lengths, mask, self.summary, self.num_directions)
                for output in shared.chunk(self.n_experts, dim=-1)
            ],
            dim=1,
        )  # (batch, n_experts, width)
        statistics = statistics[:, : self.gates[0].in_features]  # not the random
        return [
            (torch.softmax(gate(statistics), dim=1)[:, :, None] * experts).sum(1)
            for gate in self.gates
        ]

    def gate_weights(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Each task's weights on the experts, ``(n_tasks, batch, n_experts)``
        (``sharing='mmoe'`` only)."""
        if self.sharing != "mmoe":
            raise ValueError("gate_weights needs sharing='mmoe'.")
        statistics = input_statistics(
            _real_input(x, lengths)[0], lengths, self._statistics_kind
        )
        return torch.stack([torch.softmax(g(statistics), dim=1) for g in self.gates])

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
        shared, statistics = self.encode(x, lengths)
        return self.task_summaries(shared, lengths, statistics)

    def task_logits(
        self,
        shared: torch.Tensor,
        lengths: torch.Tensor,
        statistics: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Logits of every task from the shared representation (and the input
        statistics: by default those kept by the last :meth:`shared`)."""
        if statistics is None:
            statistics = self._statistics
        summaries = self.task_summaries(shared, lengths, statistics)
        if self.training and self.dropout.p:
            summaries = [self.dropout(summary) for summary in summaries]
        random = getattr(self, "random", None)
        if self.input_statistics or random is not None:
            if statistics is None:
                raise ValueError("the heads read the input statistics: pass them")
            if not self.input_statistics and self.sharing == "mmoe":
                # the gates' statistics come first; the heads read the rest
                statistics = statistics[:, self.gates[0].in_features :]
            summaries = [torch.cat([s, statistics], dim=1) for s in summaries]
        return tuple(head(summary) for head, summary in zip(self.heads, summaries))

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor, wide: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Logits of every task: a tuple of ``(batch, n_classes_k)`` tensors
        (``wide``: the random-convolution features, when already computed)."""
        shared, statistics = self.encode(x, lengths, wide)
        return self.task_logits(shared, lengths, statistics)
