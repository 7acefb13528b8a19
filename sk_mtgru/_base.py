"""The estimators' common base: the fit loop, the skorch net, the data and the files.

:class:`BaseMultiTaskGRU` holds everything the package's estimators share; the
estimators (:class:`~sk_mtgru.MultiTaskGRUClassifier`,
:class:`~sk_mtgru.MultiTaskGRURegressor`, :class:`~sk_mtgru.MultiTaskGRUEstimator`,
:class:`~sk_mtgru.MultiTaskGRUTagger`) differ only in their targets, losses,
outputs and scores, which they give through the hooks listed in the class's
docstring -- as scikit-learn's ``BaseMultilayerPerceptron`` serves
``MLPClassifier`` and ``MLPRegressor``.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import ProgressBar
from skorch.dataset import ValidSplit

from ._accelerate import AcceleratedMultiTaskNet, AverageAcrossProcesses, quiet
from ._data import (
    BatchIterator,
    SequenceDataset,
    auto_batch_size,
    check_finite_outputs,
    pad_sequences,
)
from ._encoding import TaskEncoding
from ._frames import check_feature_names, feature_names, set_feature_names
from ._gru import GRU_KERNELS
from ._io import register_estimator, save
from ._net import (
    BalancingEpochEnd,
    MultiTaskNet,
    TaskEpochMetrics,
    fit_task_affinity,
)
from ._random_features import cache_random_features, fit_random_features
from ._regression import numeric_column, r2_of_labelled
from ._scoring import TaskEpochScoring, resolve_scoring
from ._targets import Targets
from ._threads import resolve_threads, torch_threads
from ._training import (
    SCHEDULES,
    LearningRateSchedule,
    PerTaskBest,
    StoppingAfterWarmUp,
    seeded_torch,
    training_callbacks,
)
from ._validation import (
    HasMethods,
    Integral,
    Interval,
    Real,
    StrOptions,
    check_n_features,
    check_sample_weight,
    check_sequences,
    check_task_weights,
    n_features_of,
    sequence_lengths,
    validate_params,
    warn_if_transposed,
)
from .balancing import ALIASES, LossBalancing, StaticWeighting, resolve_balancing
from .exceptions import TrainingDivergedError
from .metrics import _mean_of_labelled_tasks, _per_task_accuracy

__all__ = ["BaseMultiTaskGRU"]

_SOLVERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


# Attributes that ``_fit_lengths`` sets from a new fit's sequences.
_FIT_LENGTHS = ("_random_length",)


@functools.cache
def _has_fused_step(optimizer: type, device_type: str) -> bool:
    """Whether this torch has a fused step of ``optimizer`` on ``device_type``.

    A fused step updates every parameter in one kernel instead of a dozen
    operations per parameter tensor: about five times faster on the CPU for the
    package's models (torch >= 2.4 has it on the CPU; older versions on CUDA only).
    """
    try:
        probe = torch.zeros(1, device=device_type, requires_grad=True)
        optimizer([probe], lr=0.1, fused=True)
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return False
    return True


# A fit that ran max_iter epochs has not converged when its last n_iter_no_change
# epochs lowered the loss by more than this share of the whole fit's decrease. With
# the default one-cycle schedule, converged fits measured 0.00001 to 0.01 (the
# annealing's last gains); fits given a third or a sixth of the epochs they need,
# 0.1 to 0.7.
_STILL_FALLING = 0.05


# Inference batches hold no activations for backpropagation, so they can be larger
# than training batches.
_MIN_PREDICT_BATCH_SIZE = 256


# The parameters of every estimator.
_BASE_CONSTRAINTS: dict = {
    "hidden_size": [Interval(Integral, 1, None, closed="left")],
    "num_layers": [Interval(Integral, 1, None, closed="left")],
    "bidirectional": ["boolean"],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "task_weights": [None, "array-like", dict],
    "loss_balancing": [None, StrOptions(set(ALIASES)), LossBalancing],
    "task_affinity_interval": [None, Interval(Integral, 1, None, closed="left")],
    "task_affinity_measure": [StrOptions({"lookahead", "cosine"})],
    "solver": [StrOptions(set(_SOLVERS))],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "learning_rate": [StrOptions(set(SCHEDULES))],
    "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    # torch indexes in 64-bit integers: a batch larger than any array can be
    # is refused here rather than by an overflow deep in a fit or predict.
    "batch_size": [
        Interval(Integral, 1, 2**31 - 1, closed="both"),
        StrOptions({"auto"}),
    ],
    "length_bucketing": ["boolean"],
    "gru_kernel": [StrOptions(set(GRU_KERNELS))],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean", StrOptions({"per_task"})],
    "scoring": [None, str, list, tuple, dict],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "device": [str, torch.device],
    "accelerator": [None, HasMethods(["prepare", "backward", "autocast"])],
    "random_state": ["random_state"],
    "n_threads": [
        None,
        StrOptions({"auto"}),
        Interval(Integral, 1, None, closed="left"),
    ],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
}

# The parameters of classification targets.
_CLASSIFICATION_CONSTRAINTS: dict = {
    "missing_label": "no_validation",
    "class_weight": [None, StrOptions({"balanced"}), dict, list, tuple],
}


class BaseMultiTaskGRU(BaseEstimator, ABC):
    """Base of the package's estimators: a shared GRU encoder and a head per task.

    Not for direct use. Holds the fit loop (``fit``, warm start, ``partial_fit``'s
    continuation, the stopping rule and the warnings), the skorch net, the data
    handling and prediction batching, and persistence. Estimators that label
    whole sequences build on :class:`~sk_mtgru._sequence.SequenceLevelGRU`; the
    tagger on this class directly. A subclass gives its targets, network and
    outputs through these hooks (each returns what it computes; none sets state
    but ``_set_encoding``):

    - ``_fit_targets(y, X_checked, name)``: validated targets, one row per unit
      the tasks label (a sequence, or a step for the tagger);
    - ``_encode(targets, task_names, known, unit_weights)``: the targets'
      :class:`~sk_mtgru._encoding.TaskEncoding` and the encoded array the net
      trains on; ``known`` is the encoding to keep when training continues;
    - ``_fitted_encoding()`` and ``_given_encoding(given, targets, task_names)``:
      the encoding a continued fit keeps, and one given to ``partial_fit``;
    - ``_loss_weight(targets, task_names, encoding, encoded, unit_weights,
      incremental)``: each unit's weight in each task's loss, 0 where missing;
    - ``_set_encoding(encoding, targets)``: the fitted attributes of the targets;
    - ``_module(n_features, n_outputs, task_names, groups)`` and
      ``_fitted_architecture()``: the torch module to build, and the parameters
      that shaped the fitted one; ``_task_groups(...)``: the task groups it
      builds an encoder for (None: one encoder);
    - ``_predictions(logits, lengths)`` and, for classes, ``_probabilities``:
      ``predict``'s and ``predict_proba``'s outputs from the heads' (the
      :class:`~sk_mtgru.StreamingPredictor` calls them with its own);
    - ``_score_units(predictions)``: ``predict``'s output as one row per unit
      (``score`` reads its ``y`` with ``_fit_targets``);
    - optionally ``_unit_weights`` and ``_training_dataset``, for networks that
      label every step.
    """

    # Set by fit (declared for type checkers; not class attributes).
    net_: MultiTaskNet
    _width_2d: int | None

    _parameter_constraints: dict = _BASE_CONSTRAINTS
    #: Whether the model labels every step (the tagger) rather than each whole
    #: sequence: what files, export, streaming and scorers ask of a model.
    _per_step: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_estimator(cls)  # the package's own estimators load from files

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, giving a parameter added since the file was written its
        default: a joblib file of an earlier release behaves as it did."""
        super().__setstate__(state)
        for name, parameter in inspect.signature(
            type(self).__init__
        ).parameters.items():
            if name != "self" and name not in self.__dict__:
                setattr(self, name, parameter.default)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Train the shared encoder and every task's head on sequences ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
