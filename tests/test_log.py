"""The verbose training log: one row per epoch under headers that do not move."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru._log import TaskTable

from .conftest import small_classifier


def _table_header(capsys, data, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small_classifier(verbose=1, max_iter=2, **params).fit(*data)
    lines = [line for line in capsys.readouterr().out.splitlines() if "epoch" in line]
    return lines[0].split()


@pytest.mark.parametrize("balancing", [None, "dwa"])
def test_the_table_leaves_out_the_matrix_and_what_static_weights_repeat(
    capsys, dense_data, balancing
):
    header = _table_header(
        capsys, dense_data, loss_balancing=balancing, task_affinity_interval=1
    )
    assert "task_affinity" not in header
    assert "task_0:acc" in header and "loss" in header
    shown = {"task_0:w", "objective"} <= set(header)
    assert shown == (balancing == "dwa")  # static weights: 1.0 and train_loss


def test_the_table_groups_columns_by_task_and_fits_a_terminal(capsys, dense_data):
    X, Y = dense_data
    header = _table_header(capsys, (X, Y))
    # one figure per task (its accuracy; its loss stays in history_)
    assert header == ["epoch", "loss", "task_0:acc", "task_1:acc", "dur"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small_classifier(verbose=1, max_iter=2).fit(X, Y)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert max(len(row) for row in rows) <= 80
    validated = _table_header(capsys, (X, Y), early_stopping=True, scoring="f1_macro")
    assert validated == [
        "epoch", "loss", "val_loss",
        "task_0:acc", "task_0:val_acc", "task_0:val_f1_macro",
        "task_1:acc", "task_1:val_acc", "task_1:val_f1_macro",
        "dur",
    ]  # fmt: skip


def test_a_task_with_only_a_loss_shows_its_loss():
    table = TaskTable(["a", "b"]).initialize()
    keys = ["epoch", "train_loss", "train_loss_a", "train_acc_b", "train_loss_b", "dur"]
    assert table._sorted_keys(keys) == [
        "epoch", "train_loss", "train_loss_a", "train_acc_b", "dur",
    ]  # fmt: skip
