"""Chapter 07's bars, measured: membership leak, DP-SGD on real MNIST, bounded tabular evasion.

Run: ``python bench/healthcare.py [--mnist DIR] [--record] [--skip-dp]``.  Prints every bar's
figure.  The DP-SGD part needs the real MNIST folder (train on its first 8,000 images, test on
the last 2,000) and is skipped cleanly without it; the clinical parts use the tables inside
scikit-learn.  ``--record`` writes the DP-SGD row into chapter 10's trade-off table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modelsec_edu import models  # noqa: E402
from modelsec_edu.data import clinical  # noqa: E402
from modelsec_edu.data.mnist import load_mnist_dir  # noqa: E402
from modelsec_edu.evasion import pgd  # noqa: E402
from modelsec_edu.evasion.constrained import constrained_attack  # noqa: E402
from modelsec_edu.privacy import membership_inference, trainer  # noqa: E402
from modelsec_edu.privacy.dpsgd import dp_fit  # noqa: E402
from modelsec_edu.privacy.experiments import (  # noqa: E402
    OVERFIT,
    dp_sweep,
    leak,
    linear_head,
    plain_fit,
)
from modelsec_edu.privacy.features import scatter_features  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


def bar(name: str, value: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("  [bar met]" if ok else "  [bar MISSED]")
    print(f"  {name}: {value}{verdict}", flush=True)


def membership(splits: int) -> None:
    print("== membership inference (loss threshold, half the patients as members)")
    for name, load, goal in (
        ("diabetes", clinical.load_diabetes, lambda a: a >= 0.65),
        ("breast cancer", clinical.load_breast_cancer, lambda a: a <= 0.58),
    ):
        aucs = []
        for seed in range(splits):
            ds = load()
            members, non_members = ds.split(0.5, seed=seed)
            model = trainer(**OVERFIT)(*members, seed)
            r = leak(name, model, members, non_members, seed=seed)
            aucs.append(r.auc)
            lo, hi = r.tpr_interval
            print(
                f"  {name} split {seed}: train {r.train_accuracy:.3f} test {r.test_accuracy:.3f} "
                f"gap {r.gap:.3f} AUC {r.auc:.3f} advantage {r.advantage:.3f} "
                f"TPR@1%FPR {r.tpr_at_1pct:.1%} [{lo:.1%}-{hi:.1%}] ({r.members} members)"
            )
            if seed == 0 and name == "diabetes":
                for method in ("shadow", "lira"):
                    s = membership_inference(
                        model, members, non_members, method=method, train=trainer(**OVERFIT)
                    )
                    print(f"    {s.summary()}")
        mean = float(np.mean(aucs))
        bar(
            f"{name} loss-MIA AUC, mean of {splits} splits",
            f"{mean:.3f} (each: " + ", ".join(f"{a:.3f}" for a in aucs) + ")",
            goal(mean),
        )


def tabular_evasion() -> None:
    print("== bounded evasion, breast cancer (benign tumours pushed to 'malignant')")
    ds = clinical.load_breast_cancer()
    spec = ds.spec()
    (xa, ya), (xb, yb) = ds.split(0.5, seed=0)
    ua, ub = ds.unit(xa), ds.unit(xb)
    model = trainer(width=64, depth=2, steps=300, weight_decay=1e-3)(ua, ya, 0)
    pred = models.predict_labels(model, ub)
    x = ub[(yb == 1) & (pred == 1)]
    t0 = time.perf_counter()
    r = constrained_attack(model, x, spec, source=1, target=0, budget=1.0, steps=20, rounds=3)
    v = spec.validity(r.x_adv, x)
    print(
        f"  test accuracy {models.accuracy(model, ub, yb):.3f}; {len(x)} benign tumours attacked "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    bar("bounded success", f"{r.success_rate:.1%}", r.success_rate >= 0.9)
    bar(
        "adversarial patients inside the observed ranges, size features unchanged",
        f"{v.valid.mean():.1%}",
        bool(v.valid.all()),
    )
    naive = pgd(
        model,
        x,
        np.ones(len(x), int),
        eps=0.5,
        step_size=0.05,
        steps=40,
        norm="l2",
        clip=None,
        random_start=False,
    )
    ok = models.predict_labels(model, naive) == 0
    nv = spec.validity(naive, x)
    counts = nv.counts()
    bar(
        "naive unbounded PGD (L2 0.5)",
        f"success {ok.mean():.1%}, possible patients "
        f"{nv.valid.mean():.1%} ({counts['out of bounds']} out of range, "
        f"{counts['immutable changed']} with a changed size feature, of {len(x)})",
        None,
    )


def dp_mnist(directory: Path, record: bool) -> None:
    print("== DP-SGD on real MNIST (train first 8,000, test last 2,000)")
    data = load_mnist_dir(directory) if directory.is_dir() else None
    if data is None:
        print(f"  skipped: no MNIST files in {directory}")
        return
    (x, y), (xt, yt) = data
    t0 = time.perf_counter()
    f, ft = scatter_features(x / 255.0), scatter_features(xt / 255.0)
    print(f"  fixed features {f.shape[1]} per image in {time.perf_counter() - t0:.1f} s")
    batch, epochs, lr = 500, 15, 0.5
    sweep = dp_sweep(
        (f, y),
        (ft, yt),
        noise_multipliers=[0.0, 1.91, 3.0],
        batch_size=batch,
        epochs=epochs,
        learning_rate=lr,
        mia_size=2000,
    )
    for p in sweep.points:
        print(
            f"  sigma {p.noise_multiplier:.2f}: epsilon {p.epsilon:.2f}, test accuracy "
            f"{p.accuracy:.1%}, train {p.train_accuracy:.1%}, loss-MIA AUC {p.mia_auc:.3f}"
        )
    best = [p for p in sweep.points if p.epsilon <= 3.0]
    top = max(best, key=lambda p: p.accuracy)
    bar(
        f"accuracy at epsilon {top.epsilon:.2f} <= 3 (delta 1e-5)",
        f"{top.accuracy:.1%}",
        top.accuracy >= 0.9,
    )
    bar(
        "its loss-MIA AUC (2,000 members vs 2,000 non-members)",
        f"{top.mia_auc:.3f}",
        top.mia_auc <= 0.55,
    )
    # throughput, side by side: the same linear head, plain Keras fit vs DP-SGD, warmed up
    reps = 3
    plain_fit((f, y), epochs=1, batch_size=batch)
    t0 = time.perf_counter()
    plain_fit((f, y), epochs=reps, batch_size=batch)
    t_plain = time.perf_counter() - t0
    dp_fit(
        linear_head(f.shape[1]),
        f,
        y,
        noise_multiplier=1.91,
        batch_size=batch,
        epochs=1,
        learning_rate=lr,
        delta=1e-5,
        progress=False,
    )
    t0 = time.perf_counter()
    dp_fit(
        linear_head(f.shape[1]),
        f,
        y,
        noise_multiplier=1.91,
        batch_size=batch,
        epochs=reps,
        learning_rate=lr,
        delta=1e-5,
        progress=False,
    )
    t_dp = time.perf_counter() - t0
    sp, sd = reps * len(f) / t_plain, reps * len(f) / t_dp
    bar(
        "throughput",
        f"plain fit {sp:.0f} samples/s, DP-SGD {sd:.0f} samples/s: {sd / sp:.2f}x",
        sd / sp >= 0.25,
    )
    if record:
        from bench._record import record as write

        write(
            "bench/healthcare.py",
            [
                {
                    "chapter": 7,
                    "defence": "DP-SGD (linear head on fixed features)",
                    "clean": round(sweep.points[0].accuracy, 4),
                    "attacked": round(top.accuracy, 4),
                    "attack": f"loss-MIA AUC {top.mia_auc:.3f} at epsilon {top.epsilon:.2f}",
                    "cost": f"{sd / sp:.2f}x plain fit throughput",
                }
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--skip-dp", action="store_true")
    args = parser.parse_args()
    import os

    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start")
    membership(args.splits)
    tabular_evasion()
    if not args.skip_dp:
        dp_mnist(args.mnist, args.record)
    print(f"load at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
