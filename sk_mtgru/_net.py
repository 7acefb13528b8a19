"""The skorch net: skorch's training loop with a weighted sum of per-task losses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import PassthroughScoring
from skorch.utils import to_tensor

from .exceptions import TrainingDivergedError

__all__ = ["MultiTaskNet", "task_metric_callbacks"]


class MultiTaskNet(NeuralNet):
    """skorch ``NeuralNet`` whose module returns one tensor of logits per task.

    Only the documented hooks are customised: :meth:`get_loss` combines the tasks'
    cross-entropies, weighted per sample by ``X["sample_weight"]`` and per task by
    ``task_weights``, and records each task's loss and accuracy per batch in the
    history; :meth:`infer` keeps the sample weights away from the module. A
    non-finite task loss raises :class:`~sk_mtgru.exceptions.TrainingDivergedError`
    at once, before the optimizer takes a step with it.

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
        x = {key: value for key, value in x.items() if key != "sample_weight"}
        return super().infer(x, **fit_params)

    def get_loss(
        self,
        y_pred: tuple[torch.Tensor, ...],
        y_true: torch.Tensor,
        X: Mapping[str, torch.Tensor] | None = None,
        training: bool = False,
    ) -> torch.Tensor:
        """Weighted sum over tasks of each task's sample-weighted mean cross-entropy.

        The mean of a task in a batch is ``sum(w_i * loss_i) / sum(w_i)`` over the
        batch's samples; a batch whose weights are all zero contributes 0.
        """
        y_true = to_tensor(y_true, device=self.device)
        weight = to_tensor(X["sample_weight"], device=self.device)
        weight_sum = weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)
        prefix = "train" if training else "valid"
        total = y_pred[0].new_zeros(())
        for k, (name, logits) in enumerate(zip(self.task_names, y_pred)):
            target = y_true[:, k]
            task_loss = (self.criterion_(logits, target) * weight).sum() / weight_sum
            total = total + self.task_weights[k] * task_loss
            with torch.no_grad():
                correct = (logits.argmax(dim=1) == target).to(weight.dtype)
                accuracy = (correct * weight).sum() / weight_sum
            loss_value = task_loss.item()
            if not math.isfinite(loss_value):
                self._diverged(name, loss_value, prefix)
            self.history.record_batch(f"{prefix}_loss_{name}", loss_value)
            self.history.record_batch(f"{prefix}_acc_{name}", accuracy.item())
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


def task_metric_callbacks(
    task_names: Sequence[str], *, validation: bool
) -> list[tuple[str, PassthroughScoring]]:
    """skorch callbacks averaging each task's per-batch loss and accuracy per epoch.

    The epoch values land in the history as ``train_loss_<task>``,
    ``train_acc_<task>`` and, with a validation split, ``valid_loss_<task>`` and
    ``valid_acc_<task>``.
    """
    callbacks = []
    for prefix in ("train", "valid") if validation else ("train",):
        for name in task_names:
            for metric, lower_is_better in (("loss", True), ("acc", False)):
                key = f"{prefix}_{metric}_{name}"
                callbacks.append(
                    (
                        key,
                        PassthroughScoring(
                            name=key,
                            lower_is_better=lower_is_better,
                            on_train=prefix == "train",
                        ),
                    )
                )
    return callbacks
