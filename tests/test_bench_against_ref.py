"""bench/against_ref.py's bookkeeping: which figures it compares and how it pairs the rounds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def against_ref(bench_module):
    return bench_module("against_ref")


def test_numeric_leaves_keeps_numbers_and_drops_bools_and_text(against_ref):
    tree = {"speed": {"ours": {"img_s": 95.5, "n": 500}}, "ok": True, "name": "x", "l": [1, 2.5]}
    assert against_ref.numeric_leaves(tree) == {
        "speed.ours.img_s": 95.5,
        "speed.ours.n": 500.0,
        "l.0": 1.0,
        "l.1": 2.5,
    }


def test_compare_pairs_rounds_and_takes_medians(against_ref):
    # Round by round the new tree is twice as fast although both drift: the paired ratio sees it.
    new = [{"a": {"v": v}} for v in (10.0, 40.0, 20.0)]
    old = [{"a": {"v": v}} for v in (5.0, 20.0, 10.0)]
    row = against_ref.compare(new, old, match="v")["a.v"]
    # both trees' runs span 4x (40 / 10, 20 / 5): the spread says the medians are shaky
    assert row == {
        "new": 20.0,
        "old": 10.0,
        "new_over_old": 2.0,
        "spread": 4.0,
        "max_new_over_old": 2.0,
        "min_new_over_old": 2.0,
    }


def test_compare_sets_each_mode_against_the_same_mode(against_ref):
    # Both trees equally fast in each of two speed modes, but the new tree drew the slow mode
    # more often: the paired median reads "slower", the extremes read the truth in each mode.
    new = [{"img_s": v} for v in (100.0, 60.0, 60.0, 60.0)]
    old = [{"img_s": v} for v in (100.0, 100.0, 100.0, 60.0)]
    row = against_ref.compare(new, old, match="img_s")["img_s"]
    assert row["new_over_old"] == pytest.approx(0.8)
    assert row["max_new_over_old"] == 1.0 and row["min_new_over_old"] == 1.0


def test_compare_reports_only_matching_figures_both_trees_have(against_ref):
    new = [{"speed": 2.0, "strength": 0.5, "only_new": 1.0}]
    old = [{"speed": 1.0, "strength": 0.5}]
    assert set(against_ref.compare(new, old, match="s")) == {"speed", "strength"}
    assert set(against_ref.compare(new, old, match="^speed")) == {"speed"}


def test_compare_leaves_ratio_and_spread_out_when_the_old_figure_is_zero(against_ref):
    row = against_ref.compare([{"acc": 0.1}], [{"acc": 0.0}], match="acc")["acc"]
    assert row["spread"] is None and row["max_new_over_old"] is None
    assert row["new_over_old"] is None and row["new"] == 0.1


def test_refuses_a_run_without_a_bench(against_ref):
    with pytest.raises(SystemExit):
        against_ref.main(["HEAD", "--rounds", "1"])


def test_a_whole_run_writes_the_commit_it_compared(against_ref, tmp_path):
    # A stand-in bench (an absolute path, so both trees run the same file) that writes one figure.
    bench = tmp_path / "tiny.py"
    bench.write_text(
        "import json, os, sys\nopen(sys.argv[sys.argv.index('--json') + 1], 'w').write("
        "json.dumps({'img_s': 2.0, 'tree': os.environ['PYTHONPATH'].split(os.pathsep)[0]}))\n"
    )
    out = tmp_path / "compare.json"
    assert against_ref.main(["HEAD", "--rounds", "1", "--json", str(out), "--", str(bench)]) == 0
    doc = json.loads(out.read_text())
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=against_ref.ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert doc["head"] == head and doc["ref"] == "HEAD"
    assert doc["figures"]["img_s"]["new_over_old"] == 1.0
    # Every run's own figures are kept, each under the tree that ran it.
    assert [r["tree"] for r in doc["runs"]["new"]] == [str(against_ref.ROOT)]
    assert [Path(r["tree"]).name for r in doc["runs"]["old"]] == [f"ref-{head}"]
