"""How a fit trains: the learning-rate schedule, gradient clipping and the stopping
rule, as skorch callbacks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from skorch.callbacks import Callback, EarlyStopping, GradientNormClipping, LRScheduler

__all__ = [
    "SCHEDULES",
    "LearningRateSchedule",
    "PerTaskBest",
    "seeded_torch",
    "training_callbacks",
]

SCHEDULES = ("constant", "one_cycle", "cosine")


class LearningRateSchedule:
    """The factor applied to the learning rate at each optimizer step.

    - ``'one_cycle'`` (Smith and Topin, 2019, as ``torch.optim.lr_scheduler.
      OneCycleLR``): from 1/25 of the peak up to the peak over the first 30 % of
      the steps, then down to 1/250,000 of it, both along a half cosine;
    - ``'cosine'``: from the peak down to 0 along a half cosine;
    - ``'constant'``: 1.

    Steps past ``total_steps`` keep the last factor, so a fit that runs a few more
    batches than planned (or none of them) never fails.

    Parameters
    ----------
    kind : {'constant', 'one_cycle', 'cosine'}
    total_steps : int
        Optimizer steps the schedule spans: ``max_iter`` times the training
        batches per epoch.
    """

    WARMUP = 0.3
    START = 1 / 25
    END = 1 / 25 / 1e4

    def __init__(self, kind: str, total_steps: int) -> None:
        if kind not in SCHEDULES:
            raise ValueError(f"kind must be one of {SCHEDULES}, got {kind!r}.")
        self.kind = kind
        self.total_steps = max(int(total_steps), 1)

    def __call__(self, step: int) -> float:
        progress = min(step / self.total_steps, 1.0)
        if self.kind == "constant":
            return 1.0
        if self.kind == "cosine":
            return _cosine(1.0, 0.0, progress)
        if progress < self.WARMUP:
            return _cosine(self.START, 1.0, progress / self.WARMUP)
        return _cosine(1.0, self.END, (progress - self.WARMUP) / (1 - self.WARMUP))


def _cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def training_callbacks(
    *,
    schedule: str,
    steps_per_epoch: int | None,
    max_epochs: int,
    max_grad_norm: float | None,
    stop_on_train_loss: bool,
    patience: int,
    tol: float,
) -> list[tuple[str, Any]]:
    """skorch callbacks for a fit.

    Parameters
    ----------
    schedule : {'constant', 'one_cycle', 'cosine'}
        The learning-rate schedule; stepped after every training batch and spread
        over ``max_epochs * steps_per_epoch`` steps. None ``steps_per_epoch`` (a
        net that will not be fitted, or ``partial_fit``) keeps the rate constant.
    max_grad_norm : float or None
        Clip the norm of all gradients together to this value before each step
        (skorch's ``GradientNormClipping``); None does not clip.
    stop_on_train_loss : bool
        Stop when the training loss has not fallen by ``tol`` for ``patience``
        epochs, as ``MLPClassifier`` does without early stopping. The loss watched
        is ``train_objective``, the static weighted sum of the tasks' losses:
        an adaptive balancing's own total moves with its weights.
    """
    callbacks: list[tuple[str, Any]] = []
    if schedule != "constant" and steps_per_epoch:
        callbacks.append(
            (
                "lr_scheduler",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.LambdaLR,
                    lr_lambda=LearningRateSchedule(
                        schedule, max_epochs * steps_per_epoch
                    ),
                    step_every="batch",
                    last_epoch=-1,  # a fresh schedule, also when warm-starting
                ),
            )
        )
    if max_grad_norm is not None:
        callbacks.append(
            (
                "gradient_clipping",
                GradientNormClipping(gradient_clip_value=max_grad_norm),
            )
        )
    if stop_on_train_loss:
        callbacks.append(
            (
                "train_loss_stopping",
                EarlyStopping(
                    monitor="train_objective",
                    patience=patience,
                    threshold=tol,
                    threshold_mode="abs",
                ),
            )
        )
    return callbacks


# The module lists that hold one entry per task (heads, private layers, attention
# scorers, experts' gates): their entries are a task's own parameters.
TASK_MODULES = ("heads", "task_grus", "scorers", "gates")


def task_parameter_names(names: list[str], k: int) -> list[str]:
    """The ``state_dict`` keys among ``names`` that belong to task ``k`` alone."""
    prefixes = tuple(f"{module}.{k}." for module in TASK_MODULES)
    return [name for name in names if name.startswith(prefixes)]


class PerTaskBest(Callback):
    """``early_stopping='per_task'``: each task's own parameters from the epoch of
    its best validation loss.

    After every epoch, each task whose validation figure is the best so far --
    its first ``scoring`` metric (greater is better) when it has one, else its
    loss ``valid_loss_<task>`` (lower is better) -- has its own parameters (its
    head, and its private layers, attention scorer or gate when it has them)
    copied. At the end of
    training (after :class:`skorch.callbacks.EarlyStopping` has brought back
    the whole network of the best combined validation loss) they are put back,
    so that every head is the one of its own best epoch while the shared
    encoder is that of the best combined epoch.

    Parameters
    ----------
    task_names : list of str
    metrics : dict of str to list of str, default=None
        The ``scoring`` metrics of each task, by name.
    """

    def __init__(
        self, task_names: list[str], metrics: dict[str, list[str]] | None = None
    ) -> None:
        self.task_names = task_names
        self.metrics = metrics

    def initialize(self) -> PerTaskBest:
        self.best_: dict[str, tuple[float, int, dict[str, torch.Tensor]]] = {}
        return self

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        self.best_ = {}

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        row = net.history[-1]
        state = None
        for k, name in enumerate(self.task_names):
            metric = (self.metrics or {}).get(name)
            key = f"valid_{metric[0]}_{name}" if metric else f"valid_loss_{name}"
            value = row.get(key)
            if value is None or not math.isfinite(value):
                continue
            loss = -value if metric else value  # lower is better
            if name in self.best_ and loss >= self.best_[name][0]:
                continue
            if state is None:
                state = net.module_.state_dict()
            own = task_parameter_names(list(state), k)
            copies = {key: state[key].detach().clone() for key in own}
            self.best_[name] = (loss, int(row["epoch"]), copies)

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        for _, _, weights in self.best_.values():
            net.module_.load_state_dict(weights, strict=False)

    @property
    def best_epochs_(self) -> dict[str, int]:
        """Each task's best epoch (1-based, as skorch counts)."""
        return {name: epoch for name, (_, epoch, _) in self.best_.items()}


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's generators for ``device``; restore their previous state on exit.

    Everything random in a fit -- the weights' initialisation, shuffling, dropout and
    the validation split -- draws from these generators, so a fit is reproducible and
    leaves the user's torch random state as it was.
    """
    cuda_devices = []
    if device.type == "cuda":
        cuda_devices = [
            device.index if device.index is not None else torch.cuda.current_device()
        ]
    with torch.random.fork_rng(devices=cuda_devices):
        torch.random.default_generator.manual_seed(seed)
        for index in cuda_devices:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield
