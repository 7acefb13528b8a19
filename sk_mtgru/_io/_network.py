"""The network in a safe file: its architecture as built, and its weights put
back into the network the estimator's parameters build.

Two kinds of network: the sequence network of the estimators that label whole
sequences, and the tagger's stacked layers (``_per_step``); each has its own
description (``module``).
"""

from __future__ import annotations

from typing import Any

import torch

from .._encoding import TaskEncoding
from .._grouped import GroupedGRU
from .._grouping import check_task_groups
from .._module import SHARINGS, SUMMARIES
from .._training import seeded_torch
from .._validation import check_task_weights
from ._format import Reader
from ._legacy import ADDED_MODULE, FORMAT_1_MODULE

__all__ = ["module_document", "read_module", "build_network"]

# More random features than any network needs: a file asking for more is refused.
_MAX_RANDOM_FEATURES = 2**20


def module_document(module: Any, *, tagger: bool) -> dict[str, Any]:
    """The architecture of the network, as built."""
    heads = [head.out_features for head in module.heads]
    if tagger:
        gru = module.grus[0]
        return {
            "n_features": gru.input_size,
            "n_classes": heads,
            "hidden_size": gru.hidden_size,
            "num_layers": module.num_layers,
            "bidirectional": module.bidirectional,
            "dropout": module.dropout.p,
            "layers": list(module.layers),
        }
    groups = None
    if isinstance(module, GroupedGRU):  # every branch has the architecture
        groups = module.groups
        module = module.branches[0]
    gru = module.gru
    random = getattr(module, "random", None)  # absent from earlier releases
    return {
        "n_features": module.n_features,
        "n_classes": heads,
        **({} if groups is None else {"task_groups": groups}),
        "hidden_size": gru.hidden_size,
        "num_layers": gru.num_layers,
        "bidirectional": gru.bidirectional,
        "dropout": module.dropout.p,
        "summary": module.summary,
        "task_layers": module.task_layers,
        **dict(
            zip(
                (
                    "conv_layers",
                    "conv_channels",
                    "conv_kernel_size",
                    "conv_stride",
                    "conv_dilation",
                ),
                module.conv.sizes() if module.conv is not None else (0, 0, 0, 0, 1),
            )
        ),
        "input_statistics": module.input_statistics,
        "sharing": module.sharing,
        "n_experts": module.n_experts,
        "random_features": 0 if random is None else random.n_random,
        "random_length": 0 if random is None else random.length,
    }


def _read_recurrent(module_doc: dict[str, Any], r: Reader) -> dict[str, Any]:
    """What every network has: its input and heads' sizes and its GRU layers."""
    return {
        "n_features": r.get(module_doc, "n_features", int, "module"),
        "n_classes": r.get(module_doc, "n_classes", list, "module"),
        "hidden_size": r.get(module_doc, "hidden_size", int, "module"),
        "num_layers": r.get(module_doc, "num_layers", int, "module"),
        "bidirectional": r.get(module_doc, "bidirectional", bool, "module"),
        "dropout": r.get(module_doc, "dropout", float, "module"),
    }


