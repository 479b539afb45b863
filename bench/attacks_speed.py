"""PGD speed and strength, side by side with CleverHans 4.0.0 and ART 1.20 in one run.

The setting of issue 3: the course's small CNN (``models.small_cnn`` trained
with ``models.RECIPES["small_cnn"]`` on real MNIST, 8,000 train / 2,000 test),
PGD-40 under L-inf at eps = 0.3 with step 0.01 and a random start.

* **speed**: 500 test images attacked by ours (``precision="auto"`` and
  ``"float32"``), CleverHans' ``projected_gradient_descent`` and ART's
  ``ProjectedGradientDescent`` on a ``TensorFlowV2Classifier``, all with the
  same settings and one batch of 500.  Each is warmed up (compiled) once, then
  the methods take turns for ``--rounds`` rounds; the table gives the median
  images/s by wall clock and by CPU time of this process, and the median of
  the per-round ratios.  The machine may be shared: compare ratios, not raw
  figures, across runs.  Bars: >= 1.2x CleverHans, >= 3x ART.
* **levers**: what each choice is worth, ours only, in the same rounds: one
  compiled loop against a Python loop over one compiled step, float32 against
  bfloat16, the batch size, XLA (``jit_compile``, TF), and a gradient per step
  with the projection in NumPy (the baselines' design).
  Thread settings need a fresh process: rerun with ``--threads INTRA INTER``.
* **strength**: robust accuracy on the 2,000 test images for every method, at
  eps = 0.3 and at 0.1 (where accuracies are far from 0 and the methods can
  differ).  Bars: ours <= 2% at 0.3, and ours <= ART's + 1 point at each eps.

Both baselines are benchmark-only tools, never dependencies of the course::

    pip install --no-deps cleverhans==4.0.0 adversarial-robustness-toolbox==1.20.1

A baseline that is not installed is skipped with a message.  Both are
TensorFlow code, so with ``KERAS_BACKEND=jax`` only ours runs.

Usage::

    python bench/attacks_speed.py                          # speed, levers, strength
    python bench/attacks_speed.py --parts speed --rounds 7
    python bench/attacks_speed.py --parts speed --threads 2 1
    KERAS_BACKEND=jax python bench/attacks_speed.py --parts speed strength
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = Path(
    os.environ.get("MODELSEC_EDU_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist-t10k")
)
EPS, STEP, STEPS = 0.3, 0.01, 40
BARS = {"vs_cleverhans": 1.2, "vs_art": 3.0, "robust_acc": 0.02, "vs_art_points": 1.0}


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# --------------------------------------------------------------------------- setup


def trained_cnn(x_train, y_train, cache: Path, seed: int = 0):
    """The small CNN trained with its recipe; the weights are cached between runs."""
    import keras

    from modelsec_edu import models

    model = models.small_cnn()
    path = cache / f"small_cnn_seed{seed}_n{len(x_train)}.weights.h5"
    if path.exists():
        model.load_weights(path)
        print(f"model: cached weights {path}")
        return model
    keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    models.fit(model, x_train, y_train, progress=False, **models.RECIPES["small_cnn"])
    print(f"model: trained with RECIPES['small_cnn'] in {time.perf_counter() - t0:.0f} s")
    cache.mkdir(parents=True, exist_ok=True)
    model.save_weights(path)
    return model


def baselines(model, backend: str, eps: float = EPS) -> dict:
    """The installed baselines as ``name -> attack(x, y) -> x_adv``; missing ones are skipped."""
    found = {}
    if backend != "tensorflow":
        print("baselines: skipped, CleverHans' and ART's TF2 attacks need KERAS_BACKEND=tensorflow")
        return found
    import tensorflow as tf

    try:
        from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent
    except ImportError:
        print(
            "baseline CleverHans: not installed (pip install --no-deps cleverhans==4.0.0); skipped"
        )
    else:

        def cleverhans(x, y):
            adv = projected_gradient_descent(
                model,
                tf.constant(x),
                eps,
                STEP,
                STEPS,
                np.inf,
                clip_min=0.0,
                clip_max=1.0,
                y=tf.constant(y),
                rand_init=True,
                sanity_checks=False,
            )
            return adv.numpy()

        found["CleverHans 4.0.0"] = cleverhans
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from art.attacks.evasion import ProjectedGradientDescent
            from art.estimators.classification import TensorFlowV2Classifier
    except ImportError:
        print(
            "baseline ART: not installed (pip install --no-deps "
            "adversarial-robustness-toolbox==1.20.1); skipped"
        )
    else:
        import keras

        classifier = TensorFlowV2Classifier(
            model=model,
            nb_classes=10,
            input_shape=(28, 28, 1),
            clip_values=(0.0, 1.0),
            loss_object=keras.losses.CategoricalCrossentropy(from_logits=True),
        )
        art_pgd = ProjectedGradientDescent(
            classifier,
            norm=np.inf,
            eps=eps,
            eps_step=STEP,
            max_iter=STEPS,
            num_random_init=1,
            batch_size=500,
            verbose=False,
        )
        found["ART 1.20"] = lambda x, y: art_pgd.generate(x, y=np.eye(10, dtype="float32")[y])
    return found


def ours(
    model,
    precision: str = "auto",
    batch_size: int = 500,
    eps: float = EPS,
    in_graph: bool | None = None,
):
    """Our PGD; ``in_graph``: one compiled loop (True), or a compiled step in a Python loop."""
    from modelsec_edu import backend, evasion

    def run(x, y, seed=0):
        chosen = backend.loops_in_graph
        if in_graph is not None:
            backend.loops_in_graph = lambda: in_graph
        try:
            return evasion.pgd(
                model,
                x,
                y,
                eps=eps,
                step_size=STEP,
                steps=STEPS,
                seed=seed,
                batch_size=batch_size,
                precision=precision,
            )
        finally:
            backend.loops_in_graph = chosen

    return run


def per_step(model):
    """The baselines' design with our pieces: a compiled gradient per step, the loop in Python."""
    from modelsec_edu import backend

    def run(x, y, seed=0):
        rng = np.random.default_rng(seed)
        xa = np.clip(x + rng.uniform(-EPS, EPS, x.shape).astype("float32"), 0, 1)
        for _ in range(STEPS):
            _, g = backend.input_gradient(model, xa, y)
            xa = np.clip(x + np.clip(xa + STEP * np.sign(g) - x, -EPS, EPS), 0, 1)
        return xa

    return run


