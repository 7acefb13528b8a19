"""task_weight_grid: candidate weightings for searches over task_weights."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sk_mtgru.model_selection import task_weight_grid

from .conftest import small_classifier


@pytest.mark.parametrize("n_tasks, expected", [(2, 3), (3, 10), (4, 35), (5, 126)])
def test_linear_grid_is_the_simplex_at_the_default_resolution(n_tasks, expected):
    grid = task_weight_grid(n_tasks)
    assert len(grid) == expected == len(set(grid))
    assert grid[0] == (1.0,) * n_tasks
    for weights in grid:
        assert len(weights) == n_tasks and min(weights) > 0
        assert sum(weights) == pytest.approx(n_tasks)
        # multiples of 1 / (2 n) of the total (n): multiples of 1/2
        np.testing.assert_allclose(
            np.array(weights) * 2, np.round(np.array(weights) * 2)
        )


def test_include_zero_adds_weightings_that_switch_tasks_off():
    with_zero = task_weight_grid(3, resolution=3, include_zero=True)
    assert (3.0, 0.0, 0.0) in with_zero and (1.0, 1.0, 1.0) in with_zero
    assert len(with_zero) == 10
    assert all(min(w) > 0 for w in task_weight_grid(3, resolution=3))


def test_log_grid_spans_the_ratio_evenly_in_orders_of_magnitude():
    grid = task_weight_grid(2, scale="log", resolution=3, max_ratio=100.0)
    ratios = sorted(round(a / b, 6) for a, b in grid)
    np.testing.assert_allclose(ratios, [0.01, 0.1, 1.0, 10.0, 100.0], rtol=1e-4)
    assert all(sum(w) == pytest.approx(2) for w in grid)


def test_names_give_dicts_that_the_estimator_accepts(dense_data):
    X, Y = dense_data
    grid = task_weight_grid(["task_0", "task_1"])
    assert grid[0] == {"task_0": 1.0, "task_1": 1.0}
    search = GridSearchCV(small_classifier(max_iter=1), {"task_weights": grid}, cv=2)
    search.fit(X, Y)
    assert search.best_params_["task_weights"] in grid


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"tasks": 0}, ValueError, "tasks must be >= 1"),
        ({"tasks": "ab"}, TypeError, "number of tasks or a sequence"),
        ({"tasks": ["a", "a"]}, ValueError, "distinct"),
        ({"tasks": [1, 2]}, ValueError, "sequence of str"),
        ({"tasks": 3, "resolution": 2}, ValueError, "cannot give each of 3 tasks"),
        ({"tasks": 3, "scale": "cubic"}, ValueError, "'linear' or 'log'"),
        ({"tasks": 3, "scale": "log", "max_ratio": 1.0}, ValueError, "> 1"),
        ({"tasks": 3, "resolution": 0}, ValueError, "resolution must be an int"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        task_weight_grid(**kwargs)
