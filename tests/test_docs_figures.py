"""Every figure the documentation quotes comes from a stored run it names.

A three-decimal figure (an accuracy, a ratio, seconds) on a documentation page
or the README must appear in one of the files of ``benchmarks/results/`` that the
page names; a page that quotes figures and names no stored run fails. A figure
computed from a table (a difference, a mean over sets) is not stored: quote the
stored figures instead.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# the pages written by hand (sphinx-gallery writes sg_execution_times.rst)
PAGES = [
    *sorted(p for p in (ROOT / "docs").glob("*.rst") if not p.name.startswith("sg_")),
    ROOT / "README.md",
]
FIGURE = re.compile(r"(?<![\d.])\d+\.\d{3}(?![\d.])")
STORED_RUN = re.compile(r"[a-z0-9_]+\.(?:txt|json)")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_figure_a_page_quotes_is_in_a_stored_run_it_names(page):
    text = page.read_text(encoding="utf-8")
    figures = set(FIGURE.findall(text))
    if not figures:
        return
    named = sorted({n for n in STORED_RUN.findall(text) if (RESULTS / n).is_file()})
    assert named, f"{page.name} quotes {sorted(figures)} and names no stored run"
    stored = "\n".join((RESULTS / name).read_text(encoding="utf-8") for name in named)
    missing = sorted(figure for figure in figures if figure not in stored)
    assert not missing, f"{page.name}: {missing} are in none of {named}"


def test_the_check_finds_a_figure_no_stored_run_holds(tmp_path):
    # The rule above on a page of its own: a figure absent from the run it names.
    text = "GunPoint 0.973 and 0.123 (``benchmarks/results/ablations.txt``)."
    figures = set(FIGURE.findall(text))
    stored = (RESULTS / "ablations.txt").read_text(encoding="utf-8")
    assert figures == {"0.973", "0.123"}
    assert [figure for figure in sorted(figures) if figure not in stored] == ["0.123"]
