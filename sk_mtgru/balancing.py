"""Loss-balancing strategies: how the tasks' losses are combined into one.

Each strategy is a small class whose constructor holds its hyper-parameters, so that
``GridSearchCV`` can search over strategies and over their parameters
(``loss_balancing__temperature``). The estimator calls :meth:`LossBalancing.start`
at each fit to get a fresh torch module that holds what the strategy learns or
remembers during training, so the strategy object itself is never changed.

How the tasks share parameters (the architecture) and how their losses are combined
(the weighting) are independent choices, as in LibMTL's taxonomy. A strategy that
needs each task's gradient, rather than its loss, says so with one declared property,
:attr:`LossBalancing.uses_gradients`.

Every strategy multiplies its weights with the estimator's ``task_weights`` (equal by
default), and its weights sum to the number of tasks where the method normalises
them, as the default's do, so that learning rates keep their meaning.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from sklearn.base import BaseEstimator
from torch import nn

__all__ = [
    "LossBalancing",
    "StaticWeighting",
    "UncertaintyWeighting",
    "DynamicWeightAverage",
    "RandomLossWeighting",
    "PCGrad",
    "resolve_balancing",
]


class BalancingState(nn.Module):
    """What a strategy keeps during one fit; combines one batch's task losses.

    Parameters
    ----------
    task_weights : Tensor of shape (n_tasks,)
        The estimator's static task weights.
    """

    def __init__(self, task_weights: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("task_weights", task_weights.clone().float())

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        """The weight of each task's loss in this batch: ``(n_tasks,)``."""
        return self.task_weights

    def forward(
        self, losses: torch.Tensor, present: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Combine ``losses`` (n_tasks,) of the tasks ``present`` in the batch.

        Returns the training loss and the weights in force (for the history). A
        task without a label in the batch contributes nothing.
        """
        weights = self.weights(losses)
        return (weights * losses * present).sum(), weights.detach()

    def end_epoch(self, epoch_losses: torch.Tensor) -> None:
        """Learn from an epoch's mean training loss of each task (NaN: no label)."""

    def combine_gradients(
        self, gradients: list[torch.Tensor | None]
    ) -> torch.Tensor | None:
        """Combine the tasks' gradients on the shared representation (gradient-based
        strategies). Each is the gradient of the task's weighted loss; None for a
        task without a label in the batch. By default, their sum."""
        present = [g for g in gradients if g is not None]
        return torch.stack(present).sum(dim=0) if present else None


class LossBalancing(BaseEstimator):
    """Base class of loss-balancing strategies.

    A subclass states its hyper-parameters in its constructor (stored unchanged, as
    scikit-learn estimators do) and implements :meth:`start`, which returns a
    :class:`BalancingState` for one fit.
    """

    #: Whether the strategy combines per-task gradients rather than losses.
    uses_gradients: ClassVar[bool] = False
    #: The string alias that selects the strategy in ``loss_balancing``.
    alias: ClassVar[str] = ""

    def start(self, task_weights: torch.Tensor) -> BalancingState:
        """A fresh state for a fit with these static ``task_weights``."""
        raise NotImplementedError


class StaticWeighting(LossBalancing):
    """Fixed weights: the loss is ``sum_k task_weights[k] * loss_k`` (the default).

    Examples
    --------
    >>> from sk_mtgru.balancing import StaticWeighting
    >>> import torch
    >>> state = StaticWeighting().start(torch.tensor([1.0, 3.0]))
    >>> total, weights = state(torch.tensor([0.5, 0.25]), torch.tensor([True, True]))
    >>> float(total)
    1.25
    """

    alias = "static"

    def start(self, task_weights: torch.Tensor) -> BalancingState:  # noqa: D102
        return BalancingState(task_weights)


class _UncertaintyState(BalancingState):
    def __init__(self, task_weights: torch.Tensor) -> None:
        super().__init__(task_weights)
        self.log_variance = nn.Parameter(torch.zeros_like(self.task_weights))

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self.task_weights * torch.exp(-self.log_variance)

    def forward(
        self, losses: torch.Tensor, present: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.weights(losses)
        terms = weights * losses + self.task_weights * self.log_variance / 2
        return (terms * present).sum(), weights.detach()


class UncertaintyWeighting(LossBalancing):
    """Learn each task's weight as its homoscedastic uncertainty.

    Each task ``k`` gets a learned log-variance ``s_k`` (starting at 0), trained with
    the network, and the loss is ``sum_k w_k * (exp(-s_k) * loss_k + s_k / 2)``, the
    classification form of Kendall et al.: a task whose loss stays high is trusted
    less, and the ``s_k / 2`` term stops every weight from falling to zero. ``w`` are
    the static ``task_weights``; the weights in force are ``w_k * exp(-s_k)``.

    References
    ----------
    .. [1] A. Kendall, Y. Gal and R. Cipolla, "Multi-Task Learning Using Uncertainty
       to Weigh Losses for Scene Geometry and Semantics", CVPR 2018.

    Examples
    --------
    >>> from sk_mtgru.balancing import UncertaintyWeighting
    >>> UncertaintyWeighting().uses_gradients
    False
    """

    alias = "uncertainty"

    def start(self, task_weights: torch.Tensor) -> BalancingState:  # noqa: D102
        return _UncertaintyState(task_weights)


class _DWAState(BalancingState):
    def __init__(self, task_weights: torch.Tensor, temperature: float) -> None:
        super().__init__(task_weights)
        self.temperature = temperature
        n = len(task_weights)
        self.register_buffer("history", torch.full((2, n), float("nan")))
        self.register_buffer("dynamic", torch.ones(n))

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self.task_weights * self.dynamic

    def end_epoch(self, epoch_losses: torch.Tensor) -> None:
        self.history = torch.stack([self.history[1], epoch_losses.float()])
        previous, last = self.history
        if torch.isfinite(previous).all() and torch.isfinite(last).all():
            rates = last / previous.clamp_min(torch.finfo(previous.dtype).tiny)
            n = len(rates)
            self.dynamic = n * torch.softmax(rates / self.temperature, dim=0)


class DynamicWeightAverage(LossBalancing):
    """Weigh each task by how slowly its loss has been falling.

    From the third epoch on, task ``k``'s weight is
    ``K * softmax(r / temperature)_k`` with ``r_k = L_k(t-1) / L_k(t-2)``, the ratio
    of its mean training loss over the last two epochs and ``K`` the number of
    tasks; a task that stalls gets more weight. The first two epochs use equal
    weights. Multiplied by the static ``task_weights``. Cheap: it reads only losses.

    Parameters
    ----------
    temperature : float, default=2.0
        Softness of the weighting: large values tend to equal weights.

    References
    ----------
    .. [1] S. Liu, E. Johns and A. J. Davison, "End-to-End Multi-Task Learning with
       Attention", CVPR 2019.

    Examples
    --------
    >>> from sk_mtgru.balancing import DynamicWeightAverage
    >>> DynamicWeightAverage(temperature=1.0)
    DynamicWeightAverage(temperature=1.0)
    """

    alias = "dwa"

    def __init__(self, temperature: float = 2.0) -> None:
        self.temperature = temperature

    def start(self, task_weights: torch.Tensor) -> BalancingState:  # noqa: D102
        if not float(self.temperature) > 0:
            raise ValueError(
                "DynamicWeightAverage's temperature must be > 0, got "
                f"{self.temperature}."
            )
        return _DWAState(task_weights, float(self.temperature))


class _RandomState(BalancingState):
    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        draw = torch.randn(len(self.task_weights), device=self.task_weights.device)
        return self.task_weights * len(draw) * torch.softmax(draw, dim=0)


class RandomLossWeighting(LossBalancing):
    """Draw fresh random task weights at every batch.

    Each batch's weights are ``K * softmax(z)`` with ``z`` drawn from a standard
    normal distribution (``K`` tasks), times the static ``task_weights``: a cheap
    strategy that, in expectation, weighs tasks equally while its noise helps escape
    poor local optima. Draws come from torch's generator, which ``random_state``
    seeds.

    References
    ----------
    .. [1] B. Lin, F. Ye, Y. Zhang and I. W. Tsang, "Reasonable Effectiveness of
       Random Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022.

    Examples
    --------
    >>> from sk_mtgru.balancing import RandomLossWeighting
    >>> RandomLossWeighting().alias
    'rlw'
    """

    alias = "rlw"

    def start(self, task_weights: torch.Tensor) -> BalancingState:  # noqa: D102
        return _RandomState(task_weights)


class _PCGradState(BalancingState):
    def combine_gradients(
        self, gradients: list[torch.Tensor | None]
    ) -> torch.Tensor | None:
        present = [g for g in gradients if g is not None]
        if not present:
            return None
        flat = [g.flatten() for g in present]
        tiny = torch.finfo(flat[0].dtype).tiny
        projected = []
        for i, g_i in enumerate(flat):
            g = g_i.clone()
            for j in torch.randperm(len(flat)).tolist():
                if j == i:
                    continue
                dot = g @ flat[j]
                if dot < 0:  # conflicting: remove the component along g_j
                    g = g - dot / (flat[j] @ flat[j]).clamp_min(tiny) * flat[j]
            projected.append(g)
        return torch.stack(projected).sum(dim=0).view_as(present[0])


class PCGrad(LossBalancing):
    """Project away the conflicting parts of the tasks' gradients.

    At every batch, each task's gradient ``g_i`` on the shared representation is
    projected, in random order over the other tasks ``j``, onto the normal plane of
    ``g_j`` whenever the two conflict (``g_i . g_j < 0``):
    ``g_i <- g_i - (g_i . g_j) / |g_j|^2 g_j``. The encoder then learns from the sum
    of the projected gradients; each head from its own task's loss. Gradients are
    taken on the shared representation (the encoder's output), so the extra cost is
    one backward pass through the heads per task. Tasks without a label in the batch
    are left out.

    References
    ----------
    .. [1] T. Yu, S. Kumar, A. Gupta, S. Levine, K. Hausman and C. Finn, "Gradient
       Surgery for Multi-Task Learning", NeurIPS 2020.

    Examples
    --------
    >>> from sk_mtgru.balancing import PCGrad
    >>> PCGrad().uses_gradients
    True
    """

    uses_gradients = True
    alias = "pcgrad"

    def start(self, task_weights: torch.Tensor) -> BalancingState:  # noqa: D102
        return _PCGradState(task_weights)


ALIASES: dict[str, type[LossBalancing]] = {
    cls.alias: cls
    for cls in (
        StaticWeighting,
        UncertaintyWeighting,
        DynamicWeightAverage,
        RandomLossWeighting,
        PCGrad,
    )
}


def resolve_balancing(loss_balancing: LossBalancing | str | None) -> LossBalancing:
    """The strategy object for the estimator's ``loss_balancing`` parameter."""
    if loss_balancing is None:
        return StaticWeighting()
    if isinstance(loss_balancing, str):
        if loss_balancing not in ALIASES:
            raise ValueError(
                f"loss_balancing={loss_balancing!r} is not a known strategy; use one "
                f"of {sorted(ALIASES)} or an instance of a LossBalancing subclass."
            )
        return ALIASES[loss_balancing]()
    return loss_balancing
