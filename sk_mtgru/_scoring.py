"""The estimators' ``scoring``: any metric per task on the validation split, each
epoch, in the history."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import get_scorer
from skorch.callbacks import Callback

from ._validation import per_task
from .metrics import _TaskView, score_task

__all__ = ["TaskEpochScoring", "resolve_scoring"]


def resolve_scoring(scoring: Any, task_names: list[str]) -> dict[str, list[str]]:
    """Each task's metric names from ``scoring``: None, a scorer name (every
    task), a list of names (every task), or a dict keyed by task name whose
    entries are None, a name or a list of names."""
    if scoring is None:
        return {}
    if not isinstance(scoring, (str, list, tuple, dict)):
        raise TypeError(
            "scoring must be a scorer name, a list of them, or a dict keyed by task "
            f"name; got {type(scoring).__name__}."
        )
    entries = per_task(
        scoring,
        task_names,
        "scoring",
        default=None,
        what="metrics per task",
        every=(str, list, tuple),
    )
    metrics = {}
    for name, entry in zip(task_names, entries):
        names = [] if entry is None else [entry] if isinstance(entry, str) else entry
        for metric in names:
            if not isinstance(metric, str):
                raise TypeError(
                    f"scoring gives task {name!r} the metric {metric!r}; metrics "
                    "are scorer names such as 'balanced_accuracy' or 'r2'."
                )
            try:
                get_scorer(metric)
            except ValueError as exc:
                raise ValueError(
                    f"scoring gives task {name!r} the metric {metric!r}, which is not "
                    "a scikit-learn scorer name (see "
                    "sklearn.metrics.get_scorer_names())."
                ) from exc
        if names:
            metrics[name] = list(names)
    return metrics


class TaskEpochScoring(Callback):
    """Each task's metrics on the validation split after every epoch.

    Records ``valid_<metric>_<task>``, with scikit-learn's scorer of that name
    and its convention (greater is better: errors are negated), over the
    validation units labelled for the task (sequences, or steps for the tagger),
    weighted by their sample weights. Regression tasks are scored in their own
    units. Needs a validation split (``early_stopping``); without one it records
    nothing.

    Parameters
    ----------
    metrics : dict of str to list of str
        The metric names of each task, by task name.
    target_means : list of float
        Each regression task's mean (NaN for classification tasks), with the
        net's ``target_scales``, to score regression tasks in their units.
    """

    def __init__(self, metrics: dict[str, list[str]], target_means: list[float]):
        self.metrics = metrics
        self.target_means = target_means

    def on_epoch_end(self, net: Any, dataset_valid: Any = None, **kwargs: Any) -> None:
        if dataset_valid is None or not self.metrics:
            return
        module = net.module_
        training = module.training
        module.eval()
        parts, truths, weights = [], [], []
        with torch.no_grad():
            for Xi, yi in net.get_iterator(dataset_valid, training=False):
                logits, y_true, _, sample_weight = net._units(net.infer(Xi), yi, Xi)
                parts.append([t.cpu() for t in logits])
                truths.append(y_true.cpu())
                weights.append(sample_weight.cpu())
        module.train(training)
        logits = [torch.cat(task) for task in zip(*parts)]
        y = torch.cat(truths)
        w = torch.cat(weights).double().numpy()
        for k, name in enumerate(net.task_names):
            for metric in self.metrics.get(name, []):
                score = self._score(net, k, logits[k], y[:, k], w, metric)
                net.history.record(f"valid_{metric}_{name}", score)

    def _score(
        self,
        net: Any,
        k: int,
        logits: torch.Tensor,
        y: torch.Tensor,
        weights: np.ndarray,
        metric: str,
    ) -> float:
        if net._kind(k) == "regression":
            rows = ~torch.isnan(y)
            scale = net.target_scales[k]
            mean = self.target_means[k]
            true = y[rows].double().numpy() * scale + mean
            predicted = logits[rows, 0].double().numpy() * scale + mean
            view = _TaskView(True, None, predicted, None)
        else:
            rows = y >= 0
            true = y[rows].long().numpy()
            chosen = logits[rows].double()
            view = _TaskView(
                False,
                np.arange(chosen.shape[1]),
                chosen.argmax(dim=1).numpy(),
                torch.softmax(chosen, dim=1).numpy(),
            )
        try:
            return score_task(get_scorer(metric), view, true, weights[rows.numpy()])
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"scoring's metric {metric!r} failed on task "
                f"{net.task_names[k]!r}: {exc}"
            ) from exc
