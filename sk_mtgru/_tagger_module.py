"""The torch module of the tagger: stacked GRU layers, each task's head on its layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from ._gru import run_gru

__all__ = ["MultiTaskGRUTaggerModule"]


class MultiTaskGRUTaggerModule(nn.Module):
    """Stacked GRU layers shared by all tasks; per-step heads fed by chosen layers.

    Layer ``l`` reads the outputs of layer ``l - 1`` (layer 0 reads the input). Task
    ``k``'s head maps the outputs of layer ``layers[k]`` at every step to its logits
    -- ``y_{k,t} = W_k h^{(l)}_t + b_k`` -- so a task supervised at a lower layer
    shapes the representation the layers above it build on (Søgaard and Goldberg,
    2016). Padding never changes a real step's output in either direction: it
    comes after each sequence's end, and the backward direction starts at the
    real end (see :func:`~sk_mtgru._gru.run_gru`).

    Parameters
    ----------
    n_features : int
        Features per time step.
    n_classes : sequence of int
        Number of classes of each task; one head per entry.
    layers : sequence of int
        The layer (0 = lowest) whose outputs feed each task's head.
    hidden_size : int
    num_layers : int
    bidirectional : bool
        Read each sequence in both directions (each step's label may depend on the
        steps after it), or forwards only (causal, for streaming).
    dropout : float
        Dropout on the outputs of every layer (between layers, and before heads).
    gru_kernel : {'auto', 'torch', 'sk_mtgru'}
        Which implementation runs the GRUs; see :func:`~sk_mtgru._gru.run_gru`.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: Sequence[int],
        layers: Sequence[int],
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        gru_kernel: str = "auto",
    ) -> None:
        super().__init__()
        if len(layers) != len(n_classes) or not all(
            0 <= layer < num_layers for layer in layers
        ):
            raise ValueError(
                f"layers {list(layers)} must give each of the {len(n_classes)} tasks "
                f"a layer in 0 .. {num_layers - 1}."
            )
        self.layers = [int(layer) for layer in layers]
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.gru_kernel = gru_kernel
        width = hidden_size * (2 if bidirectional else 1)
        self.width = width
        self.grus = nn.ModuleList(
            nn.GRU(
                input_size=n_features if layer == 0 else width,
                hidden_size=hidden_size,
                bidirectional=bidirectional,
                batch_first=True,
            )
            for layer in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleList(nn.Linear(width, int(k)) for k in n_classes)

    def shared(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Every layer's outputs, ``(batch, max_length, num_layers * width)``.

        Outputs are zero past each sequence's end. Gradient-based strategies and
        task affinity take the tasks' gradients here.
        """
        lengths_cpu = lengths.to("cpu", torch.int64)
        max_length = int(lengths_cpu.max())
        output = x[:, :max_length]
        outputs = []
        for gru in self.grus:
            output = run_gru(cast(nn.GRU, gru), output, lengths_cpu, self.gru_kernel)[0]
            output = self.dropout(output)
            outputs.append(output)
        return torch.cat(outputs, dim=-1)

    def task_logits(
        self, shared: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Each task's logits at every step, ``(batch, max_length, n_classes_k)``."""
        w = self.width
        return tuple(
            head(shared[..., layer * w : (layer + 1) * w])
            for head, layer in zip(self.heads, self.layers)
        )

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        return self.task_logits(self.shared(x, lengths), lengths)
