"""Notebooks are committed clean and follow the chapter structure.

Running them is nbval's job: ``make test`` passes ``--nbval-lax notebooks``
with ``MODELSEC_EDU_QUICK=1`` and no network.
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cells, kind):
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)


def test_there_are_notebooks():
    assert any(p.name.startswith("00_start_here") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), (
                f"{path.name} cell {i} has outputs: clear them before committing"
            )
            assert cell.get("execution_count") is None, (
                f"{path.name} cell {i} has an execution count"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_structure(path):
    cells = _cells(path)
    md = _text(cells, "markdown")
    code = _text(cells, "code")
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# "), (
        "title first"
    )
    assert "learning objectives" in md.lower() or "you will learn" in md.lower()
    assert "## Summary" in md, "a summary section"
    assert "## Exercises" in md, "an exercises section"
    assert "google.colab" in code, "a Colab install cell"
    assert "sys.path" not in code, "install the package instead of touching sys.path"
    if not path.name.startswith("00_"):
        assert "widgets" in code, "at least one widget"
        assert "check_" in code or "check(" in code, "exercises with checks"
