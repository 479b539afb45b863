"""Record a bench's defence figures for chapter 10's trade-off plot (``--record``).

Each bench writes its own file, ``modelsec_edu/outlook/results/<bench>.json`` (one file per
script, so benches run on different branches never edit the same file), and each row names the
script, the machine and the date that measured it: chapter 10's plot is traceable to a run and
never retyped.  The files ship inside the package (Colab has no ``bench/``).  Rows are merged by
(chapter, defence) within a bench's file: a new run replaces that defence's old row.

A row::

    {"chapter": "06", "defence": "PGD-AT", "clean": 0.97, "attacked": 0.88,
     "attack": "PGD-40 (eps 0.1)", "cost": 11.0}

``clean`` and ``attacked`` are accuracies in [0, 1] (``attacked``: under the strongest attack the
bench ran), ``cost`` is the defence's training time over the plain model's on the same machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "modelsec_edu" / "outlook" / "results"
KEYS = ("chapter", "defence", "clean", "attacked", "attack", "cost")


def machine() -> str:
    """A short description of this machine: CPU count, and the load while the bench ran."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()} {os.cpu_count()}-CPU, load {load:.1f}"


def _check(row: dict) -> dict:
    missing = [k for k in KEYS if k not in row]
    if missing:
        raise ValueError(f"a tradeoff row needs {missing}, got {sorted(row)}")
    for k in ("clean", "attacked"):
        if not isinstance(row[k], (int, float)) or not 0.0 <= row[k] <= 1.0:
            raise ValueError(f"row[{k!r}] must be an accuracy in [0, 1], got {row[k]!r}")
    if not isinstance(row["cost"], (int, float)) or not row["cost"] > 0:
        raise ValueError(f"row['cost'] must be a positive time ratio, got {row['cost']!r}")
    return {k: row[k] for k in KEYS}


def record(bench: str, rows: list[dict], *, folder: Path = RESULTS) -> Path:
    """Merge ``rows`` (chapter, defence, clean, attacked, attack, cost) measured by ``bench``.

    ``bench`` is the script's path as run (``bench/adversarial_training.py``); the file written is
    ``folder/<script stem>.json``.  Returns its path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{Path(bench).stem}.json"
    table = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {"rows": []}
    stamp = f"{bench}, {machine()}, {dt.date.today().isoformat()}"
    new = [{**_check(r), "source": stamp} for r in rows]
    replaced = {(r["chapter"], r["defence"]) for r in new}
    kept = [r for r in table["rows"] if (r["chapter"], r["defence"]) not in replaced]
    table = {
        "made_by": bench,
        "rows": sorted(kept + new, key=lambda r: (r["chapter"], r["defence"])),
    }
    out.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {len(new)} row(s) into {out}")
    return out
