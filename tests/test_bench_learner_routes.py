"""bench/learner_routes.py's bookkeeping: what it records, and from which environment."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def routes(bench_module):
    return bench_module("learner_routes")


def _row(chapter, route, ok=True):
    return {"chapter": chapter, "route": route, "mode": "full", "seconds": 61.4,
            "cpu_seconds": 58.6, "peak_mb": 1023.7, "ok": ok, "error": ""}  # fmt: skip


def test_record_merges_passing_rows_and_names_the_environment(routes, tmp_path, monkeypatch):
    table = tmp_path / "run_seconds.json"
    table.write_text(json.dumps({"chapters": {"01": {"full_online": 10, "source": "old"}}}))
    monkeypatch.setattr(routes, "TABLE", table)
    rows = [_row("03", "online"), _row("03", "offline", ok=False)]
    routes.record(rows, "python /tmp/binder-venv/bin/python")
    doc = json.loads(table.read_text())
    assert doc["chapters"]["01"] == {"full_online": 10, "source": "old"}  # untouched
    got = doc["chapters"]["03"]
    assert (got["full_online"], got["full_online_cpu"], got["full_online_mb"]) == (61, 59, 1024)
    assert "full_offline" not in got  # a failed run is never recorded
    assert got["source"].startswith("bench/learner_routes.py, ")
    assert got["source"].endswith(", python /tmp/binder-venv/bin/python")
    routes.record([_row("04", "online")])
    assert (
        doc["chapters"]["03"]["source"] != json.loads(table.read_text())["chapters"]["04"]["source"]
    )
