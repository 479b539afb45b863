"""Run one bench on this tree and on an older commit, taking turns in one run, and compare.

"No slower than before" can only be read off runs that share the machine's state: this
machine is shared and its speed drifts by more than the effect looked for.  So the script
checks the older commit out into a temporary ``git worktree``, then runs the same bench
command once per round on each tree, in alternating order (new, old, old, new, ...), each
in a fresh process that imports its own tree's ``modelsec_edu`` (``PYTHONPATH``).  Each run
writes its figures with ``--json``; every numeric figure is then reported as the median over
rounds for each tree and as the median of the per-round ratios, new over old.

Read the ``spread`` column before the ratio: it is the largest max/min of one figure over one
tree's runs. On this 2-core machine a fresh process lands in one of two speed modes and stays
there: 500 images of float32 PGD-40 took 1.37-1.51 s in some processes and 1.96-2.21 s in
others, for both trees alike (not the thread counts, the hash seed or the input's alignment; 22
processes, 2026-12-04). Each compiled attack draws its own mode: in 40 processes (2026-12-05)
the bfloat16 PGD ran slow in 7 and the float32 PGD fast in 14, independently, so a process can
be fast in one precision and slow in the other. With a few rounds the median ratio then reads
which tree drew more fast processes (0.92 and 1.56 were both seen for the same two trees). So
the table also compares like with like: ``max`` is each tree's largest value over its runs and
``min`` its smallest, and ``max new/old`` and ``min new/old`` divide them. Whichever way a
figure points (images/s or seconds), one of the two compares the trees' fast-mode runs and the
other their slow-mode runs, provided each tree drew both modes: run enough rounds (10 draws per
tree miss a mode drawn 40% of the time with probability 0.6**10, under 1%).

A bench that also runs a baseline (``attacks_speed.py`` times CleverHans and ART in the same
process) gives a second, drift-free comparison: its ``ours_over_this`` figures are ratios
already, measured within one process.

``{scratch}`` in the bench's arguments is replaced by a directory of each tree's own (for a
model cache that the two trees must not share).  The worktree and the scratch directories
live in a temporary directory that is removed at the end; nothing of the repository's is
written.  ``--json FILE`` keeps the comparison and every run's own figures (``runs``: each
tree's list, in the order run), so one process's figures can be read together: a slow
``precision="auto"`` run is a slow process if its float32 and baseline figures are slow too.

Usage::

    python bench/against_ref.py 0879a17 --rounds 7 -- attacks_speed.py --parts speed --rounds 1
    MODELSEC_EDU_RETRAIN=1 python bench/against_ref.py 0879a17 --rounds 1 \\
        --new-extra='--n-worst 0' -- adversarial_training.py --only small_cnn article_mlp \\
        --cache {scratch}
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A figure whose runs on one tree differ by more than this factor gets a warning under the table.
SPREAD_WARNING = 1.2


def numeric_leaves(obj, prefix: str = "") -> dict[str, float]:
    """Every int or float in a JSON tree, keyed by its dotted path (lists by index)."""
    if isinstance(obj, bool):
        return {}
    if isinstance(obj, (int, float)):
        return {prefix: float(obj)}
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    )
    out: dict[str, float] = {}
    for key, value in items:
        out.update(numeric_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def run_once(tree: Path, script: str, args: list[str], scratch: Path, out: Path) -> dict:
    """One run of ``bench/<script>`` in ``tree``; returns the figures it wrote."""
    scratch.mkdir(parents=True, exist_ok=True)
    argv = [a.replace("{scratch}", str(scratch)) for a in args]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, str(tree / "bench" / script), *argv, "--json", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{script} failed in {tree} (exit {proc.returncode})")
    print(f"  {tree.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads(out.read_text())


def _spread(values: list[float]) -> float | None:
    """max / min of one figure over one tree's runs (None when a run gave 0 or less)."""
    lo, hi = min(values), max(values)
    return hi / lo if lo > 0 else None


