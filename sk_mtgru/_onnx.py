"""Export to ONNX: a fitted model as one graph that onnxruntime runs without Python's
torch or sk_mtgru.

The training modules are written for speed in torch (the package's GRU kernel, the
lengths read on the CPU to cut each batch); the exported graph is written for
portability instead. :class:`_ExportedGRU` runs an ``nn.GRU``'s own weights one
layer and direction at a time as ONNX ``GRU`` operators over the padded batch: the
forward direction needs nothing else (padding comes after each end), the backward
direction reads each sequence reversed in place, by a gather. Everything else --
the scaler's standardisation, the convolutions, the summaries, the heads, softmax
and the regression targets' scaling -- is masked tensor arithmetic, so the batch
size and the number of steps stay free.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from typing import Any, cast

import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._base import BaseMultiTaskGRU
from ._frontend import input_statistics
from ._grouped import GroupedGRU
from ._gru import real_steps, reversed_index
from ._module import pool_steps
from ._pipelines import split_scaler_pipeline
from ._random_features import has_random_features

__all__ = ["to_onnx"]

_INPUTS = ("x", "lengths")


def _onnx_modules() -> Any:
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter translates through it)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Exporting to ONNX needs the onnx and onnxscript packages: "
            'pip install -e ".[onnx]" from a checkout (or pip install onnx '
            "onnxscript; onnxruntime runs the file)."
        ) from exc
    return onnx


def _readable(
    x: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Any inputs, made safe for the graph: each length clamped into ``[1,
    steps]`` and one step of zeros after the batch (so that a batch of no steps
    still runs, as one zero step). Returns ``x``, the lengths and the mask of the
    real steps, through which the graph reads ``x`` (so that nothing in the
    padding -- NaN or infinity included -- reaches an output)."""
    steps = x.shape[1]
    lengths = torch.minimum(lengths, torch.full_like(lengths, steps)).clamp(min=1)
    x = torch.cat([x, x.new_zeros(x.shape[0], 1, x.shape[2])], dim=1)
    mask = real_steps(lengths, x.shape[1])
    return x, lengths, mask


