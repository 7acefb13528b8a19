"""MultiTaskGRUClassifier: the scikit-learn estimator around the skorch net."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit

from ._data import BatchIterator, SequenceDataset, pad_sequences
from ._gru import GRU_KERNELS
from ._module import SHARINGS, SUMMARIES, MultiTaskGRU
from ._net import (
    BalancingEpochEnd,
    MultiTaskNet,
    TaskEpochMetrics,
    last_task_affinity,
)
from ._targets import (
    check_targets,
    class_weights,
    decode_predictions,
    encode_known,
    encode_targets,
    loss_weights,
)
from ._training import SCHEDULES, training_callbacks
from ._validation import (
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
from ._windows import window_starts
from .balancing import ALIASES, LossBalancing, resolve_balancing
from .exceptions import TrainingDivergedError
from .metrics import _mean_of_labelled_tasks, _per_task_accuracy

__all__ = ["MultiTaskGRUClassifier"]

_SOLVERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


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

# Parameters that shape the classifier's network and that the tagger, whose heads
# read every step, does not have (in the order _fitted_architecture reports them).
_SEQUENCE_NETWORK = (
    "summary",
    "task_layers",
    "conv_layers",
    "conv_channels",
    "conv_kernel_size",
    "conv_stride",
    "input_statistics",
    "sharing",
    "n_experts",
)

# Inference batches hold no activations for backpropagation, so they can be larger
# than training batches.
_MIN_PREDICT_BATCH_SIZE = 256


@contextmanager
def _seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
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


def _overlapping_windows(
    X: Any, width: int
) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Windows of ``width`` steps every ``width // 2`` steps (and one ending at each
    sequence's end) of every sequence longer than ``width``; shorter ones whole.

    Returns each window's sequence index and the windows, or ``(None, [])`` when no
    sequence is longer than ``width``.
    """
    lengths = sequence_lengths(X)
    if int(lengths.max()) <= width:
        return None, []
    step = max(width // 2, 1)
    owners, windows = [], []
    for i, length in enumerate(lengths.tolist()):
        sequence = np.asarray(X[i])
        starts = window_starts(length, width, step) if length > width else [0]
        owners += [i] * len(starts)
        windows += [sequence[start : start + width] for start in starts]
    return np.asarray(owners), windows


def _mean_probability_logits(
    logits: tuple[torch.Tensor, ...], owners: np.ndarray, n_sequences: int
) -> tuple[torch.Tensor, ...]:
    """Per sequence, the log of its windows' mean class probabilities: logits
    whose softmax is that mean."""
    index = torch.as_tensor(owners)
    counts = torch.bincount(index, minlength=n_sequences).to(torch.float64)
    result = []
    for task_logits in logits:
        probabilities = torch.softmax(task_logits.double(), dim=1)
        total = torch.zeros(n_sequences, probabilities.shape[1], dtype=torch.float64)
        total.index_add_(0, index, probabilities)
        result.append(torch.log(total / counts[:, None]))
    return tuple(result)


def _balanced_entries(class_weight: Any) -> list[Any]:
    """The entries of a ``class_weight`` specification that may say 'balanced'."""
    if isinstance(class_weight, str):
        return [class_weight]
    if isinstance(class_weight, dict):
        return [v for v in class_weight.values() if isinstance(v, str)]
    if isinstance(class_weight, (list, tuple)):
        return [v for v in class_weight if isinstance(v, str)]
    return []


class MultiTaskGRUClassifier(ClassifierMixin, BaseEstimator):
    """Multi-task sequence classifier: a shared GRU encoder with one head per task.

    Two 1-D convolutions read each sequence (the second one every other step), a
    GRU reads their outputs, and the mean and the maximum of the GRU's outputs over
    the sequence's real steps -- beside the input's own per-channel statistics and
    the log of its length -- feed one linear softmax head per task. Training
    minimises the weighted sum of the tasks' cross-entropies, ``sum_k
    task_weights[k] * loss_k``, with skorch's training loop: AdamW with weight
    decay, a one-cycle learning-rate schedule, gradient-norm clipping, and a stop
    when the training loss stops falling. Each of these defaults was chosen on the
    package's accuracy suite (see the :ref:`benchmarks <benchmarks>`); each is a
    parameter.

    **Axis order.** A 3-D ``X`` is ``(n_samples, n_timesteps, n_features)``: batch
    first, channels last, as in Keras and ``torch.nn.GRU(batch_first=True)``. aeon and
    sktime use ``(n_samples, n_channels, n_timepoints)``: transpose their arrays with
    ``X.transpose(0, 2, 1)`` first. A 2-D ``X`` is ``(n_samples, n_timesteps)``, one
    univariate sequence per row. A list of ``(n_timesteps_i, n_features)`` arrays
    holds sequences of different lengths; padding never changes a result.

    Parameters
    ----------
    hidden_size : int, default=64
        Size of the GRU's hidden state.
    num_layers : int, default=1
        Number of stacked GRU layers.
    bidirectional : bool, default=False
        Whether the GRU also reads each sequence backwards.
    dropout : float, default=0.0
        Dropout probability between stacked GRU layers and on the summary fed to the
        heads.
    summary : {'mean_max', 'mean', 'max', 'last', 'attention'}, default='mean_max'
        How each sequence is summarised for the heads: the mean and the maximum of
        the GRU's outputs over the real steps, concatenated; either alone; the
        GRU's state at the sequence's real end (both directions' with
        ``bidirectional=True``); or an attention-weighted mean of the outputs (a
        learned score per step, one scorer per task). Padding never enters any.
    task_layers : int, default=0
        GRU layers private to each task, stacked on the shared encoder's outputs:
        with 1 or more, each task reads the shared encoding with its own recurrent
        layers before its summary and head. 0 shares everything but the heads.
    conv_layers : int, default=2
        1-D convolutions over time before the GRU, each followed by a ReLU, as in
        DeepConvLSTM (Ordóñez and Roggen, 2016); 0 lets the GRU read the input.
    conv_channels : int, default=64
        Filters per convolution: the features per step the GRU reads.
    conv_kernel_size : int, default=5
        Width of each filter, in steps; odd.
    conv_stride : int, default=2
        Step of the last convolution: the GRU reads ``ceil(n_timesteps /
        conv_stride)`` steps, which shortens long recordings and speeds training.
    input_statistics : bool, default=True
        Whether each head also reads the per-channel mean, standard deviation,
        minimum and maximum of the sequence (as given to ``fit``, e.g. after a
        ``SequenceScaler``) and the log of its length, which pooling over steps
        cannot see.
    crop_length : int or None, default=None
        Train on random crops: each epoch, every sequence longer than
        ``crop_length`` steps is replaced by a window of that many steps at a
        random offset, so that a long recording is many training examples, not
        one. ``predict`` and ``predict_proba`` then read windows of
        ``crop_length`` steps every ``crop_length // 2`` steps (and one ending at
        the sequence's end) and average their class probabilities. None trains
        and predicts on whole sequences.
    sharing : {'hard', 'mmoe'}, default='hard'
        How the tasks share the encoder: 'hard', one GRU read by every task; or
        'mmoe', a multi-gate mixture of experts (Ma et al., KDD 2018) -- several
        GRUs read each sequence side by side, and each task mixes their summaries
        with weights from a gate of its own (a softmax over the input's
        statistics), so that tasks which compete for one encoder can lean on
        different experts. 'mmoe' does not combine with ``task_layers > 0`` or
        ``summary='attention'``.
    n_experts : int or None, default=None
        Experts of ``sharing='mmoe'``; None gives one per task (at least 2).
    task_weights : None, sequence of float or dict, default=None
        Weight of each task's loss in the training objective. None weighs all tasks
        equally; a sequence gives one non-negative weight per task, in the order of
        ``Y``'s columns; a dict maps task names (see ``task_names_``) to weights, and
        tasks it leaves out keep weight 1. The weights are not normalised.
    loss_balancing : None, str or LossBalancing, default=None
        How the tasks' losses are combined into the training loss, beyond the
        static ``task_weights`` (which every strategy multiplies in): None or
        'static' (the weighted sum), 'uncertainty', 'dwa', 'rlw', 'famo', 'pcgrad',
        'gradnorm', or an instance of a :mod:`sk_mtgru.balancing` class, whose
        hyper-parameters a grid search can reach as ``loss_balancing__<name>``. The
        weights in force are recorded per epoch in ``history_`` as
        ``weight_<task>``.
    task_affinity_interval : int or None, default=10
        Measure task affinity every this many training batches (None: never): the
        cosine similarity of each pair of tasks' gradients on the shared encoder's
        output, averaged over each epoch's measured batches, in ``history_`` as
        ``task_affinity`` and after fit as ``task_affinity_``.
    missing_label : scalar or None, default=None
        A label value that means "no label for this task", besides None and NaN,
        which always do: for instance -1 or ``""``. A sample without a label for a
        task is left out of that task's loss and metrics only, and still trains the
        other tasks.
    class_weight : None, 'balanced', list or dict, default=None
        Weights of each task's classes in its loss, as in scikit-learn's
        classifiers: None (all 1), 'balanced' (each task's classes weighted by
        ``n_labelled / (n_classes * count)``), or one entry per task -- a list, or a
        dict keyed by task name -- each None, 'balanced' or ``{label: weight}``.
        For a 1-D ``y``, a ``{label: weight}`` dict. Multiplies ``sample_weight``.
        'balanced' is not available to ``partial_fit``, which sees one chunk at a
        time: compute the weights and pass them as dicts.
    solver : {'adamw', 'adam', 'sgd'}, default='adamw'
        The torch optimizer.
    learning_rate_init : float, default=3e-3
        The optimizer's learning rate; with a schedule, its peak.
    learning_rate : {'one_cycle', 'cosine', 'constant'}, default='one_cycle'
        The learning-rate schedule over the ``max_iter`` epochs of a fit, stepped
        after every batch: 'one_cycle' warms up from ``learning_rate_init / 25``
        to ``learning_rate_init`` over the first 30 % of the steps and anneals to
        almost 0 (as ``torch.optim.lr_scheduler.OneCycleLR``); 'cosine' anneals
        from ``learning_rate_init`` to 0; 'constant' keeps it. ``partial_fit``
        always trains at ``learning_rate_init``.
    max_grad_norm : float or None, default=1.0
        Clip the norm of all gradients together to this value before each step
        (skorch's ``GradientNormClipping``), the usual guard of recurrent networks
        against exploding gradients; None does not clip.
    momentum : float, default=0.9
        Momentum of the 'sgd' solver; ignored by the others.
    alpha : float, default=1e-2
        Strength of the L2 penalty, passed to the optimizer as ``weight_decay``
        (decoupled from the gradient with ``solver='adamw'``).
    batch_size : int, default=32
        Sequences per training batch. Prediction uses batches of at least 256.
    length_bucketing : bool, default=True
        Batch training sequences of similar lengths together (the batches' order
        is still shuffled, and every sequence is seen once per epoch), so that
        batches of sequences of different lengths are padded, and run, to fewer
        steps. No effect when all sequences have one length.
    gru_kernel : {'auto', 'torch', 'sk_mtgru'}, default='auto'
        Which implementation trains the GRUs. 'torch' is ``torch.nn.GRU``'s own;
        'sk_mtgru' is the package's, with a hand-written backward pass through
        time that computes the weight gradients of all steps at once -- on the CPU
        a batch's forward and backward passes run 1.3 to 1.5 times as fast as
        ``nn.GRU``'s (see the :ref:`benchmarks <benchmarks>`), and it needs no
        packing for sequences of different lengths in either direction. Both
        read the same parameters, so the choice can be changed on a fitted
        model, and results agree up to float rounding (dropout between stacked
        layers draws different masks). 'auto' uses 'sk_mtgru' to train on the
        CPU and 'torch' otherwise: for prediction, and on a GPU, where cuDNN
        fuses the recurrence.
    max_iter : int, default=100
        Most epochs (passes over the training data); the learning-rate schedule is
        spread over them. The name is ``MLPClassifier``'s, which also counts epochs
        for its stochastic solvers; it is skorch's ``max_epochs``.
    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of the training sequences and
        stop when their loss (the weighted sum over tasks) has not improved by at
        least ``tol`` for ``n_iter_no_change`` epochs; the weights of the best epoch
        are restored. Without early stopping, training stops when the training
        loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, as in
        ``MLPClassifier``.
    validation_fraction : float, default=0.1
        Fraction of the training sequences held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of the stopping rule, in epochs.
    tol : float, default=1e-4
        Smallest decrease of the loss the stopping rule watches (the validation
        loss with early stopping, else the training loss) that counts as an
        improvement.
    device : str, default='cpu'
        Where to train: 'cpu', 'cuda' (or 'cuda:N') or 'auto' (CUDA when available).
        A model trained on a GPU predicts on a CPU-only machine after loading.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights' initialisation, shuffling, dropout and the validation
        split. With an int, two fits on a CPU give identical models. torch's global
        random state is restored after ``fit``.
    verbose : int, default=0
        0 is silent; 1 or more shows a progress bar and a table per epoch.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` continues training the current
        weights for ``max_iter`` more epochs (with a fresh optimizer, as in
        ``MLPClassifier``), provided the architecture, features, tasks and classes
        are unchanged. Labels not seen in the first fit are an error.

    Attributes
    ----------
    classes_ : list of ndarray, or ndarray
        The classes of each task; a single array when ``Y`` was 1-D.
    n_tasks_ : int
        Number of tasks.
    task_names_ : ndarray of str
        Task names: a DataFrame's columns (or a named Series' name), else
        ``'task_0'``, ``'task_1'``, ...
    n_features_in_ : int
        Features per time step seen during ``fit`` (1 for a 2-D ``X`` of univariate
        sequences).
    n_iter_ : int
        Number of epochs the last ``fit`` ran.
    task_affinity_ : ndarray of shape (n_tasks, n_tasks) or None
        Cosine similarity of the tasks' gradients on the shared encoder's output,
        averaged over the last epoch's measured batches: near 1 for tasks that pull
        the encoder the same way, near 0 for unrelated ones, negative for
        conflicting ones. None when ``task_affinity_interval=None``.
    history_ : skorch.History
        Per epoch: ``train_loss`` (the weighted total), ``train_loss_<task>`` and
        ``train_acc_<task>`` for each task (averaged over the epoch's batches while
        training, so with dropout active), ``dur``; with early stopping also the
        ``valid_*`` figures. Index it like ``history_[:, 'train_loss']``.
    net_ : skorch.NeuralNet
        The trained skorch net; its ``module_`` is the torch module.

    See Also
    --------
    sklearn.multioutput.MultiOutputClassifier : One independent model per task.
    sklearn.neural_network.MLPClassifier : The parameter names followed here.
    SequenceScaler : Standardises sequences' features before this estimator.

    Notes
    -----
    ``score`` is the mean over tasks of each task's accuracy, not the exact-match
    accuracy of ``MultiOutputClassifier`` (the fraction of samples with every task
    right), which falls quickly with the number of tasks and hides which task is
    learnt. :mod:`sk_mtgru.metrics` has scorers for both and for single tasks.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mtgru import MultiTaskGRUClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 12, 3))  # 40 sequences, 12 steps, 3 features
    >>> Y = np.column_stack([X[:, :, 0].sum(1) > 0, X[:, :, 1].mean(1) > 0]).astype(int)
    >>> clf = MultiTaskGRUClassifier(hidden_size=8, max_iter=3, random_state=0)
    >>> clf.fit(X, Y).predict(X).shape
    (40, 2)
    >>> [p.shape for p in clf.predict_proba(X[:5])]
    [(5, 2), (5, 2)]
    >>> clf.task_names_.tolist()
    ['task_0', 'task_1']
    """

    # Set by fit (declared for type checkers; not class attributes).
    net_: MultiTaskNet
    _width_2d: int | None

    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "summary": [StrOptions(set(SUMMARIES))],
        "task_layers": [Interval(Integral, 0, None, closed="left")],
        "conv_layers": [Interval(Integral, 0, None, closed="left")],
        "conv_channels": [Interval(Integral, 1, None, closed="left")],
        "conv_kernel_size": [Interval(Integral, 1, None, closed="left")],
        "conv_stride": [Interval(Integral, 1, None, closed="left")],
        "input_statistics": ["boolean"],
        "crop_length": [None, Interval(Integral, 1, None, closed="left")],
        "sharing": [StrOptions(set(SHARINGS))],
        "n_experts": [None, Interval(Integral, 2, None, closed="left")],
        "task_weights": [None, "array-like", dict],
        "loss_balancing": [None, StrOptions(set(ALIASES)), LossBalancing],
        "task_affinity_interval": [None, Interval(Integral, 1, None, closed="left")],
        "missing_label": "no_validation",
        "class_weight": [None, StrOptions({"balanced"}), dict, list, tuple],
        "solver": [StrOptions(set(_SOLVERS))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "length_bucketing": ["boolean"],
        "gru_kernel": [StrOptions(set(GRU_KERNELS))],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        hidden_size: int = 64,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        summary: str = "mean_max",
        task_layers: int = 0,
        conv_layers: int = 2,
        conv_channels: int = 64,
        conv_kernel_size: int = 5,
        conv_stride: int = 2,
        input_statistics: bool = True,
        crop_length: int | None = None,
        sharing: str = "hard",
        n_experts: int | None = None,
        task_weights: Any = None,
        loss_balancing: Any = None,
        task_affinity_interval: int | None = 10,
        missing_label: Any = None,
        class_weight: Any = None,
        solver: str = "adamw",
        learning_rate_init: float = 3e-3,
        learning_rate: str = "one_cycle",
        max_grad_norm: float | None = 1.0,
        momentum: float = 0.9,
        alpha: float = 1e-2,
        batch_size: int = 32,
        length_bucketing: bool = True,
        gru_kernel: str = "auto",
        max_iter: int = 100,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        device: str = "cpu",
        random_state: Any = None,
        verbose: int = 0,
        warm_start: bool = False,
    ) -> None:
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.summary = summary
        self.task_layers = task_layers
        self.conv_layers = conv_layers
        self.conv_channels = conv_channels
        self.conv_kernel_size = conv_kernel_size
        self.conv_stride = conv_stride
        self.input_statistics = input_statistics
        self.crop_length = crop_length
        self.sharing = sharing
        self.n_experts = n_experts
        self.task_weights = task_weights
        self.loss_balancing = loss_balancing
        self.task_affinity_interval = task_affinity_interval
        self.missing_label = missing_label
        self.class_weight = class_weight
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.max_grad_norm = max_grad_norm
        self.momentum = momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.length_bucketing = length_bucketing
        self.gru_kernel = gru_kernel
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MultiTaskGRUClassifier:
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
            One column of labels per task (ints, strings, ...), or a 1-D array for a
            single task. A pandas DataFrame's columns name the tasks.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sequence in every task's loss.

        Returns
        -------
        self : MultiTaskGRUClassifier
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
            still lowered the loss by more than 5 % of the whole fit's decrease.
        UserWarning
            When every sequence has fewer time steps than features per step: the
            sign of an aeon or sktime array passed without transposing.

        Notes
        -----
        A ``KeyboardInterrupt`` during ``fit`` stops training and leaves a usable
        model with the epochs completed so far, as in skorch.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> MultiTaskGRUClassifier:
        """Train for one epoch on ``X``, continuing from the current weights.

        For data that arrives in chunks, or does not fit in memory at once: each call
        makes one pass over the given sequences and keeps the optimizer's state
        between calls. The tasks and their classes are fixed by the first call,
        from ``classes`` when given, else from that call's ``y``. ``max_iter`` and
        ``early_stopping`` do not apply.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like of shape (n_samples, n_tasks) or (n_samples,)
            Labels, with the tasks of the first call.
        classes : list of array-like, or array-like, default=None
            All the classes of each task (an array for a 1-D ``y``), when the first
            chunk may not show them all. Only read at the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sequence in every task's loss.

        Returns
        -------
        self : MultiTaskGRUClassifier
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        incremental: bool,
        classes: Any = None,
    ) -> MultiTaskGRUClassifier:
        validate_params(self)
        name = type(self).__name__
        continuing = hasattr(self, "net_") and (incremental or self.warm_start)
        X_checked, width_2d = check_sequences(
            X, estimator=name, width_2d=self._width_2d if continuing else None
        )
        if not continuing:
            warn_if_transposed(X_checked, name)
        targets = self._fit_targets(y, X_checked, name)
        weights = check_sample_weight(sample_weight, len(X_checked))
        task_names = targets.names or [f"task_{k}" for k in range(targets.n_tasks)]
        if continuing:
            how = "partial_fit" if incremental else "warm_start=True"
            classes = self._check_continuation(X_checked, task_names, how)
        elif incremental and classes is not None:
            classes = self._check_given_classes(classes, targets, task_names)
        else:
            classes = None
        classes, codes = self._encode(targets, task_names, classes)
        per_class = self._class_weights(
            targets, task_names, classes, codes, incremental
        )
        dataset = self._training_dataset(X_checked, codes, weights, per_class)
        net, epochs_before = self._train(
            dataset,
            n_features=n_features_of(X_checked),
            classes=classes,
            task_names=task_names,
            incremental=incremental,
            continuing=continuing,
        )
        self.net_ = net
        self.n_iter_ = len(net.history) - epochs_before
        self._width_2d = width_2d
        self.history_ = net.history
        self.task_affinity_ = last_task_affinity(net.history)
        self.task_names_ = np.asarray(task_names, dtype=object)
        self.n_tasks_ = len(task_names)
        self.n_features_in_ = n_features_of(X_checked)
        self._one_dimensional_y = targets.one_dimensional
        self.classes_ = classes[0] if targets.one_dimensional else classes
        return self

    def _encode(
        self, targets: Any, task_names: list[str], classes: list[np.ndarray] | None
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Each task's classes and the targets' integer codes (-1: missing); with
        ``classes`` given, codes in them."""
        if classes is None:
            return encode_targets(targets, task_names, self.missing_label)
        codes = np.column_stack(
            [
                encode_known(column, task_classes, task_name, self.missing_label)
                for column, task_classes, task_name in zip(
                    targets.columns, classes, task_names
                )
            ]
        )
        return classes, codes

    def _class_weights(
        self,
        targets: Any,
        task_names: list[str],
        classes: list[np.ndarray],
        codes: np.ndarray,
        incremental: bool,
    ) -> list[np.ndarray]:
        """Each task's weight per class, from ``class_weight``."""
        if incremental and "balanced" in _balanced_entries(self.class_weight):
            raise ValueError(
                "class_weight='balanced' is not available to partial_fit, which sees "
                "one chunk of the data at a time; compute each task's weights over "
                "all the data and pass them as {label: weight} dicts."
            )
        return class_weights(
            self.class_weight,
            classes,
            codes,
            task_names,
            one_dimensional=targets.one_dimensional,
        )

    def _train(
        self,
        dataset: Any,
        *,
        n_features: int,
        classes: list[np.ndarray],
        task_names: list[str],
        incremental: bool,
        continuing: bool,
    ) -> tuple[MultiTaskNet, int]:
        """Train a new net, or continue the fitted one; return it and the number
        of epochs it had before."""
        task_weights = check_task_weights(self.task_weights, task_names)
        device = self._resolve_device()
        epochs_before = len(self.net_.history) if continuing else 0
        # Continued training draws new shuffles: the seed moves with the epochs.
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        seed = (seed + epochs_before) % np.iinfo(np.int32).max
        with _seeded_torch(seed, device):
            if incremental and continuing:
                net = self.net_
                net.set_task_weights(task_weights)
                net.module_.gru_kernel = self.gru_kernel
                for group in net.optimizer_.param_groups:
                    group["lr"] = self.learning_rate_init
            else:
                net = self._build_net(
                    n_features=n_features,
                    n_classes=[len(c) for c in classes],
                    task_names=task_names,
                    task_weights=task_weights,
                    device=device,
                    seed=seed,
                    validation=self.early_stopping and not incremental,
                    n_samples=None if incremental else len(dataset),
                )
                net.initialize()
                if continuing:
                    net.module_.load_state_dict(self.net_.module_.state_dict())
                    net.history = self.net_.history
            try:
                net.partial_fit(dataset, epochs=1 if incremental else self.max_iter)
            except TrainingDivergedError as exc:
                self._restore_before_divergence(net, exc)
            else:
                if not incremental:
                    self._warn_if_not_converged(net, epochs_before)
        return net, epochs_before

    def _warn_if_not_converged(self, net: MultiTaskNet, epochs_before: int) -> None:
        """A ConvergenceWarning when ``max_iter`` epochs ran and the monitored loss
        was still falling -- when the stopping rule did not end the fit."""
        if len(net.history) - epochs_before < self.max_iter:
            return
        monitor = "valid_loss" if self.early_stopping else "train_objective"
        losses = [
            loss for loss in net.history[epochs_before:, monitor] if loss is not None
        ]
        if len(losses) <= self.n_iter_no_change:
            before, recent = losses[:1], losses[1:]
        else:
            before = losses[: -self.n_iter_no_change]
            recent = losses[-self.n_iter_no_change :]
        # Still falling: the last epochs lowered the loss by more than tol and by
        # more than a small share of what the whole fit lowered it (the noise of
        # a converged fit's epoch losses is not progress).
        if not recent:
            return
        gained = min(before) - min(recent)
        if gained <= max(self.tol, _STILL_FALLING * (losses[0] - min(before))):
            return
        warnings.warn(
            f"{type(self).__name__} ran max_iter={self.max_iter} epochs and the "
            f"{'validation' if self.early_stopping else 'training'} loss was still "
            f"falling (from {min(before):.4g} "
            f"to {min(recent):.4g} in the last {len(recent)} epochs): the model may "
            "not have converged. Raise max_iter, or learning_rate_init if the loss "
            "falls slowly.",
            ConvergenceWarning,
            stacklevel=5,  # the user's call of fit (fit, _fit, _train, here)
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
            stacklevel=5,  # the user's call of fit
        )

    def _resolve_device(self) -> torch.device:
        if isinstance(self.device, str) and self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(
                f"device={self.device!r} is not a device torch knows; use 'cpu', "
                "'cuda', 'cuda:N' or 'auto'."
            ) from exc
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
        n_classes: list[int],
        task_names: list[str],
        task_weights: tuple[float, ...],
        device: torch.device,
        seed: int,
        validation: bool,
        n_samples: int | None = None,
    ) -> MultiTaskNet:
        """The skorch net; ``n_samples`` training sequences plan the learning-rate
        schedule over ``max_iter`` epochs (None: a net for ``partial_fit`` or for
        loading, whose rate stays constant)."""
        callbacks: list[tuple[str, Any]] = [
            ("task_metrics", TaskEpochMetrics(task_names)),
            ("balancing", BalancingEpochEnd()),
        ]
        steps_per_epoch = None
        if n_samples is not None:
            n_train = n_samples
            if validation:
                n_train -= math.ceil(self.validation_fraction * n_samples)
            steps_per_epoch = math.ceil(max(n_train, 1) / self.batch_size)
        callbacks += training_callbacks(
            schedule=self.learning_rate,
            steps_per_epoch=steps_per_epoch,
            max_epochs=self.max_iter,
            max_grad_norm=self.max_grad_norm,
            stop_on_train_loss=n_samples is not None and not validation,
            patience=self.n_iter_no_change,
            tol=self.tol,
        )
        train_split = None
        if validation:
            train_split = ValidSplit(
                self.validation_fraction, stratified=False, random_state=seed
            )
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=self.tol,
                        threshold_mode="abs",
                        load_best=True,
                    ),
                )
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        optimizer_params: dict[str, Any] = {"optimizer__weight_decay": self.alpha}
        if self.solver == "sgd":
            optimizer_params["optimizer__momentum"] = self.momentum
        if _has_fused_step(_SOLVERS[self.solver], torch.device(device).type):
            optimizer_params["optimizer__fused"] = True
        module, module_params = self._module(n_features, n_classes, task_names)
        return MultiTaskNet(
            module=module,
            **{f"module__{key}": value for key, value in module_params.items()},
            criterion=torch.nn.CrossEntropyLoss,
            criterion__reduction="none",
            optimizer=_SOLVERS[self.solver],
            lr=self.learning_rate_init,
            max_epochs=self.max_iter,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_train__shuffle=True,
            iterator_train__bucketing=self.length_bucketing,
            iterator_train__crop_length=getattr(self, "crop_length", None),
            iterator_valid=BatchIterator,
            train_split=train_split,
            callbacks=callbacks,
            predict_nonlinearity=None,
            verbose=int(self.verbose),
            device=str(device),
            task_names=task_names,
            task_weights=task_weights,
            balancing=resolve_balancing(self.loss_balancing),
            affinity_interval=self.task_affinity_interval,
            **optimizer_params,
        )

    def _check_continuation(
        self, X_checked: Any, task_names: list[str], how: str
    ) -> list[np.ndarray]:
        """The classes to keep when ``how`` continues training; errors if it can't."""
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
        return self.classes_ if isinstance(self.classes_, list) else [self.classes_]

    @staticmethod
    def _check_given_classes(
        classes: Any, targets: Any, task_names: list[str]
    ) -> list[np.ndarray]:
        """Validate ``partial_fit``'s ``classes``: all the classes of each task."""
        given = [classes] if targets.one_dimensional else list(classes)
        if len(given) != targets.n_tasks:
            raise ValueError(
                f"classes has {len(given)} entries but y has {targets.n_tasks} "
                "task(s): give the classes of each task (one array for a 1-D y)."
            )
        checked = []
        for name, task_classes in zip(task_names, given):
            unique = np.unique(np.asarray(task_classes))
            if unique.ndim != 1 or len(unique) < 2:
                raise ValueError(
                    f"classes of task {name!r} must list at least 2 distinct labels, "
                    f"got {task_classes!r}."
                )
            checked.append(unique)
        return checked

    # ---------------------------------------- what sequence labelling overrides
    def _fit_targets(self, y: Any, X_checked: Any, name: str) -> Any:
        """Validated targets, one row per unit the tasks label (here a sequence)."""
        return check_targets(y, len(X_checked), estimator=name)

    def _training_dataset(
        self,
        X_checked: Any,
        codes: np.ndarray,
        weights: np.ndarray,
        per_class: list[np.ndarray],
    ) -> SequenceDataset:
        """The sequences with their class codes and loss weights, ready to batch."""
        values, lengths = pad_sequences(X_checked)
        return SequenceDataset(
            values,
            lengths,
            codes,
            sample_weight=weights,
            loss_weight=loss_weights(weights, codes, per_class),
        )

    def _module(
        self, n_features: int, n_classes: list[int], task_names: list[str]
    ) -> tuple[type[torch.nn.Module], dict[str, Any]]:
        """The torch module's class and its parameters."""
        return MultiTaskGRU, {
            "n_features": n_features,
            "n_classes": n_classes,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "summary": self.summary,
            "task_layers": self.task_layers,
            "gru_kernel": self.gru_kernel,
            "conv_layers": self.conv_layers,
            "conv_channels": self.conv_channels,
            "conv_kernel_size": self.conv_kernel_size,
            "conv_stride": self.conv_stride,
            "input_statistics": self.input_statistics,
            "sharing": self.sharing,
            "n_experts": self._n_experts(len(n_classes)),
        }

    def _n_experts(self, n_tasks: int) -> int:
        """``n_experts``, or by default one expert per task (at least 2)."""
        return self.n_experts if self.n_experts is not None else max(n_tasks, 2)

    def _fitted_architecture(self) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        """Names and fitted values of the parameters that shape the network."""
        module = self.net_.module_
        gru = module.gru
        conv = module.conv
        names = ("hidden_size", "num_layers", "bidirectional", *_SEQUENCE_NETWORK)
        if conv is None:  # the convolutions' sizes do not shape this network
            shape = (0, self.conv_channels, self.conv_kernel_size, self.conv_stride)
        else:
            shape = conv.sizes()
        return names, (
            gru.hidden_size,
            gru.num_layers,
            gru.bidirectional,
            module.summary,
            module.task_layers,
            *shape,
            module.input_statistics,
            module.sharing,
            # None (one per task) continues a fit with as many experts as it has;
            # hard sharing ignores n_experts.
            self.n_experts
            if self.n_experts is None or module.sharing == "hard"
            else module.n_experts,
        )

    # --------------------------------------------------------------- prediction
    def _logits(self, X: Any) -> tuple[tuple[torch.Tensor, ...], np.ndarray]:
        """Each task's logits for every sequence (every step, when labelling), and
        the sequences' lengths."""
        check_is_fitted(self)
        name = type(self).__name__
        X_checked, _ = check_sequences(X, estimator=name, width_2d=self._width_2d)
        check_n_features(X_checked, self.n_features_in_, name)
        crop_length = getattr(self, "crop_length", None)
        if crop_length is not None:
            owners, windows = _overlapping_windows(X_checked, crop_length)
            if owners is not None:
                logits, _ = self._logits(windows)
                return _mean_probability_logits(logits, owners, len(X_checked)), (
                    sequence_lengths(X_checked)
                )
        values, lengths = pad_sequences(X_checked)
        dataset = SequenceDataset(values, lengths)
        iterator = BatchIterator(
            dataset, batch_size=max(self.net_.batch_size, _MIN_PREDICT_BATCH_SIZE)
        )
        module = self.net_.module_
        if module.training:  # eval() walks every submodule: skip it when set
            module.eval()
        device = self.net_.device
        outputs: list[tuple[torch.Tensor, ...]] = []
        with torch.inference_mode():
            for x, _ in iterator:
                logits = module(x["x"].to(device), x["lengths"].to(device))
                outputs.append(tuple(t.to("cpu") for t in logits))
        if len(outputs) > 1 and outputs[0][0].dim() == 3:  # per step: pad to one length
            longest = max(part[0].shape[1] for part in outputs)
            outputs = [
                tuple(F.pad(t, (0, 0, 0, longest - t.shape[1])) for t in part)
                for part in outputs
            ]
        logits = tuple(torch.cat(parts) for parts in zip(*outputs))
        # One sum over every logit is finite unless one is not (or they are huge):
        # a cheap test first, the per-sequence one only when it fails.
        if not math.isfinite(sum(float(t.sum()) for t in logits)):
            finite = torch.stack(
                [torch.isfinite(t).flatten(1).all(dim=1) for t in logits]
            ).all(dim=0)
            if not bool(finite.all()):
                bad = torch.nonzero(~finite).flatten()[:5].tolist()
                raise ValueError(
                    f"The network's outputs for sequence(s) {bad} are not finite: "
                    "their values are too large for it (for instance far outside the "
                    "range seen at fit). Scale X as at fit, e.g. with the "
                    "SequenceScaler of the pipeline."
                )
        return logits, lengths

    def predict_proba(self, X: Any) -> list[np.ndarray] | np.ndarray:
        """Class probabilities of every task.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_classes_k), or ndarray
            One array per task, columns in the order of ``classes_[k]``
            (scikit-learn's multi-output convention); a single array when ``Y`` was
            1-D at fit.
        """
        probas = [
            torch.softmax(logits.double(), dim=1).numpy()
            for logits in self._logits(X)[0]
        ]
        return probas[0] if self._one_dimensional_y else probas

    def predict(self, X: Any) -> np.ndarray:
        """Most probable label of every task.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        Y_pred : ndarray of shape (n_samples, n_tasks), or (n_samples,)
            Predicted labels, in the original label values; 1-D when ``Y`` was 1-D
            at fit.
        """
        codes = np.column_stack(
            [logits.argmax(dim=1).numpy() for logits in self._logits(X)[0]]
        )
        classes = [self.classes_] if self._one_dimensional_y else self.classes_
        Y_pred = decode_predictions(classes, codes)
        return Y_pred[:, 0] if self._one_dimensional_y else Y_pred

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over tasks of each task's accuracy.

        This differs from ``MultiOutputClassifier.score``, the exact-match accuracy
        (a sample counts only when every task is right): the mean of per-task
        accuracies degrades gracefully with the number of tasks and gives credit for
        each task learnt. Use :func:`sk_mtgru.metrics.exact_match_scorer` for the
        other. Each task is scored on the samples labelled for it (see
        ``missing_label``); a task with none in ``y`` is left out of the mean.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like of shape (n_samples, n_tasks) or (n_samples,)
            True labels, with the tasks of ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the sequences in each task's accuracy.

        Returns
        -------
        score : float
        """
        Y_pred = self.predict(X)
        name = type(self).__name__
        targets = check_targets(y, len(Y_pred), estimator=name)
        if targets.n_tasks != self.n_tasks_:
            raise ValueError(
                f"Y has {targets.n_tasks} task(s) but {name} was fitted with "
                f"{self.n_tasks_} ({list(self.task_names_)}); pass the same tasks."
            )
        if targets.names is not None and not self._one_dimensional_y:
            if list(targets.names) != list(self.task_names_):
                raise ValueError(
                    f"Y's columns {targets.names} differ from the tasks seen at fit "
                    f"{list(self.task_names_)}; pass them with the same names, in the "
                    "same order."
                )
        weights = (
            None
            if sample_weight is None
            else check_sample_weight(sample_weight, len(Y_pred))
        )
        if Y_pred.ndim == 1:
            Y_pred = Y_pred[:, np.newaxis]
        columns_pred = [Y_pred[:, k] for k in range(self.n_tasks_)]
        scores = _per_task_accuracy(
            targets.columns, columns_pred, weights, self.missing_label
        )
        return _mean_of_labelled_tasks(scores)

    def save(self, path: Any) -> None:
        """Write the fitted model to ``path`` in a safe format, without pickle.

        The weights go in a safetensors file, everything else (parameters, each
        task's classes, task names, the format version and the versions of
        sk_mtgru, torch, skorch and scikit-learn) in JSON inside it.
        :func:`sk_mtgru.load` reads it back without executing anything from the file,
        so such files can be shared where pickles (and joblib files) must not be
        loaded from untrusted sources. The optimizer's state and the per-batch
        history are not kept. Needs the ``safetensors`` package.

        Parameters
        ----------
        path : str or path-like
            Where to write; by convention ending in ``.safetensors``.

        See Also
        --------
        sk_mtgru.load : Read such a file.
        """
        from ._persistence import save

        save(self, path)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        return tags