def compare(new: list[dict], old: list[dict], match: str) -> dict:
    """Median of each figure per tree and the median of the per-round ratios, new / old."""
    pattern = re.compile(match)
    flat_new = [numeric_leaves(r) for r in new]
    flat_old = [numeric_leaves(r) for r in old]
    # a figure every run of both trees wrote, so round i of one tree pairs with round i of the other
    keys = [
        k for k in flat_new[0] if pattern.search(k) and all(k in f for f in flat_new + flat_old)
    ]
    table = {}
    for key in keys:
        a, b = [f[key] for f in flat_new], [f[key] for f in flat_old]
        pairs = [x / y for x, y in zip(a, b) if y]
        spreads = [_spread(a), _spread(b)]
        table[key] = {
            "new": statistics.median(a),
            "old": statistics.median(b),
            "new_over_old": statistics.median(pairs) if pairs else None,
            "spread": None if None in spreads else max(spreads),
            # the extremes of each tree: one pair is the fast mode's runs, the other the slow's
            "max_new_over_old": max(a) / max(b) if max(b) else None,
            "min_new_over_old": min(a) / min(b) if min(b) else None,
        }
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ref", help="the older commit to compare with (any git revision)")
    ap.add_argument("--rounds", type=int, default=5, help="runs per tree, in alternating order")
    ap.add_argument("--match", default=".", help="report only figures whose path matches this")
    ap.add_argument(
        "--new-extra",
        default="",
        help="more bench arguments for this tree only (options the older bench lacks), one string",
    )
    ap.add_argument(
        "--json", type=Path, help="write the comparison, and every run's own figures, here"
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args, bench = ap.parse_args(argv[:cut]), argv[cut + 1 :]  # after --: SCRIPT [ARGS ...]
    if not bench:
        ap.error("name the bench after --, e.g. -- attacks_speed.py --parts speed --rounds 1")
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    script, bench_args, extra = bench[0], bench[1:], shlex.split(args.new_extra)
    sha, head = (
        subprocess.run(
            ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True
        )
        for rev in (args.ref, "HEAD")
    )
    if sha.returncode != 0:
        ap.error(f"ref {args.ref!r} is not a revision of {ROOT}: {sha.stderr.strip()}")
    head = head.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="against-ref-") as tmp:
        tmp = Path(tmp)
        old_tree = tmp / f"ref-{sha.stdout.strip()}"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(old_tree), args.ref],
            cwd=ROOT,
            check=True,
        )
        # The benches find the real MNIST subset at ROOT.parent / "shared": give the old tree one.
        if (ROOT.parent / "shared").exists():
            (tmp / "shared").symlink_to(ROOT.parent / "shared")
        trees = {"new": ROOT, "old": old_tree}
        runs: dict[str, list[dict]] = {"new": [], "old": []}
        try:
            for r in range(args.rounds):
                order = ["new", "old"] if r % 2 == 0 else ["old", "new"]
                print(f"round {r + 1}/{args.rounds}: {' then '.join(order)}", flush=True)
                for which in order:
                    argv_which = bench_args + (extra if which == "new" else [])
                    out, scratch = tmp / f"{which}-{r}.json", tmp / f"scratch-{which}"
                    runs[which].append(run_once(trees[which], script, argv_which, scratch, out))
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT, check=False
            )
    table = compare(runs["new"], runs["old"], args.match)
    print(f"\n{script} {' '.join(bench_args)}: HEAD {head} (new) against {args.ref} (old), "
          f"{args.rounds} rounds each, {os.cpu_count()} CPUs")  # fmt: skip
    columns = (("new_over_old", "new/old", 8), ("spread", "spread", 7),
               ("max_new_over_old", "max n/o", 8), ("min_new_over_old", "min n/o", 8))  # fmt: skip
    header = " ".join(f"{title:>{w}s}" for _, title, w in columns)
    print(f"  {'figure':54s} {'new':>10s} {'old':>10s} {header}")
    for key, row in table.items():
        cells = " ".join(
            f"{row[k]:{w}.3f}" if row[k] is not None else f"{'-':>{w}s}" for k, _, w in columns
        )
        print(f"  {key[:54]:54s} {row['new']:10.4g} {row['old']:10.4g} {cells}")
    wide = sum(
        row["spread"] is not None and row["spread"] > SPREAD_WARNING for row in table.values()
    )
    if wide:
        print(
            f"  {wide} figure(s) vary by more than {SPREAD_WARNING}x between runs of one tree: the "
            "median ratio may read the machine's per-process speed modes; the max and min ratios "
            "compare each mode with itself (see the docstring)"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"head": head, "ref": args.ref, "figures": table, "runs": runs}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
