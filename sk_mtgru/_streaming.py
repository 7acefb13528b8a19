"""Streaming prediction: a causal model fed its sequence a chunk at a time.

A forward GRU's state after ``t`` steps is all it needs to read step ``t + 1``, and
every summary the models use can be carried forward the same way: the state at the
end ('last'), a running sum ('mean'), a running maximum ('max'), and for
'attention' a running softmax (the largest score so far, the sum of the scores'
exponentials relative to it, and the weighted sum of the outputs). So can the
input's basic summary statistics. :class:`StreamingPredictor` keeps all of that
between calls, so each chunk costs only its own steps. The 'rich' statistics'
percentiles are not running quantities: for those the predictor keeps the steps
read so far and computes them again at each chunk. A network of task groups is
one such encoder per group, each carried on its own.

The convolutional front end reads a few steps past each one, and pads the
sequence's end with zeros: its last outputs change when more steps arrive. The
predictor commits to the GRU only the outputs that no later step can change, keeps
the few input steps they still need, and runs the rest from the committed state
for the current prediction alone -- so every prediction is the one offline
``predict`` makes on the sequence so far.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._base import BaseMultiTaskGRU
from ._data import check_finite_outputs, check_fits
from ._frontend import input_statistics
from ._grouped import GroupedGRU
from ._pipelines import split_scaler_pipeline
from ._random_features import has_random_features

__all__ = ["StreamingPredictor"]


@dataclass
class _Pooled:
    """What the summaries need of one output sequence read so far."""

    total: torch.Tensor  # sum over the steps, float64
    maximum: torch.Tensor
    last: torch.Tensor
    # per task (attention): the largest score, sum of exp(score - largest), and
    # the outputs weighed by those exponentials
    top: list[torch.Tensor] = field(default_factory=list)
    weight: list[torch.Tensor] = field(default_factory=list)
    weighted: list[torch.Tensor] = field(default_factory=list)


@dataclass
class _State:
    """Everything carried from one chunk to the next; replaced, never mutated, so
    a tentative step from it leaves it as it was."""

    n_steps: int = 0  # of the GRU's input committed
    hidden: list[torch.Tensor | None] = field(default_factory=list)
    pooled: list[_Pooled | None] = field(default_factory=list)


@dataclass(frozen=True)
class _Branch:
    """What one encoder carries between chunks: its state, and the input steps its
    convolutional front end still reads (from step ``start`` of the sequence)."""

    pending: np.ndarray
    start: int = 0
    state: _State = field(default_factory=_State)


# What a StreamingPredictor carries from one chunk to the next.
_CARRIED = ("n_steps_seen_", "_branches", "_statistics", "_seen", "_logits")


class StreamingPredictor:
    """Predict as the steps of a sequence arrive, from a fitted causal model.

    Feed the sequence a chunk of steps at a time with :meth:`update`; the
    predictor carries the GRU's state (and every running summary) between calls.
    Each prediction equals what the model's ``predict`` gives on the whole
    sequence so far, however the sequence is cut into chunks. For real-time use:
    activity recognition on a device, alarms on a live recording.

    Parameters
    ----------
    model : estimator of sk_mtgru or Pipeline
        A fitted causal model -- one that reads each sequence forwards only
        (``bidirectional=False``) and has no ``crop_length`` -- or a ``Pipeline``
        of :class:`~sk_mtgru.SequenceScaler` steps ending in one (each chunk is
        scaled as ``predict`` would scale it). For the classifier, regressor and
        ``MultiTaskGRUEstimator`` every summary, front end, private task layers,
        the mixture of experts, both kinds of input statistics and task groups
        (an encoder per group) stream; for the tagger, every layer.

    Attributes
    ----------
    n_steps_seen_ : int
        Steps received since the start (or the last :meth:`reset`).

    Notes
    -----
    A chunk is checked as ``predict`` checks a sequence: finite numbers, within
    float32's range once scaled; a chunk the network cannot read (its outputs
    would not be finite) raises a ``ValueError``, and the predictor stays as it
    was before that chunk, so the next chunk continues from the last good state.

    The basic input statistics are running sums. The 'rich' ones' percentiles
    are not: with ``input_statistics='rich'`` the predictor keeps every step read
    so far and computes them again at each chunk, so memory and a chunk's cost
    grow with the sequence (``benchmarks/results/streaming.txt``).

    One predictor follows one sequence, and is safe to share between threads: a
    lock makes each call whole, so no step is lost. The order in which chunks from
    several threads arrive is theirs to set; for several sequences at once, use
    one predictor per sequence.

    Raises
    ------
    ValueError
        If the model reads sequences backwards (``bidirectional=True``) or
        averages windows (``crop_length``): its predictions depend on steps that
        have not arrived.

    Examples
    --------
    >>> import numpy as np
    >>> import sk_mtgru
    >>> X = np.random.default_rng(0).normal(size=(20, 12, 2))
    >>> Y = np.column_stack([np.arange(20) % 2, np.arange(20) % 3])
    >>> clf = sk_mtgru.MultiTaskGRUClassifier(hidden_size=4, max_iter=2).fit(X, Y)
    >>> stream = sk_mtgru.StreamingPredictor(clf)
    >>> for chunk in np.array_split(X[0], 4):  # steps 0-2, 3-5, 6-8, 9-11
    ...     labels = stream.update(chunk)
    >>> bool((labels == clf.predict(X[:1])).all()), stream.n_steps_seen_
    (True, 12)
    """

    def __init__(self, model: Any) -> None:
        self._scalers, self.estimator = split_scaler_pipeline(
            model, "StreamingPredictor"
        )
        if not isinstance(self.estimator, BaseMultiTaskGRU):
            raise TypeError(
                "StreamingPredictor takes a fitted estimator of sk_mtgru (or a "
                "Pipeline of SequenceScaler steps ending in one); got "
                f"{type(self.estimator).__name__}."
            )
        check_is_fitted(self.estimator)
        name = type(self.estimator).__name__
        if getattr(self.estimator, "crop_length", None) is not None:
            raise ValueError(
                f"This {name} predicts by averaging windows of crop_length steps "
                "over the whole sequence, which cannot be done as steps arrive. "
                "Stream a model fitted with crop_length=None."
            )
        if has_random_features(self.estimator.net_.module_):
            raise ValueError(
                f"This {name} reads random-convolution features of the whole "
                "sequence, which StreamingPredictor does not compute as steps "
                "arrive. Stream a model fitted with random_features=0."
            )
        module = self.estimator.net_.module_
        self._tagger = self.estimator._per_step
        # The encoders, each read on its own: one per task group, else the network.
        encoders = module._branches() if isinstance(module, GroupedGRU) else [module]
        self._encoders = [_Encoder(encoder) for encoder in encoders]
        self._grouped = module if isinstance(module, GroupedGRU) else None
        if module.bidirectional if self._tagger else encoders[0].gru.bidirectional:
            raise ValueError(
                f"This {name} reads each sequence in both directions: its "
                "predictions depend on steps that have not arrived yet. Stream a "
                "model fitted with bidirectional=False."
            )
        module.eval()  # no dropout between the GRU's layers
        self._lock = threading.RLock()
        self.reset()

    # ------------------------------------------------------------------ public
    def reset(self) -> StreamingPredictor:
        """Start a new sequence.

        Returns
        -------
        self : StreamingPredictor
        """
        with self._lock:
            self.n_steps_seen_ = 0
            empty = np.empty((0, self.estimator.n_features_in_), np.float32)
            self._branches = tuple(_Branch(empty) for _ in self._encoders)
            self._statistics: tuple[Any, ...] | None = None
            self._seen = empty  # every step so far, kept for 'rich' statistics only
            self._logits: tuple[torch.Tensor, ...] | None = None
        return self

    def update(self, chunk: Any) -> Any:
        """Read the next steps of the sequence, and predict.

        Parameters
        ----------
        chunk : array-like of shape (n_steps, n_features)
            The steps that arrived, in order; ``(n_steps,)`` for a model of
            univariate sequences. Not modified.

        Returns
        -------
        prediction
            For the tagger, the predictions of the new steps: what ``predict``
            gives for them, ``(n_steps, n_tasks)`` (or ``(n_steps,)``). Otherwise
            the prediction for the whole sequence so far: what ``predict`` gives
            for a batch of that one sequence (one row).
        """
        steps = self._check_chunk(chunk)
        with self._lock:
            # Everything a chunk changes (each replaced, never mutated), restored
            # if the network cannot read the chunk.
            kept = {name: getattr(self, name) for name in _CARRIED}
            try:
                if self._tagger:
                    self._logits = self._tag(steps)
                    self.n_steps_seen_ += len(steps)
                elif len(steps):
                    self._read(steps)
                if self._logits is not None:
                    check_finite_outputs(self._logits)
            except BaseException:
                for name, value in kept.items():
                    setattr(self, name, value)
                raise
            return self.predict()

    def predict(self) -> Any:
        """The prediction after the steps read so far (the tagger: those of the
        last chunk); see :meth:`update`.

        Returns
        -------
        prediction
        """
        return self._decode(self.estimator._predictions)

    def predict_proba(self) -> Any:
        """Class probabilities after the steps read so far, as the estimator's
        ``predict_proba`` gives them for a batch of that one sequence (for the
        tagger: of the last chunk's steps).

        Returns
        -------
        probabilities
        """
        return self._decode(self.estimator._probabilities)

    # ----------------------------------------------------------------- helpers
    def _check_chunk(self, chunk: Any) -> np.ndarray:
        n_features = self.estimator.n_features_in_
        steps = np.asarray(chunk)
        if steps.ndim == 1 and n_features == 1:
            steps = steps[:, None]
        if steps.ndim != 2 or steps.shape[1] != n_features:
            raise ValueError(
                f"A chunk is an array of shape (n_steps, {n_features}): the steps "
                f"that arrived, each with the model's {n_features} features; got "
                f"shape {steps.shape}."
            )
        if not np.issubdtype(steps.dtype, np.number) or np.issubdtype(
            steps.dtype, np.complexfloating
        ):
            raise TypeError(f"A chunk holds real numbers; got dtype {steps.dtype}.")
        if not np.isfinite(steps).all():
            raise ValueError("A chunk holds NaN or infinite values; pass real steps.")
        for scaler in self._scalers:
            if len(steps):
                steps = scaler.transform([steps])[0]
        check_fits(np.asarray(steps, dtype=np.float64))  # as predict checks X
        return steps.astype(np.float32)  # a copy: the caller's array stays as is

    def _decode(self, method: Any) -> Any:
        with self._lock:
            logits = self._logits
        if logits is None:
            raise ValueError(
                "No steps have arrived yet: call update with the first chunk."
            )
        n = logits[0].shape[1] if self._tagger else 1
        result = method(logits, np.array([n]))
        if self._tagger:
            if isinstance(result, dict):
                return {name: value[0] for name, value in result.items()}
            if isinstance(result, list) and len(result) == 1:
                return result[0]
            return [task[0] for task in result]
        return result

    # the tagger ------------------------------------------------------------
    def _tag(self, steps: np.ndarray) -> tuple[torch.Tensor, ...]:
        module = self._encoders[0].module
        branch = self._branches[0]
        hidden = branch.state.hidden or [None] * len(module.grus)
        output = torch.from_numpy(steps)[None]
        per_layer, states = [], []
        with torch.inference_mode():
            for gru, h in zip(module.grus, hidden):
                if len(steps):
                    output, h = gru(output, h)
                else:
                    output = output.new_zeros(1, 0, gru.hidden_size)
                per_layer.append(output)
                states.append(h)
            logits = tuple(
                head(per_layer[layer])
                for head, layer in zip(module.heads, module.layers)
            )
        self._branches = (replace(branch, state=replace(branch.state, hidden=states)),)
        return logits

    # sequence-level models --------------------------------------------------
    def _read(self, steps: np.ndarray) -> None:
        """Take new input steps: update the statistics, then let each encoder
        commit what no later step changes and give its tasks' logits for the
        sequence so far."""
        self.n_steps_seen_ += len(steps)
        statistics = self._input_statistics(steps)
        branches: list[_Branch] = []
        logits: list[torch.Tensor] = []
        with torch.inference_mode():
            for encoder, branch in zip(self._encoders, self._branches):
                branch, encoder_logits = encoder.read(
                    branch, steps, self.n_steps_seen_, statistics
                )
                branches.append(branch)
                logits.extend(encoder_logits)
        self._branches = tuple(branches)
        self._logits = (
            self._grouped._in_task_order(logits) if self._grouped else tuple(logits)
        )

    def _input_statistics(self, steps: np.ndarray) -> torch.Tensor:
        """The input statistics of the sequence so far, ``steps`` included: the
        basic ones as running sums, the 'rich' ones from every step kept."""
        module = self._encoders[0].module
        if module._statistics_kind == "rich":
            self._seen = np.concatenate([self._seen, steps])
            seen = torch.from_numpy(self._seen)[None]
            return input_statistics(seen, torch.tensor([len(self._seen)]), "rich")[0]
        self._statistics = _merge_statistics(
            self._statistics, torch.from_numpy(steps).double()
        )
        return _statistics_tensor(self._statistics)


class _Encoder:
    """Reads one encoder (a :class:`~sk_mtgru._module.MultiTaskGRU`) forwards a
    chunk at a time. It keeps nothing of the stream: each call takes the
    :class:`_Branch` carried so far and returns the next one."""

    def __init__(self, module: Any) -> None:
        self.module = module  # the tagger's network too, read by _tag

    def read(
        self,
        branch: _Branch,
        steps: np.ndarray,
        seen: int,
        statistics: torch.Tensor,
    ) -> tuple[_Branch, tuple[torch.Tensor, ...]]:
        """``branch`` after the new ``steps`` (``seen`` steps in all so far) and
        the logits of the encoder's tasks for the sequence so far."""
        if self.module.conv is None:
            state = self._advance(branch.state, torch.from_numpy(steps)[None])
            branch = replace(branch, state=state)
            return branch, self._heads(state, statistics)
        branch, committed, rest = self._front_end(branch, steps, seen)
        branch = replace(branch, state=self._advance(branch.state, committed))
        tentative = self._advance(branch.state, rest)
        return branch, self._heads(tentative, statistics)

    def _front_end(
        self, branch: _Branch, steps: np.ndarray, seen: int
    ) -> tuple[_Branch, torch.Tensor, torch.Tensor]:
        """The convolutions' new outputs: those final now, and the rest (which
        depend on the zeros past the sequence's current end)."""
        conv = self.module.conv
        stride, reach = conv.stride, conv.reach  # reach: steps an output reads ahead
        pending = np.concatenate([branch.pending, steps])
        window = torch.from_numpy(pending)[None]
        outputs, _ = conv(window, torch.tensor([len(pending)]))
        first = branch.start // stride  # the window's first output, in the sequence
        committed = branch.state.n_steps
        final = max(0, (seen - 1 - reach) // stride + 1) if seen - 1 >= reach else 0
        new_final = outputs[:, committed - first : final - first]
        rest = outputs[:, max(final, committed) - first :]
        # Keep the steps that outputs from `final` on still read, from a multiple
        # of the stride (so that the window's outputs stay aligned).
        keep_from = max(0, (final * stride - reach) // stride * stride)
        kept = replace(
            branch, pending=pending[keep_from - branch.start :], start=keep_from
        )
        return kept, new_final, rest

    def _sources(self) -> list[tuple[nn.Module, int]]:
        """The GRUs whose outputs are summarised, with what each reads: -1 for the
        GRU's input, 0 for the shared GRU's outputs (the task layers)."""
        module = self.module
        if module.sharing == "mmoe":
            return [(gru, -1) for gru in (module.gru, *module.experts)]
        if module.task_layers:
            return [(module.gru, -1)] + [(gru, 0) for gru in module.task_grus]
        return [(module.gru, -1)]

    def _advance(self, state: _State, z: torch.Tensor) -> _State:
        """``state`` after ``z``, ``(1, n, features)`` inputs of the GRU."""
        if z.shape[1] == 0:
            return state
        sources = self._sources()
        hidden = list(state.hidden or [None] * len(sources))
        pooled = list(state.pooled or [None] * len(sources))
        outputs: list[torch.Tensor] = []
        for i, (gru, reads) in enumerate(sources):
            inputs = z if reads < 0 else outputs[reads]
            output, hidden[i] = gru(inputs, hidden[i])
            outputs.append(output)
        summarised = range(1, len(sources)) if self.module.task_layers else None
        for i in summarised or range(len(sources)):
            pooled[i] = self._pool(pooled[i], outputs[i][0], i)
        return _State(state.n_steps + z.shape[1], hidden, pooled)

    def _pool(self, pooled: _Pooled | None, output: torch.Tensor, i: int) -> _Pooled:
        """The running summaries of source ``i`` after its new outputs."""
        out64 = output.double()
        total = out64.sum(0)
        maximum = output.amax(0)
        if pooled is not None:
            total = total + pooled.total
            maximum = torch.maximum(maximum, pooled.maximum)
        new = _Pooled(total, maximum, output[-1])
        if self.module.summary == "attention":
            scorers = self.module.scorers
            tasks = [i - 1] if self.module.task_layers else range(len(scorers))
            for j, k in enumerate(tasks):
                scores = scorers[k](output)[:, 0].double()
                top = scores.max()
                weight = torch.exp(scores - top)
                weighted = (weight[:, None] * out64).sum(0)
                weight_sum = weight.sum()
                if pooled is not None:
                    old_top = pooled.top[j]
                    top = torch.maximum(top, old_top)
                    weighted = weighted * torch.exp(
                        scores.max() - top
                    ) + pooled.weighted[j] * torch.exp(old_top - top)
                    weight_sum = weight_sum * torch.exp(
                        scores.max() - top
                    ) + pooled.weight[j] * torch.exp(old_top - top)
                new.top.append(top)
                new.weight.append(weight_sum)
                new.weighted.append(weighted)
        return new

    def _summary(self, pooled: _Pooled, n_steps: int, j: int) -> torch.Tensor:
        summary = self.module.summary
        if summary == "last":
            return pooled.last
        if summary == "attention":
            return (pooled.weighted[j] / pooled.weight[j]).float()
        mean = (pooled.total / n_steps).float()
        if summary == "mean":
            return mean
        if summary == "max":
            return pooled.maximum
        return torch.cat([mean, pooled.maximum])

    def _heads(self, state: _State, statistics: torch.Tensor) -> tuple[Any, ...]:
        module = self.module
        n_tasks = len(module.heads)
        pooled = [p for p in state.pooled if p is not None]
        if module.sharing == "mmoe":
            experts = torch.stack([self._summary(p, state.n_steps, 0) for p in pooled])
            gates = [torch.softmax(g(statistics[None]), dim=1)[0] for g in module.gates]
            summaries = [(weights[:, None] * experts).sum(0) for weights in gates]
        elif module.task_layers:
            summaries = [
                self._summary(pooled[k], state.n_steps, 0) for k in range(n_tasks)
            ]
        else:
            summaries = [
                self._summary(pooled[0], state.n_steps, k) for k in range(n_tasks)
            ]
        if module.input_statistics:
            summaries = [torch.cat([s, statistics]) for s in summaries]
        return tuple(head(s[None]) for head, s in zip(module.heads, summaries))


def _merge_statistics(
    previous: tuple[Any, ...] | None, x: torch.Tensor
) -> tuple[Any, ...]:
    """Count, mean, sum of squared deviations, minimum and maximum of every
    feature, merged with ``previous`` (Chan et al.'s update)."""
    n = x.shape[0]
    mean = x.mean(0)
    squares = ((x - mean) ** 2).sum(0)
    low, high = x.amin(0), x.amax(0)
    if previous is None:
        return n, mean, squares, low, high
    m, old_mean, old_squares, old_low, old_high = previous
    delta = mean - old_mean
    total = m + n
    return (
        total,
        old_mean + delta * n / total,
        old_squares + squares + delta**2 * m * n / total,
        torch.minimum(old_low, low),
        torch.maximum(old_high, high),
    )


def _statistics_tensor(merged: tuple[Any, ...]) -> torch.Tensor:
    """:func:`~sk_mtgru._frontend.input_statistics` of the steps merged so far."""
    n, mean, squares, low, high = merged
    std = (squares / n).clamp_min(0).sqrt()
    # predict sums the steps and the squared deviations in float32: where those
    # sums overflow, its statistics are infinite and its outputs refused; so are
    # the stream's, though its float64 sums would not overflow.
    mean = torch.where(torch.isfinite((mean * n).float()), mean, torch.inf)
    std = torch.where(torch.isfinite(squares.float()), std, torch.inf)
    length = torch.tensor([math.log(n)], dtype=torch.float64)
    return torch.cat([mean, std, low, high, length]).float()
