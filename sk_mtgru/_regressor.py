"""MultiTaskGRURegressor: numbers per sequence for every target."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import RegressorMixin

from ._base import _BASE_CONSTRAINTS
from ._regression import (
    REGRESSION_LOSSES,
    RegressionTargetsMixin,
    check_regression_targets,
)
from ._sequence import SEQUENCE_NETWORK_CONSTRAINTS, SequenceLevelGRU
from ._targets import Targets
from ._validation import StrOptions

__all__ = ["MultiTaskGRURegressor"]


class MultiTaskGRURegressor(RegressorMixin, RegressionTargetsMixin, SequenceLevelGRU):
    """Multi-target sequence regressor: a shared GRU encoder with one head per target.

    Two 1-D convolutions read each sequence (the second one every other step), a
    GRU reads their outputs, and the mean and the maximum of the GRU's outputs over
    the sequence's real steps -- beside the input's own per-channel statistics and
    the log of its length -- feed one linear head per target: the network of
    :class:`MultiTaskGRUClassifier`, with the same defaults, predicting numbers.
    Each target is standardised internally (by its mean and standard deviation at
    the first fit) and predictions are mapped back, so no
    ``TransformedTargetRegressor`` is needed. Training minimises the weighted sum
    of the targets' mean squared errors on that scale (or Huber losses, ``loss``),
    ``sum_k task_weights[k] * loss_k``, with skorch's training loop. A missing
    target (NaN or None) is left out of that target's loss only.

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
    conv_dilation : int, default=1
        Growth of the filters' dilation from one convolution to the next:
        convolution ``i`` (from 0) spaces its taps ``conv_dilation ** i`` steps
        apart, as WaveNet's dilated stacks do, so that the steps one output reads
        grow exponentially with ``conv_layers`` (1: every filter reads
        neighbouring steps).
    input_statistics : bool or 'rich', default=True
        Whether each head also reads the per-channel mean, standard deviation,
        minimum and maximum of the sequence (as given to ``fit``, e.g. after a
        ``SequenceScaler``) and the log of its length, which pooling over steps
        cannot see. 'rich' adds per channel the 10th, 50th and 90th percentiles,
        the mean absolute change between steps, the slope and the lag-1
        autocorrelation -- what a linear model on summary statistics reads
        (``StreamingPredictor`` keeps a stream's steps for its percentiles).
    random_features : int, default=0
        Random-convolution features each head also reads, as MiniRocket computes
        them (Dempster et al., KDD 2021): 84 fixed kernels of 9 steps at dilations
        up to the training sequences' median length, each reading a random subset
        of the channels, and the proportion of steps where each output exceeds a
        bias set from a training sequence. A linear "wide" path beside the GRU's,
        for shape-based series where convolution-first methods lead. Rounded to a
        multiple of 84; 0 (none) by default. About 10000 is MiniRocket's count.
        A fit computes them once for its sequences (each batch, with
        ``crop_length`` or ``task_groups``); ``StreamingPredictor`` and
        ``to_onnx`` refuse such a model.
    crop_length : int or None, default=None
        Train on random crops: each epoch, every sequence longer than
        ``crop_length`` steps is replaced by a window of that many steps at a
        random offset, so that a long recording is many training examples, not
        one. ``predict`` and ``predict_proba`` then read windows of
        ``crop_length`` steps every ``crop_length // 2`` steps (and one ending at
        the sequence's end) and average their predictions. None trains
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
    task_groups : None, 'auto' or list of lists, default=None
        Which tasks share an encoder. None: every task shares one. A list of
        groups of task names or indices (``[["exercise", "side"],
        ["participant"]]``): each group gets an encoder of its own, with the
        architecture above, and a task alone in its group is a single-task
        network; every task must be in exactly one group. 'auto': the groups
        are chosen as TAG (Fifty et al., NeurIPS 2021) chooses them -- a joint
        warm-up fit of a tenth of ``max_iter`` epochs (at least 3) measures the
        lookahead task affinity, and the partition of the tasks with the largest
        total affinity within its groups is trained (see
        :func:`~sk_mtgru.model_selection.recommend_task_groups`, which gives
        them without fitting the model). The groups trained are in
        ``task_groups_``. ONNX export, safe files and ``StreamingPredictor``
        keep the groups.
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
    task_affinity_interval : int or None, default=None
        Measure task affinity every this many training batches (None: never, at
        no cost), averaged over each epoch's measured batches in ``history_`` as
        ``task_affinity`` and over the fit as ``task_affinity_``. Measured every
        10 batches, the lookahead costs 38 % more fit time, the cosine 3 %
        (``benchmarks/results/affinity_cost.txt``).
        :func:`~sk_mtgru.model_selection.recommend_task_groups` measures it
        without fitting the model.
    task_affinity_measure : {'lookahead', 'cosine'}, default='lookahead'
        What task affinity measures. 'lookahead' (TAG, Fifty et al., 2021): entry
        ``[i, j]`` is ``1 - L_j(after a gradient step on task i) / L_j(before)``,
        the step taken on the shared encoder's parameters with the learning rate
        ``learning_rate_init``, on the batch -- positive when training task ``i``
        lowers task ``j``'s loss, negative when it raises it; not symmetric. It
        costs one backward pass through the encoder and one forward pass per task
        on each measured batch. 'cosine': the cosine similarity of each pair of
        tasks' gradients on the shared encoder's output (symmetric, 1 on the
        diagonal), cheaper.
    loss : {'squared_error', 'huber'}, default='squared_error'
        Each target's loss, on the standardised scale: the squared error, or the
        Huber loss with ``delta=1`` (quadratic within one standard deviation of
        the target, linear beyond), which outliers pull less.
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
    batch_size : int or 'auto', default='auto'
        Sequences per training batch. 'auto' is ``min(32, max(8, n // 8))`` for
        ``n`` training sequences: batches of 32 from 256 sequences on, smaller
        below so that small data get at least 8 optimizer steps an epoch (batches
        of 8 under 64 sequences); see the :ref:`tuning guide <step_budget>`.
        Prediction uses batches of at least 256.
    length_bucketing : bool, default=True
        Batch training sequences of similar lengths together (the batches' order
        is still shuffled, and every sequence is seen once per epoch), so that
        batches of sequences of different lengths are padded, and run, to fewer
        steps. No effect when all sequences have one length.
    gru_kernel : {'auto', 'torch', 'sk_mtgru'}, default='auto'
        Which implementation trains the GRUs. 'torch' is ``torch.nn.GRU``'s own;
        'sk_mtgru' is the package's, with a hand-written backward pass through time that
        computes the weight gradients of all steps at once -- faster than ``nn.GRU``'s
        on the CPU (figures on the :ref:`benchmarks <benchmarks>` page) -- and needs no
        packing for sequences of different lengths in either direction. Its time
        loops run compiled in C where a C compiler is (built once per machine, see
        :doc:`/install`), in Python elsewhere. Both read the
        same parameters, so the choice can be changed on a fitted model, and results
        agree up to float rounding (dropout between stacked layers draws different
        masks). 'auto' uses 'sk_mtgru' to train on the CPU and 'torch' otherwise: for
        prediction, and on a GPU, where cuDNN fuses the recurrence.
    max_iter : int, default=100
        Most epochs (passes over the training data); the learning-rate schedule is
        spread over them. The name is ``MLPClassifier``'s, which also counts epochs
        for its stochastic solvers; it is skorch's ``max_epochs``.
    early_stopping : bool or 'per_task', default=False
        Whether to hold out ``validation_fraction`` of the training sequences and
        stop when their loss (the weighted sum over tasks) has not improved by at
        least ``tol`` for ``n_iter_no_change`` epochs; the weights of the best epoch
        are restored. Without early stopping, training stops when the training
        loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, as in
        ``MLPClassifier``. ``'per_task'`` stops the same way, then gives each
        task its own parameters (its head, and its private layers, attention
        scorer or gate) from the epoch of that task's lowest validation loss,
        beside the shared encoder of the best combined loss (``best_epochs_``
        says which epochs). It costs a copy of a task's own parameters whenever
        its loss improves; it helps when tasks overfit at different times -- a
        small or noisy task peaks early while the others still improve -- and
        helps less when the encoder has moved far from what an early head was
        trained to read.
    scoring : None, str, list or dict, default=None
        Metrics computed on the validation split after every epoch, into
        ``history_`` as ``valid_<metric>_<task>``: a scikit-learn scorer name
        (``'balanced_accuracy'``, ``'roc_auc'``, ``'r2'``,
        ``'neg_mean_absolute_error'``, ...) for every task, a list of names, or a
        dict keyed by task name. Greater is better, as in scikit-learn. With
        ``early_stopping='per_task'``, a task's first metric chooses its best
        epoch. Needs ``early_stopping``, which holds the validation split out.
    validation_fraction : float, default=0.1
        Fraction of the training sequences held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of the stopping rule, in epochs.
    tol : float, default=1e-4
        Smallest decrease of the loss the stopping rule watches (the validation
        loss with early stopping, else the training loss) that counts as an
        improvement.
    device : str or torch.device, default='cpu'
        Where to train: 'cpu', 'cuda' (or 'cuda:N'), a ``torch.device``, or 'auto'
        (CUDA when available).
        A model trained on a GPU predicts on a CPU-only machine after loading.
    accelerator : accelerate.Accelerator or None, default=None
        Train data-parallel through Hugging Face Accelerate: run the script with
        ``accelerate launch`` (or ``torchrun``) and give each process an
        ``Accelerator``; each trains on its share of every epoch's batches and the
        gradients are averaged, so every process ends with the same model. Mixed
        precision on GPUs comes from the accelerator (``mixed_precision='bf16'``).
        The accelerator places the model: ``device`` is not read. Not with
        ``partial_fit`` or ``warm_start``, nor with gradient-based
        ``loss_balancing`` or task affinity (set ``task_affinity_interval=None``),
        which take each task's gradient apart. The accelerator is not saved in a
        safe file.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights' initialisation, shuffling, dropout and the validation
        split. With an int, two fits on a CPU give identical models. torch's global
        random state is restored after ``fit``.
    n_threads : 'auto', int or None, default='auto'
        Threads torch runs on during ``fit`` and ``predict``, set for the call
        only (the process keeps its own setting). 'auto': one thread when the
        GRU's per-step product is small -- a second thread measured no faster
        there, and threads of several fits on one machine slow each other down
        severalfold -- and torch's own setting (one per core) for large networks
        and batches. None leaves torch's setting as it is.
    verbose : int, default=0
        0 is silent; 1 or more shows a progress bar and a table per epoch.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` continues training the current
        weights for ``max_iter`` more epochs (with a fresh optimizer, as in
        ``MLPClassifier``), provided the architecture, features, tasks and classes
        are unchanged. Labels not seen in the first fit are an error.

    Attributes
    ----------
    n_tasks_ : int
        Number of targets (each a task).
    task_names_ : ndarray of str
        Task names: a DataFrame's columns (or a named Series' name), else
        ``'task_0'``, ``'task_1'``, ...
    n_features_in_ : int
        Features per time step seen during ``fit`` (1 for a 2-D ``X`` of univariate
        sequences).
    feature_names_in_ : ndarray of str
        Names of the features per step seen during ``fit``: the columns of an
        (instance, time) frame or of a list of frames. Defined only when they
        are all strings; ``predict`` then refuses other names or another order.
    n_iter_ : int
        Number of epochs the last ``fit`` ran.
    task_affinity_ : ndarray of shape (n_tasks, n_tasks) or None
        Task affinity (see ``task_affinity_measure``) averaged over the fit's
        measured batches: row ``i`` says how training task ``i`` moves each task.
        High for related tasks, near 0 for unrelated ones, negative for
        conflicting ones. None when ``task_affinity_interval=None``.
    history_ : skorch.History
        Per epoch: ``train_loss`` (the weighted total), ``train_loss_<task>`` (on
        the standardised scale) and ``train_mse_<task>`` (the mean squared error
        in the target's units) for each target (averaged over the epoch's batches
        while training), ``dur``; with early stopping also the ``valid_*``
        figures. Index it like ``history_[:, 'train_mse_task_0']``.
    task_groups_ : list of list of str
        The groups of task names that got an encoder each (one group of every
        task when they all share one): ``task_groups`` resolved.
    best_epochs_ : dict or None
        With early stopping, the epoch (counted from 1) whose weights each task's
        head has, by task name, and under ``'shared'`` the encoder's; None
        without.
    net_ : skorch.NeuralNet
        The trained skorch net; its ``module_`` is the torch module.

    See Also
    --------
    MultiTaskGRUClassifier : The same network for class labels.
    sklearn.neural_network.MLPRegressor : The parameter names followed here.
    SequenceScaler : Standardises sequences' features before this estimator.

    Notes
    -----
    ``score`` is the coefficient of determination R² of each target averaged
    uniformly over the targets, as scikit-learn's multi-output regressors report
    it; each target is scored on the rows where it is known.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mtgru import MultiTaskGRURegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 12, 3))  # 40 sequences, 12 steps, 3 features
    >>> Y = np.column_stack([X[:, :, 0].sum(1), 100 + 10 * X[:, :, 1].mean(1)])
    >>> reg = MultiTaskGRURegressor(hidden_size=8, max_iter=3, random_state=0)
    >>> reg.fit(X, Y).predict(X).shape
    (40, 2)
    >>> round(float(reg.predict(X)[:, 1].mean()) / 100)  # in the targets' units
    1
    """

    _parameter_constraints: dict = (
        _BASE_CONSTRAINTS
        | SEQUENCE_NETWORK_CONSTRAINTS
        | {"loss": [StrOptions(set(REGRESSION_LOSSES))]}
    )

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
        conv_dilation: int = 1,
        input_statistics: bool | str = True,
        random_features: int = 0,
        crop_length: int | None = None,
        sharing: str = "hard",
        n_experts: int | None = None,
        task_groups: Any = None,
        task_weights: Any = None,
        loss_balancing: Any = None,
        task_affinity_interval: int | None = None,
        task_affinity_measure: str = "lookahead",
        loss: str = "squared_error",
        solver: str = "adamw",
        learning_rate_init: float = 3e-3,
        learning_rate: str = "one_cycle",
        max_grad_norm: float | None = 1.0,
        momentum: float = 0.9,
        alpha: float = 1e-2,
        batch_size: int | str = "auto",
        length_bucketing: bool = True,
        gru_kernel: str = "auto",
        max_iter: int = 100,
        early_stopping: bool | str = False,
        scoring: Any = None,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        device: str = "cpu",
        accelerator: Any = None,
        random_state: Any = None,
        n_threads: Any = "auto",
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
        self.conv_dilation = conv_dilation
        self.input_statistics = input_statistics
        self.random_features = random_features
        self.crop_length = crop_length
        self.sharing = sharing
        self.n_experts = n_experts
        self.task_groups = task_groups
        self.task_weights = task_weights
        self.loss_balancing = loss_balancing
        self.task_affinity_interval = task_affinity_interval
        self.task_affinity_measure = task_affinity_measure
        self.loss = loss
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
        self.scoring = scoring
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.accelerator = accelerator
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start

    def _fit_targets(self, y: Any, X_checked: Any, name: str) -> Targets:
        return check_regression_targets(y, len(X_checked), estimator=name)

    # --------------------------------------------------------------- prediction
    def predict(self, X: Any) -> np.ndarray:
        """Predicted value of every target.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.

        Returns
        -------
        Y_pred : ndarray of shape (n_samples, n_targets), or (n_samples,)
            Predictions in the targets' units; 1-D when ``y`` was 1-D at fit.
        """
        return self._predictions(*self._logits(X))

    def _predictions(
        self, logits: tuple[torch.Tensor, ...], lengths: np.ndarray
    ) -> np.ndarray:
        Y_pred = self._unscale(logits)
        return Y_pred[:, 0] if self._one_dimensional_y else Y_pred

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of each target, averaged uniformly over the targets.

        Each target is scored on the rows where it is known (not NaN); a target
        with no value in ``y`` is left out of the mean.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like of shape (n_samples, n_targets) or (n_samples,)
            True values, with the targets of ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the sequences.

        Returns
        -------
        score : float
            The mean over tasks (targets) of each one's score.
        """
        return self._score(X, y, sample_weight)
