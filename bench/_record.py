"""Record a bench's defence figures into the table chapter 10 plots (``--record``).

Each row names the script, the machine and the date that measured it, so chapter 10's trade-off
plot is traceable to a run and never retyped.  Rows are merged by (chapter, defence): a new run
replaces that defence's old row and leaves the others.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "modelsec_edu" / "outlook" / "tradeoffs.json"


def machine() -> str:
    """A short description of this machine: CPU count, and the load while the bench ran."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()} {os.cpu_count()}-CPU, load {load:.1f}"


def record(bench: str, rows: list[dict]) -> None:
    """Merge ``rows`` (chapter, defence, clean, attacked, attack, cost) measured by ``bench``."""
    keys = ("chapter", "defence", "clean", "attacked", "attack", "cost")
    table = json.loads(TABLE.read_text()) if TABLE.is_file() else {"rows": []}
    stamp = f"{bench}, {machine()}, {dt.date.today().isoformat()}"
    new = []
    for row in rows:
        missing = [k for k in keys if k not in row]
        if missing:
            raise ValueError(f"a tradeoff row needs {missing}, got {sorted(row)}")
        new.append({**{k: row[k] for k in keys}, "source": stamp})
    replaced = {(r["chapter"], r["defence"]) for r in new}
    kept = [r for r in table["rows"] if (r["chapter"], r["defence"]) not in replaced]
    table["rows"] = sorted(kept + new, key=lambda r: (r["chapter"], r["defence"]))
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    print(f"recorded {len(new)} row(s) into {TABLE.name}")
