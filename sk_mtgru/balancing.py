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
    "GradNorm",
    "FAMO",
    "resolve_balancing",
]


class BalancingState(nn.Module):
    """What a strategy keeps during one fit; combines one batch's task losses.

    Parameters
    ----------
    task_weights : Tensor of shape (n_tasks,)
        The estimator's static task weights.
    """

    task_weights: torch.Tensor  # a buffer: it follows the net to its device

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
        """Learn from an epoch's mean training loss of each task (NaN: no label).

        ``epoch_losses`` is a CPU tensor, whatever device the model trains on.
        """

    def after_step(self, losses: torch.Tensor, present: torch.Tensor) -> None:
        """Learn from the batch's task losses after the optimizer's step."""

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
    #: Whether the strategy learns from the batch's losses re-evaluated after the
    #: optimizer's step (one extra forward pass per batch).
    needs_losses_after_step: ClassVar[bool] = False
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
    history: torch.Tensor
    dynamic: torch.Tensor

    def __init__(self, task_weights: torch.Tensor, temperature: float) -> None:
        super().__init__(task_weights)
        self.temperature = temperature
        n = len(task_weights)
        self.register_buffer("history", torch.full((2, n), float("nan")))
        self.register_buffer("dynamic", torch.ones(n))

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self.task_weights * self.dynamic

    def end_epoch(self, epoch_losses: torch.Tensor) -> None:
        self.history = torch.stack([self.history[1], epoch_losses.to(self.history)])
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


