"""Every chapter has a solutions notebook for instructors, kept out of the learner's notebooks.

CI runs the solutions with nbval in quick mode (``pytest solutions --nbval-lax``);
here only their shape is checked: one per chapter, same name, committed
without outputs, every check wrapped in ``assert`` so a failing check fails CI.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHECK_CALL = re.compile(r"\bch\d\d\.check_\w+\(")


def _code(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


# Known gap of this release, recorded rather than hidden: these chapters' checks are written and
# tested (tests/test_exercises_chNN.py) but their solutions notebooks are not yet.  The test below
# fails if any other chapter lacks one, and also once one of these gains its notebook (then remove
# it from the set).
NOT_YET_WRITTEN: set[str] = set()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_has_a_solutions_notebook_of_the_same_name(chapter):
    exists = (ROOT / "solutions" / chapter.name).is_file()
    if chapter.name in NOT_YET_WRITTEN:
        assert not exists, f"solutions/{chapter.name} exists now: remove it from NOT_YET_WRITTEN"
    else:
        assert exists, f"solutions/{chapter.name} is missing"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_are_committed_clean_and_assert_every_check(path):
    assert (ROOT / "notebooks" / path.name).is_file(), f"{path.name} names no chapter notebook"
    checks = 0
    for i, cell in enumerate(_code(path)):
        assert not cell.get("outputs") and cell.get("execution_count") is None, (
            f"cell {i} has outputs"
        )
        for line in "".join(cell["source"]).splitlines():
            if CHECK_CALL.search(line) and not line.lstrip().startswith(("def ", "#")):
                checks += 1
                assert line.lstrip().startswith("assert "), (
                    f"cell {i}: a check without assert: {line}"
                )
    assert checks >= 2, "a solutions notebook passes the chapter's checks"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_learner_notebooks_hold_no_solutions(chapter):
    for cell in _code(chapter):
        assert "assert ch" not in "".join(cell["source"]), "solutions belong in solutions/"
