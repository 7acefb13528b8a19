"""The skorch net: skorch's training loop with a weighted sum of per-task losses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor

from .exceptions import TrainingDivergedError

__all__ = ["MultiTaskNet", "TaskEpochMetrics"]


class MultiTaskNet(NeuralNet):
    """skorch ``NeuralNet`` whose module returns one tensor of logits per task.

    Only the documented hooks are customised: :meth:`get_loss` combines the tasks'
    cross-entropies, weighted per sample and task by ``X["loss_weight"]`` and per
    task by ``task_weights``, and records each task's loss and accuracy sums per
    batch in the history (:class:`TaskEpochMetrics` turns them into epoch figures);
    :meth:`infer` keeps the weights away from the module. A non-finite task loss
    raises :class:`~sk_mtgru.exceptions.TrainingDivergedError` at once, before the
    optimizer takes a step with it.

    A batch carries, beside the module's inputs:

    - ``loss_weight``, shape (batch, n_tasks): the sample's weight times its class's
      weight in that task, 0 where the task's label is missing;
    - ``sample_weight``, shape (batch,): the sample's weight, for accuracies.

    Targets are class indices, -1 where a label is missing.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`. The criterion must use
        ``reduction='none'``.
    task_names : sequence of str
        One name per task, used in the history's keys.
    task_weights : sequence of float
        One non-negative weight per task.
    """

    _WEIGHT_KEYS = ("loss_weight", "sample_weight")

    def __init__(
        self,
        *args: Any,
        task_names: Sequence[str],
        task_weights: Sequence[float],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.task_names = task_names
        self.task_weights = task_weights

    def infer(self, x: Mapping[str, torch.Tensor], **fit_params: Any) -> Any:
        x = {key: value for key, value in x.items() if key not in self._WEIGHT_KEYS}
        return super().infer(x, **fit_params)

    def get_loss(
        self,
        y_pred: tuple[torch.Tensor, ...],
        y_true: torch.Tensor,
        X: Mapping[str, torch.Tensor] | None = None,
        training: bool = False,
    ) -> torch.Tensor:
        """Weighted sum over tasks of each task's weighted mean cross-entropy.

        Task ``k``'s loss in a batch is ``sum_i(w_ik * loss_ik) / sum_i(w_ik)`` with
        ``w = X["loss_weight"]``, so samples without a label for the task (weight 0)
        never enter it, and a batch with no label for the task contributes 0.
        """
        y_true = to_tensor(y_true, device=self.device)
        loss_weight = to_tensor(X["loss_weight"], device=self.device)
        sample_weight = to_tensor(X["sample_weight"], device=self.device)
        tiny = torch.finfo(loss_weight.dtype).tiny
        prefix = "train" if training else "valid"
        total = y_pred[0].new_zeros(())
        for k, (name, logits) in enumerate(zip(self.task_names, y_pred)):
            target = y_true[:, k]
            labelled = target >= 0
            weight = loss_weight[:, k]
            weight_sum = weight.sum()
            # A missing label (-1) is read as class 0; its weight of 0 removes it.
            per_sample = self.criterion_(logits, target.clamp_min(0)) * weight
            loss_sum = per_sample.sum()
            task_loss = loss_sum / weight_sum.clamp_min(tiny)
            total = total + self.task_weights[k] * task_loss
            with torch.no_grad():
                correct = (logits.argmax(dim=1) == target) & labelled
                accuracy_weight = sample_weight * labelled
            loss_value = task_loss.item()
            if not math.isfinite(loss_value):
                self._diverged(name, loss_value, prefix)
            record = self.history.record_batch
            record(f"{prefix}_loss_sum_{name}", loss_sum.item())
            record(f"{prefix}_loss_weight_{name}", weight_sum.item())
            record(f"{prefix}_correct_{name}", (sample_weight * correct).sum().item())
            record(f"{prefix}_labelled_{name}", accuracy_weight.sum().item())
        return total

    def _diverged(self, task: str, value: float, prefix: str) -> None:
        epoch = len(self.history)
        batch = len(self.history[-1]["batches"]) + 1 if epoch else 1
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
    ``valid``. A task with no label in an epoch's split gets NaN.

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
            for name in self.task_names:
                figures = {
                    key: sum(b[f"{prefix}_{key}_{name}"] for b in rows)
                    for key in ("loss_sum", "loss_weight", "correct", "labelled")
                }
                net.history.record(
                    f"{prefix}_loss_{name}",
                    _ratio(figures["loss_sum"], figures["loss_weight"]),
                )
                net.history.record(
                    f"{prefix}_acc_{name}",
                    _ratio(figures["correct"], figures["labelled"]),
                )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")
