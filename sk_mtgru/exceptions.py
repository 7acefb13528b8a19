"""Exceptions and warnings raised by sk_mtgru."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(ValueError, FloatingPointError):
    """Training produced a non-finite loss.

    Raised by ``fit`` when a task's loss becomes NaN or infinite, usually because the
    learning rate is too high for the data's scale. It names the task, the epoch and
    the batch. A ``ValueError`` (the estimator could not learn from these data with
    these parameters) and a ``FloatingPointError`` (what went wrong).

    Parameters
    ----------
    what : str
        What diverged, where: "the loss of task 'x' became nan in epoch 2, batch 3".
    advice : str
        How to avoid it.

    Examples
    --------
    >>> from sk_mtgru.exceptions import TrainingDivergedError
    >>> error = TrainingDivergedError("the loss of task 'a' became inf", "Lower it.")
    >>> str(error)
    "Training diverged: the loss of task 'a' became inf. Lower it."
    >>> isinstance(error, ValueError)
    True
    """

    def __init__(self, what: str, advice: str) -> None:
        super().__init__(f"Training diverged: {what}. {advice}")
        self.what = what
        self.advice = advice

    def __reduce__(self):  # keep the two-argument constructor picklable
        return type(self), (self.what, self.advice)