def xla(model):
    """Ours under ``tf.function(jit_compile=True)`` (TensorFlow only)."""
    import keras
    import tensorflow as tf

    from modelsec_edu import evasion

    @tf.function(jit_compile=True)
    def loop(x, y, delta0):
        return evasion.pgd_tensor(
            lambda t: model(t, training=False),
            x,
            y,
            eps=EPS,
            step_size=STEP,
            steps=STEPS,
            delta0=delta0,
        )

    def run(x, y, seed=0):
        delta0 = np.random.default_rng(seed).uniform(-EPS, EPS, x.shape).astype("float32")
        return keras.ops.convert_to_numpy(
            loop(tf.constant(x), tf.constant(y.astype("int32")), tf.constant(delta0))
        )

    return run


# --------------------------------------------------------------------------- parts


def race(methods: dict, x, y, rounds: int) -> dict:
    """Warm every method up, then time them in turns; median images/s (wall and CPU)."""
    for name, f in methods.items():
        t0 = time.perf_counter()
        f(x, y)
        print(f"  warm-up {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    wall = {k: [] for k in methods}
    cpu = {k: [] for k in methods}
    names = list(methods)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
            t0, c0 = time.perf_counter(), time.process_time()
            methods[name](x, y)
            wall[name].append(len(x) / (time.perf_counter() - t0))
            cpu[name].append(len(x) / (time.process_time() - c0))
        print(f"  round {r + 1}/{rounds} ({_load()})", flush=True)
    return {"wall": wall, "cpu": cpu}


def speed_table(res: dict, reference: str, against: list[str]) -> dict:
    wall, cpu = res["wall"], res["cpu"]
    ref_w, ref_c = np.array(wall[reference]), np.array(cpu[reference])
    print(
        f"\n  {'method':34s} {'img/s wall':>10s} {'img/s CPU':>10s} {'ratio wall':>11s} "
        f"{'ratio CPU':>10s}"
    )
    out = {}
    for name in wall:
        w, c = np.array(wall[name]), np.array(cpu[name])
        rw, rc = float(np.median(ref_w / w)), float(np.median(ref_c / c))
        out[name] = {
            "img_s_wall": float(np.median(w)),
            "img_s_cpu": float(np.median(c)),
            "ours_over_this_wall": rw,
            "ours_over_this_cpu": rc,
        }
        ratio = f"{rw:10.2f}x {rc:9.2f}x" if name in against else f"{'':11s} {'':10s}"
        print(f"  {name:34s} {np.median(w):10.1f} {np.median(c):10.1f} {ratio}")
    return out


def part_speed(model, x, y, rounds: int, backend: str) -> dict:
    print(f"\n== speed: PGD-{STEPS} L-inf eps={EPS} step={STEP}, {len(x)} images, one batch ==")
    reference = "ours (precision=auto)"
    methods = {reference: ours(model), "ours (precision=float32)": ours(model, "float32")}
    base = baselines(model, backend)
    methods.update(base)
    res = speed_table(race(methods, x, y, rounds), reference, list(base))
    for name, bar in (("CleverHans 4.0.0", BARS["vs_cleverhans"]), ("ART 1.20", BARS["vs_art"])):
        if name not in res:
            print(f"  bar ours >= {bar}x {name}: not measured ({name} is not installed)")
            continue
        r = res[name]
        ok = r["ours_over_this_wall"] >= bar
        print(
            f"  bar ours >= {bar}x {name}: wall {r['ours_over_this_wall']:.2f}x, "
            f"CPU {r['ours_over_this_cpu']:.2f}x -> {'ok' if ok else 'FAIL'}"
        )
    return res


def part_levers(model, x, y, rounds: int, backend: str) -> dict:
    from modelsec_edu.backend import loops_in_graph  # ``backend`` is the backend's name here

    print("\n== levers: ours, each choice on its own, same rounds ==")
    default = "one compiled loop" if loops_in_graph() else "Python loop, compiled step"
    other = "Python loop, compiled step" if loops_in_graph() else "one compiled loop"
    reference = f"{default}, bf16, batch 500"
    methods = {
        reference: ours(model, "bfloat16"),
        f"{default}, float32, batch 500": ours(model, "float32"),
        f"{other}, bf16, batch 500": ours(model, "bfloat16", in_graph=not loops_in_graph()),
        f"{other}, float32, batch 500": ours(model, "float32", in_graph=not loops_in_graph()),
        "gradient per step, NumPy projection, float32": per_step(model),
        f"{default}, bf16, batch 250": ours(model, "bfloat16", 250),
        f"{default}, bf16, batch 100": ours(model, "bfloat16", 100),
    }
    if backend == "tensorflow":
        methods["one compiled loop, float32, XLA"] = xla(model)
    return speed_table(
        race(methods, x, y, rounds), reference, [k for k in methods if k != reference]
    )


def part_strength(model, x, y, backend: str, eps_values: list[float]) -> dict:
    """Robust accuracy at each eps; the bar on the absolute figure applies at eps = 0.3 only.

    At 0.3 every method typically leaves 0%, which cannot tell them apart, so
    a smaller eps, where accuracy is still well above 0, compares the methods' strength.
    """
    from modelsec_edu import models

    out = {"clean": models.accuracy(model, x, y)}
    print(
        f"\n== strength: robust accuracy, PGD-{STEPS} L-inf step={STEP}, {len(x)} test images "
        f"(clean {out['clean']:.2%}) =="
    )
    for eps in eps_values:
        print(f"  eps = {eps}")
        methods = {
            "ours (precision=auto)": ours(model, eps=eps),
            "ours (precision=float32)": ours(model, "float32", eps=eps),
        }
        methods.update(baselines(model, backend, eps))
        row = out[eps] = {}
        for name, f in methods.items():
            t0 = time.perf_counter()
            x_adv = f(x, y)
            d = np.abs(x_adv - x).max()
            row[name] = models.accuracy(model, x_adv, y)
            print(
                f"    {name:32s} {row[name]:7.2%}   max |delta| {d:.4f}   "
                f"{time.perf_counter() - t0:6.1f} s",
                flush=True,
            )
        mine = row["ours (precision=auto)"]
        if eps == EPS:
            print(
                f"    bar ours <= {BARS['robust_acc']:.0%} at eps {EPS}: "
                f"{'ok' if mine <= BARS['robust_acc'] else 'FAIL'}"
            )
        if "ART 1.20" in row:
            gap = (mine - row["ART 1.20"]) * 100
            print(
                f"    bar ours <= ART + {BARS['vs_art_points']:.0f} point: {gap:+.2f} points -> "
                f"{'ok' if gap <= BARS['vs_art_points'] else 'FAIL'}"
            )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["speed", "levers", "strength"],
        choices=["speed", "levers", "strength"],
    )
    ap.add_argument("--images", type=int, default=500, help="images per timed attack")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--strength-eps",
        type=float,
        nargs="+",
        default=[EPS, 0.1],
        help="budgets of the strength part (the 2%% bar is at 0.3)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        nargs=2,
        metavar=("INTRA", "INTER"),
        help="TensorFlow intra-op and inter-op threads (default: TF's choice)",
    )
    ap.add_argument(
        "--cache", type=Path, default=None, help="where the trained CNN's weights are kept"
    )
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    _quiet_tf()
    if not REAL_MNIST.is_dir():
        print(
            f"real MNIST not found at {REAL_MNIST}: nothing to measure (set "
            "MODELSEC_EDU_TEST_MNIST)"
        )
        return 0
    import keras

    from modelsec_edu import backend, data

    backend_name = keras.backend.backend()
    if args.threads and backend_name == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads[0])
        tf.config.threading.set_inter_op_parallelism_threads(args.threads[1])
    print(
        f"backend {backend_name}, fast dtype {backend.fast_dtype()}, {os.cpu_count()} CPUs, "
        f"devices {[d['type'] + ':' + d['name'] for d in backend.devices()]}, threads "
        f"{args.threads or 'default'}, {_load()}"
    )
    (xtr, ytr), (xte, yte) = data.load_mnist(REAL_MNIST, download=False, verbose=False)
    xtr, xte = data.to_float(xtr), data.to_float(xte)
    ytr, yte = ytr.astype("int64"), yte.astype("int64")
    cache = args.cache or data.cache_dir() / "bench"
    model = trained_cnn(xtr, ytr, cache)
    results: dict = {"backend": backend_name, "threads": args.threads}
    x, y = xte[: args.images], yte[: args.images]
    if "speed" in args.parts:
        results["speed"] = part_speed(model, x, y, args.rounds, backend_name)
    if "levers" in args.parts:
        results["levers"] = part_levers(model, x, y, args.rounds, backend_name)
    if "strength" in args.parts:
        results["strength"] = part_strength(model, xte, yte, backend_name, args.strength_eps)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
