"""Plots of what a fitted multi-task model learnt (needs matplotlib)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_learning_curves", "plot_task_affinity"]


def _pyplot(function: str) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{function} needs matplotlib: pip install 'sk_mtgru[plots]'."
        ) from exc
    return plt


_METRICS = {"loss": "loss", "acc": "accuracy", "mse": "mean squared error"}


def plot_learning_curves(model: Any, *, metric: str = "loss", ax: Any = None) -> Any:
    """Draw each task's training (solid) and validation (dashed) curve per epoch.

    Parameters
    ----------
    model : fitted estimator, Pipeline ending in one, or skorch History
        A fitted model of the package (its ``history_``), or a history itself.
        Validation curves appear when the model was fitted with
        ``early_stopping=True``.
    metric : {"loss", "acc", "mse"}, default="loss"
        Each task's training loss (a cross-entropy for a classification task, a
        squared error on the standardised scale for a regression task); the
        accuracy of the classification tasks; or the mean squared error, in the
        target's units, of the regression tasks.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's axes by default.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> from sk_mtgru import MultiTaskGRUClassifier
    >>> from sk_mtgru.datasets import make_multitask_sequences
    >>> from sk_mtgru.plotting import plot_learning_curves
    >>> X, Y = make_multitask_sequences(60, n_tasks=2, length=8, random_state=0)
    >>> clf = MultiTaskGRUClassifier(hidden_size=4, max_iter=3, early_stopping=True,
    ...                              random_state=0).fit(X, Y)
    >>> ax = plot_learning_curves(clf, metric="acc")
    >>> [line.get_label() for line in ax.get_lines()]
    ['task_0 (train)', 'task_0 (valid)', 'task_1 (train)', 'task_1 (valid)']
    """
    plt = _pyplot("plot_learning_curves")
    if metric not in _METRICS:
        raise ValueError(f"metric must be 'loss', 'acc' or 'mse', got {metric!r}.")
    if hasattr(model, "steps"):  # a Pipeline: its final estimator
        model = model.steps[-1][1]
    history = getattr(model, "history_", model)
    if not hasattr(history, "__getitem__") or not len(history):
        raise ValueError(
            "plot_learning_curves needs a fitted sk_mtgru estimator (or its "
            f"history_), got {type(model).__name__}."
        )
    last = history[-1]
    # Each task records train_acc_<task> (classification) or train_mse_<task>
    # (regression); train_loss_best and the like are not per task.
    kinds = {
        key[len(f"train_{m}_") :]: m
        for key in last
        for m in ("acc", "mse")
        if key.startswith(f"train_{m}_")
    }
    names = [str(n) for n in getattr(model, "task_names_", [])] or list(kinds)
    if not names:
        raise ValueError("The history records no per-task figures per epoch.")
    if metric != "loss":
        names = [name for name in names if kinds.get(name) == metric]
        if not names:
            other = "mse" if metric == "acc" else "acc"
            raise ValueError(
                f"No task of this model records {_METRICS[metric]} (metric="
                f"{metric!r}); use metric='loss', or metric={other!r}."
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    epochs = history[:, "epoch"]
    for k, name in enumerate(names):
        color = f"C{k}"
        ax.plot(
            epochs,
            history[:, f"train_{metric}_{name}"],
            color=color,
            label=f"{name} (train)",
        )
        if f"valid_{metric}_{name}" in last:
            ax.plot(
                epochs,
                history[:, f"valid_{metric}_{name}"],
                color=color,
                linestyle="--",
                label=f"{name} (valid)",
            )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(_ylabel(metric, {kinds.get(name) for name in names}))
    ax.set_title("Per-task learning curves")
    ax.legend(fontsize=8)
    return ax


def _ylabel(metric: str, kinds: set) -> str:
    if metric != "loss":
        return _METRICS[metric]
    if kinds == {"mse"}:
        return "loss (squared error, standardised)"
    if "mse" in kinds:
        return "loss (cross-entropy; squared error for regression tasks)"
    return "loss (cross-entropy)"


def plot_task_affinity(
    affinity: Any,
    *,
    task_names: Any = None,
    groups: Any = None,
    measure: str | None = None,
    ax: Any = None,
) -> Any:
    """Draw a task affinity matrix as a heat map, each cell labelled, with the
    task groups outlined.

    Parameters
    ----------
    affinity : fitted estimator, Pipeline ending in one, Bunch or array-like
        A fitted estimator (its ``task_affinity_``, ``task_names_`` and
        ``task_groups_`` are used), the result of
        :func:`~sk_mtgru.model_selection.recommend_task_groups`, or a matrix of
        shape (n_tasks, n_tasks). Row ``i`` is how training task ``i`` moves
        each task.
    task_names : sequence of str, default=None
        Labels of the rows and columns; the model's task names by default.
    groups : list of list of str or int, default=None
        Groups of tasks to outline (names or indices); the model's
        ``task_groups_`` (or the recommendation's groups) by default. A group of
        every task is not outlined.
    measure : {'lookahead', 'cosine'}, default=None
        What the matrix holds, for the colour bar's label; the model's
        ``task_affinity_measure`` by default.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's axes by default.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mtgru.plotting import plot_task_affinity
    >>> matrix = np.array([[0.6, 0.4, -0.1], [0.5, 0.7, 0.0], [-0.2, 0.0, 0.8]])
    >>> ax = plot_task_affinity(matrix, task_names=["a", "b", "c"],
    ...                         groups=[["a", "b"], ["c"]])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b', 'c']
    >>> len(ax.patches)  # one outline per group
    2
    """
    plt = _pyplot("plot_task_affinity")
    if hasattr(affinity, "steps"):  # a Pipeline: its final estimator
        affinity = affinity.steps[-1][1]
    if hasattr(affinity, "task_affinity_"):
        if affinity.task_affinity_ is None:
            raise ValueError(
                "This model measured no task affinity (task_affinity_interval=None); "
                "fit it with task_affinity_interval set."
            )
        task_names = list(affinity.task_names_) if task_names is None else task_names
        if groups is None:
            groups = getattr(affinity, "task_groups_", None)
        measure = measure or affinity.task_affinity_measure
        affinity = affinity.task_affinity_
    elif isinstance(affinity, dict) and "affinity" in affinity:  # a recommendation
        task_names = affinity["task_names"] if task_names is None else task_names
        groups = affinity["groups"] if groups is None else groups
        measure = measure or "lookahead"
        affinity = affinity["affinity"]
    matrix = np.asarray(affinity, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"affinity must be a square matrix, got shape {matrix.shape}.")
    n = matrix.shape[0]
    names = [f"task_{k}" for k in range(n)] if task_names is None else list(task_names)
    if len(names) != n:
        raise ValueError(f"{len(names)} task names for a {n} x {n} matrix.")
    if ax is None:
        width = max(len(str(name)) for name in names)
        _, ax = plt.subplots(
            figsize=(2.4 + 0.7 * n + 0.07 * width, 1.6 + 0.6 * n + 0.07 * width),
            layout="constrained",
        )
    finite = matrix[np.isfinite(matrix)]
    if measure == "cosine":
        label, limit = "cosine similarity of task gradients", 1.0
    else:
        label = "loss decrease of task j after a step on task i"
        limit = float(np.abs(finite).max()) if finite.size else 1.0
    image = ax.imshow(matrix, vmin=-limit, vmax=limit, cmap="RdBu_r")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("task j (moved)")
    ax.set_ylabel("task i (trained)")
    for i in range(n):
        for j in range(n):
            if np.isfinite(matrix[i, j]):
                ax.text(
                    j, i, f"{matrix[i, j]:.2g}", ha="center", va="center", fontsize=8
                )
    for group in _group_indices(groups, names):
        _outline(ax, group)
    ax.set_title("Task affinity")
    return ax


def _group_indices(groups: Any, names: list[str]) -> list[list[int]]:
    """The groups as lists of indices; none when every task is in one group."""
    if groups is None:
        return []
    indices = [
        [names.index(t) if isinstance(t, str) else int(t) for t in group]
        for group in groups
    ]
    return [] if len(indices) < 2 else indices


def _outline(ax: Any, group: list[int]) -> None:
    """A rectangle around the block of a group's tasks, when they are adjacent;
    else around each of its cells."""
    from matplotlib.patches import Rectangle

    ordered = sorted(group)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        blocks = [(ordered[0], ordered[0], len(ordered))]
    else:
        blocks = [(i, j, 1) for i in ordered for j in ordered]
    for row, column, size in blocks:
        ax.add_patch(
            Rectangle(
                (column - 0.5, row - 0.5),
                size,
                size,
                fill=False,
                edgecolor="black",
                linewidth=2,
            )
        )
