"""Chapter 06's figures on the real MNIST subset: the article's method against adversarial training.

Trains (or loads, verified, from the model zoo) every model of chapter 06 on the
first 8,000 images of the MNIST test set and evaluates on the last 2,000: clean
accuracy, FGSM accuracy and PGD-40 accuracy (step 0.01, random start) at
eps = 0.3 (L-inf), and the headline: the per-image worst case over APGD-CE,
APGD-T (9 targets) and Square (1,000 queries) on the first ``--n-worst`` test images
(``evasion.worst_case``), which the bars apply to (issue 10).  It also measures the cGAN's label
accuracy under an independent classifier, and FGSM-RS training throughput against plain
``model.fit`` on the same model, data and batch size, side by side in one run.

Usage::

    python bench/adversarial_training.py [--cache DIR] [--data DIR] [--skip-speed] [--json FILE]
        [--only RECIPE ...] [--n-worst N] [--record] [--reuse FILE]

``--record`` writes each defended model's row into chapter 10's trade-off table
(``modelsec_edu/outlook/results/adversarial_training.json``): clean accuracy, the worst case
(PGD-40 where the worst case was not run), and the cost: the defence's training time over the
plain model's of the same family (CNN or the article's MLP), measured side by side in this run
(:func:`training_costs`), not read from the zoo's records, which were timed at loads from 2 to 28.
``--reuse FILE --record`` takes the models' figures from an earlier run's ``--json`` file and
only measures the costs (the evaluation takes about 30 min here, the costs about 10), or takes
those too if that run measured them.  The plain models' rows ("none") have cost 1 by definition.

The zoo cache (default ``$MODELSEC_EDU_CACHE`` or ``~/.cache/modelsec_edu/models``)
keeps the trained models, so a second run only evaluates, and chapter 06 in
full mode loads the same models.  Runs on any Keras backend
(``KERAS_BACKEND=jax`` on a GPU machine without TensorFlow).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k"
EPS = 0.3

# (row label, zoo recipe, bar on clean accuracy, bar on worst-case robust accuracy)
ROWS = [
    ("plain CNN", "small_cnn", None, None),
    ("article's method (DCGAN, random labels)", "small_cnn_article", None, None),
    ("cGAN augmentation (true labels)", "small_cnn_cgan", None, None),
    ("FGSM-RS, step 1.25 eps (as published)", "small_cnn_fgsm_co", None, None),
    ("FGSM-RS + fixes (fast AT)", "small_cnn_fgsm_rs", 0.98, 0.70),
    ("PGD-AT", "small_cnn_pgd", 0.98, 0.90),
    ("TRADES", "small_cnn_trades", None, None),
    ("AdvGAN adversarial training", "small_cnn_advgan", None, None),
    ("article MLP, plain", "article_mlp", None, None),
    ("article MLP, article's method", "article_mlp_article", None, None),
]


def speed(x, y, *, batch_size: int, repeats: int = 3) -> dict:
    """Samples/s of plain ``model.fit`` and of FGSM-RS training, epochs interleaved, medians."""
    import keras

    from modelsec_edu import evasion, models

    keras.utils.set_random_seed(0)
    plain = models.compile_classifier(models.small_cnn())
    fast = models.compile_classifier(models.small_cnn())
    t_plain, t_fast = [], []
    for i in range(repeats):
        warm = 2 * batch_size if i == 0 else 0  # the first call traces each step
        t_plain += evasion.epoch_seconds(plain, x, y, batch_size=batch_size, warmup=warm)
        t_fast += evasion.epoch_seconds(
            fast, x, y, method="fgsm_rs", eps=EPS, batch_size=batch_size, warmup=warm
        )
    a, b = len(x) / np.median(t_plain), len(x) / np.median(t_fast)
    return {
        "batch_size": batch_size,
        "fit_samples_per_s": a,
        "fgsm_rs_samples_per_s": b,
        "ratio": b / a,
    }


PLAIN = {"small_cnn": "small_cnn", "article_mlp": "article_mlp"}  # family -> its undefended model
NONE = {"small_cnn": "none (plain CNN)", "article_mlp": "none (the article's MLP)"}  # their rows
# What training a model takes besides its own recipe: the generator its method draws from.
GENERATORS = {
    "small_cnn_article": "dcgan_generator",
    "article_mlp_article": "dcgan_generator",
    "small_cnn_cgan": "cgan_generator",
}


def family(key: str) -> str:
    """The undefended model a defence is compared with: the article's MLP or the small CNN."""
    return "article_mlp" if key.startswith("article_mlp") else "small_cnn"


