"""Foundation bars: notebook time and memory, widget latency, accuracy on real MNIST.

Prints one table per part, each with a baseline measured in the same run (the
machine may be shared, so compare ratios, not raw seconds, across runs):

* **notebooks**: every notebook run top to bottom in a fresh kernel, in quick
  mode (offline, as CI runs it) and in full mode (real MNIST when present).
  Wall time and the kernel's peak resident memory (psutil polling of the kernel
  process tree, cross-checked by ``getrusage(RUSAGE_CHILDREN)``).  Baseline: a
  one-cell notebook that imports Keras and builds a model.
  Bars: quick < 120 s, full < 300 s, peak memory < 1.5 GB.
* **widgets**: every widget factory of ``widgets.concepts``; each control is
  set several times after the factory returns and ``last_latency`` (wall
  time) is read, with the CPU time of the update next to it: on a busy
  machine wall time inflates, CPU time much less.  Baseline: a panel that
  redraws one line.  Bar: every update < 0.3 s.
* **accuracy**: ``models.RECIPES`` on real MNIST, 8,000 train / 2,000 test,
  over several seeds.  Bars: article MLP >= 95%, small CNN >= 98%.

Usage::

    python bench/foundation.py                                  # all parts, all notebooks
    python bench/foundation.py notebooks/03_*.ipynb --parts notebooks --modes quick
    python bench/foundation.py --parts widgets accuracy --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = Path(
    os.environ.get("MODELSEC_EDU_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist-t10k")
)
BARS = {
    "quick_s": 120.0,
    "full_s": 300.0,
    "peak_gb": 1.5,
    "latency_s": 0.3,
    "article_mlp": 0.95,
    "small_cnn": 0.98,
}
GB = 1024**3


def _ok(passed: bool) -> str:
    return "ok" if passed else "FAIL"


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


# --------------------------------------------------------------------------- notebooks


def _execute(path: str, timeout: int) -> dict:
    """Run one notebook in a fresh kernel (child process); return time, memory and errors."""
    import nbformat
    import psutil
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    me = psutil.Process()
    peak = {"rss": 0}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            total = 0
            for p in me.children(recursive=True):
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            peak["rss"] = max(peak["rss"], total)
            done.wait(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    error = None
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:200]
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    maxrss *= 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return {"wall_s": wall, "peak_rss": peak["rss"], "ru_maxrss": maxrss, "error": error}


def _env(mode: str) -> dict:
    env = dict(os.environ, MODELSEC_EDU_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MODELSEC_EDU_DATA", None)
    env.pop("TQDM_DISABLE", None)  # notebooks run as a learner sees them
    if mode == "quick":
        env["MODELSEC_EDU_QUICK"] = "1"
    else:
        env["MODELSEC_EDU_QUICK"] = "0"
        if REAL_MNIST.is_dir():
            env["MODELSEC_EDU_DATA"] = str(REAL_MNIST)
    return env


def _run_notebook(path: Path, mode: str, timeout: int) -> dict:
    cmd = [sys.executable, __file__, "--_execute", str(path), "--timeout", str(timeout)]
    out = subprocess.run(cmd, env=_env(mode), capture_output=True, text=True, timeout=timeout + 120)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {
            "wall_s": float("nan"),
            "peak_rss": 0,
            "ru_maxrss": 0,
            "error": (out.stderr.strip() or "no result")[-300:],
        }
    return json.loads(lines[-1])


def _baseline_notebook(directory: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import keras\nfrom modelsec_edu import models\nmodels.article_mlp()"
        )
    ]
    path = directory / "baseline.ipynb"
    nbformat.write(nb, path)
    return path


def bench_notebooks(paths: list[Path], modes: list[str], timeout: int) -> list[dict]:
    print(
        f"\n## Notebooks ({_load()}; full mode data: "
        f"{REAL_MNIST if REAL_MNIST.is_dir() else 'fallback digits'})"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = _baseline_notebook(Path(tmp))
        for mode in modes:
            b = _run_notebook(base, mode, timeout)
            print(
                f"\n{mode} mode   (baseline: kernel + Keras import {b['wall_s']:.1f} s, "
                f"{b['peak_rss'] / GB:.2f} GB)"
            )
            print(
                f"{'notebook':28s} {'wall s':>7s} {'x base':>7s} {'peak GB':>8s} {'ru_maxrss':>9s} "
                " time  mem   error"
            )
            bar = BARS["quick_s" if mode == "quick" else "full_s"]
            for path in paths:
                r = _run_notebook(path, mode, timeout)
                r.update(
                    notebook=path.name,
                    mode=mode,
                    baseline_s=b["wall_s"],
                    baseline_rss=b["peak_rss"],
                )
                r["ok"] = (
                    r["error"] is None
                    and r["wall_s"] < bar
                    and r["peak_rss"] < BARS["peak_gb"] * GB
                )
                rows.append(r)
                print(
                    f"{path.name:28s} {r['wall_s']:7.1f} {r['wall_s'] / b['wall_s']:7.2f} "
                    f"{r['peak_rss'] / GB:8.2f} {r['ru_maxrss'] / GB:9.2f}  "
                    f"{_ok(r['wall_s'] < bar):4s}  {_ok(r['peak_rss'] < BARS['peak_gb'] * GB):4s} "
                    f" {r['error'] or ''}",
                    flush=True,
                )
    return rows


# --------------------------------------------------------------------------- widgets


def _mnist_arrays():
    from modelsec_edu import data

    if REAL_MNIST.is_dir():
        (xtr, ytr), (xte, yte) = data.load_mnist(REAL_MNIST, download=False, verbose=False)
        source = "real MNIST"
    else:
        (xtr, ytr), (xte, yte) = data.load_sklearn_digits()
        source = "fallback digits"
    return (
        (data.to_float(xtr), ytr.astype("int64")),
        (data.to_float(xte), yte.astype("int64")),
        source,
    )


def bench_widgets(repeats: int) -> list[dict]:
    import ipywidgets as w
    import keras
    import numpy as np

    from modelsec_edu import models
    from modelsec_edu.widgets import FigurePanel, Panel, concepts

    (xtr, ytr), (xte, yte), source = _mnist_arrays()
    print(
        f"\n## Widget latency ({_load()}; {source}, {len(xte)} test images, the notebooks' "
        "full-mode sizes)"
    )
    keras.utils.set_random_seed(0)
    model = models.article_mlp()
    models.fit(model, xtr, ytr, epochs=3, batch_size=64, progress=False)

    def baseline():
        fig = FigurePanel((5.5, 3))
        (line,) = fig.axes[0].plot([0, 1], [0, 1])
        fig.figure.tight_layout()
        s = w.FloatSlider(value=0.0, min=0.0, max=1.0, continuous_update=False)

        def update(panel):
            line.set_data([0, 1], [0, s.value])
            return f"{s.value:.2f}"

        return Panel([s], update, fig=fig)

    factories = {
        "baseline (one line)": (baseline, np.linspace(0.1, 1.0, repeats)),
        "label_flip_explorer": (
            lambda: concepts.label_flip_explorer(
                models.article_mlp, xtr[:1000], ytr[:1000], xte, yte, epochs=1
            ),
            None,
        ),
        "weight_noise_explorer": (
            lambda: concepts.weight_noise_explorer(model, xte, yte, max_scale=3.0),
            np.linspace(0.1, 3.0, repeats),
        ),
        "fgsm_explorer": (
            lambda: concepts.fgsm_explorer(model, xte[:300], yte[:300], max_eps=0.3, n_show=8),
            np.linspace(0.01, 0.3, repeats),
        ),
        "gradient_walk": (
            lambda: concepts.gradient_walk(model, xte[0], int(yte[0]), max_t=0.3),
            np.linspace(-0.3, 0.3, repeats),
        ),
    }
    missing = [
        n for n in concepts.__all__ if n.endswith(("_explorer", "_walk")) and n not in factories
    ]
    if missing:
        print(f"   (not measured, add them here: {', '.join(missing)})")
    rows = []
    print(
        f"{'widget':24s} {'build s':>8s} {'median s':>9s} {'max s':>7s} {'x base':>7s} "
        f"{'cpu s':>8s}  bar"
    )
    base_median = None
    for name, (make, values) in factories.items():
        start = time.perf_counter()
        panel = make()
        build = time.perf_counter() - start
        control = panel.controls[0]
        if values is None:  # a selection slider: cycle through its options
            opts = list(control.options)
            values = [opts[(i + 1) % len(opts)] for i in range(repeats)]
        lat, cpu = [], []
        for v in values:
            c0 = time.process_time()
            control.value = type(control.value)(v)
            cpu.append(time.process_time() - c0)
            lat.append(panel.last_latency)
        med, worst, cpu_med = float(np.median(lat)), float(np.max(lat)), float(np.median(cpu))
        base_median = base_median or med
        ok = worst < BARS["latency_s"]
        rows.append(
            {
                "widget": name,
                "build_s": build,
                "median_s": med,
                "max_s": worst,
                "cpu_median_s": cpu_med,
                "ok": ok,
            }
        )
        print(
            f"{name:24s} {build:8.2f} {med:9.3f} {worst:7.3f} {med / base_median:7.1f} "
            f"{cpu_med:8.3f}  {_ok(ok)}",
            flush=True,
        )
    return rows


# --------------------------------------------------------------------------- accuracy


def bench_accuracy(seeds: list[int]) -> list[dict]:
    import keras
    import numpy as np

    from modelsec_edu import models

    if not REAL_MNIST.is_dir():
        print(f"\n## Accuracy: skipped, real MNIST not found at {REAL_MNIST}")
        return []
    (xtr, ytr), (xte, yte), _ = _mnist_arrays()
    print(
        f"\n## Accuracy on real MNIST, {len(xtr):,} train / {len(xte):,} test, models.RECIPES "
        f"({_load()})"
    )
    rows = []
    for name in ("article_mlp", "small_cnn"):
        accs = []
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = getattr(models, name)()
            start = time.perf_counter()
            models.fit(model, xtr, ytr, **models.RECIPES[name], progress=False)
            took = time.perf_counter() - start
            acc = models.accuracy(model, xte, yte)
            accs.append(acc)
            rows.append({"model": name, "seed": seed, "accuracy": acc, "train_s": took})
            print(f"{name:12s} seed {seed}: {acc:.2%}  (trained in {took:.0f} s)", flush=True)
        lo = min(accs)
        print(
            f"{name:12s} min {lo:.2%}  mean {np.mean(accs):.2%}  bar >= {BARS[name]:.0%}: "
            f"{_ok(lo >= BARS[name])}"
        )
    return rows


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: all in notebooks/)"
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("notebooks", "widgets", "accuracy"),
        default=["notebooks", "widgets", "accuracy"],
    )
    parser.add_argument("--modes", nargs="+", choices=("quick", "full"), default=["quick", "full"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=7, help="widget updates measured per widget")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per notebook cell")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "foundation.json")
    parser.add_argument("--_execute", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before the first Keras import
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the tables
    if args._execute:
        print(json.dumps(_execute(args._execute, args.timeout)))
        return 0

    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": sys.platform}}
    if "notebooks" in args.parts:
        paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
        results["notebooks"] = bench_notebooks(
            [p.resolve() for p in paths], args.modes, args.timeout
        )
    if "widgets" in args.parts:
        results["widgets"] = bench_widgets(args.repeats)
    if "accuracy" in args.parts:
        results["accuracy"] = bench_accuracy(args.seeds)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=float))
    print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
