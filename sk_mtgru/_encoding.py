"""How a model's tasks are encoded for its network: one shape for every estimator.

A classification task is kept as its sorted classes (its head has one output per
class, and labels become indices into them); a regression task as the mean and
scale that standardise its values (its head has one output). The classifier's
encoding is the case where every task has classes, the regressor's the case where
every task has a scaling; the mixed estimator and the tagger mix them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TaskEncoding", "KINDS"]

#: The kinds of task an encoding holds.
KINDS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class TaskEncoding:
    """Each task's kind, and its classes or its standardisation.

    Parameters
    ----------
    kinds : tuple of {'classification', 'regression'}
        Each task's kind.
    classes : tuple of ndarray or None
        A classification task's sorted classes; None for a regression task.
    mean, scale : ndarray of shape (n_tasks,)
        A regression task's standardisation (``(y - mean) / scale``); NaN for a
        classification task.
    """

    kinds: tuple[str, ...]
    classes: tuple[np.ndarray | None, ...]
    mean: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.kinds)
        if not (len(self.classes) == len(self.mean) == len(self.scale) == n):
            raise ValueError(
                "an encoding needs kinds, classes, mean and scale per task"
            )
        for kind, task_classes in zip(self.kinds, self.classes):
            if kind not in KINDS or (task_classes is None) != (kind == "regression"):
                raise ValueError(f"a {kind} task cannot have classes {task_classes!r}")

    @classmethod
    def of(
        cls,
        kinds: Sequence[str],
        classes: Sequence[np.ndarray | None],
        mean: Any,
        scale: Any,
    ) -> TaskEncoding:
        """An encoding from per-task sequences (copied into tuples and arrays)."""
        return cls(
            tuple(kinds),
            tuple(classes),
            np.asarray(mean, dtype=float),
            np.asarray(scale, dtype=float),
        )

    @classmethod
    def of_classes(cls, classes: Sequence[np.ndarray]) -> TaskEncoding:
        """Every task a classification, with these classes: the classifier's."""
        nan = np.full(len(classes), np.nan)
        return cls.of(["classification"] * len(classes), classes, nan, nan.copy())

    @classmethod
    def of_scaling(cls, mean: Any, scale: Any) -> TaskEncoding:
        """Every task a regression, with this standardisation: the regressor's."""
        mean = np.asarray(mean, dtype=float)
        return cls.of(["regression"] * len(mean), [None] * len(mean), mean, scale)

    @property
    def n_tasks(self) -> int:
        return len(self.kinds)

    def indices(self, kind: str) -> list[int]:
        """The tasks of ``kind``, in order."""
        return [k for k, task_kind in enumerate(self.kinds) if task_kind == kind]

    def classes_of(self, tasks: Sequence[int]) -> list[np.ndarray]:
        """The classes of these tasks, each a classification task."""
        found = [self.classes[k] for k in tasks]
        if any(c is None for c in found):
            raise ValueError(f"tasks {list(tasks)} are not all classification tasks")
        return [c for c in found if c is not None]

    @property
    def n_outputs(self) -> list[int]:
        """The size of each task's head: its number of classes, or 1."""
        return [1 if c is None else len(c) for c in self.classes]

    def net_targets(self, regression_loss: str) -> dict[str, Any]:
        """The net's ``task_kinds``, ``regression_loss``, ``target_scales`` and
        the scoring callback's ``target_means``."""
        return {
            "task_kinds": list(self.kinds),
            "regression_loss": regression_loss,
            "target_scales": [1.0 if np.isnan(s) else float(s) for s in self.scale],
            "target_means": [float(m) for m in self.mean],
        }

    def fitted_classes(self, one_dimensional: bool) -> Any:
        """``classes_`` as the estimators expose it: one task's array for a 1-D
        ``y``, else a list with None for regression tasks."""
        classes = list(self.classes)
        return classes[0] if one_dimensional else classes

    def unscaled(self, k: int, standard: np.ndarray) -> np.ndarray:
        """Regression task ``k``'s standardised outputs in its units."""
        return standard * self.scale[k] + self.mean[k]