def epoch_seconds(name: str, x, y, *, cache: Path, repeats: int = 1) -> float:
    """Wall seconds of one steady training epoch of the zoo's recipe ``name`` on ``(x, y)``.

    Trains the recipe for 1 and for 3 epochs (warm-up ramps off: they change eps, not the work)
    and halves the difference, so graph tracing and set-up cancel out; the median of ``repeats``
    such pairs.
    """
    import keras

    from modelsec_edu import models, zoo

    recipe, train = zoo.RECIPES[name]
    steady = []
    for _ in range(repeats):
        seconds = []
        for epochs in (1, 3):
            settings = dict(models.recipes.recipe(recipe, quick=False), epochs=epochs)
            if "warmup_epochs" in settings:
                settings["warmup_epochs"] = 0
            keras.utils.set_random_seed(0)
            with tempfile.TemporaryDirectory() as scratch:
                start = time.perf_counter()
                train(x, y, settings, cache, False, Path(scratch))
                seconds.append(time.perf_counter() - start)
        steady.append((seconds[1] - seconds[0]) / 2)
    return max(float(np.median(steady)), 1e-6)


def training_costs(keys, x, y, *, cache: Path, repeats: int = 3) -> dict[str, float]:
    """Each defence's full training time over its family's plain model's, measured here.

    A model's time is, for its recipe and the generator it needs (:data:`GENERATORS`), one
    steady epoch (:func:`epoch_seconds`, the median of ``repeats`` pairs, all on the same ``x``)
    times the recipe's epochs.  One pair is not enough: single pairs put PGD-AT at 6.3x and 4.3x
    and TRADES at 5.2x and 7.2x in two runs here; the median of three pairs gave 9.5x and 10.2x.
    """
    from modelsec_edu import models, zoo

    def full(name: str) -> float:
        epochs = models.recipes.recipe(zoo.RECIPES[name][0], quick=False)["epochs"]
        return epoch_seconds(name, x, y, cache=cache, repeats=repeats) * epochs

    wanted = [k for k in keys if k not in PLAIN]
    base = {f: full(f) for f in sorted({family(k) for k in wanted})}
    costs = {}
    for key in wanted:
        seconds = full(key) + (full(GENERATORS[key]) if key in GENERATORS else 0.0)
        costs[key] = seconds / base[family(key)]
        print(f"training cost of {key:<22} {costs[key]:6.2f}x {family(key)} (measured here)")
    return costs


def record_rows(results: dict, costs: dict[str, float], *, n_test: int) -> None:
    """Chapter 10's rows: one per model evaluated here (the plain ones as "none"), with its cost."""
    sys.path.insert(0, str(ROOT / "bench"))
    from _record import record

    rows = []
    for key, r in results.items():
        cost = 1.0 if key in PLAIN else costs.get(key)  # the undefended model: the unit
        if cost is None:
            continue
        if r["worst_case"] is not None:
            attacked = r["worst_case"]
            attack = f"worst case of APGD-CE, APGD-T, Square (eps {EPS}, {r['n_worst']} images)"
        else:
            attacked, attack = r["pgd"], f"PGD-40 (eps {EPS}, {n_test} images)"
        name = NONE.get(key, r["label"])
        rows.append(
            dict(chapter="06", defence=name, clean=r["clean"], attacked=attacked, attack=attack,
                 cost=round(cost, 2))
        )  # fmt: skip
    if rows:
        record("bench/adversarial_training.py", rows)


