"""APGD against PGD, and the worst-case evaluation, on real MNIST: strength and time in one run.

The setting: the course's small CNN trained for ``--epochs`` epochs on the real
MNIST subset (the t10k file split first 8,000 for training, last 2,000 for
testing; ``data.load_mnist_dir``), and a second CNN trained the same number of
epochs with FGSM-RS adversarial training at eps = 0.3 (so that robust
accuracy is far from zero and attacks can differ).  On ``--n`` test images:

* PGD-40 (step 0.01, one random start, the course's usual evaluation),
* APGD-CE with 40 steps (the same budget of gradient evaluations) and 100,
* APGD-DLR-100, APGD-T (``--targets`` targets x 100 steps),
* Square (1,000 queries), and the per-input worst case (``evasion.worst_case``).

Every attack runs in float32; robust accuracy is ``evasion.robust_accuracy``
(right both clean and attacked).  Time is wall clock; the table also gives it
as a ratio to PGD-40 in the same run, which is what to compare across
machines (the machine may be shared).  Skips with a message when the data is
absent.

Usage::

    nice -n 10 python bench/worst_case.py              # about 5 minutes on 2 shared cores
    nice -n 10 python bench/worst_case.py --n 200 --epochs 1
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = Path(
    os.environ.get("MODELSEC_EDU_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist-t10k")
)


def _models(xtr, ytr, epochs: int):
    import keras

    from modelsec_edu import evasion, models

    keras.utils.set_random_seed(0)
    plain = models.compile_classifier(models.small_cnn(), learning_rate=2e-3)
    t0 = time.perf_counter()
    models.fit(plain, xtr, ytr, epochs=epochs, batch_size=64, progress=False)
    print(f"plain CNN: {epochs} epochs in {time.perf_counter() - t0:.0f} s")
    keras.utils.set_random_seed(0)
    robust = models.small_cnn()
    t0 = time.perf_counter()
    evasion.adversarial_fit(
        robust, xtr, ytr, method="fgsm_rs", eps=0.3, epochs=epochs, batch_size=64,
        step_size=0.3, warmup_epochs=min(1.0, epochs / 2), learning_rate=1e-3, progress=False,
    )  # fmt: skip
    print(f"FGSM-RS CNN: {epochs} epochs in {time.perf_counter() - t0:.0f} s")
    return {"plain CNN": (plain, 0.1), "FGSM-RS CNN": (robust, 0.3)}


def _attacks(targets: int):
    from modelsec_edu import evasion

    f32 = {"precision": "float32"}
    return {
        "PGD-40": lambda m, x, y, e: evasion.pgd(
            m, x, y, eps=e, step_size=0.01 if e >= 0.3 else e / 12, steps=40, seed=0, **f32
        ),
        "APGD-CE-40": lambda m, x, y, e: evasion.apgd(m, x, y, eps=e, steps=40, seed=0, **f32),
        "APGD-CE-100": lambda m, x, y, e: evasion.apgd(m, x, y, eps=e, steps=100, seed=0, **f32),
        "APGD-DLR-100": lambda m, x, y, e: evasion.apgd(
            m, x, y, eps=e, loss="dlr", steps=100, seed=0, **f32
        ),
        f"APGD-T-{targets}x100": lambda m, x, y, e: evasion.apgd_t(
            m, x, y, eps=e, n_targets=targets, steps=100, seed=0, **f32
        ),
        "Square-1000": lambda m, x, y, e: evasion.square_attack(
            m, x, y, eps=e, queries=1000, seed=0
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="test images attacked")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--targets", type=int, default=3, help="APGD-T target classes")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from modelsec_edu import data, evasion, models

    arrays = data.load_mnist_dir(REAL_MNIST)
    if arrays is None:
        print(f"skipped: no MNIST files in {REAL_MNIST}")
        return
    (xtr, ytr), (xte, yte) = arrays
    xtr, xte = data.to_float(xtr), data.to_float(xte)
    ytr, yte = ytr.astype("int64"), yte.astype("int64")
    x, y = xte[: args.n], yte[: args.n]
    import keras

    print(
        f"backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"real MNIST subset (t10k split 8,000 / 2,000), {args.n} test images"
    )
    for name, (model, eps) in _models(xtr, ytr, args.epochs).items():
        print(f"\n{name}, L-inf eps = {eps}: clean accuracy {models.accuracy(model, x, y):.1%}")
        print(f"{'attack':<16}{'robust acc':>11}{'seconds':>9}{'x PGD-40':>10}")
        base = None
        for attack, fn in _attacks(args.targets).items():
            fn(model, x[:8], y[:8], eps)  # compile first: time the attack, not the tracing
            t0 = time.perf_counter()
            x_adv = fn(model, x, y, eps)
            sec = time.perf_counter() - t0
            base = base or sec
            acc = evasion.robust_accuracy(model, x, x_adv, y)
            print(f"{attack:<16}{acc:>11.1%}{sec:>9.1f}{sec / base:>10.2f}")
        t0 = time.perf_counter()
        report = evasion.worst_case(model, x, y, eps=eps, n_targets=args.targets, seed=0)
        sec = time.perf_counter() - t0
        print(f"{'worst case':<16}{report.worst_case:>11.1%}{sec:>9.1f}{sec / base:>10.2f}")
        print("  (APGD-CE-100, then APGD-T, then Square-1000, each on the inputs still robust)")
        print("  " + report.table().replace("\n", "\n  "))


if __name__ == "__main__":
    main()