def read_module(
    document: dict[str, Any], r: Reader, version: int, *, tagger: bool
) -> dict[str, Any]:
    """The network's architecture, checked for consistency."""
    module_doc = r.get(document, "module", dict, "the file")
    if tagger:
        return _read_tagger_module(module_doc, r)
    if version == 1 and isinstance(module_doc, dict):
        module_doc = FORMAT_1_MODULE | module_doc
    module_doc = ADDED_MODULE | module_doc
    config = {
        **_read_recurrent(module_doc, r),
        "summary": r.get(module_doc, "summary", str, "module"),
        "task_layers": r.get(module_doc, "task_layers", int, "module"),
        "conv_layers": r.get(module_doc, "conv_layers", int, "module"),
        "conv_channels": r.get(module_doc, "conv_channels", int, "module"),
        "conv_kernel_size": r.get(module_doc, "conv_kernel_size", int, "module"),
        "conv_stride": r.get(module_doc, "conv_stride", int, "module"),
        "conv_dilation": r.get(module_doc, "conv_dilation", int, "module"),
        "input_statistics": r.get(
            module_doc, "input_statistics", (bool, str), "module"
        ),
        "sharing": r.get(module_doc, "sharing", str, "module"),
        "n_experts": r.get(module_doc, "n_experts", int, "module"),
        "random_features": r.get(module_doc, "random_features", int, "module"),
        "random_length": r.get(module_doc, "random_length", int, "module"),
        "task_groups": None,
    }
    if "task_groups" in module_doc:
        config["task_groups"] = _read_groups(module_doc, r, len(config["n_classes"]))
    if config["sharing"] not in SHARINGS or not 1 <= config["n_experts"] <= 1024:
        raise r.fail("module", "has an unknown sharing or an invalid n_experts.")
    if (config["sharing"] == "mmoe") != (config["n_experts"] > 1):
        raise r.fail("module", "has n_experts that do not match its sharing.")
    if not 0 <= config["random_features"] <= _MAX_RANDOM_FEATURES or (
        config["random_features"] > 0
    ) != (config["random_length"] > 0):
        raise r.fail("module", "has an invalid random_features or random_length.")
    if config["input_statistics"] not in (True, False, "rich"):
        raise r.fail("module.input_statistics", "must be true, false or 'rich'.")
    if config["summary"] not in SUMMARIES or config["task_layers"] < 0:
        raise r.fail("module", "has an unknown summary or a negative task_layers.")
    if not all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1
        for k in config["n_classes"]
    ):
        raise r.fail("module.n_classes", "must be a list of ints >= 1.")
    if min(config["n_features"], config["hidden_size"], config["num_layers"]) < 1:
        raise r.fail("module", "has sizes < 1.")
    if config["conv_layers"] < 0 or (
        config["conv_layers"]
        and (
            min(
                config["conv_channels"],
                config["conv_stride"],
                config["conv_dilation"],
            )
            < 1
            or config["conv_kernel_size"] < 1
            or config["conv_kernel_size"] % 2 == 0
        )
    ):
        raise r.fail("module", "has invalid convolution sizes.")

    return config


def _read_groups(module_doc: dict[str, Any], r: Reader, n_tasks: int) -> Any:
    """The task groups of a network with an encoder per group: a partition of
    the tasks' indices into two or more groups."""
    groups = r.get(module_doc, "task_groups", list, "module")
    indices = [k for group in groups if isinstance(group, list) for k in group]
    if (
        len(groups) < 2
        or not all(isinstance(group, list) and group for group in groups)
        or not all(type(k) is int for k in indices)
        or sorted(indices) != list(range(n_tasks))
    ):
        raise r.fail(
            "module.task_groups", "must split the tasks' indices into 2 or more groups."
        )
    return groups


def _read_tagger_module(module_doc: dict[str, Any], r: Reader) -> dict[str, Any]:
    """The tagger's stacked layers and the layer each head reads."""
    config = {
        **_read_recurrent(module_doc, r),
        "layers": r.get(module_doc, "layers", list, "module"),
    }
    if min(config["n_features"], config["hidden_size"], config["num_layers"]) < 1:
        raise r.fail("module", "has sizes < 1.")
    if not all(type(k) is int and k >= 1 for k in config["n_classes"]):
        raise r.fail("module.n_classes", "must be a list of ints >= 1.")
    if len(config["layers"]) != len(config["n_classes"]) or not all(
        type(layer) is int and 0 <= layer < config["num_layers"]
        for layer in config["layers"]
    ):
        raise r.fail("module.layers", "must give each head a layer of the network.")
    return config


