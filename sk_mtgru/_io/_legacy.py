"""What files of older formats (or older files of this one) leave out, and the
values that stand for it."""

from __future__ import annotations

__all__ = ["ADDED_MODULE", "ADDED_PARAMS", "FORMAT_1_PARAMS", "FORMAT_1_MODULE"]

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

# Entries added to the current format after files were written with it: a file
# without one holds a model built as this value builds it (whatever the
# parameter's default becomes).
ADDED_PARAMS = {"conv_dilation": 1, "random_features": 0}
ADDED_MODULE = {"conv_dilation": 1, "random_features": 0, "random_length": 0}