def _gather_steps(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[i, index[i, t]]`` for every sequence ``i`` and step ``t``."""
    return torch.gather(values, 1, index[:, :, None].expand(-1, -1, values.shape[2]))


class _ExportedGRU(nn.Module):
    """An ``nn.GRU`` (any layers and directions) over a padded batch, unpacked.

    Each layer and direction becomes a one-layer ``nn.GRU`` holding a copy of the
    original's weights; the backward direction reads the sequences reversed in
    place, so its outputs before each end never see the padding.
    """

    def __init__(self, gru: nn.GRU) -> None:
        super().__init__()
        directions = 2 if gru.bidirectional else 1
        self.layers = nn.ModuleList()
        for layer in range(gru.num_layers):
            cells = nn.ModuleList()
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                cell = nn.GRU(
                    getattr(gru, "weight_ih" + suffix).shape[1],
                    gru.hidden_size,
                    batch_first=True,
                )
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, name + "_l0").data.copy_(
                        getattr(gru, name + suffix).detach().to("cpu", torch.float32)
                    )
                cells.append(cell)
            self.layers.append(cells)

    def forward(self, x: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
        """Outputs ``(batch, steps, directions * hidden)``, right up to each end."""
        for layer in self.layers:
            cells = cast(nn.ModuleList, layer)
            outputs = [cells[0](x)[0]]
            if len(cells) > 1:
                backward = cells[1](_gather_steps(x, reverse))[0]
                outputs.append(_gather_steps(backward, reverse))
            x = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
        return x


class _Outputs(nn.Module):
    """Softmax for a classification task's head, the target's units for a
    regression task's."""

    def __init__(self, kinds: list[str], means: list[float], scales: list[float]):
        super().__init__()
        self.kinds = kinds
        self.means = means
        self.scales = scales

    def forward(self, logits: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return tuple(
            torch.softmax(out, dim=-1)
            if kind == "classification"
            else out[..., 0] * scale + mean
            for out, kind, mean, scale in zip(
                logits, self.kinds, self.means, self.scales
            )
        )


class _Scaling(nn.Module):
    """A pipeline's :class:`~sk_mtgru.SequenceScaler` steps, in float32."""

    factor: torch.Tensor
    shift: torch.Tensor

    def __init__(self, scalers: list[Any], n_features: int) -> None:
        super().__init__()
        shift = torch.zeros(n_features, dtype=torch.float64)
        factor = torch.ones(n_features, dtype=torch.float64)
        for scaler in scalers:  # compose x -> (x - mean) / scale, step after step
            mean = torch.zeros(n_features, dtype=torch.float64)
            scale = torch.ones(n_features, dtype=torch.float64)
            if scaler.mean_ is not None:
                mean = torch.as_tensor(scaler.mean_, dtype=torch.float64)
            if scaler.scale_ is not None:
                scale = torch.as_tensor(scaler.scale_, dtype=torch.float64)
            shift, factor = (shift - mean) / scale, factor / scale
        self.register_buffer("factor", factor.float())
        self.register_buffer("shift", shift.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor + self.shift


class _ExportedSequenceModel(nn.Module):
    """:class:`~sk_mtgru._module.MultiTaskGRU`'s forward pass, exportable."""

    def __init__(self, module: Any, scaling: nn.Module, outputs: nn.Module) -> None:
        super().__init__()
        self.scaling = scaling
        self.outputs = outputs
        self.summary: str = module.summary
        self.sharing = module.sharing
        self.directions = module.num_directions
        self.input_statistics = module.input_statistics
        self.statistics_kind = module._statistics_kind
        self.convs = nn.ModuleList() if module.conv is None else module.conv.convs
        self.grus = nn.ModuleList(
            _ExportedGRU(gru) for gru in (module.gru, *module.experts)
        )
        self.task_grus = nn.ModuleList(_ExportedGRU(g) for g in module.task_grus)
        self.scorers = module.scorers
        self.gates = module.gates
        self.heads = module.heads

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        x, lengths, mask = _readable(x, lengths)  # mask: (batch, steps + 1, 1)
        x = torch.where(mask, self.scaling(x), 0.0)
        statistics = None
        if self.input_statistics or self.sharing == "mmoe":
            statistics = input_statistics(x, lengths, self.statistics_kind)
        h = x.transpose(1, 2)
        stride = 1
        for conv in self.convs:
            h = torch.relu(conv(h))
            stride = cast(nn.Conv1d, conv).stride[0]
            if stride > 1:
                lengths = torch.div(lengths - 1, stride, rounding_mode="floor") + 1
            h = h * real_steps(lengths, h.shape[2]).transpose(1, 2)
        h = h.transpose(1, 2)
        if stride > 1:  # the last convolution's
            # torch.export fails on a GRU over a number of steps derived from the
            # input's (pytorch 2.13): pad back to the input's steps, which the
            # recurrences treat as padding after each end.
            h = nn.functional.pad(h, (0, 0, 0, x.shape[1] - h.shape[1]))
        mask = real_steps(lengths, h.shape[1])
        reverse = reversed_index(lengths, h.shape[1]).T
        if self.sharing == "mmoe":
            experts = torch.stack(
                [
                    pool_steps(
                        gru(h, reverse), lengths, mask, self.summary, self.directions
                    )
                    for gru in self.grus
                ],
                dim=1,
            )
            summaries = [
                (torch.softmax(gate(statistics), dim=1)[:, :, None] * experts).sum(1)
                for gate in self.gates
            ]
        else:
            shared = self.grus[0](h, reverse)
            summaries = []
            for k in range(len(self.heads)):
                output = (
                    self.task_grus[k](shared, reverse) if self.task_grus else shared
                )
                if self.summary == "attention":
                    scores = self.scorers[k](output).masked_fill(~mask, float("-inf"))
                    summaries.append((torch.softmax(scores, dim=1) * output).sum(1))
                else:
                    summaries.append(
                        pool_steps(output, lengths, mask, self.summary, self.directions)
                    )
        if statistics is not None and self.input_statistics:
            summaries = [torch.cat([s, statistics], dim=1) for s in summaries]
        return self.outputs([head(s) for head, s in zip(self.heads, summaries)])


class _Logits(nn.Module):
    """The heads' outputs as they are: a branch's, before the model's outputs."""

    def forward(self, logits: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return tuple(logits)


class _ExportedGroups(nn.Module):
    """:class:`~sk_mtgru._grouped.GroupedGRU`: every branch exported, their heads'
    outputs put back in the tasks' order."""

    def __init__(self, module: Any, scaling: nn.Module, outputs: _Outputs) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            _ExportedSequenceModel(branch, scaling, _Logits())
            for branch in module.branches
        )
        self.position = list(module._position)
        self.outputs = outputs

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        logits = [out for branch in self.branches for out in branch(x, lengths)]
        return self.outputs([logits[p] for p in self.position])


class _ExportedTagger(nn.Module):
    """:class:`~sk_mtgru._tagger_module.MultiTaskGRUTaggerModule`, exportable."""

    def __init__(self, module: Any, scaling: nn.Module, outputs: _Outputs) -> None:
        super().__init__()
        self.scaling = scaling
        self.outputs = outputs
        self.grus = nn.ModuleList(_ExportedGRU(gru) for gru in module.grus)
        self.layers = list(module.layers)
        self.heads = module.heads

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        steps = x.shape[1]
        x, lengths, mask = _readable(x, lengths)
        reverse = reversed_index(lengths, x.shape[1]).T
        output = torch.where(mask, self.scaling(x), 0.0)
        per_layer = []
        for gru in self.grus:
            output = gru(output, reverse)
            per_layer.append(output[:, :steps])  # without the added zero step
        return self.outputs(
            [head(per_layer[layer]) for head, layer in zip(self.heads, self.layers)]
        )


def _description(estimator: Any) -> dict[str, Any]:
    """What a consumer needs to decode the outputs: tasks, kinds, classes."""
    if not isinstance(estimator, BaseMultiTaskGRU):
        raise TypeError(
            "to_onnx exports a fitted estimator of sk_mtgru (or a Pipeline of "
            f"SequenceScaler steps ending in one); got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    if getattr(estimator, "crop_length", None) is not None:
        raise ValueError(
            "to_onnx does not export a model with crop_length set: it predicts by "
            "averaging overlapping windows of each sequence, outside the network. "
            "Fit with crop_length=None to export it."
        )
    if has_random_features(estimator.net_.module_):
        raise ValueError(
            "to_onnx does not export a model with random_features > 0 yet: its "
            "random-convolution features are not in the exported graph. Fit with "
            "random_features=0 to export it."
        )
    n = estimator.n_tasks_
    kinds = list(getattr(estimator, "task_types_", None) or [])
    if not kinds:
        kinds = ["regression" if hasattr(estimator, "_y_mean") else "classification"]
        kinds *= n
    listed = estimator.classes_ if hasattr(estimator, "classes_") else [None] * n
    classes = listed if isinstance(listed, list) else [listed]
    means = [0.0] * n
    scales = [1.0] * n
    if hasattr(estimator, "_y_mean"):
        for k, kind in enumerate(kinds):
            if kind == "regression":
                means[k] = float(estimator._y_mean[k])
                scales[k] = float(estimator._y_scale[k])
    names = [str(t) for t in estimator.task_names_]
    return {
        "estimator": type(estimator).__name__,
        "task_names": names,
        "task_types": kinds,
        "outputs": [
            ("proba_" if kind == "classification" else "value_") + name
            for name, kind in zip(names, kinds)
        ],
        "classes": [None if c is None else c.tolist() for c in classes],
        "per_step": estimator._per_step,
        "n_features": int(estimator.n_features_in_),
        "means": means,
        "scales": scales,
    }


def to_onnx(model: Any, path: str | os.PathLike) -> None:
    """Export a fitted model to an ONNX file that onnxruntime runs on its own.

    The graph takes the padded batch and the sequences' lengths and gives one
    output per task: the class probabilities of a classification task (in the
    order of ``classes_``), or the values of a regression task in its units; per
    step for the tagger. A ``Pipeline`` of :class:`~sk_mtgru.SequenceScaler` steps
    ending in an estimator exports as one graph, the scaling folded in.

    Inputs, both with a free batch size and number of steps:

    - ``x``: float32 ``(batch, steps, n_features)``, each sequence padded at its
      end with anything (zeros, NaN: padding never reaches an output);
    - ``lengths``: int64 ``(batch,)``, each sequence's real number of steps,
      ``1 <= length <= steps``.

    The graph never fails nor returns NaN on lengths outside that range: it
    clamps each into ``[1, steps]`` (a batch of 0 steps reads one step of zeros),
    but the outputs of such rows are predictions of what it read, not of the
    sequence meant: check the lengths before calling it.

    Outputs: ``proba_<task>``, float32 ``(batch, n_classes)`` (``(batch, steps,
    n_classes)`` for the tagger), or ``value_<task>``, float32 ``(batch,)``
    (``(batch, steps)``). Padding steps of the tagger's outputs are meaningless.
    The file's metadata entry ``"sk_mtgru"`` is JSON with the ``task_names``,
    ``task_types``, ``outputs`` and ``classes``, so a consumer can decode labels
    without Python's sk_mtgru.

    Needs the ``onnx`` and ``onnxscript`` packages (``pip install -e ".[onnx]"``);
    the file runs with ``onnxruntime`` alone. Export takes a few seconds: torch
    traces the model with its ``torch.export``-based exporter.

    Parameters
    ----------
    model : estimator of sk_mtgru or Pipeline
        A fitted classifier, regressor, ``MultiTaskGRUEstimator`` or tagger, or a
        pipeline of scalers ending in one. Models with ``crop_length`` set are not
        exported (their windows are averaged outside the network).
    path : str or path-like
        Where to write; by convention ending in ``.onnx``.

    Raises
    ------
    TypeError
        If ``model`` is not an estimator of sk_mtgru or such a pipeline.
    ValueError
        If the model has ``crop_length`` set.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime
    >>> import sk_mtgru
    >>> X = np.random.default_rng(0).normal(size=(20, 6, 2)).astype(np.float32)
    >>> Y = np.column_stack([np.arange(20) % 2, np.arange(20) % 3])
    >>> clf = sk_mtgru.MultiTaskGRUClassifier(hidden_size=4, max_iter=1).fit(X, Y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    >>> sk_mtgru.to_onnx(clf, path)
    >>> session = onnxruntime.InferenceSession(path)
    >>> [o.name for o in session.get_outputs()]
    ['proba_task_0', 'proba_task_1']
    >>> proba = session.run(None, {"x": X, "lengths": np.full(20, 6)})
    >>> bool(np.allclose(proba[1], clf.predict_proba(X)[1], atol=1e-5))
    True
    """
    onnx = _onnx_modules()
    scalers, estimator = split_scaler_pipeline(model, "to_onnx")
    description = _description(estimator)
    n_features = description["n_features"]
    scaling: nn.Module = _Scaling(scalers, n_features) if scalers else nn.Identity()
    outputs = _Outputs(
        description["task_types"], description["means"], description["scales"]
    )
    module = estimator.net_.module_
    exported: nn.Module
    if description["per_step"]:
        exported = _ExportedTagger(module, scaling, outputs)
    elif isinstance(module, GroupedGRU):
        exported = _ExportedGroups(module, scaling, outputs)
    else:
        exported = _ExportedSequenceModel(module, scaling, outputs)
    exported = exported.to("cpu").eval()
    # Example inputs away from 0 and 1, which torch.export would specialise.
    example = (
        torch.zeros(3, 9, n_features),
        torch.tensor([9, 4, 2], dtype=torch.int64),
    )
    batch, steps = torch.export.Dim("batch"), torch.export.Dim("steps")
    path = os.fspath(path)
    # The exporter swaps in a GRU decomposition that keeps the number of steps
    # free, but the operator's dispatch cache may still hold the one that fixes it
    # (after an earlier export in this process, pytorch 2.13): clear it.
    for gru_op in (torch.ops.aten.gru.input, torch.ops.aten.gru.data):
        getattr(gru_op, "_dispatch_cache", {}).clear()
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch's own deprecations and notes while it traces, not the user's.
            for category in (UserWarning, FutureWarning, DeprecationWarning):
                warnings.simplefilter("ignore", category)
            program = torch.onnx.export(
                exported,
                example,
                input_names=list(_INPUTS),
                output_names=description["outputs"],
                dynamic_shapes={"x": {0: batch, 1: steps}, "lengths": {0: batch}},
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        onnx_logger.setLevel(level)
    assert program is not None  # dynamo=True returns the program
    x_shape = program.model_proto.graph.input[0].type.tensor_type.shape
    if any(dim.HasField("dim_value") for dim in x_shape.dim[:2]):
        raise RuntimeError(
            "torch's exporter fixed the batch size or the number of steps of the "
            "exported graph; the file would reject other inputs. Please report this "
            f"with your torch version ({torch.__version__})."
        )
    proto = program.model_proto
    # Declare the outputs' free axes: the exporter may write the example's sizes,
    # there and in the optional shapes of intermediate values (dropped).
    del proto.graph.value_info[:]
    for output in proto.graph.output:
        dims = output.type.tensor_type.shape.dim
        for axis, name in enumerate(
            ("batch", "steps")[: 2 if description["per_step"] else 1]
        ):
            dims[axis].Clear()
            dims[axis].dim_param = name
    del description["means"], description["scales"]
    entry = proto.metadata_props.add()
    entry.key, entry.value = "sk_mtgru", json.dumps(description)
    onnx.save(proto, path)
