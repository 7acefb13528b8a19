"""A synthetic intensive-care data set: tasks of every kind on irregular stays."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["make_intensive_care_stays"]

_FEATURES = ["heart_rate", "blood_pressure", "resp_rate", "temperature", "spo2"]
_PHENOTYPES = np.array(["cardiac", "respiratory", "septic"])
# How each phenotype shifts each vital sign's level (in standard units).
_PHENOTYPE_LEVELS = np.array(
    [
        [1.0, -0.8, 0.0, 0.0, 0.0],  # cardiac: fast heart, low pressure
        [0.0, 0.0, 1.0, 0.0, -1.0],  # respiratory: fast breathing, low saturation
        [0.5, -0.5, 0.0, 1.2, 0.0],  # septic: fever, some of both
    ]
)


def make_intensive_care_stays(
    n_stays: int = 500,
    *,
    min_hours: int = 12,
    max_hours: int = 72,
    noise: float = 1.0,
    random_state: Any = None,
) -> Bunch:
    """Generate intensive-care stays with tasks of every kind, as in MIMIC-III.

    The structure of the intensive-care benchmark (Harutyunyan et al., 2019) on
    synthetic data: hourly vital signs of stays of different lengths, each with
    a binary, a multiclass and a numeric label per stay and a binary label per
    hour. A hidden severity drives mortality, the remaining length of stay and
    the hourly decompensations, so those tasks are related; the phenotype shifts
    the vital signs' levels and barely relates to them.

    Each stay has a hidden severity ``s`` (standard normal) and phenotype. Its
    five vital signs are, hour by hour, the phenotype's levels, plus a trend of
    ``s`` growing over the stay, plus a rise of heart rate and breathing and a
    fall of pressure and saturation during decompensation episodes (more
    frequent when ``s`` is high), plus Gaussian noise.

    Parameters
    ----------
    n_stays : int, default=500
        Number of stays.
    min_hours, max_hours : int, default=12, 72
        Range of the stays' lengths, in hourly steps.
    noise : float, default=1.0
        Standard deviation of the measurement noise, in units of the signs'
        spread.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``data``: list of ``(n_hours_i, 5)`` float32 arrays; ``target``:
        ``(n_stays, 3)`` object array of ``mortality`` (0/1), ``phenotype``
        (``'cardiac'``, ``'respiratory'`` or ``'septic'``) and
        ``length_of_stay`` (remaining hours, a float); ``target_names``;
        ``step_target``: list of ``(n_hours_i,)`` int arrays, 1 during a
        decompensation (the per-hour task); ``feature_names``; ``severity``:
        the hidden severities.

    Examples
    --------
    >>> from sk_mtgru.datasets import make_intensive_care_stays
    >>> stays = make_intensive_care_stays(20, random_state=0)
    >>> stays.target_names
    ['mortality', 'phenotype', 'length_of_stay']
    >>> stays.data[0].shape[1], stays.step_target[0].shape == stays.data[0].shape[:1]
    (5, True)
    """
    for name, value, low in (
        ("n_stays", n_stays, 1),
        ("min_hours", min_hours, 2),
        ("max_hours", max_hours, 2),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {value!r}.")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}.")
    if min_hours > max_hours:
        raise ValueError(f"min_hours={min_hours} exceeds max_hours={max_hours}.")
    if not float(noise) >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}.")
    rng = check_random_state(random_state)
    severity = rng.normal(size=n_stays)
    phenotype = rng.randint(len(_PHENOTYPES), size=n_stays)
    hours = rng.randint(min_hours, max_hours + 1, size=n_stays)
    episode_effect = 0.5 * np.array([1.5, -1.2, 1.2, 0.0, -1.5])
    data, step_target = [], []
    for s, p, n in zip(severity, phenotype, hours):
        t = np.arange(n) / max_hours
        decompensating = np.zeros(n, dtype=np.int64)
        # Episodes start more often in severe stays and last 3 to 8 hours.
        for start in np.flatnonzero(rng.rand(n) < 0.02 * np.exp(s)):
            decompensating[start : start + rng.randint(3, 9)] = 1
        signs = (
            0.3 * _PHENOTYPE_LEVELS[p]
            + 0.6 * s * t[:, None] * np.array([1, -1, 1, 0.5, -1])
            + decompensating[:, None] * episode_effect
            + noise * rng.normal(size=(n, len(_FEATURES)))
        )
        data.append(signs.astype(np.float32))
        step_target.append(decompensating)
    mortality = (severity + 0.5 * rng.normal(size=n_stays) > 0.8).astype(int)
    length_of_stay = np.maximum(
        2.0, 30 + 15 * severity + 6 * phenotype + 5 * rng.normal(size=n_stays)
    )
    target = np.empty((n_stays, 3), dtype=object)
    target[:, 0] = mortality
    target[:, 1] = _PHENOTYPES[phenotype]
    target[:, 2] = np.round(length_of_stay, 1)
    return Bunch(
        data=data,
        target=target,
        target_names=["mortality", "phenotype", "length_of_stay"],
        step_target=step_target,
        feature_names=list(_FEATURES),
        severity=severity,
    )