def evaluate(args, x, y, xt, yt, cache: Path, out: dict) -> dict:
    """Every model's figures (clean, FGSM, PGD-40, the worst case) and the masking checks."""
    from modelsec_edu import evasion, models, zoo
    from modelsec_edu.evasion import advgan, gan

    rows = [r for r in ROWS if not args.only or r[1] in args.only]
    results = {}
    for label, key, bar_clean, bar_pgd in rows:
        model = zoo.get(key, x, y, cache=cache)
        meta = zoo.info(key, x, y, cache=cache)
        start = time.perf_counter()
        r = evasion.robustness(model, xt, yt, eps=EPS, steps=40, step_size=0.01, seed=0)
        r["worst_case"] = None
        if args.n_worst and key not in ("small_cnn", "article_mlp"):
            wc = evasion.worst_case(model, xt[: args.n_worst], yt[: args.n_worst], eps=EPS, seed=0)
            r.update(
                worst_case=wc.worst_case, worst_case_after=wc.robust_after, n_worst=args.n_worst
            )
        r.update(
            label=label,
            train_seconds=meta["train_seconds"],
            settings=meta["settings"],
            eval_seconds=time.perf_counter() - start,
            bar_clean=bar_clean,
            bar_pgd=bar_pgd,
        )
        results[key] = r
        worst = "" if r["worst_case"] is None else f"  worst case {r['worst_case']:6.1%}"
        print(
            f"{label:<42} clean {r['clean']:6.1%}  FGSM {r['fgsm']:6.1%}  PGD-40 "
            f"{r['pgd']:6.1%}{worst}  "
            f"trained {r['train_seconds']:6.0f} s"
        )
    out["models"] = results

    # Is a gain under PGD-40 real, or gradient masking?  A stronger attack (100 steps, 3 restarts)
    # and a transfer attack (PGD-40 images made on the plain CNN) give upper bounds on the true
    # robust accuracy (on the first 1,000 test images, to keep the run short).
    out["masking_check"] = {}
    suspects = [
        k for k in ("small_cnn_article", "small_cnn_cgan", "article_mlp_article") if k in results
    ]
    xm, ym = xt[:1000], yt[:1000]
    if suspects:
        plain = zoo.get("small_cnn", x, y, cache=cache)
        x_transfer = evasion.pgd(plain, xm, ym, eps=EPS, step_size=0.01, steps=40, seed=0)
    for key in suspects:
        model = zoo.get(key, x, y, cache=cache)
        strong = evasion.robustness(
            model, xm, ym, eps=EPS, steps=100, step_size=0.01, restarts=3, seed=1
        )
        p = models.predict_proba(
            model, evasion.pgd(model, xm, ym, eps=EPS, step_size=0.01, steps=40, seed=0)
        )
        right = p.argmax(axis=1) == ym
        check = {
            "pgd40": float(right.mean()),
            "pgd100x3": strong["pgd"],
            "transfer_from_plain": models.accuracy(model, x_transfer, ym),
            "p_true_when_right": float(p[right, ym[right]].mean()) if right.any() else None,
        }
        out["masking_check"][key] = check
        print(
            f"{results[key]['label']:<42} on 1,000 images: PGD-40 {check['pgd40']:6.1%}, "
            f"PGD-100 x3 restarts {check['pgd100x3']:6.1%}, PGD-40 transferred "
            f"from the plain CNN {check['transfer_from_plain']:6.1%}, p(true) where right under "
            "PGD-40 "
            f"{check['p_true_when_right'] or float('nan'):.2f}"
        )

    if not args.only or "cgan_generator" in args.only or "small_cnn_cgan" in args.only:
        judge = zoo.get("small_cnn", x, y, cache=cache)
        generator = zoo.get("cgan_generator", x, y, cache=cache)
        out["cgan_label_accuracy"] = gan.label_accuracy(generator, judge, n=2000, seed=0)
        print(
            f"cGAN label accuracy (independent small CNN reads the asked-for digit): "
            f"{out['cgan_label_accuracy']:.1%} (bar >= 90%)"
        )

    if not args.only or "advgan_generator" in args.only:
        generator = zoo.get("advgan_generator", x, y, cache=cache)
        x_adv = advgan.attack(generator, xt, eps=EPS)
        out["advgan_attack"] = {
            key: models.accuracy(zoo.get(key, x, y, cache=cache), x_adv, yt)
            for key in ("small_cnn", "small_cnn_pgd", "small_cnn_advgan")
            if key in results
        }
        for key, acc in out["advgan_attack"].items():
            print(
                f"accuracy of {key} on AdvGAN images (generator trained against small_cnn): "
                f"{acc:.1%}"
            )

    print("\n| model | clean | FGSM | PGD-40 | worst case | training | bar |")
    print("|---|---|---|---|---|---|---|")
    for r in results.values():
        worst = r["worst_case"]
        bar = (
            ""
            if r["bar_pgd"] is None or worst is None
            else (
                f"clean >= {r['bar_clean']:.0%}, worst case >= {r['bar_pgd']:.0%}: "
                + ("met" if r["clean"] >= r["bar_clean"] and worst >= r["bar_pgd"] else "NOT met")
            )
        )
        shown = "" if worst is None else f"{worst:.1%}"
        print(
            f"| {r['label']} | {r['clean']:.1%} | {r['fgsm']:.1%} | {r['pgd']:.1%} | {shown} | "
            f"{r['train_seconds']:.0f} s | {bar} |"
        )
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", help="zoo cache directory (default: the zoo's)")
    parser.add_argument(
        "--data", default=str(DEFAULT_DATA), help="directory with the MNIST t10k IDX files"
    )
    parser.add_argument("--skip-speed", action="store_true", help="skip the throughput comparison")
    parser.add_argument("--only", nargs="*", help="zoo recipes to run (default: all rows)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--n-worst",
        type=int,
        default=2000,
        help="first test images for the worst case (default all 2,000: the last 1,000 are the "
        "harder half; 0: skip)",
    )
    parser.add_argument("--record", action="store_true", help="write chapter 10's trade-off rows")
    parser.add_argument(
        "--reuse",
        help="take the models' figures from this earlier --json file instead of evaluating them "
        "(with --record: measure the training costs and record)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MODELSEC_EDU_QUICK", "0")
    if not Path(args.data).is_dir():
        print(f"real MNIST subset not found at {args.data}", file=sys.stderr)
        return 1

    from modelsec_edu import data, evasion, runtime, zoo

    if runtime.is_quick():
        print(
            "MODELSEC_EDU_QUICK is on: the zoo would train quick models; unset it for the bars",
            file=sys.stderr,
        )
        return 1
    (xtr, ytr), (xte, yte) = data.load_mnist(args.data, download=False)
    x, y = data.to_float(xtr), ytr.astype("int64")
    xt, yt = data.to_float(xte), yte.astype("int64")
    info = evasion.accelerator()
    cache = Path(args.cache) if args.cache else zoo.cache_dir()
    print(f"{len(x):,} training / {len(xt):,} test images; zoo cache {cache}")
    out: dict = {"device": info, "n_train": len(x), "n_test": len(xt), "eps": EPS}

    if not args.skip_speed:
        out["speed"] = [speed(x, y, batch_size=bs) for bs in (32, 128)]
        for s in out["speed"]:
            print(
                f"throughput, batch {s['batch_size']}: model.fit "
                f"{s['fit_samples_per_s']:,.0f} samples/s, FGSM-RS "
                f"{s['fgsm_rs_samples_per_s']:,.0f} samples/s, ratio {s['ratio']:.2f} (bar >= 0.6)"
            )

    if args.reuse:  # the models' figures of an earlier run (and its costs, if it measured them)
        earlier = json.loads(Path(args.reuse).read_text(encoding="utf-8"))
        results = out["models"] = earlier["models"]
        print(f"the models' figures from {args.reuse}: {', '.join(results)}")
        if "training_costs" in earlier:
            out["training_costs"] = earlier["training_costs"]
    else:
        results = evaluate(args, x, y, xt, yt, cache, out)
        print(f"\nbackend {info['backend']} on {info['device']}")
    if args.record:
        # The same 4,000 training images for every recipe: only the ratios are kept.
        if "training_costs" not in out:
            out["training_costs"] = training_costs(results, x[:4000], y[:4000], cache=cache)
        costs = out["training_costs"]
        record_rows(results, costs, n_test=len(xt))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
