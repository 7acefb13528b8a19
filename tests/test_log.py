"""The verbose training log: one row per epoch under headers that do not move."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

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
    assert "train_acc_task_0" in header and "train_loss" in header
    shown = {"weight_task_0", "train_objective"} <= set(header)
    assert shown == (balancing == "dwa")  # static weights: 1.0 and train_loss
