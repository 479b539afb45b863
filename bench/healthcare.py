"""Chapter 07's bars, measured: membership leak, DP-SGD on real MNIST, bounded tabular evasion.

Run: ``python bench/healthcare.py [--mnist DIR] [--record] [--skip-dp]``.  Prints every bar's
figure.  The DP-SGD part needs the real MNIST folder (train on its first 8,000 images, test on
the last 2,000) and is skipped cleanly without it; the clinical parts use the tables inside
scikit-learn.  ``--record`` writes chapter 07's defence rows (the diabetes mitigations, input
range validation against the bounded evasion, DP-SGD on MNIST unless ``--skip-dp``) into
chapter 10's trade-off table through ``bench/_record.py``.  Privacy rows: ``attacked`` is
1 - the membership advantage of the loss-threshold attack (1.0 = the attacker learns nothing),
evasion rows: the share of attacked records still classified correctly; ``cost`` is the
defence's training CPU time over the plain model's in the same run.
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
from modelsec_edu.privacy import auc, membership_inference, trainer  # noqa: E402
from modelsec_edu.privacy.dpsgd import dp_fit  # noqa: E402
from modelsec_edu.privacy.experiments import (  # noqa: E402
    OVERFIT,
    dp_sweep,
    leak,
    linear_head,
    mitigations,
    plain_fit,
)
from modelsec_edu.privacy.features import scatter_features  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


def bar(name: str, value: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("  [bar met]" if ok else "  [bar MISSED]")
    print(f"  {name}: {value}{verdict}", flush=True)


def auc_interval(r, *, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """A 95% percentile bootstrap interval for an attack's AUC, resampling both groups."""
    rng = np.random.default_rng(seed)
    s_in, s_out = r.scores_in, r.scores_out
    draws = [
        auc(
            s_in[rng.integers(0, len(s_in), len(s_in))],
            s_out[rng.integers(0, len(s_out), len(s_out))],
        )
        for _ in range(n_boot)
    ]
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return float(lo), float(hi)


def membership(splits: int) -> None:
    print("== membership inference (loss threshold, half the patients as members)")
    print(f"  victim recipe (experiments.OVERFIT): {OVERFIT}")
    gaps = {}
    for name, load, goal, word in (
        ("diabetes", clinical.load_diabetes, lambda a: a >= 0.65, ">= 0.65"),
        ("breast cancer", clinical.load_breast_cancer, lambda a: a <= 0.58, "<= 0.58"),
    ):
        aucs, gap = [], []
        for seed in range(splits):
            ds = load()
            members, non_members = ds.split(0.5, seed=seed)
            model = trainer(**OVERFIT)(*members, seed)
            r = leak(name, model, members, non_members, seed=seed)
            a_lo, a_hi = auc_interval(membership_inference(model, members, non_members))
            aucs.append(r.auc)
            gap.append(r.gap)
            lo, hi = r.tpr_interval
            print(
                f"  {name} split {seed}: train {r.train_accuracy:.3f} test {r.test_accuracy:.3f} "
                f"gap {r.gap:.3f} AUC {r.auc:.3f} [{a_lo:.3f}-{a_hi:.3f}] "
                f"advantage {r.advantage:.3f} TPR@1%FPR {r.tpr_at_1pct:.1%} [{lo:.1%}-{hi:.1%}] "
                f"({r.members} members)",
                flush=True,
            )
            if seed == 0 and name == "diabetes":
                for method in ("shadow", "lira"):
                    s = membership_inference(
                        model, members, non_members, method=method, train=trainer(**OVERFIT)
                    )
                    print(f"    {s.summary()}", flush=True)
        gaps[name] = (float(np.mean(gap)), float(np.mean(aucs)))
        bar(
            f"{name} loss-MIA AUC {word} on every one of {splits} splits",
            f"mean {np.mean(aucs):.3f}, min {min(aucs):.3f}, max {max(aucs):.3f} (each: "
            + ", ".join(f"{a:.3f}" for a in aucs)
            + ")",
            all(goal(a) for a in aucs),
        )
    # the encoding's share: the same MLP, same steps, on plain z-scores (no Fourier features)
    plain = {**OVERFIT, "fourier": 0}
    ds = clinical.load_diabetes()
    plain_aucs, plain_gaps = [], []
    for seed in range(splits):
        members, non_members = ds.split(0.5, seed=seed)
        r = leak("diabetes", trainer(**plain)(*members, seed), members, non_members, seed=seed)
        plain_aucs.append(r.auc)
        plain_gaps.append(r.gap)
    bar(
        "for comparison, the same MLP on plain z-scores (no Fourier features), diabetes",
        "AUC " + ", ".join(f"{a:.3f}" for a in plain_aucs) + f" (mean {np.mean(plain_aucs):.3f}); "
        "gap " + ", ".join(f"{g:.3f}" for g in plain_gaps),
        None,
    )
    (gd, ad), (gc, ac) = gaps["diabetes"], gaps["breast cancer"]
    bar(
        "the leak follows the gap",
        f"diabetes mean gap {gd:.3f} -> AUC {ad:.3f}; "
        f"breast cancer mean gap {gc:.3f} -> AUC {ac:.3f}",
        gd > gc and ad > ac,
    )


