"""Time every chapter as a learner runs it: the default mode, an empty cache, one CPU core.

Each notebook runs top to bottom in its own ``jupyter nbconvert --execute`` under
``taskset -c 0`` (one core, Binder's size) with a fresh, empty cache and config folder, so
the mode in force is the default one and nothing trained earlier is reused.  Two routes:

* ``online``: the real MNIST t10k split (``--mnist``, default ``../shared/data/mnist-t10k``)
  stands in for the download through ``MODELSEC_EDU_DATA`` (8,000 train / 2,000 test);
* ``offline``: ``MODELSEC_EDU_OFFLINE=1`` and no data folder, so the notebooks use the
  embedded fallback digits.

It prints one row per chapter and route: seconds, peak resident MB of the notebook's
process tree, its CPU seconds (user + system: on a machine other jobs keep busy, the better
estimate of the time on a core of its own), and whether the run passed the bars (300 s, 1,500 MB).
``--record`` merges the seconds into ``modelsec_edu/run_seconds.json``, which
``runtime.setup`` prints as each chapter's expected time.  The one command to re-measure::

    python bench/learner_routes.py --record            # every notebook, both routes
    python bench/learner_routes.py 00 06 --route online

Threat model: none (a measurement).  Binder's limits:
https://mybinder.readthedocs.io/en/latest/about/about.html
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import _record  # noqa: E402 - the bench's shared machine description

TABLE = ROOT / "modelsec_edu" / "run_seconds.json"
MAX_SECONDS, MAX_MB = 300, 1500
# Variables a developer may have set that would change what a learner gets.
_CLEAR = (
    "MODELSEC_EDU_QUICK",
    "MODELSEC_EDU_CACHE",
    "MODELSEC_EDU_DATA",
    "MODELSEC_EDU_OFFLINE",
    "MODELSEC_EDU_CONFIG",
    "MODELSEC_EDU_RETRAIN",
)


def notebooks(chapters: list[str]) -> list[Path]:
    found = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [nb for nb in found if not chapters or nb.name[:2] in chapters]


def run_one(
    nb: Path,
    route: str,
    mnist: Path,
    timeout: int,
    core: str,
    mode: str = "full",
    python: str = sys.executable,
) -> dict:
    """Run one notebook in a fresh home; return its seconds, peak MB and outcome."""
    home = Path(tempfile.mkdtemp(prefix=f"routes-{nb.name[:2]}-"))
    env = {k: v for k, v in os.environ.items() if k not in _CLEAR}
    env.update(
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        MPLBACKEND="Agg",
        PYTHONPATH=str(ROOT),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    if mode == "quick":
        env["MODELSEC_EDU_QUICK"] = "1"
    if route == "online":
        env["MODELSEC_EDU_DATA"] = str(mnist)
    else:
        env["MODELSEC_EDU_OFFLINE"] = "1"
    cmd = [
        python,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        f"--ExecutePreprocessor.timeout={timeout}",
        "--output-dir",
        str(home),
        "--output",
        "out.ipynb",
        str(nb),
    ]
    if core and shutil.which("taskset"):
        cmd = ["taskset", "-c", core, *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=nb.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        out, _ = proc.communicate(timeout=timeout + 120)
        killed = False
    except subprocess.TimeoutExpired:
        cpu_so_far = _tree_cpu(proc.pid)
        proc.kill()
        out, _ = proc.communicate()
        killed = True
    seconds = time.perf_counter() - start
    # A killed run's kernel is never reaped here, so its memory is unknown (None).
    peak_mb = None if killed else _peak_mb_since()
    cpu = None if killed else _cpu_seconds()
    ok = proc.returncode == 0 and not killed
    tail = out.decode(errors="replace").strip().splitlines()[-3:] if not ok else []
    if killed:
        tail = [
            f"killed after {seconds:.0f} s (over the {timeout + 120} s limit), "
            f"having used {cpu_so_far:.0f} CPU s"
        ]
    shutil.rmtree(home, ignore_errors=True)
    return {
        "chapter": nb.name[:2],
        "notebook": nb.name,
        "route": route,
        "mode": mode,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak_mb,
        "ok": ok,
        "error": " | ".join(tail)[-300:],
    }


def _tree_cpu(pid: int) -> float:
    """CPU seconds a live process and its descendants used so far (Linux /proc), else 0."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        me = int(entry.parent.name)
        children.setdefault(int(fields[1]), []).append(me)
        used[me] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += used.get(p, 0.0)
        todo.extend(children.get(p, []))
    return total


