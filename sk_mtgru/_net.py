"""The skorch net: skorch's training loop with a weighted sum of per-task losses."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._affinity import gradient_cosine, lookahead_affinity
from ._log import TaskTable
from .balancing import LossBalancing
from .exceptions import TrainingDivergedError

__all__ = ["BalancingEpochEnd", "MultiTaskNet", "SharedEncoder", "TaskEpochMetrics"]

_REGRESSION_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "squared_error": torch.nn.functional.mse_loss,
    "huber": torch.nn.functional.huber_loss,
}


@runtime_checkable
class SharedEncoder(Protocol):
    """What :class:`MultiTaskNet` needs of a module to take per-task gradients.

    The module's forward pass must be ``task_logits(shared(x, lengths), lengths)``:
    the gradient-based balancing strategies and task affinity cut the graph
    between the two, take each task's gradient on the shared representation and
    backpropagate the encoder once with their combination.
    """

    def shared(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The representation every task reads, from a padded batch."""
        ...

    def task_logits(
        self, shared: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Every task's logits from the shared representation."""
        ...


@dataclass
class _SharedCut:
    """One training batch's shared representation, cut from the heads: ``detached``
    feeds the heads, so each task's gradient on it can be taken; ``shared`` keeps
    the encoder's graph for one backward with their combination."""

    measure_affinity: bool
    shared: torch.Tensor | None = None
    detached: torch.Tensor | None = None
    gradients: list[torch.Tensor | None] = field(default_factory=list)
    # Each task's gradient of its own (unweighted) loss, when affinity is measured.
    raw: list[torch.Tensor | None] = field(default_factory=list)


class MultiTaskNet(NeuralNet):
    """skorch ``NeuralNet`` whose module returns one tensor of logits per task.

    Only the documented hooks are customised: :meth:`get_loss` combines the tasks'
    losses (a cross-entropy for a classification task, a squared error or Huber
    loss for a regression task), weighted per sample and task by
    ``X["loss_weight"]`` and per task by ``task_weights``, and records each
    task's loss and accuracy sums per batch in the history
    (:class:`TaskEpochMetrics` turns them into epoch figures);
    :meth:`infer` keeps the weights away from the module. A non-finite task loss
    raises :class:`~sk_mtgru.exceptions.TrainingDivergedError` at once, before the
    optimizer takes a step with it.

    A batch carries, beside the module's inputs:

    - ``loss_weight``, shape (batch, n_tasks): the sample's weight times its class's
      weight in that task, 0 where the task's label is missing;
    - ``sample_weight``, shape (batch,): the sample's weight, for accuracies.

    Targets are, per task, class indices (-1 where a label is missing) or
    standardised numbers (NaN where missing); see ``task_kinds``.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`. The criterion must use
        ``reduction='none'``.
    task_names : sequence of str
        One name per task, used in the history's keys.
    task_weights : sequence of float
        One non-negative weight per task.
    balancing : LossBalancing
        How the task losses are combined; its state for this fit is the net's
        ``balancer_``, a criterion whose parameters (if any) train with the module.
    task_kinds : sequence of {'classification', 'regression'}, default=None
        The kind of each task (None: all classification). A classification task's
        head gives logits and its targets are class indices (-1: missing); a
        regression task's head gives one value and its targets are numbers (NaN:
        missing), standardised by the estimator.
    regression_loss : {'squared_error', 'huber'}, default='squared_error'
        The loss of the regression tasks (Huber with ``delta=1``, in units of the
        standardised target).
    target_scales : sequence of float, default=None
        Each regression task's standard deviation, so that the recorded mean
        squared errors are in the target's own units (None: all 1).
    affinity_interval : int, default=None
        Measure task affinity every this many training batches (None: never).
    affinity_measure : {'lookahead', 'cosine'}, default='lookahead'
        What is measured: see :func:`lookahead_affinity` and
        :func:`gradient_cosine`.
    """

    _WEIGHT_KEYS = ("loss_weight", "sample_weight")

    def get_default_callbacks(self) -> list[tuple[str, Any]]:
        """skorch's, with the ``verbose`` table grouped by task
        (:class:`~sk_mtgru._log.TaskTable`)."""
        return [
            (name, TaskTable(self.task_names) if name == "print_log" else callback)
            for name, callback in super().get_default_callbacks()
        ]

    def __init__(
        self,
        *args: Any,
        task_names: Sequence[str],
        task_weights: Sequence[float],
        balancing: LossBalancing,
        affinity_interval: int | None = None,
        affinity_measure: str = "lookahead",
        task_kinds: Sequence[str] | None = None,
        regression_loss: str = "squared_error",
        target_scales: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.task_names = task_names
        self.task_weights = task_weights
        self.balancing = balancing
        self.affinity_interval = affinity_interval
        self.affinity_measure = affinity_measure
        self.task_kinds = task_kinds
        self.regression_loss = regression_loss
        self.target_scales = target_scales
        # Set by train_step_single for a batch whose per-task gradients are taken.
        self._cut: _SharedCut | None = None
        self._batches_this_epoch = {"train": 0, "valid": 0}

    def initialize_criterion(self) -> MultiTaskNet:
        super().initialize_criterion()
        self.balancer_ = self.balancing.start(torch.tensor(self.task_weights))
        self.train_batches_ = 0
        return self

    def initialize_module(self) -> MultiTaskNet:
        super().initialize_module()
        needs_cut = self.balancing.uses_gradients or bool(self.affinity_interval)
        if needs_cut and not isinstance(self.module_, SharedEncoder):
            raise TypeError(
                f"{type(self.module_).__name__} has no shared() and task_logits() "
                "methods, which gradient-based loss balancing and task affinity "
                "need (see sk_mtgru._net.SharedEncoder); use a static or loss-based "
                "balancing and affinity_interval=None with this module."
            )
        return self

    def fit_loop(self, X: Any, y: Any = None, epochs: Any = None, **fit_params: Any):
        """skorch's loop; notes in ``interrupted_`` whether a ``KeyboardInterrupt``
        ended it (skorch's ``partial_fit`` swallows the interrupt)."""
        self.interrupted_ = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.interrupted_ = True
            raise

    def on_epoch_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        super().on_epoch_begin(net, **kwargs)
        self._batches_this_epoch = {"train": 0, "valid": 0}

    def on_batch_begin(
        self, net: NeuralNet, batch: Any = None, training: bool = False, **kwargs: Any
    ) -> None:
        super().on_batch_begin(net, batch=batch, training=training, **kwargs)
        self._batches_this_epoch["train" if training else "valid"] += 1

    def set_task_weights(self, task_weights: Sequence[float]) -> None:
        """Change the static task weights, e.g. between ``partial_fit`` calls."""
        self.task_weights = task_weights
        self.balancer_.task_weights.copy_(torch.as_tensor(task_weights))

    def infer(self, x: Mapping[str, torch.Tensor], **fit_params: Any) -> Any:
        """The module's logits; the weights stay out of its inputs. In a training
        step that takes per-task gradients, the heads read a detached copy of the
        shared representation (see :class:`SharedEncoder`)."""
        x = {key: value for key, value in x.items() if key not in self._WEIGHT_KEYS}
        cut = self._cut
        if cut is None or not torch.is_grad_enabled():
            return super().infer(x, **fit_params)
        inputs = to_tensor(x, device=self.device)
        module: SharedEncoder = self.module_
        wide = {"wide": inputs["wide"]} if "wide" in inputs else {}
        cut.shared = module.shared(inputs["x"], inputs["lengths"], **wide)
        cut.detached = cut.shared.detach().requires_grad_()
        return module.task_logits(cut.detached, inputs["lengths"])

    def get_loss(
        self,
        y_pred: tuple[torch.Tensor, ...],
        y_true: torch.Tensor,
        X: Mapping[str, torch.Tensor] | None = None,
        training: bool = False,
    ) -> torch.Tensor:
        """The tasks' weighted mean cross-entropies, combined by the balancing.

        Task ``k``'s loss in a batch is ``sum_i(w_ik * loss_ik) / sum_i(w_ik)`` with
        ``w = X["loss_weight"]``, so samples without a label for the task (weight 0)
        never enter it, and a batch with no label for the task contributes nothing.
        The balancing state (``balancer_``) combines them; with the default static
        weighting, into ``sum_k task_weights[k] * loss_k``. In a training step that
        takes per-task gradients, each task's gradient on the shared
        representation is taken here, where the task losses are.
        """
        if X is None:
            raise ValueError("MultiTaskNet.get_loss needs the batch X: its weights.")
        total, losses, present, weights = self._losses(y_pred, y_true, X, training)
        cut = self._cut
        if training and cut is not None and cut.detached is not None:
            # Each task's gradient of its own loss; weighted for the combination.
            cut.raw = [
                torch.autograd.grad(losses[k], cut.detached, retain_graph=True)[0]
                if bool(present[k])
                else None
                for k in range(len(losses))
            ]
            cut.gradients = [
                None if g is None else weights[k].detach() * g
                for k, g in enumerate(cut.raw)
            ]
        return total

    def _task_losses(
        self,
        y_pred: tuple[torch.Tensor, ...],
        y_true: torch.Tensor,
        X: Mapping[str, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each task's weighted mean loss, whether the batch labels it, and the
        weighted loss sum and total weight the mean comes from."""
        logits, y_true, loss_weight, _ = self._units(y_pred, y_true, X)
        return self._unit_losses(logits, y_true, loss_weight)

    def _unit_losses(
        self,
        logits: list[torch.Tensor],
        y_true: torch.Tensor,
        loss_weight: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`_task_losses` of units already flattened by :meth:`_units`."""
        tiny = torch.finfo(loss_weight.dtype).tiny
        sums = []
        for k, unit_logits in enumerate(logits):
            if self._kind(k) == "regression":
                # A missing target (NaN) is read as 0; its weight of 0 removes it.
                value = torch.nan_to_num(y_true[:, k].to(unit_logits.dtype))
                loss = _REGRESSION_LOSSES[self.regression_loss](
                    unit_logits[:, 0], value, reduction="none"
                )
            else:
                # A missing label (-1) is read as class 0; its weight of 0 removes it.
                target = y_true[:, k].long().clamp_min(0)
                loss = self.criterion_(unit_logits, target)
            sums.append((loss * loss_weight[:, k]).sum())
        loss_sums = torch.stack(sums)
        weight_sums = loss_weight.sum(dim=0)
        losses = loss_sums / weight_sums.clamp_min(tiny)
        return losses, weight_sums > 0, loss_sums, weight_sums

    def _kind(self, k: int) -> str:
        return "classification" if self.task_kinds is None else self.task_kinds[k]

    def _metric_sums(
        self,
        logits: list[torch.Tensor],
        y_true: torch.Tensor,
        sample_weight: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per task, the sample-weighted sum of the metric over the labelled units
        (correct predictions; squared errors, in the target's units, for
        regression) and the weight of the labelled units."""
        sums, labelled_sums = [], []
        for k, unit_logits in enumerate(logits):
            y = y_true[:, k]
            if self._kind(k) == "regression":
                labelled = ~torch.isnan(y)
                scale = 1.0 if self.target_scales is None else self.target_scales[k]
                error = (unit_logits[:, 0] - torch.nan_to_num(y)) * scale
                metric = torch.where(labelled, error**2, 0.0)
            else:
                labelled = y >= 0
                metric = (unit_logits.argmax(dim=1) == y) & labelled
            sums.append((sample_weight * metric).sum())
            labelled_sums.append((sample_weight * labelled).sum())
        return torch.stack(sums), torch.stack(labelled_sums)

    def _units(
        self,
        y_pred: tuple[torch.Tensor, ...],
        y_true: Any,
        X: Mapping[str, Any],
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits, targets and weights with one row per labelled unit.

        A unit is a sequence for sequence classification -- logits (batch,
        n_classes), targets (batch, n_tasks) -- and a time step for sequence
        labelling -- logits (batch, n_steps, n_classes), targets (batch, n_steps,
        n_tasks), padding steps labelled -1 with weight 0. Either way the loss and
        the metrics are computed over the rows returned here.
        """
        y_true = to_tensor(y_true, device=self.device)
        n_tasks = y_true.shape[-1]
        logits = [t.reshape(-1, t.shape[-1]) for t in y_pred]
        loss_weight = to_tensor(X["loss_weight"], device=self.device)
        sample_weight = to_tensor(X["sample_weight"], device=self.device)
        return (
            logits,
            y_true.reshape(-1, n_tasks),
            loss_weight.reshape(-1, n_tasks),
            sample_weight.reshape(-1),
        )

    def train_step(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """skorch's step; then, for a strategy that needs them, the batch's losses
        after the step go to the balancing state."""
        step = super().train_step(batch, **fit_params)
        if self.balancing.needs_losses_after_step:
            Xi, yi = unpack_data(batch)
            with torch.no_grad():
                losses, present, _, _ = self._task_losses(self.infer(Xi), yi, Xi)
            self.balancer_.after_step(losses, present)
        return step

    def _losses(
        self,
        y_pred: tuple[torch.Tensor, ...],
        y_true: torch.Tensor,
        X: Mapping[str, torch.Tensor],
        training: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training loss, each task's loss and presence, and the weights.

        Records the batch's per-task figures in the history and stops on a
        non-finite loss.
        """
        logits, y_true, loss_weight, sample_weight = self._units(y_pred, y_true, X)
        losses, present, loss_sums, weight_sums = self._unit_losses(
            logits, y_true, loss_weight
        )
        total, weights = self.balancer_(losses, present)
        prefix = "train" if training else "valid"
        with torch.no_grad():
            metric_sums, labelled_sums = self._metric_sums(
                logits, y_true, sample_weight
            )
            figures = torch.stack(
                [
                    loss_sums,
                    weight_sums,
                    metric_sums.to(loss_sums.dtype),
                    labelled_sums.to(loss_sums.dtype),
                    losses,
                    weights,
                ],
                dim=1,
            ).tolist()  # one transfer of every figure of the batch
        record = self.history.record_batch
        for name, (loss_sum, weight_sum, metric_sum, n_labelled, loss, weight) in zip(
            self.task_names, figures
        ):
            if not math.isfinite(loss):
                self._diverged(name, loss, prefix)
            record(f"{prefix}_loss_sum_{name}", loss_sum)
            record(f"{prefix}_loss_weight_{name}", weight_sum)
            record(f"{prefix}_metric_sum_{name}", metric_sum)
            record(f"{prefix}_labelled_{name}", n_labelled)
            if training:
                record(f"train_weight_{name}", weight)
        return total, losses, present, weights

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """skorch's step; when per-task gradients are needed, with the encoder cut
        from the heads.

        Per-task gradients are taken on the shared representation (the encoder's
        output), not on the encoder's parameters, so they cost one backward pass
        through the heads per task: the encoder itself is backpropagated once, with
        the combined gradient. They are needed at every batch by a gradient-based
        balancing, and every ``affinity_interval`` batches to measure task affinity.
        skorch's step runs as usual -- :meth:`infer` cuts the graph, :meth:`get_loss`
        takes the task gradients, skorch's backward trains the heads, private
        layers and learnable balancing weights -- then the encoder is
        backpropagated here.
        """
        # Batches are counted over the whole fit, not per epoch: an epoch may have
        # fewer batches than the interval.
        n_batches = self.train_batches_
        self.train_batches_ += 1
        interval = self.affinity_interval
        measure = bool(interval) and n_batches % (interval or 1) == 0
        if not (self.balancing.uses_gradients or measure):
            return super().train_step_single(batch, **fit_params)
        self._cut = cut = _SharedCut(measure_affinity=measure)
        try:
            step = super().train_step_single(batch, **fit_params)
        finally:
            self._cut = None
        if cut.shared is None or cut.detached is None:
            raise RuntimeError("infer() did not cut the shared representation")
        if measure:
            self._record_affinity(cut, batch)
        if self.balancing.uses_gradients:
            combined = self.balancer_.combine_gradients(cut.gradients)
        else:
            combined = cut.detached.grad
        if combined is not None:
            cut.shared.backward(combined)
        return step

    def _record_affinity(self, cut: _SharedCut, batch: Any) -> None:
        """Record the batch's task affinity (NaN for a task it does not label)."""
        if self.affinity_measure == "cosine":
            affinity = gradient_cosine(cut.raw)
        elif cut.shared is None:
            raise RuntimeError("infer() did not cut the shared representation")
        else:
            Xi, yi = unpack_data(batch)
            affinity = lookahead_affinity(
                self.module_,
                cut.shared,
                cut.raw,
                lambda: self._task_losses(self.infer(Xi), yi, Xi)[0],
                step=self.lr,
            )
        self.history.record_batch("task_affinity", affinity.tolist())

    def _diverged(self, task: str, value: float, prefix: str) -> None:
        epoch = len(self.history)
        batch = self._batches_this_epoch[prefix]
        which = "validation loss" if prefix == "valid" else "loss"
        raise TrainingDivergedError(
            f"the {which} of task {task!r} became {value} in epoch {epoch}, batch "
            f"{batch}",
            f"Lower learning_rate_init (now {self.lr}), scale the features (e.g. "
            "with SequenceScaler), or set early_stopping=True to keep the best "
            "weights seen before a divergence.",
        )


class TaskEpochMetrics(Callback):
    """Each task's loss and accuracy over an epoch, from the per-batch sums.

    Records ``<prefix>_loss_<task>`` (the weighted mean cross-entropy, as trained)
    and ``<prefix>_acc_<task>`` (the sample-weighted accuracy) over the samples
    labelled for the task, for the prefixes ``train`` and, with a validation split,
    ``valid``. A task with no label in an epoch's split gets NaN. Also records
    ``weight_<task>``, the mean weight in force over the epoch's training batches,
    ``train_objective``, the static objective ``sum_k task_weights[k] *
    train_loss_<task>`` (which, unlike ``train_loss`` under an adaptive balancing,
    is comparable from epoch to epoch: the stopping rule watches it). When task
    affinity was measured, records ``task_affinity``: its mean over the epoch's
    measured batches.

    Parameters
    ----------
    task_names : sequence of str
    """

    def __init__(self, task_names: Sequence[str]) -> None:
        self.task_names = task_names

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        batches = net.history[-1, "batches"]
        for prefix in ("train", "valid"):
            rows = [
                b for b in batches if f"{prefix}_loss_sum_{self.task_names[0]}" in b
            ]
            if not rows:
                continue
            for k, name in enumerate(self.task_names):
                figures = {
                    key: sum(b[f"{prefix}_{key}_{name}"] for b in rows)
                    for key in ("loss_sum", "loss_weight", "metric_sum", "labelled")
                }
                net.history.record(
                    f"{prefix}_loss_{name}",
                    _ratio(figures["loss_sum"], figures["loss_weight"]),
                )
                metric = "mse" if net._kind(k) == "regression" else "acc"
                net.history.record(
                    f"{prefix}_{metric}_{name}",
                    _ratio(figures["metric_sum"], figures["labelled"]),
                )
        train = [b for b in batches if f"train_weight_{self.task_names[0]}" in b]
        if not train:
            return
        net.history.record(
            "train_objective",
            _objective(
                [net.history[-1, f"train_loss_{name}"] for name in self.task_names],
                net.task_weights,
            ),
        )
        for name in self.task_names:
            weights = [b[f"train_weight_{name}"] for b in train]
            net.history.record(f"weight_{name}", sum(weights) / len(weights))
        measured = [b["task_affinity"] for b in train if "task_affinity" in b]
        if measured:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a task never present
                affinity = np.nanmean(np.array(measured, dtype=float), axis=0)
            net.history.record("task_affinity", affinity.tolist())


class BalancingEpochEnd(Callback):
    """Passes each epoch's training loss per task to the balancing state.

    Strategies that adapt between epochs (dynamic weight average) read them. Must
    follow :class:`TaskEpochMetrics`, which records those losses.
    """

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        row = net.history[-1]
        names = net.task_names
        if f"train_loss_{names[0]}" in row:
            net.balancer_.end_epoch(
                torch.tensor([row[f"train_loss_{name}"] for name in names])
            )


def fit_task_affinity(history: Any) -> np.ndarray | None:
    """The task affinity averaged over the epochs that measured one (a task never
    labelled in a measured batch: NaN), or None when none did."""
    measured = [epoch["task_affinity"] for epoch in history if "task_affinity" in epoch]
    if not measured:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a task never present
        return np.nanmean(np.array(measured, dtype=float), axis=0)


def _objective(losses: Sequence[float], task_weights: Sequence[float]) -> float:
    """``sum_k task_weights[k] * losses[k]`` over the tasks with a loss."""
    return float(
        sum(w * loss for w, loss in zip(task_weights, losses) if not math.isnan(loss))
    )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")