class _GradNormState(BalancingState):
    learnt: torch.Tensor
    initial: torch.Tensor
    last: torch.Tensor

    def __init__(self, task_weights: torch.Tensor, alpha: float, lr: float) -> None:
        super().__init__(task_weights)
        self.alpha = alpha
        self.lr = lr
        n = len(task_weights)
        self.register_buffer("learnt", torch.ones(n))
        self.register_buffer("initial", torch.full((n,), float("nan")))
        self.register_buffer("last", torch.full((n,), float("nan")))

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self.task_weights * self.learnt

    def forward(
        self, losses: torch.Tensor, present: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        detached = losses.detach()
        first = present & torch.isnan(self.initial)
        self.initial = torch.where(first, detached, self.initial)
        self.last = torch.where(
            present, detached, torch.full_like(detached, float("nan"))
        )
        return super().forward(losses, present)

    def combine_gradients(
        self, gradients: list[torch.Tensor | None]
    ) -> torch.Tensor | None:
        present = [k for k, g in enumerate(gradients) if g is not None]
        given = [g for g in gradients if g is not None]
        if not given:
            return None
        combined = torch.stack(given).sum(dim=0)
        if len(given) > 1:
            self._update(given, present)
        return combined

    def _update(self, gradients: list[torch.Tensor], present: list[int]) -> None:
        index = torch.tensor(present, device=self.learnt.device)
        norms = torch.stack([g.norm() for g in gradients])  # G_k = |grad (w_k L_k)|
        ratios = self.last[index] / self.initial[index].clamp_min(1e-12)
        relative = ratios / ratios.mean()
        target = norms.mean() * relative**self.alpha
        weights = (self.task_weights * self.learnt)[index]
        # d sum_k |G_k - target_k| / d w_k, with G_k = w_k |grad L_k|.
        step = torch.sign(norms - target) * norms / weights.clamp_min(1e-12)
        learnt = self.learnt.clone()
        learnt[index] = (learnt[index] - self.lr * step).clamp_min(1e-3)
        self.learnt = learnt * len(learnt) / learnt.sum()


class GradNorm(LossBalancing):
    """Tune the task weights so that the tasks' gradients train at similar rates.

    Learnt weights ``w_k`` (starting at 1, times the static ``task_weights``) scale
    the task losses. At every batch, with ``G_k`` the norm of the gradient of
    ``w_k * loss_k`` on the shared representation, ``r_k`` task ``k``'s loss ratio
    ``L_k(t) / L_k(0)`` divided by the mean ratio, and the target
    ``T_k = mean(G) * r_k ** alpha`` held constant, each weight takes a gradient
    step on ``sum_k |G_k - T_k|``: ``w_k -= lr * sign(G_k - T_k) * |grad L_k|``;
    the weights are then renormalised to sum to the number of tasks. Tasks that
    train slowly (high ``r_k``) gain weight.

    Parameters
    ----------
    alpha : float, default=1.5
        Strength of the pull towards equal training rates.
    lr : float, default=0.025
        Learning rate of the weights.

    References
    ----------
    .. [1] Z. Chen, V. Badrinarayanan, C.-Y. Lee and A. Rabinovich, "GradNorm:
       Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
       Networks", ICML 2018.

    Examples
    --------
    >>> from sk_mtgru.balancing import GradNorm
    >>> GradNorm(alpha=0.5).uses_gradients
    True
    """

    uses_gradients = True
    alias = "gradnorm"

    def __init__(self, alpha: float = 1.5, lr: float = 0.025) -> None:
        self.alpha = alpha
        self.lr = lr

    def start(self, task_weights: torch.Tensor) -> BalancingState:  # noqa: D102
        if not (float(self.lr) > 0 and float(self.alpha) >= 0):
            raise ValueError(
                f"GradNorm needs lr > 0 and alpha >= 0, got lr={self.lr}, "
                f"alpha={self.alpha}."
            )
        return _GradNormState(task_weights, float(self.alpha), float(self.lr))


class _FAMOState(BalancingState):
    _BETAS = (0.9, 0.999)
    logits: torch.Tensor
    moment: torch.Tensor
    second_moment: torch.Tensor
    before: torch.Tensor

    def __init__(self, task_weights: torch.Tensor, lr: float, gamma: float) -> None:
        super().__init__(task_weights)
        self.lr = lr
        self.gamma = gamma
        n = len(task_weights)
        for name in ("logits", "moment", "second_moment"):
            self.register_buffer(name, torch.zeros(n))
        self.register_buffer("before", torch.full((n,), float("nan")))
        self.steps = 0

    def _effective(self, losses: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """The weight on each task's loss: K * w_k * z_k / (c * D_k)."""
        z = torch.softmax(self.logits, dim=0)
        ratio = present * z / (losses.detach() + 1e-8)
        return len(z) * self.task_weights * ratio / ratio.sum().clamp_min(1e-12)

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self._effective(losses, torch.ones_like(self.logits, dtype=torch.bool))

    def forward(
        self, losses: torch.Tensor, present: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.before = torch.where(present, losses.detach(), torch.nan)
        z = torch.softmax(self.logits, dim=0)
        c = (present * z / (losses.detach() + 1e-8)).sum().clamp_min(1e-12)
        log_losses = torch.log(losses + 1e-8)
        total = len(z) * (present * self.task_weights * z * log_losses).sum() / c
        return total, self._effective(losses, present).detach()

    def after_step(self, losses: torch.Tensor, present: torch.Tensor) -> None:
        known = present & torch.isfinite(self.before)
        delta = torch.where(
            known,
            torch.log(self.before + 1e-8) - torch.log(losses.detach() + 1e-8),
            torch.zeros_like(losses),
        )
        z = torch.softmax(self.logits, dim=0)
        grad = z * (delta - (z * delta).sum()) + self.gamma * self.logits
        # One Adam step on the logits (Adam with L2 weight decay, as in FAMO's code).
        beta1, beta2 = self._BETAS
        self.steps += 1
        self.moment = beta1 * self.moment + (1 - beta1) * grad
        self.second_moment = beta2 * self.second_moment + (1 - beta2) * grad**2
        m_hat = self.moment / (1 - beta1**self.steps)
        v_hat = self.second_moment / (1 - beta2**self.steps)
        self.logits = self.logits - self.lr * m_hat / (v_hat.sqrt() + 1e-8)


class FAMO(LossBalancing):
    """Fast Adaptive Multitask Optimization: balance the tasks' loss decreases.

    Task weights are ``z = softmax(xi)``. The network trains on
    ``K * sum_k w_k z_k log(L_k) / c`` with ``c = sum_k z_k / L_k`` (held constant),
    which weighs task ``k``'s loss by ``K w_k (z_k / L_k) / c`` (``w``: the static
    ``task_weights``): the log makes the tasks' relative decreases comparable. After
    each step, the losses are evaluated again on the same batch, and the logits take
    one Adam step against ``sum_k z_k delta_k``, with ``delta_k`` the decrease of
    ``log L_k``, so tasks whose loss fell least gain weight. Its cost does not grow
    with the number of tasks: one extra forward pass per batch, no per-task
    gradient.

    Parameters
    ----------
    lr : float, default=0.025
        Learning rate of the logits.
    gamma : float, default=0.01
        Weight decay of the logits (pulls the weights back towards equal).

    References
    ----------
    .. [1] B. Liu, Y. Feng, P. Stone and Q. Liu, "FAMO: Fast Adaptive Multitask
       Optimization", NeurIPS 2023.

    Examples
    --------
    >>> from sk_mtgru.balancing import FAMO
    >>> FAMO().needs_losses_after_step, FAMO().uses_gradients
    (True, False)
    """

    needs_losses_after_step = True
    alias = "famo"

    def __init__(self, lr: float = 0.025, gamma: float = 0.01) -> None:
        self.lr = lr
        self.gamma = gamma

    def start(self, task_weights: torch.Tensor) -> BalancingState:  # noqa: D102
        if not (float(self.lr) > 0 and float(self.gamma) >= 0):
            raise ValueError(
                f"FAMO needs lr > 0 and gamma >= 0, got lr={self.lr}, "
                f"gamma={self.gamma}."
            )
        return _FAMOState(task_weights, float(self.lr), float(self.gamma))


ALIASES: dict[str, type[LossBalancing]] = {
    cls.alias: cls
    for cls in (
        StaticWeighting,
        UncertaintyWeighting,
        DynamicWeightAverage,
        RandomLossWeighting,
        PCGrad,
        GradNorm,
        FAMO,
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
