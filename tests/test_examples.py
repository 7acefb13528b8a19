"""The newcomer's path in the gallery runs end to end without a warning it does
not explain."""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_the_long_table_example_runs_without_unexplained_warnings(monkeypatch):
    pytest.importorskip("pandas")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    monkeypatch.chdir(EXAMPLES)
    with warnings.catch_warnings():
        # every warning fails the test, but the ConvergenceWarning the example
        # silences and says why
        warnings.simplefilter("error")
        namespace = runpy.run_path(str(EXAMPLES / "plot_from_long_table.py"))
    matplotlib.pyplot.close("all")
    assert list(namespace["loaded"].feature_names_in_) == ["acc_x", "acc_y", "gyro"]
    assert len(namespace["search"].cv_results_["params"]) == 2
