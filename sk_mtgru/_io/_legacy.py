"""What files of older formats leave out, and the values that stand for it."""

from __future__ import annotations

__all__ = ["FORMAT_1_PARAMS", "FORMAT_1_MODULE"]

# Format 1 predates these parameters: its models were built and trained as these
# values build and train them.
FORMAT_1_PARAMS = {
    "conv_layers": 0,
    "input_statistics": False,
    "learning_rate": "constant",
    "max_grad_norm": None,
    "sharing": "hard",
    "n_experts": None,
}
FORMAT_1_MODULE = {
    "conv_layers": 0,
    "conv_channels": 0,
    "conv_kernel_size": 0,
    "conv_stride": 0,
    "input_statistics": False,
    "sharing": "hard",
    "n_experts": 1,
}
