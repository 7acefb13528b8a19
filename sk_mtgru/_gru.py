"""Running an ``nn.GRU`` over a padded batch: torch's kernel or the package's own.

torch's GRU on the CPU runs each time step's forward pass in C++, but its backward
pass is autograd replaying a graph of a dozen small operations per step, and it
computes the weight gradients step by step. :class:`GRULayerFunction` is one GRU
layer with a hand-written backward pass through time: per step it does one
elementwise product, one ``addcmul`` and one ``(batch, 3 hidden) @ (3 hidden,
hidden)`` product, and it computes the weight and input gradients of all steps at
once, in large matrix products after the loop. The two time loops run compiled in
C where the machine has a C compiler (:mod:`sk_mtgru._native`): there each step is
one matrix product and one fused pass over the gates. At the sizes these models
use, a batch's forward and backward passes take well under half of ``nn.GRU``'s
time on the CPU (``benchmarks/speed.py``); on a GPU, cuDNN's fused kernel is
faster, so ``kernel='auto'`` keeps it there.

:func:`run_gru` reads an ``nn.GRU``'s own parameters, so the two kernels are
interchangeable on a fitted model and give the same results up to float rounding.
It also needs no packing for sequences of different lengths: a forward direction's
outputs before a sequence's end ignore the padding after it, and the backward
direction reads each sequence reversed in place (padding left at the end). With
the batch ordered longest first (training batches come so; others are permuted
and back), the compiled loops run each step over only the sequences not yet
ended, so the padding costs them no arithmetic.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._native import native_loops

__all__ = [
    "GRU_KERNELS",
    "GRULayerFunction",
    "real_steps",
    "resolve_kernel",
    "reversed_index",
    "run_gru",
]

GRU_KERNELS = ("auto", "torch", "sk_mtgru")


class GRULayerFunction(torch.autograd.Function):
    """One GRU layer, one direction, from a zero initial state, time-major.

    ``apply(x, weight_ih, weight_hh, bias_ih, bias_hh, lengths)`` with ``x`` of
    shape ``(length, batch, input)`` and ``nn.GRU``'s parameters (gates ordered
    reset, update, new) returns the hidden states ``(length, batch, hidden)``:

    r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.

    ``lengths`` (int64, the longest first, or None) lets the compiled loops skip
    the steps past each sequence's end; the states there are then the last real
    one's rather than the padding's, which only the steps past the end see.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, weight_hh, bias_ih, bias_hh, lengths=None):
        length, batch, _ = x.shape
        hidden = weight_hh.shape[1]
        flat_x = x.reshape(length * batch, -1)
        # gates[t] starts as [W_ir x + b_ir + b_hr, W_iz x + b_iz + b_hz, b_hn]; the
        # step's product with the state adds [W_hr h, W_hz h, W_hn h] in place,
        # and the sigmoid then turns the first two thirds into r and z. The input's
        # part of n, W_in x + b_in, is kept apart: r multiplies only W_hn h + b_hn.
        gates = x.new_empty(length, batch, 3 * hidden)
        torch.addmm(
            bias_ih[: 2 * hidden] + bias_hh[: 2 * hidden],
            flat_x,
            weight_ih[: 2 * hidden].t(),
            out=gates.view(length * batch, 3 * hidden)[:, : 2 * hidden],
        )
        gates[..., 2 * hidden :] = bias_hh[2 * hidden :]
        gi_n = torch.addmm(bias_ih[2 * hidden :], flat_x, weight_ih[2 * hidden :].t())
        gi_n = gi_n.view(length, batch, hidden)
        # The state carries a constant 1 in an extra column, used by the backward
        # pass (its product with the gradients then includes the bias gradient).
        states = x.new_empty(length + 1, batch, hidden + 1)
        states[0, :, :hidden] = 0
        states[:, :, hidden] = 1
        n = x.new_empty(length, batch, hidden)
        native = _native(x)
        if native is not None:  # the same loop, in C (see sk_mtgru._native)
            ctx.lengths = lengths
            native.sk_mtgru_gru_forward(
                length,
                batch,
                hidden,
                None if lengths is None else lengths.data_ptr(),
                gates.data_ptr(),
                gi_n.data_ptr(),
                states.data_ptr(),
                n.data_ptr(),
                weight_hh.detach().contiguous().data_ptr(),
            )
            ctx.save_for_backward(x, weight_ih, weight_hh, states, gates, n)
            return states[1:, :, :hidden]
        # Views of every step made once: indexing inside the loop costs as much as
        # the small operations themselves.
        gates_t = gates.unbind(0)
        rz_t = gates[..., : 2 * hidden].unbind(0)
        r_t = gates[..., :hidden].unbind(0)
        z_t = gates[..., hidden : 2 * hidden].unbind(0)
        gh_n_t = gates[..., 2 * hidden :].unbind(0)
        gi_n_t = gi_n.unbind(0)
        n_t = n.unbind(0)
        h_t = states[..., :hidden].unbind(0)
        weight_hh_t = weight_hh.t()
        for t in range(length):
            gates_t[t].addmm_(h_t[t], weight_hh_t)
            rz_t[t].sigmoid_()
            torch.addcmul(gi_n_t[t], r_t[t], gh_n_t[t], out=n_t[t]).tanh_()
            torch.lerp(n_t[t], h_t[t], z_t[t], out=h_t[t + 1])
        ctx.save_for_backward(x, weight_ih, weight_hh, states, gates, n)
        return states[1:, :, :hidden]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        x, weight_ih, weight_hh, states, gates, n = ctx.saved_tensors
        length, batch, hidden = n.shape
        native = _native(x)
        # The state's column of ones makes grad_hh's last column the bias's.
        if native is not None:  # grad_hh summed step by step in the C loop
            grads, grad_hh = _native_backward(
                native, grad_output, weight_hh, states, gates, n, ctx.lengths
            )
            grads = grads.view(length * batch, 4 * hidden)
        else:  # the weight gradient of all steps in one product
            grads = _python_backward(grad_output, weight_hh, states, gates, n)
            grads = grads.view(length * batch, 4 * hidden)
            grad_state = grads[:, hidden:]
            grad_hh = grad_state.t() @ states[:-1].reshape(length * batch, hidden + 1)
        grad_input = grads[:, : 3 * hidden]  # gates a, r, z
        flat_x = x.reshape(length * batch, -1)
        # With few input features, these products are several times faster with
        # the long dimension inside (measured with MKL on one thread, 3,200 rows:
        # 8 features 0.2 ms against 1.0 ms): (x^T g)^T rather than g^T x -- as
        # fast with many features -- and (W^T g^T)^T rather than g W, which is
        # slower with 64 features and more.
        grad_ih = (flat_x.t() @ grad_input).t().roll(-hidden, 0)  # to r, z, n
        grad_bias_ih = torch.cat((grad_hh[: 2 * hidden, -1], grads[:, :hidden].sum(0)))
        grad_x = None
        if ctx.needs_input_grad[0]:
            weight = weight_ih.roll(hidden, 0)  # a (n), r, z
            if x.shape[2] < 32:
                grad_x = (weight.t() @ grad_input.t()).t().reshape(x.shape)
            else:
                grad_x = (grad_input @ weight).view(x.shape)
        return grad_x, grad_ih, grad_hh[:, :hidden], grad_bias_ih, grad_hh[:, -1], None


