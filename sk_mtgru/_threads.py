"""How many threads torch uses while a model fits or predicts.

torch's default -- one thread per core -- oversubscribes a busy machine: two fits
side by side on a two-core machine each took 4.3 times as long with it as with
the best setting, four fits 11 times, while a fit alone was no faster on two threads
than on one: a GRU's per-step products are small at the package's usual sizes
(``benchmarks/threads.py``, ``benchmarks/results/threads.txt``).
``n_threads='auto'`` therefore runs small networks on one thread and leaves large
ones to torch's own setting.
The setting holds for the duration of the call only: the caller's process keeps
its own, even when several threads fit or predict at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["resolve_threads", "torch_threads"]

# Multiply-adds of one GRU step's recurrent product (batch x width x 3 width)
# from which 'auto' leaves torch's threads: below, a second thread measured no
# faster (benchmarks/threads.py).
PARALLEL_WORK = 2**24

_lock = threading.Lock()
_active = 0
_before = 0


def resolve_threads(
    n_threads: Any, *, hidden_size: int, directions: int, batch_size: int
) -> int | None:
    """The threads a call runs on: ``n_threads``, or for 'auto' 1 when the GRU's
    per-step product is small and None (torch's own setting) when it is large."""
    if n_threads is None:
        return None
    if n_threads != "auto":
        return int(n_threads)
    width = hidden_size * directions
    return 1 if batch_size * width * 3 * width < PARALLEL_WORK else None


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` torch threads (None: as set), then restore the
    process's setting once no call that set one is still running."""
    global _active, _before
    if n is None:
        yield
        return
    with _lock:
        if _active == 0:
            _before = torch.get_num_threads()
        _active += 1
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and torch.get_num_threads() != _before:
                torch.set_num_threads(_before)