def mitigation_rows() -> list[dict]:
    """The chapter's mitigation table (diabetes, split 0), as chapter 10 trade-off rows."""
    print("== mitigations, diabetes split 0 (the notebook's table)")
    ds = clinical.load_diabetes()
    members, non_members = ds.split(0.5, seed=0)
    table = mitigations(members, non_members)
    base = table[0].train_seconds
    rows = []
    for r in table:
        cost = r.train_seconds / base
        print(
            f"  {r.name:28s} test {r.test_accuracy:.3f} AUC {r.auc:.3f} "
            f"advantage {r.advantage:.3f} "
            f"train {r.train_seconds:.2f} CPU s ({cost:.2f}x)  {r.guarantee}",
            flush=True,
        )
        rows.append(
            {
                "chapter": "07",
                "defence": f"{r.name}, diabetes MLP",
                "clean": round(r.test_accuracy, 4),
                "attacked": round(1.0 - r.advantage, 4),
                "attack": (
                    "membership: attacked = 1 - advantage of the loss-threshold attack "
                    f"(AUC {r.auc:.3f}; {len(members[0])} members vs "
                    f"{len(non_members[0])} non-members)"
                ),
                "cost": round(cost, 3),
            }
        )
    return rows


def tabular_evasion() -> list[dict]:
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
    clean = models.accuracy(model, ub, yb)
    print(
        f"  test accuracy {clean:.3f}; {len(x)} benign tumours attacked "
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
    rejected = 1.0 - nv.valid.mean()
    bar(
        "naive unbounded PGD (L2 0.5)",
        f"success {ok.mean():.1%}, possible patients "
        f"{nv.valid.mean():.1%} ({counts['out of bounds']} out of range, "
        f"{counts['immutable changed']} with a changed size feature, of {len(x)})",
        None,
    )
    # The defence measured: reject any record outside the observed ranges or with a changed size
    # feature.  It trains nothing (cost 1.0) and stops the naive attack's impossible patients;
    # the strongest attack run here is the bounded one, which passes it.
    still_benign = 1.0 - float(np.mean(r.success & v.valid))
    print(
        f"  input range validation: rejects {rejected:.1%} of the naive attack's records and "
        f"{1.0 - v.valid.mean():.1%} of the bounded attack's; benign tumours still read benign "
        f"under the bounded attack: {still_benign:.1%}"
    )
    return [
        {
            "chapter": "07",
            "defence": "input range validation, breast cancer MLP",
            "clean": round(clean, 4),
            "attacked": round(still_benign, 4),
            "attack": (
                f"bounded evasion inside the observed ranges, size features fixed ({len(x)} "
                "correctly read benign test tumours pushed to malignant); attacked = share still "
                "read benign after validation"
            ),
            "cost": 1.0,
        }
    ]


def dp_mnist(directory: Path) -> list[dict]:
    print("== DP-SGD on real MNIST (train first 8,000, test last 2,000)")
    data = load_mnist_dir(directory) if directory.is_dir() else None
    if data is None:
        print(f"  skipped: no MNIST files in {directory}")
        return []
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
            f"{p.accuracy:.1%}, train {p.train_accuracy:.1%}, loss-MIA AUC {p.mia_auc:.3f}, "
            f"advantage {p.mia_advantage:.3f}"
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
    t0, c0 = time.perf_counter(), time.process_time()
    plain_fit((f, y), epochs=reps, batch_size=batch)
    t_plain, c_plain = time.perf_counter() - t0, time.process_time() - c0
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
    t0, c0 = time.perf_counter(), time.process_time()
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
    t_dp, c_dp = time.perf_counter() - t0, time.process_time() - c0
    sp, sd = reps * len(f) / t_plain, reps * len(f) / t_dp
    bar(
        "throughput",
        f"plain fit {sp:.0f} samples/s, DP-SGD {sd:.0f} samples/s: {sd / sp:.2f}x "
        f"(CPU seconds for {reps} epochs: plain {c_plain:.1f}, DP-SGD {c_dp:.1f})",
        sd / sp >= 0.25,
    )
    return [
        {
            "chapter": "07",
            "defence": "DP-SGD (linear head on fixed features), MNIST",
            "clean": round(top.accuracy, 4),
            "attacked": round(1.0 - top.mia_advantage, 4),
            "attack": (
                "membership: attacked = 1 - advantage of the loss-threshold attack "
                f"(AUC {top.mia_auc:.3f}, 2,000 vs 2,000) at epsilon {top.epsilon:.2f}, "
                f"delta 1e-5; noiseless clipped SGD reached {sweep.points[0].accuracy:.1%}"
            ),
            "cost": round(c_dp / c_plain, 3),
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--splits", type=int, default=6)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--skip-dp", action="store_true")
    args = parser.parse_args()
    import os

    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start")
    membership(args.splits)
    rows = mitigation_rows()
    rows += tabular_evasion()
    if not args.skip_dp:
        rows += dp_mnist(args.mnist)
    if args.record:
        from _record import record

        record("bench/healthcare.py", rows)
    print(f"load at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