def _native(x: torch.Tensor) -> Any:
    """The compiled loops, for float32 on the CPU where they could be built."""
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return None
    return native_loops()


def _native_backward(
    native: Any,
    grad_output: torch.Tensor,
    weight_hh: torch.Tensor,
    states: torch.Tensor,
    gates: torch.Tensor,
    n: torch.Tensor,
    lengths: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_python_backward`'s gradients, from the C loop, and the gradient of
    ``[weight_hh, bias_hh]``: the loop adds each step's part while the step's
    gradients and states are in the cache, over the sequences still running."""
    length, batch, hidden = n.shape
    grad_output = grad_output.contiguous()
    grad_h = n.new_empty(length, batch, hidden)
    grad_h[-1] = grad_output[-1]
    grads = n.new_empty(length, batch, 4, hidden)
    grad_w = n.new_zeros(hidden + 1, 3 * hidden)  # transposed
    native.sk_mtgru_gru_backward(
        length,
        batch,
        hidden,
        None if lengths is None else lengths.data_ptr(),
        grads.data_ptr(),
        grad_w.data_ptr(),
        grad_h.data_ptr(),
        grad_output.data_ptr(),
        gates.data_ptr(),
        states.data_ptr(),
        n.data_ptr(),
        weight_hh.detach().contiguous().data_ptr(),
    )
    return grads, grad_w.t()


def _python_backward(
    grad_output: torch.Tensor,
    weight_hh: torch.Tensor,
    states: torch.Tensor,
    gates: torch.Tensor,
    n: torch.Tensor,
) -> torch.Tensor:
    """The gradients of every step's pre-activations, ``(length, batch, 4,
    hidden)``: slots dL/da, dL/d pre_r, dL/d pre_z, dL/dg (see below)."""
    length, batch, hidden = n.shape
    r, z = gates[..., :hidden], gates[..., hidden : 2 * hidden]
    # Every pre-activation's gradient is dL/dh_t times a factor known from the
    # forward pass; the factors of all steps are computed at once, in place
    # (each pass over these arrays costs memory bandwidth). With a the pre-tanh
    # of n and g = W_hn h + b_hn, the slots are, in order: dL/da, dL/d pre_r,
    # dL/d pre_z, dL/dg -- so slots 0-2 are the gradient of the input's part
    # (gates a, r, z) and slots 1-3 that of the state's (gates r, z, n).
    factors = n.new_empty(length, batch, 4, hidden)
    d_a, d_r, d_z, d_g = factors.unbind(2)
    keep = torch.rsub(z, 1)
    torch.mul(keep, n, out=d_a)
    torch.addcmul(keep, d_a, n, value=-1, out=d_a)  # (1 - z)(1 - n^2)
    torch.mul(d_a, r, out=d_g)
    torch.mul(d_g, gates[..., 2 * hidden :], out=d_r)
    d_r.addcmul_(d_r, r, value=-1)  # (1 - z)(1 - n^2) g r (1 - r)
    torch.sub(states[1:, :, :hidden], n, out=d_z)
    d_z.mul_(keep)  # (h_t - n) (1 - z) = (h_{t-1} - n) z (1 - z)
    grad_h = n.new_empty(length, batch, hidden)  # dL/dh_t, all paths
    grads = n.new_empty(length, batch, 4, hidden)
    grad_h[-1] = grad_output[-1]
    grad_h_t = grad_h.unbind(0)
    grad_h_rows = grad_h.unsqueeze(2).unbind(0)  # (batch, 1, hidden) views
    grads_t = grads.unbind(0)
    grad_state_t = grads[:, :, 1:].view(length, batch, 3 * hidden).unbind(0)
    factors_t = factors.unbind(0)
    z_t = z.unbind(0)
    grad_output_t = grad_output.unbind(0)
    for t in range(length - 1, 0, -1):
        torch.mul(grad_h_rows[t], factors_t[t], out=grads_t[t])
        torch.addcmul(
            grad_output_t[t - 1], grad_h_t[t], z_t[t], out=grad_h_t[t - 1]
        ).addmm_(grad_state_t[t], weight_hh)
    torch.mul(grad_h_rows[0], factors_t[0], out=grads_t[0])
    return grads


def resolve_kernel(kernel: str, gru: nn.GRU, x: torch.Tensor) -> str:
    """The kernel ``'auto'`` stands for: the package's when training on the CPU.

    Without gradients, torch's forward pass (a C++ loop over steps) is as fast or
    faster, and on a GPU cuDNN fuses the whole recurrence.
    """
    if kernel not in GRU_KERNELS:
        raise ValueError(f"gru_kernel must be one of {GRU_KERNELS}, got {kernel!r}.")
    if kernel != "auto":
        return kernel
    training = torch.is_grad_enabled() and gru.weight_hh_l0.requires_grad
    return "sk_mtgru" if training and x.device.type == "cpu" else "torch"


def reversed_index(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """``(max_length, batch)`` step indices reading each sequence backwards.

    Step ``t < length`` maps to ``length - 1 - t``; padding steps stay in place.
    The map is its own inverse.
    """
    steps = torch.arange(max_length, device=lengths.device)[:, None]
    return torch.where(steps < lengths[None, :], lengths[None, :] - 1 - steps, steps)


def _reverse(
    steps: torch.Tensor, rows: torch.Tensor | None, columns: torch.Tensor
) -> torch.Tensor:
    """Each sequence of time-major ``steps`` read backwards: by ``rows`` (see
    :func:`reversed_index`) when lengths differ, else a flip, whose gradient is a
    flip too rather than a scatter."""
    return torch.flip(steps, [0]) if rows is None else steps[rows, columns]


def _run_sk_mtgru(
    gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor, ragged: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    order = running = None
    if ragged and _native(x) is not None:
        # The longest first: the compiled loops then run each step over only the
        # sequences not yet ended, a prefix of the batch (no packing). Training
        # batches come so ordered (BatchIterator); others are permuted here and
        # back at the end.
        lengths = lengths.to(torch.int64)
        if not bool((lengths[:-1] >= lengths[1:]).all()):
            order = torch.argsort(lengths, descending=True, stable=True)
            x, lengths = x[order.to(x.device)], lengths[order]
        running = lengths.contiguous()
    batch, max_length = x.shape[0], x.shape[1]
    columns = torch.arange(batch, device=x.device)[None, :]
    if gru.bidirectional:
        rows = reversed_index(lengths, max_length).to(x.device) if ragged else None
    ends = (lengths - 1).to(x.device)
    layer_input = x.transpose(0, 1).contiguous()  # (length, batch, features)
    for layer in range(gru.num_layers):
        outputs, finals = [], []
        for direction in range(2 if gru.bidirectional else 1):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            inputs = _reverse(layer_input, rows, columns) if direction else layer_input
            output = GRULayerFunction.apply(
                inputs,
                getattr(gru, f"weight_ih{suffix}"),
                getattr(gru, f"weight_hh{suffix}"),
                getattr(gru, f"bias_ih{suffix}"),
                getattr(gru, f"bias_hh{suffix}"),
                running,
            )
            finals.append(output[ends, columns[0]])
            outputs.append(_reverse(output, rows, columns) if direction else output)
        layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        if layer < gru.num_layers - 1 and gru.dropout and gru.training:
            layer_input = F.dropout(layer_input, gru.dropout, training=True)
    output = layer_input.transpose(0, 1)
    if ragged:
        real = real_steps(lengths.to(x.device), max_length)
        output = output * real.to(output.dtype)
    top = torch.stack(finals)
    if order is not None:
        inverse = torch.argsort(order).to(x.device)
        output, top = output[inverse], top[:, inverse]
    return output, top


def real_steps(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """``(batch, max_length, 1)`` mask of the steps before each sequence's end."""
    steps = torch.arange(max_length, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).unsqueeze(-1)


def run_gru(
    gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor, kernel: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a ``batch_first`` GRU over a batch padded at the end.

    Parameters
    ----------
    gru : nn.GRU
        Any number of layers, either direction; ``batch_first=True``, with biases.
    x : Tensor of shape (batch, max_length, features)
        ``max_length`` equal to the longest of ``lengths``.
    lengths : Tensor of shape (batch,)
        Real number of steps of each sequence, int64 on the CPU.
    kernel : {'auto', 'torch', 'sk_mtgru'}
        See :func:`resolve_kernel`.

    Returns
    -------
    output : Tensor of shape (batch, max_length, hidden * directions)
        The top layer's outputs, zero past each sequence's end.
    top : Tensor of shape (directions, batch, hidden)
        The top layer's state at the end of each direction's reading of the real
        steps (the forward direction's at the sequence's end, the backward one's
        at its start), as the last rows of ``nn.GRU``'s ``h_n``.
    """
    directions = 2 if gru.bidirectional else 1
    ragged = not bool((lengths == x.shape[1]).all())
    if resolve_kernel(kernel, gru, x) == "sk_mtgru":
        return _run_sk_mtgru(gru, x, lengths, ragged)
    if not ragged:
        output, h_n = gru(x)
        return output, h_n[-directions:]
    if directions == 1:
        # The padded batch through torch's fused kernel (several times faster on
        # the CPU than the packed path), outputs past each end zeroed.
        output, _ = gru(x)
        real = real_steps(lengths.to(x.device), x.shape[1])
        output = output * real.to(output.dtype)
        ends = (lengths - 1).to(x.device)
        top = output[torch.arange(x.shape[0], device=x.device), ends]
        return output, top.unsqueeze(0)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    output, h_n = gru(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return output, h_n[-directions:]
