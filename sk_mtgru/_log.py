"""The ``verbose`` training log: skorch's table with its columns grouped and named
by task, short enough for a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from skorch.callbacks import PrintLog

__all__ = ["TaskTable"]

# Column names of the overall figures.
_OVERALL = {
    "train_loss": "loss",
    "valid_loss": "val_loss",
    "train_objective": "objective",
}


class TaskTable(PrintLog):
    """skorch's :class:`~skorch.callbacks.PrintLog`, one group of columns per task.

    The history keeps every key; the table shows the overall loss (and
    validation loss, and the objective under adaptive balancing), then for each
    task, in the tasks' order, its metrics -- accuracy or mean squared error on
    the training batches, the validation figures and ``scoring``'s metrics, the
    task's weight under adaptive balancing -- headed ``<task>:<metric>``
    (``val_`` for validation). A task's own losses are left to ``history_``
    unless it has no other figure. ``keys_ignored`` and the ``'_best'`` marks
    work as in skorch.

    Parameters
    ----------
    task_names : sequence of str
    **kwargs
        :class:`~skorch.callbacks.PrintLog`'s parameters.
    """

    def __init__(self, task_names: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task_names = list(task_names)

    def _task_of(self, key: str) -> tuple[str, str] | None:
        """(task, metric header) of a per-task key; None for another key."""
        for task in sorted(self.task_names, key=len, reverse=True):
            if not key.endswith(f"_{task}"):
                continue
            stem = key[: -len(task) - 1]
            if stem == "weight":
                return task, "w"
            for split, prefix in (("train_", ""), ("valid_", "val_")):
                if stem.startswith(split):
                    return task, prefix + stem[len(split) :]
        return None

    def _sorted_keys(self, keys: Iterable[str]) -> list[str]:
        shown = super()._sorted_keys(keys)  # epoch first, events and dur last
        per_task: dict[str, list[tuple[str, str]]] = {t: [] for t in self.task_names}
        head, tail = [], []
        for key in shown:
            found = self._task_of(key)
            if found is not None:
                per_task[found[0]].append((found[1], key))
            elif key == "epoch" or key in _OVERALL:
                head.append(key)
            else:
                tail.append(key)
        order = ["epoch", *_OVERALL]
        columns = sorted(head, key=order.index)
        for entries in per_task.values():
            figures = [e for e in entries if e[0] not in ("loss", "val_loss", "w")]
            if not figures:  # a task with no figure but its loss: show the loss
                figures = [e for e in entries if e[0] != "w"]
            # skorch's alphabetical order puts train_ before valid_; the weight last
            figures += [e for e in entries if e[0] == "w"]
            columns += [key for _, key in figures]
        return columns + tail

    def _yield_keys_formatted(self, row: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        for key, formatted in super()._yield_keys_formatted(row):
            found = self._task_of(key)
            if found is not None:
                key = f"{found[0]}:{found[1]}"
            yield _OVERALL.get(key, key), formatted
