"""n_threads: the torch threads a fit or a prediction runs on, for that call only."""

import threading

import pytest
import torch

from sk_mtgru._module import MultiTaskGRU
from sk_mtgru._threads import PARALLEL_WORK, resolve_threads

from .conftest import small_classifier


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def seen_threads(monkeypatch):
    """The torch threads in force at each forward pass of the network."""
    seen = []
    forward = MultiTaskGRU.forward

    def spy(self, x, lengths):
        seen.append(torch.get_num_threads())
        return forward(self, x, lengths)

    monkeypatch.setattr(MultiTaskGRU, "forward", spy)
    return seen


def test_a_small_network_fits_and_predicts_on_one_thread_and_gives_it_back(
    dense_data, two_threads, seen_threads
):
    X, Y = dense_data
    clf = small_classifier(max_iter=1, task_affinity_interval=None).fit(X, Y)
    assert seen_threads and set(seen_threads) == {1}
    assert torch.get_num_threads() == 2  # the caller's setting is back
    seen_threads.clear()
    clf.predict(X)
    assert set(seen_threads) == {1} and torch.get_num_threads() == 2


def test_n_threads_none_and_an_int_are_taken_as_given(
    dense_data, two_threads, seen_threads
):
    X, Y = dense_data
    small_classifier(max_iter=1, n_threads=None).fit(X, Y)
    assert set(seen_threads) == {2}
    seen_threads.clear()
    small_classifier(max_iter=1, n_threads=3).fit(X, Y)
    assert set(seen_threads) == {3} and torch.get_num_threads() == 2


def test_fits_in_several_threads_leave_the_process_setting_as_it_was(
    dense_data, two_threads, monkeypatch
):
    # Two fits overlap: the second starts while the first is inside its fit,
    # and ends after it. The process must get back its 2 threads, not the 1 in
    # force when the second fit began.
    X, Y = dense_data
    first_inside, second_inside, first_done = (threading.Event() for _ in range(3))
    calls: dict = {}
    forward = MultiTaskGRU.forward

    def in_turn(self, x, lengths):
        me = threading.current_thread().name
        calls[me] = calls.get(me, 0) + 1
        if me == "first" and calls[me] == 1:
            first_inside.set()
            assert second_inside.wait(30)
        if me == "second" and calls[me] == 1:
            second_inside.set()
            assert first_done.wait(30)
        return forward(self, x, lengths)

    monkeypatch.setattr(MultiTaskGRU, "forward", in_turn)
    first = threading.Thread(
        target=small_classifier(max_iter=1).fit, args=(X, Y), name="first"
    )
    second = threading.Thread(
        target=small_classifier(max_iter=1).fit, args=(X, Y), name="second"
    )
    first.start()
    assert first_inside.wait(30)
    second.start()
    first.join(30)
    first_done.set()
    second.join(30)
    assert calls["first"] and calls["second"] > 1
    assert torch.get_num_threads() == 2
    # torch keeps a setting per thread and one for threads yet to start: the
    # latter must be back too
    fresh = []
    probe = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    probe.start()
    probe.join()
    assert fresh == [2]


def test_auto_leaves_large_networks_to_torchs_threads():
    assert resolve_threads("auto", hidden_size=64, directions=1, batch_size=32) == 1
    width = 512
    batch = PARALLEL_WORK // (3 * width * width) + 1
    assert (
        resolve_threads("auto", hidden_size=width, directions=1, batch_size=batch)
        is None
    )
    assert resolve_threads(None, hidden_size=8, directions=1, batch_size=8) is None
    assert resolve_threads(4, hidden_size=8, directions=1, batch_size=8) == 4