def _cpu_seconds() -> float:
    """User + system CPU seconds of the reaped children: on a busy machine, closer than the wall
    clock to what the chapter takes on a core of its own."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _peak_mb_since() -> float:
    """The largest resident set among the children reaped so far (Linux: KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def verdict(row: dict) -> str:
    """The bars, on CPU seconds where measured (a busy machine's wall clock overstates them)."""
    if not row["ok"]:
        return "FAILED: " + row["error"]
    took = row.get("cpu_seconds") or row["seconds"]
    if took >= MAX_SECONDS or row["peak_mb"] >= MAX_MB:
        return "over the bar"
    return "ok (on CPU seconds)" if row.get("cpu_seconds") else "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="two-digit chapter numbers (default: all)")
    parser.add_argument("--route", choices=("online", "offline", "both"), default="both")
    parser.add_argument(
        "--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist-t10k"
    )
    parser.add_argument(
        "--mode",
        choices=("full", "quick"),
        default="full",
        help="full: the default a learner gets (quick: what CI runs)",
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds per notebook")
    parser.add_argument("--core", default="0", help="taskset core list ('' for no pinning)")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the environment to run the notebooks in (e.g. a fresh venv from "
        "binder/requirements.txt after binder/postBuild)",
    )
    parser.add_argument("--record", action="store_true", help=f"merge into {TABLE.name}")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    routes = ("online", "offline") if args.route == "both" else (args.route,)
    if "online" in routes and not args.mnist.is_dir():
        print(f"no real MNIST at {args.mnist}: only the offline route runs")
        routes = ("offline",)
    rows = []
    print(f"{args.mode} mode, empty cache, one notebook at a time")
    print(f"{'chapter':<34} {'route':<8} {'seconds':>8} {'CPU s':>8} {'peak MB':>8}  bars")
    for nb in notebooks(args.chapters):
        for route in routes:
            # Each notebook in its own child of a fresh interpreter: RUSAGE_CHILDREN is per process.
            code = (
                f"import json, sys, pathlib; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
                "import learner_routes as l; "
                f"print(json.dumps(l.run_one(pathlib.Path({str(nb)!r}), {route!r}, "
                f"pathlib.Path({str(args.mnist)!r}), {args.timeout}, {args.core!r}, {args.mode!r}, "
                f"{args.python!r})))"
            )
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            row = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append(row)
            bars = verdict(row)
            mb = "n/a" if row["peak_mb"] is None else f"{row['peak_mb']:.0f}"
            cpu = "n/a" if row.get("cpu_seconds") is None else f"{row['cpu_seconds']:.0f}"
            print(
                f"{nb.name:<34} {route:<8} {row['seconds']:8.0f} {cpu:>8} {mb:>8}  {bars}",
                flush=True,
            )
    print(
        f"machine: {_record.machine()}; pinned to core {args.core or 'none'}; python {args.python}"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.record:
        record(rows, "" if args.python == sys.executable else f"python {args.python}")
    return 0 if all(r["ok"] for r in rows) else 1


def record(rows: list[dict], environment: str = "") -> None:
    """Merge each passing run's seconds and peak MB into the table runtime.setup prints;
    ``environment`` (e.g. which venv ran the notebooks) is added to each row's source."""
    table = json.loads(TABLE.read_text()) if TABLE.is_file() else {"machine": "", "chapters": {}}
    stamp = f"bench/learner_routes.py, {_record.machine()}, {dt.date.today().isoformat()}"
    if environment:
        stamp += f", {environment}"
    for row in rows:
        if not row["ok"]:
            continue
        entry = table["chapters"].setdefault(row["chapter"], {})
        entry[f"{row['mode']}_{row['route']}"] = round(row["seconds"])
        entry[f"{row['mode']}_{row['route']}_mb"] = round(row["peak_mb"])
        entry[f"{row['mode']}_{row['route']}_cpu"] = round(row["cpu_seconds"])
        entry["source"] = stamp
    TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    where = TABLE.relative_to(ROOT) if TABLE.is_relative_to(ROOT) else TABLE
    print(f"recorded {sum(r['ok'] for r in rows)} row(s) into {where}")


if __name__ == "__main__":
    raise SystemExit(main())