def _check_params_match_module(
    estimator: Any, config: dict[str, Any], task_names: list[str], r: Reader
) -> None:
    """Refuse a file whose ``params`` describe another network than ``module``:
    ``get_params()`` would report it, and a ``clone(...).fit`` would build it."""
    params = estimator.get_params(deep=False)
    names = ["hidden_size", "num_layers", "bidirectional", "dropout"]
    expected = {name: params[name] for name in names}
    if "layers" in config:  # the tagger
        try:
            expected["layers"] = estimator._check_supervision_layers(task_names)
        except (TypeError, ValueError) as exc:
            raise r.fail("params.supervision_layers", f"are invalid: {exc}") from exc
    else:
        names = [
            "summary",
            "task_layers",
            "conv_layers",
            "input_statistics",
            "sharing",
            "random_features",
        ]
        expected |= {name: params[name] for name in names}
        if params["conv_layers"]:
            for name in (
                "conv_channels",
                "conv_kernel_size",
                "conv_stride",
                "conv_dilation",
            ):
                expected[name] = params[name]
        if params["sharing"] == "mmoe":
            expected["n_experts"] = estimator._n_experts(len(task_names))
        if params["task_groups"] != "auto":  # 'auto' trains whichever it chose
            try:
                expected["task_groups"] = (
                    None
                    if params["task_groups"] is None
                    else check_task_groups(params["task_groups"], task_names)
                )
            except (TypeError, ValueError) as exc:
                raise r.fail("params.task_groups", f"are invalid: {exc}") from exc
            if expected["task_groups"] is not None and len(expected["task_groups"]) < 2:
                expected["task_groups"] = None  # one group: one encoder
    differ = [
        f"{name}={value!r} (the network's: {config[name]!r})"
        for name, value in expected.items()
        if value != config[name]
    ]
    if differ:
        raise r.fail(
            "params",
            f"disagree with the network it holds: {', '.join(differ)}.",
        )


def build_network(
    estimator: Any,
    config: dict[str, Any],
    task_names: list[str],
    encoding: TaskEncoding,
    tensors: dict[str, torch.Tensor],
    r: Reader,
) -> Any:
    """The skorch net the estimator's parameters build, holding the file's weights
    once they are checked against it.

    The parameters must agree with the file's ``module``, and the network is first
    built on torch's ``meta`` device, which allocates nothing, to check the
    tensors' names and shapes: a crafted file cannot make this allocate more than
    the weights it holds.
    """
    _check_params_match_module(estimator, config, task_names, r)
    if "random_length" in config:  # the length that set the features' dilations
        estimator._random_length = config["random_length"]
    n_outputs = config["n_classes"]
    module_class, module_params = estimator._module(
        config["n_features"], n_outputs, task_names, config.get("task_groups")
    )
    with torch.device("meta"):
        expected = module_class(**module_params).state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise r.fail(
            "tensors",
            f"do not match the network: missing {missing}, unexpected {extra}.",
        )
    for key, value in expected.items():
        got = tensors[key]
        if tuple(got.shape) != tuple(value.shape) or got.dtype != value.dtype:
            raise r.fail(
                f"tensor {key!r}",
                f"has shape {tuple(got.shape)} and dtype {got.dtype}; the network "
                f"needs {tuple(value.shape)} and {value.dtype}.",
            )
        if not bool(torch.isfinite(got).all()):
            raise r.fail(f"tensor {key!r}", "has non-finite values.")
    device = torch.device("cpu")
    try:
        device = estimator._resolve_device()
    except ValueError:
        pass  # e.g. saved from a GPU, loaded where there is none: use the CPU
    task_weights = check_task_weights(estimator.task_weights, task_names)
    with seeded_torch(0, device):
        net = estimator._build_net(
            n_features=config["n_features"],
            n_outputs=n_outputs,
            task_names=task_names,
            task_weights=task_weights,
            device=device,
            seed=0,
            validation=False,
            groups=config.get("task_groups"),
            **estimator._net_targets(encoding),
        )
        net.initialize()
    net.module_.load_state_dict(tensors)
    return net
