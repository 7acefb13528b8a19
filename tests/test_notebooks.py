"""The documentation's notebooks run from top to bottom on the current code."""

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).parents[1] / "docs" / "notebooks"


def test_every_notebook_has_a_test_of_its_outputs():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [
        "watch_walkthrough.ipynb"
    ], "a new notebook needs a test here that checks what its cells print"


def _text(output):
    if output.get("output_type") == "stream":
        return output["text"]
    return output.get("data", {}).get("text/plain", "")


def test_the_watch_walkthrough_learns_and_its_saved_model_predicts_alike(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOKS / "watch_walkthrough.ipynb", as_version=4)
    # One extra cell reads the accuracies the walkthrough computed.
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "import json\nprint(json.dumps({'window': window, 'recording': recording}))"
        )
    )
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell, on any failure
    texts = [
        "".join(_text(o) for o in cell.get("outputs", [])) for cell in notebook.cells
    ]
    # The description is printed, the label table shows the three tasks ...
    assert "watch" in texts[1].lower()
    table = next(t for t in texts if "per window" in t)
    assert all(task in table for task in ("exercise", "subject", "side"))
    # ... the model learns the exercise and the arm far above chance (1/7, 1/2) ...
    accuracy = json.loads(texts[-1])
    assert accuracy["recording"]["exercise"] >= 0.6, accuracy
    assert accuracy["recording"]["side"] >= 0.8, accuracy
    # ... and the safe file predicts as the fitted model: that cell prints True.
    assert texts[-2].strip() == "True"
