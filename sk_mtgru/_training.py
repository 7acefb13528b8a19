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
    "StoppingAfterWarmUp",
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
    batches than planned (or none of them) never fails. :meth:`cool_down` ends
    the schedule early: from the last step it gave, the factor falls along a half
    cosine to the end factor over the steps given (the stopping rule's way of
    ending a fit at a low rate rather than mid-cycle).

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
        self.last_step_ = 0
        self.cooling_: tuple[int, float, int] | None = None

    @classmethod
    def warmup_epochs(cls, kind: str, max_epochs: int) -> int:
        """The epochs a ``max_epochs`` fit spends warming up under ``kind``: the
        stopping rules do not count them (the loss of a rate still rising says
        nothing about whether training has stalled)."""
        return math.ceil(cls.WARMUP * max_epochs) if kind == "one_cycle" else 0

    def cool_down(self, steps: int) -> None:
        """From the last step given on, fall to the end factor over ``steps``."""
        start = self.last_step_
        self.cooling_ = (start, self(start), max(int(steps), 1))

    def __call__(self, step: int) -> float:
        if step == 0:  # a new fit (a warm start's too): no cool-down carries over
            self.cooling_ = None
        self.last_step_ = step
        if self.cooling_ is not None:
            start, factor, steps = self.cooling_
            end = 0.0 if self.kind == "cosine" else self.END
            return _cosine(factor, end, min((step - start) / steps, 1.0))
        return self._planned(step)

    def _planned(self, step: int) -> float:
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


class StoppingAfterWarmUp(EarlyStopping):
    """skorch's :class:`~skorch.callbacks.EarlyStopping` whose patience starts
    once the learning rate's warm-up is over.

    During the first ``warmup_epochs`` epochs of a fit the best score (and, with
    ``load_best``, its weights) is still tracked, but an epoch that does not
    improve it is not a miss: one-cycle's rate starts at 1/25 of its peak, and
    over a long ``max_iter`` the first epochs can leave the loss flat for longer
    than ``patience`` -- a fit stopped there has barely trained.

    When patience runs out and a learning-rate ``schedule`` is given, the fit
    does not stop at once: the schedule cools down over ``cool_down_epochs`` more
    epochs (see :meth:`LearningRateSchedule.cool_down`) and the fit stops after
    them, so that it ends at a low rate as a completed schedule does.

    Parameters
    ----------
    warmup_epochs : int, default=0
        Epochs, counted from the start of each fit (a warm start's included),
        whose misses do not count.
    schedule : LearningRateSchedule, default=None
        The fit's schedule, to cool down before stopping; None stops at once.
    cool_down_epochs : int, default=0
        Epochs of the cool-down, in optimizer steps ``steps_per_epoch`` each.
    steps_per_epoch : int, default=1
    **kwargs
        :class:`~skorch.callbacks.EarlyStopping`'s parameters.
    """

    def __init__(
        self,
        *,
        warmup_epochs: int = 0,
        schedule: LearningRateSchedule | None = None,
        cool_down_epochs: int = 0,
        steps_per_epoch: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warmup_epochs = warmup_epochs
        self.schedule = schedule
        self.cool_down_epochs = cool_down_epochs
        self.steps_per_epoch = steps_per_epoch

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        super().on_train_begin(net, **kwargs)
        self.epochs_ = 0
        self.stop_after_: int | None = None

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        self.epochs_ += 1
        if self.stop_after_ is not None:  # cooling down
            if self.epochs_ >= self.stop_after_:
                raise KeyboardInterrupt
            return
        if self.epochs_ <= self.warmup_epochs:
            self.misses_ = -1  # a miss now brings it to 0, never to patience
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            if self.schedule is None or self.cool_down_epochs < 1:
                raise  # nothing to cool down: stop now
            self.schedule.cool_down(self.cool_down_epochs * self.steps_per_epoch)
            self.stop_after_ = self.epochs_ + self.cool_down_epochs


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
        epochs after the schedule's warm-up, as ``MLPClassifier`` does without
        early stopping -- after ``patience // 2`` more epochs (at least one) in
        which the schedule cools down to its end rate. The loss watched
        is ``train_objective``, the static weighted sum of the tasks' losses:
        an adaptive balancing's own total moves with its weights.
    """
    callbacks: list[tuple[str, Any]] = []
    rate = None
    if schedule != "constant" and steps_per_epoch:
        rate = LearningRateSchedule(schedule, max_epochs * steps_per_epoch)
        callbacks.append(
            (
                "lr_scheduler",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.LambdaLR,
                    lr_lambda=rate,
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
                StoppingAfterWarmUp(
                    monitor="train_objective",
                    patience=patience,
                    threshold=tol,
                    threshold_mode="abs",
                    warmup_epochs=LearningRateSchedule.warmup_epochs(
                        schedule, max_epochs
                    ),
                    schedule=rate,
                    cool_down_epochs=max(1, patience // 2),
                    steps_per_epoch=steps_per_epoch or 1,
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