(n_samples, n_timesteps), or list of array-like of shape (n_timesteps_i, n_features)
            Training sequences, batch first and channels last; a 2-D array holds
            univariate sequences; a list may hold sequences of different lengths.
            A numpy memmap, or any sized, indexable collection that loads each
            sequence when indexed, is read batch by batch without being copied.
        y : array-like of shape (n_samples, n_tasks) or (n_samples,)
            One column of targets per task, or a 1-D array for a single task; a
            pandas DataFrame's columns name the tasks. Class labels for a
            classifier, numbers for a regressor, per-step label sequences for the
            tagger: see the estimator's docstring.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sequence in every task's loss.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            If a task's loss becomes NaN or infinite (naming the task), unless
            ``early_stopping=True`` and an epoch was completed: its weights are
            then restored, with a ``ConvergenceWarning``.

        Warns
        -----
        ConvergenceWarning
            When ``max_iter`` epochs ran and the last ``n_iter_no_change`` of them
            still lowered the loss by more than 5 % of the whole fit's decrease, or
            when ``max_iter`` is no more than ``n_iter_no_change`` (too few epochs
            for the stopping rule to judge).
        UserWarning
            When every sequence has fewer time steps than features per step: the
            sign of an aeon or sktime array passed without transposing.

        Notes
        -----
        A ``KeyboardInterrupt`` during ``fit`` stops training and leaves a usable
        model, as in skorch; ``n_iter_`` and ``history_`` count the epochs
        completed. With ``warm_start=True``, a fit that fails in any other way
        leaves the model exactly as it was before the call.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        incremental: bool,
        classes: Any = None,
    ) -> Any:
        validate_params(self)
        name = type(self).__name__
        if self.scoring is not None and not self.early_stopping and not incremental:
            raise ValueError(
                f"scoring={self.scoring!r} is computed each epoch on the validation "
                "split, which only early stopping holds out: set early_stopping=True "
                "(or 'per_task'), or score after fitting with sk_mtgru.metrics."
            )
        continuing = hasattr(self, "net_") and (incremental or self.warm_start)
        if continuing:
            check_feature_names(getattr(self, "feature_names_in_", None), X, name)
        X_checked, width_2d = check_sequences(
            X, estimator=name, width_2d=self._width_2d if continuing else None
        )
        if not continuing:
            warn_if_transposed(X_checked, name)
        targets = self._fit_targets(y, X_checked, name)
        weights = check_sample_weight(sample_weight, len(X_checked))
        task_names = targets.names or [f"task_{k}" for k in range(targets.n_tasks)]
        task_weights = check_task_weights(self.task_weights, task_names)
        if self.accelerator is not None:
            self._check_accelerated(incremental, continuing)
            device = torch.device(self.accelerator.device)
        else:
            device = self._resolve_device()
        known = None
        if continuing:
            how = "partial_fit" if incremental else "warm_start=True"
            self._check_continuation(X_checked, task_names, how)
            known = self._fitted_encoding()
        elif incremental and classes is not None:
            known = self._given_encoding(classes, targets, task_names)
        groups = self._task_groups(
            X,
            y,
            sample_weight,
            task_names,
            incremental=incremental,
            continuing=continuing,
        )
        unit_weights = self._unit_weights(weights, X_checked)
        encoding, encoded = self._encode(targets, task_names, known, unit_weights)
        loss_weight = self._loss_weight(
            targets, task_names, encoding, encoded, unit_weights, incremental
        )
        dataset = self._training_dataset(
            X_checked, encoded, weights, loss_weight, encoding
        )
        batch_size = (
            self.net_.batch_size
            if incremental and continuing
            else self._batch_size(len(dataset), self.early_stopping and not incremental)
        )
        # What the network takes from the lengths is set for the new network
        # only: a failed fit leaves the fitted model's as it was.
        fitted_lengths = {k: v for k, v in vars(self).items() if k in _FIT_LENGTHS}
        if not continuing:
            self._fit_lengths(sequence_lengths(X_checked))
        try:
            with torch_threads(self._threads(batch_size)):
                net, epochs_before = self._train(
                    dataset,
                    n_features=n_features_of(X_checked),
                    encoding=encoding,
                    task_names=task_names,
                    task_weights=task_weights,
                    device=device,
                    incremental=incremental,
                    continuing=continuing,
                    groups=groups,
                )
        except BaseException:
            for key in _FIT_LENGTHS:
                self.__dict__.pop(key, None)
            self.__dict__.update(fitted_lengths)
            raise
        return self._set_fitted(
            net,
            n_iter=len(net.history) - epochs_before,
            width_2d=width_2d,
            task_names=task_names,
            n_features=n_features_of(X_checked),
            encoding=encoding,
            targets=targets,
            best_epochs=self._best_epochs(net),
            feature_names=feature_names(X),
        )

    def _set_fitted(
        self,
        net: MultiTaskNet,
        *,
        n_iter: int,
        width_2d: int | None,
        task_names: list[str],
        n_features: int,
        encoding: TaskEncoding,
        targets: Targets,
        best_epochs: dict[str, int] | None,
        feature_names: np.ndarray | None = None,
    ) -> Any:
        """Set every fitted attribute: the one place ``fit`` and ``load`` share."""
        self.net_ = net
        set_feature_names(self, feature_names)
        self.n_iter_ = n_iter
        self._width_2d = width_2d
        self.history_ = net.history
        self.task_affinity_ = fit_task_affinity(net.history)
        self.task_names_ = np.asarray(task_names, dtype=object)
        self.n_tasks_ = len(task_names)
        self.n_features_in_ = n_features
        self._one_dimensional_y = targets.one_dimensional
        self._set_encoding(encoding, targets)
        self.best_epochs_ = best_epochs
        return self

    @staticmethod
    def _best_epochs(net: MultiTaskNet) -> dict[str, int] | None:
        """With early stopping: the epoch whose weights each task's head has (and,
        under ``'shared'``, the encoder's); None without."""
        callbacks = dict(net.callbacks_)
        stopping = callbacks.get("early_stopping")
        if stopping is None or getattr(stopping, "best_epoch_", None) is None:
            return None
        shared = int(stopping.best_epoch_)
        per_task = callbacks.get("per_task_best")
        if per_task is None:
            return {"shared": shared, **{str(n): shared for n in net.task_names}}
        return {"shared": shared, **per_task.best_epochs_}

    def _train(
        self,
        dataset: Any,
        *,
        n_features: int,
        encoding: TaskEncoding,
        task_names: list[str],
        task_weights: tuple[float, ...],
        device: torch.device,
        incremental: bool,
        continuing: bool,
        groups: list[list[int]] | None = None,
    ) -> tuple[MultiTaskNet, int]:
        """Train a new net, or continue the fitted one; return it and the number
        of epochs it had before.

        A continued fit is a transaction: ``partial_fit`` trains the fitted net,
        a warm start a new one from its weights and a copy of its history, and if
        either fails (divergence, an interrupt, any error) the fitted net -- its
        weights, optimizer, history and callbacks -- is as it was before the call.
        """
        epochs_before = len(self.net_.history) if continuing else 0
        # Continued training draws new shuffles: the seed moves with the epochs.
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        seed = (seed + epochs_before) % np.iinfo(np.int32).max
        before = None
        if incremental and continuing:
            # The history is shared, not copied (it grows with every call): an
            # epoch only appends to it, so cutting it back restores it.
            history = self.net_.history
            before = copy.deepcopy(self.net_, {id(history): history})
        try:
            with seeded_torch(seed, device):
                if incremental and continuing:
                    net = self.net_
                    net.set_task_weights(task_weights)
                    net.module_.gru_kernel = self.gru_kernel
                    for group in net.optimizer_.param_groups:
                        group["lr"] = self.learning_rate_init
                else:
                    net = self._build_net(
                        n_features=n_features,
                        n_outputs=encoding.n_outputs,
                        task_names=task_names,
                        task_weights=task_weights,
                        device=device,
                        seed=seed,
                        validation=self.early_stopping and not incremental,
                        n_samples=len(dataset),
                        scheduled=not incremental,
                        groups=groups,
                        **self._net_targets(encoding),
                    )
                    net.initialize()
                    if continuing:
                        net.module_.load_state_dict(self.net_.module_.state_dict())
                        net.history = copy.deepcopy(self.net_.history)
                    else:
                        fit_random_features(
                            net.module_, dataset.values, dataset.lengths
                        )
                if getattr(self, "crop_length", None) is None:
                    cache_random_features(net.module_, dataset)
                self._run_epochs(net, dataset, incremental, epochs_before)
        except BaseException:
            if before is not None:
                del before.history[epochs_before:]
                self.net_, self.history_ = before, before.history
            raise
        return net, epochs_before

    def _run_epochs(
        self, net: MultiTaskNet, dataset: Any, incremental: bool, epochs_before: int
    ) -> None:
        """One epoch (``partial_fit``) or up to ``max_iter``; then the divergence,
        interrupt and convergence rules."""
        try:
            net.partial_fit(dataset, epochs=1 if incremental else self.max_iter)
        except TrainingDivergedError as exc:
            self._restore_before_divergence(net, exc)
        else:
            if net.interrupted_:
                if incremental:  # its one epoch did not finish: nothing to keep
                    raise KeyboardInterrupt
                # fit keeps what it trained, as skorch does; the epoch it stopped
                # in did not finish and is not counted
                if net.history and not self._epoch_completed(net.history[-1]):
                    del net.history[-1]
            elif not incremental:
                self._warn_if_not_converged(net, epochs_before)
        finally:
            if isinstance(net, AcceleratedMultiTaskNet):
                net.unwrap()  # after every callback's on_train_end

    def _epoch_completed(self, epoch: dict[str, Any]) -> bool:
        """Whether an epoch of the history ran to its end: its objective (and
        validation loss, with early stopping) were recorded."""
        return "train_objective" in epoch and (
            not self.early_stopping or "valid_loss" in epoch
        )

    def _check_accelerated(self, incremental: bool, continuing: bool) -> None:
        """Raise for what does not combine with ``accelerator``."""
        if incremental or continuing:
            raise ValueError(
                "partial_fit and warm_start=True do not combine with accelerator: "
                "each fit prepares a new network for the processes. Fit once with "
                "max_iter epochs instead."
            )
        balancing = resolve_balancing(self.loss_balancing)
        if balancing.uses_gradients or self.task_affinity_interval is not None:
            raise ValueError(
                "With accelerator, the processes synchronise the gradients of the "
                "whole loss only: gradient-based loss_balancing (gradnorm, pcgrad) "
                "and task affinity, which take each task's gradient apart, are not "
                "available. Set task_affinity_interval=None and use a static or "
                "loss-based balancing."
            )
        if self.early_stopping == "per_task":
            raise ValueError(
                "early_stopping='per_task' does not combine with accelerator; use "
                "early_stopping=True."
            )

    def _warn_if_not_converged(self, net: MultiTaskNet, epochs_before: int) -> None:
        """A ConvergenceWarning when ``max_iter`` epochs ran and the monitored loss
        was still falling -- when the stopping rule did not end the fit."""
        if len(net.history) - epochs_before < self.max_iter:
            return
        rule = dict(net.callbacks_).get("train_loss_stopping")
        if getattr(rule, "stop_after_", None) is not None:
            return  # the rule had judged the fit converged; max_iter cut its cool-down
        monitor = "valid_loss" if self.early_stopping else "train_objective"
        losses = [
            loss for loss in net.history[epochs_before:, monitor] if loss is not None
        ]
        if not losses:
            return
        which = "validation" if self.early_stopping else "training"
        window = min(self.n_iter_no_change, len(losses) - 1)
        before, recent = losses[: len(losses) - window], losses[len(losses) - window :]
        # Still falling: the last epochs lowered the loss by more than tol and by
        # more than a small share of what the whole fit lowered it (the noise of a
        # converged fit's epoch losses is not progress).
        gained = min(before) - min(recent) if recent else 0.0
        if gained > max(self.tol, _STILL_FALLING * (losses[0] - min(before))):
            message = (
                f"ran max_iter={self.max_iter} epochs and the {which} loss was still "
                f"falling (from {min(before):.4g} to {min(recent):.4g} in the last "
                f"{len(recent)} epochs)"
            )
        elif len(losses) <= self.n_iter_no_change:
            # Too few epochs for the stopping rule to see the loss stop falling:
            # it could not have ended the fit (MLPClassifier(max_iter=1) warns too).
            message = (
                f"ran max_iter={self.max_iter} epochs, no more than the "
                f"n_iter_no_change={self.n_iter_no_change} its stopping rule needs "
                f"to see the {which} loss stop falling"
            )
        else:
            return
        warnings.warn(
            f"{type(self).__name__} {message}: the model may not have converged. "
            "Raise max_iter, or learning_rate_init if the loss falls slowly.",
            ConvergenceWarning,
            stacklevel=6,  # the user's call (fit, _fit, _train, _run_epochs, here)
        )

    @staticmethod
    def _restore_before_divergence(
        net: MultiTaskNet, error: TrainingDivergedError
    ) -> None:
        """Bring back early stopping's best weights, or re-raise ``error``."""
        early_stopping = dict(net.callbacks_).get("early_stopping")
        best = getattr(early_stopping, "best_model_weights_", None)
        if early_stopping is None or best is None:
            raise error
        net.module_.load_state_dict(best)
        warnings.warn(
            f"Training diverged: {error.what}. Training stopped there, and the "
            f"weights of epoch {early_stopping.best_epoch_}, the best on the "
            "validation loss, were restored. Lowering learning_rate_init or scaling "
            "the features may let it train longer.",
            ConvergenceWarning,
            stacklevel=6,  # the user's call of fit (fit, _fit, _train, _run_epochs)
        )

    def _parsed_device(self) -> torch.device | None:
        """``device`` as torch's device (None for 'auto'); a ValueError for a
        name torch does not know, or for a device that holds no data."""
        if isinstance(self.device, str) and self.device == "auto":
            return None
        try:
            device = torch.device(self.device)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(
                f"device={self.device!r} is not a device torch knows; use 'cpu', "
                "'cuda', 'cuda:N' or 'auto'."
            ) from exc
        if device.type == "meta":
            raise ValueError(
                "device='meta' holds no data: a model cannot train or predict there. "
                "Use 'cpu', 'cuda', 'cuda:N' or 'auto'."
            )
        return device

    def _resolve_device(self) -> torch.device:
        device = self._parsed_device()
        if device is None:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} but CUDA is not available on this machine; "
                "use device='cpu', or device='auto' to take a GPU only where there is "
                "one."
            )
        return device

    def _build_net(
        self,
        *,
        n_features: int,
        n_outputs: list[int],
        task_names: list[str],
        task_weights: tuple[float, ...],
        device: torch.device,
        seed: int,
        validation: bool,
        n_samples: int | None = None,
        scheduled: bool = True,
        groups: list[list[int]] | None = None,
        **targets: Any,
    ) -> MultiTaskNet:
        """The skorch net for ``n_samples`` sequences (None: a net for loading),
        which set 'auto''s batch size and, when ``scheduled``, plan the
        learning-rate schedule over ``max_iter`` epochs (else, as for
        ``partial_fit``, the rate stays constant); ``targets``: the net's
        ``task_kinds``, ``regression_loss`` and ``target_scales``."""
        target_means = targets.pop("target_means", [math.nan] * len(task_names))
        batch_size = self._batch_size(n_samples, validation)
        steps_per_epoch = None
        if scheduled and n_samples is not None:
            steps_per_epoch = self._steps_per_epoch(n_samples, validation, batch_size)
        callbacks = self._callbacks(
            task_names, target_means, validation, steps_per_epoch
        )
        train_split = None
        if validation:
            train_split = ValidSplit(
                self.validation_fraction, stratified=False, random_state=seed
            )
        optimizer_params = self._optimizer_params(device)
        module, module_params = self._module(n_features, n_outputs, task_names, groups)
        net_class: type[MultiTaskNet] = MultiTaskNet
        accelerated: dict[str, Any] = {}
        if self.accelerator is not None:
            net_class = AcceleratedMultiTaskNet
            accelerated = {
                "accelerator": self.accelerator,
                "unwrap_after_train": False,
                # the first process prints the epochs' table, and only if verbose
                "callbacks__print_log__sink": self.accelerator.print
                if self.verbose
                else quiet,
            }
            # the stopping rules read the processes' mean objective
            callbacks.insert(
                1, ("across_processes", AverageAcrossProcesses(self.accelerator))
            )
        return net_class(
            module=module,
            **{f"module__{key}": value for key, value in module_params.items()},
            criterion=torch.nn.CrossEntropyLoss,
            criterion__reduction="none",
            optimizer=_SOLVERS[self.solver],
            lr=self.learning_rate_init,
            max_epochs=self.max_iter,
            batch_size=batch_size,
            iterator_train=BatchIterator,
            iterator_train__shuffle=True,
            iterator_train__bucketing=self.length_bucketing,
            iterator_train__crop_length=getattr(self, "crop_length", None),
            iterator_valid=BatchIterator,
            train_split=train_split,
            callbacks=callbacks,
            predict_nonlinearity=None,
            verbose=int(self.verbose),
            callbacks__print_log__keys_ignored=self._unprinted(task_names),
            device=str(device),
            task_names=task_names,
            task_weights=task_weights,
            balancing=resolve_balancing(self.loss_balancing),
            affinity_interval=self.task_affinity_interval,
            affinity_measure=self.task_affinity_measure,
            **targets,
            **optimizer_params,
            **accelerated,
        )

    def _unprinted(self, task_names: list[str]) -> list[str]:
        """History keys the ``verbose`` table leaves out, so that it fits a
        terminal: the affinity matrix, and under static weights the weights and
        the objective, which then equal the task weights and ``train_loss``."""
        keys = ["task_affinity"]
        if isinstance(resolve_balancing(self.loss_balancing), StaticWeighting):
            keys += ["train_objective", *(f"weight_{name}" for name in task_names)]
        return keys

    def _n_train(self, n_samples: int | None, validation: bool) -> int | None:
        """The training sequences of ``n_samples``, less the validation split."""
        if n_samples is None or not validation:
            return n_samples
        return n_samples - math.ceil(self.validation_fraction * n_samples)

    def _batch_size(self, n_samples: int | None, validation: bool) -> int:
        """``batch_size``, with 'auto' resolved (:func:`auto_batch_size`) for the
        training sequences of ``n_samples`` (None: unknown, a loaded model)."""
        if self.batch_size == "auto":
            return auto_batch_size(self._n_train(n_samples, validation))
        return int(self.batch_size)

    def _steps_per_epoch(
        self, n_samples: int, validation: bool, batch_size: int
    ) -> int:
        """Optimiser steps an epoch of ``n_samples`` sequences makes in batches of
        ``batch_size`` (per process, with an accelerator)."""
        n_train = self._n_train(n_samples, validation) or 0
        steps = math.ceil(max(n_train, 1) / batch_size)
        if self.accelerator is not None:  # each process steps on its share
            steps = math.ceil(steps / self.accelerator.num_processes)
        return steps

    def _callbacks(
        self,
        task_names: list[str],
        target_means: list[float],
        validation: bool,
        steps_per_epoch: int | None,
    ) -> list[tuple[str, Any]]:
        """The net's callbacks: per-task metrics, balancing, scoring, schedule,
        clipping and the stopping rules, early stopping, the progress bar."""
        callbacks: list[tuple[str, Any]] = [
            ("task_metrics", TaskEpochMetrics(task_names)),
            ("balancing", BalancingEpochEnd()),
        ]
        metrics = resolve_scoring(self.scoring, task_names)
        if validation and metrics:
            callbacks.append(("scoring", TaskEpochScoring(metrics, target_means)))
        callbacks += training_callbacks(
            schedule=self.learning_rate,
            steps_per_epoch=steps_per_epoch,
            max_epochs=self.max_iter,
            max_grad_norm=self.max_grad_norm,
            stop_on_train_loss=steps_per_epoch is not None and not validation,
            patience=self.n_iter_no_change,
            tol=self.tol,
        )
        if validation:
            callbacks.append(
                (
                    "early_stopping",
                    StoppingAfterWarmUp(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=self.tol,
                        threshold_mode="abs",
                        load_best=True,
                        warmup_epochs=LearningRateSchedule.warmup_epochs(
                            self.learning_rate if steps_per_epoch else "constant",
                            self.max_iter,
                        ),
                    ),
                )
            )
            if self.early_stopping == "per_task":
                callbacks.append(("per_task_best", PerTaskBest(task_names, metrics)))
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _optimizer_params(self, device: torch.device) -> dict[str, Any]:
        """The optimizer's parameters for the net (fused where torch has it)."""
        params: dict[str, Any] = {"optimizer__weight_decay": self.alpha}
        if self.solver == "sgd":
            params["optimizer__momentum"] = self.momentum
        if _has_fused_step(_SOLVERS[self.solver], torch.device(device).type):
            params["optimizer__fused"] = True
        return params

    def _check_continuation(
        self, X_checked: Any, task_names: list[str], how: str
    ) -> None:
        """Raise when ``how`` cannot continue the fitted model's training."""
        name = type(self).__name__
        check_n_features(X_checked, self.n_features_in_, name)
        if list(task_names) != list(self.task_names_):
            raise ValueError(
                f"{how} continues the previous fit, which had tasks "
                f"{list(self.task_names_)}; this y has {list(task_names)}. Fit with "
                "warm_start=False to start afresh."
            )
        names, previous = self._fitted_architecture()
        current = tuple(self.get_params()[name] for name in names)
        if previous != current:
            raise ValueError(
                f"{how} cannot continue a fit whose ({', '.join(names)}) were "
                f"{previous} with {current}. Fit with warm_start=False to start "
                "afresh."
            )

    # ------------------------------------------------- hooks of the estimators
    @abstractmethod
    def _fit_targets(self, y: Any, X_checked: Any, name: str) -> Targets:
        """Validated targets, one row per unit the tasks label."""

    @abstractmethod
    def _encode(
        self,
        targets: Targets,
        task_names: list[str],
        known: TaskEncoding | None,
        unit_weights: np.ndarray,
    ) -> tuple[TaskEncoding, np.ndarray]:
        """The targets' encoding and the encoded array, ``(n_units, n_tasks)``;
        ``unit_weights`` are the units' sample weights."""

    @abstractmethod
    def _fitted_encoding(self) -> TaskEncoding:
        """The encoding of the fitted model, which a continued fit keeps."""

    def _given_encoding(
        self, given: Any, targets: Targets, task_names: list[str]
    ) -> Any:
        """An encoding given to ``partial_fit`` (its ``classes``)."""
        raise TypeError(f"{type(self).__name__}.partial_fit takes no classes.")

    @abstractmethod
    def _loss_weight(
        self,
        targets: Targets,
        task_names: list[str],
        encoding: TaskEncoding,
        encoded: np.ndarray,
        unit_weights: np.ndarray,
        incremental: bool,
    ) -> np.ndarray:
        """Each unit's weight in each task's loss, ``(n_units, n_tasks)``."""

    def _net_targets(self, encoding: TaskEncoding) -> dict[str, Any]:
        """What the net is told of the targets: their kinds and scales, and the
        regression tasks' ``loss`` (estimators without one have no such task)."""
        return encoding.net_targets(getattr(self, "loss", "squared_error"))

    @abstractmethod
    def _set_encoding(self, encoding: TaskEncoding, targets: Targets) -> None:
        """Set the fitted attributes that describe the targets."""

    @abstractmethod
    def _predictions(
        self, logits: tuple[torch.Tensor, ...], lengths: np.ndarray
    ) -> Any:
        """``predict``'s output from the heads' outputs (see :meth:`_logits`);
        a :class:`~sk_mtgru.StreamingPredictor` calls it with its own."""

    def _probabilities(
        self, logits: tuple[torch.Tensor, ...], lengths: np.ndarray
    ) -> Any:
        """``predict_proba``'s output from the heads' outputs."""
        raise AttributeError(
            f"{type(self).__name__} predicts values, not class probabilities."
        )

    def _task_groups(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        task_names: list[str],
        *,
        incremental: bool,
        continuing: bool,
    ) -> list[list[int]] | None:
        """The groups of tasks that get an encoder each (None: every task shares
        one). Here always None: estimators with ``task_groups`` override it."""
        return None

    def _unit_weights(self, weights: np.ndarray, X_checked: Any) -> np.ndarray:
        """Each unit's sample weight (here a unit is a sequence)."""
        return weights

    def _training_dataset(
        self,
        X_checked: Any,
        encoded: np.ndarray,
        weights: np.ndarray,
        loss_weight: np.ndarray,
        encoding: TaskEncoding,
    ) -> SequenceDataset:
        """The sequences with their encoded targets and weights, ready to batch."""
        values, lengths = pad_sequences(X_checked)
        return SequenceDataset(
            values, lengths, encoded, sample_weight=weights, loss_weight=loss_weight
        )

    def _fit_lengths(self, lengths: np.ndarray) -> None:
        """Note what a new fit's network takes from its sequences' lengths
        (nothing here)."""

    @abstractmethod
    def _module(
        self,
        n_features: int,
        n_outputs: list[int],
        task_names: list[str],
        groups: list[list[int]] | None = None,
    ) -> tuple[type[torch.nn.Module], dict[str, Any]]:
        """The torch module's class and its parameters; ``groups``: the task
        groups that get an encoder each (None: one encoder for every task)."""

    @abstractmethod
    def _fitted_architecture(self) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        """Names and fitted values of the parameters that shape the network."""

    # --------------------------------------------------------------- prediction
    def _logits(self, X: Any) -> tuple[tuple[torch.Tensor, ...], np.ndarray]:
        """Each task's head outputs for every sequence (every step, when
        labelling), and the sequences' lengths."""
        check_is_fitted(self)
        name = type(self).__name__
        check_feature_names(getattr(self, "feature_names_in_", None), X, name)
        X_checked, _ = check_sequences(X, estimator=name, width_2d=self._width_2d)
        check_n_features(X_checked, self.n_features_in_, name)
        return self._outputs(X_checked)

    def _outputs(self, X_checked: Any) -> tuple[tuple[torch.Tensor, ...], np.ndarray]:
        """The heads' outputs for checked sequences, in batches, and their lengths."""
        values, lengths = pad_sequences(X_checked)
        dataset = SequenceDataset(values, lengths)
        batch_size = max(self.net_.batch_size, _MIN_PREDICT_BATCH_SIZE)
        iterator = BatchIterator(dataset, batch_size=batch_size)
        module = self.net_.module_
        if module.training:  # eval() walks every submodule: skip it when set
            module.eval()
        device = self.net_.device
        outputs: list[tuple[torch.Tensor, ...]] = []
        with torch.inference_mode(), torch_threads(self._threads(batch_size)):
            for x, _ in iterator:
                logits = module(x["x"].to(device), x["lengths"].to(device))
                outputs.append(tuple(t.to("cpu") for t in logits))
        if len(outputs) > 1 and self._per_step:  # pad the batches to one length
            longest = max(part[0].shape[1] for part in outputs)
            outputs = [
                tuple(F.pad(t, (0, 0, 0, longest - t.shape[1])) for t in part)
                for part in outputs
            ]
        logits = tuple(torch.cat(parts) for parts in zip(*outputs))
        check_finite_outputs(logits)
        return logits, lengths

    def _threads(self, batch_size: int) -> int | None:
        """The torch threads a fit or prediction in batches of ``batch_size``
        runs on (None: torch's setting); see :mod:`sk_mtgru._threads`."""
        return resolve_threads(
            self.n_threads,
            hidden_size=self.hidden_size,
            directions=2 if self.bidirectional else 1,
            batch_size=batch_size,
        )

    # ------------------------------------------------------------------ scoring
    def _score(self, X: Any, y: Any, sample_weight: Any) -> float:
        """``score``'s one rule for every estimator: the mean over tasks of each
        task's accuracy (classes) or R² (values), each on the units labelled for
        it; a task with none is left out, and no labelled task at all is an
        error. ``y`` has the tasks of ``fit``, with the same names if named."""
        check_is_fitted(self)
        predictions = self.predict(X)
        name = type(self).__name__
        targets = self._fit_targets(y, predictions, name)
        if targets.n_tasks != self.n_tasks_:
            raise ValueError(
                f"Y has {targets.n_tasks} task(s) but {name} was fitted with "
                f"{self.n_tasks_} ({list(self.task_names_)}); pass the same tasks."
            )
        if targets.names is not None and not self._one_dimensional_y:
            if list(targets.names) != list(self.task_names_):
                raise ValueError(
                    f"Y's columns {list(targets.names)} differ from the tasks seen "
                    f"at fit {list(self.task_names_)}; pass them with the same "
                    "names, in the same order."
                )
        weights = None
        if sample_weight is not None:
            per_sequence = check_sample_weight(sample_weight, len(predictions))
            weights = self._unit_weights(per_sequence, predictions)
        units = self._score_units(predictions)
        scores = []
        kinds = self._fitted_encoding().kinds
        for k, (column, kind) in enumerate(zip(targets.columns, kinds)):
            if kind == "regression":
                true = numeric_column(column, str(self.task_names_[k]), name)
                scores.append(r2_of_labelled(true, units[:, k].astype(float), weights))
            else:
                scores.extend(
                    _per_task_accuracy(
                        [column], [units[:, k]], weights, self.missing_label
                    )
                )
        return _mean_of_labelled_tasks(np.array(scores))

    @abstractmethod
    def _score_units(self, predictions: Any) -> np.ndarray:
        """``predict``'s output as one row per unit and a column per task."""

    def save(self, path: Any) -> None:
        """Write the fitted model to ``path`` in a safe format, without pickle.

        The weights go in a safetensors file, everything else (parameters, each
        task's classes or target scaling, task names, the format version and the
        versions of sk_mtgru, torch, skorch and scikit-learn) in JSON inside it.
        :func:`sk_mtgru.load` reads it back without executing anything from the file,
        so such files can be shared where pickles (and joblib files) must not be
        loaded from untrusted sources. The optimizer's state and the per-batch
        history are not kept. Needs the ``safetensors`` package. To keep a
        ``Pipeline`` of :class:`~sk_mtgru.SequenceScaler` and this model, save the
        pipeline with :func:`sk_mtgru.save`.

        Parameters
        ----------
        path : str or path-like
            Where to write; by convention ending in ``.safetensors``.

        See Also
        --------
        sk_mtgru.load : Read such a file.
        sk_mtgru.save : The same for a pipeline of scalers and a model.
        """
        save(self, path)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        return tags
