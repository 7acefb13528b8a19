"""Plots of what a fitted multi-task model learnt (needs matplotlib)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_task_affinity"]


def plot_task_affinity(affinity: Any, *, task_names: Any = None, ax: Any = None) -> Any:
    """Draw a task affinity matrix as a heat map, each cell labelled.

    Parameters
    ----------
    affinity : MultiTaskGRUClassifier or array-like of shape (n_tasks, n_tasks)
        A fitted estimator (its ``task_affinity_`` and ``task_names_`` are used),
        or the matrix itself.
    task_names : sequence of str, default=None
        Labels of the rows and columns; the estimator's task names by default.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's axes by default.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mtgru.plotting import plot_task_affinity
    >>> matrix = np.array([[1.0, 0.9], [0.9, 1.0]])
    >>> ax = plot_task_affinity(matrix, task_names=["a", "b"])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b']
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_task_affinity needs matplotlib: pip install 'sk_mtgru[plots]'."
        ) from exc
    if hasattr(affinity, "task_affinity_"):
        if affinity.task_affinity_ is None:
            raise ValueError(
                "This model measured no task affinity (task_affinity_interval=None); "
                "fit it with task_affinity_interval set."
            )
        task_names = list(affinity.task_names_) if task_names is None else task_names
        affinity = affinity.task_affinity_
    matrix = np.asarray(affinity, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"affinity must be a square matrix, got shape {matrix.shape}.")
    n = matrix.shape[0]
    names = [f"task_{k}" for k in range(n)] if task_names is None else list(task_names)
    if len(names) != n:
        raise ValueError(f"{len(names)} task names for a {n} x {n} matrix.")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 + 0.7 * n, 1.0 + 0.6 * n))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.figure.colorbar(image, ax=ax, label="cosine similarity of task gradients")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    for i in range(n):
        for j in range(n):
            if np.isfinite(matrix[i, j]):
                ax.text(
                    j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8
                )
    ax.set_title("Task affinity")
    return ax
