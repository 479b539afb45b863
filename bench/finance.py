"""Chapter 08 against its bars (issue 12): a credit scorer and a card-fraud detector under attack.

Every figure is measured in this run, on the split of :mod:`modelsec_edu.extraction.bank`
(German credit: 700 bank / 100 competitor / 200 evaluation applicants; the fraud simulator:
60 days train, 30 days test).  Run::

    nice -n 10 .venv/bin/python bench/finance.py [--quick] [--record]

``--record`` writes the scorer's rows (plain, constrained adversarial training) and the
extraction defences' rows (labels only, rounding, the query monitor; there "attacked" is
1 - the stolen copy's agreement) into chapter 10's trade-off table,
modelsec_edu/outlook/results/finance.json, through bench/_record.py.

Bars:
  equation-solving   logistic regression on German credit: weights within 1e-6, 100% agreement,
                     <= d + 1 queries; rounding to 2 decimals: the error, printed
  copy-cat           label-only copy of the MLP scorer: >= 90% agreement at 500 queries, >= 95% at
                     2,000 (on the 200 evaluation applicants)
  constrained        evasion of the credit MLP on the bad applicants it rejects: >= 80% success with
                     100% valid; unconstrained PGD's invalid "successes" counted
  fraud              detector ROC AUC >= 0.85 at < 1% fraud; constrained evasion at 1% false alarms
  monitor            detects the copy-cat within its first 200 queries, <= 5% false alarms
Also reported: transfer from the stolen copy, membership inference, constrained adversarial
training's cost and gain.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from modelsec_edu import evasion, models, privacy
from modelsec_edu.extraction import (
    PredictionAPI,
    QueryMonitor,
    agreement,
    bank,
    combine,
    copycat,
    decide,
    equation_solving,
    plausible_pool,
)

RESULTS: list[tuple[str, str, str, bool | None]] = []


def bar(name, value, rule, ok):
    RESULTS.append((name, value, rule, ok))
    verdict = "PASS" if ok else "FAIL" if ok is not None else "REPORTED"
    print(f"  BAR {name}: {value} ({rule}) {verdict}", flush=True)


def equation_rows(cb):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(max_iter=5000).fit(cb.x_train, cb.y_train)
    d = cb.spec.n_features
    api = PredictionAPI(lr.predict_proba)
    w, b = equation_solving(api, d)
    err = max(np.abs(w - lr.coef_[0]).max(), abs(b - lr.intercept_[0]))
    stolen = lambda x: np.column_stack([1 - (p := 1 / (1 + np.exp(-(x @ w + b)))), p])  # noqa: E731
    agree = agreement(stolen, lr.predict_proba, cb.x_eval)
    ok = err < 1e-6 and agree == 1.0 and api.n_queries <= d + 1
    bar("equation-solving", f"{api.n_queries} queries, error {err:.1e}, agreement {agree:.1%}",
        "<= d+1, < 1e-6, 100%", ok)  # fmt: skip
    for dec in (4, 2):
        wr, br = equation_solving(
            PredictionAPI(lr.predict_proba, output="rounded", decimals=dec), d
        )
        e = max(np.abs(wr - lr.coef_[0]).max(), abs(br - lr.intercept_[0]))
        bar(f"rounded to {dec} decimals", f"weight error {e:.3g} ({e / max(err, 1e-16):.1e} x)",
            "grows by orders of magnitude", e > 1e3 * err)  # fmt: skip
    wl, _ = equation_solving(PredictionAPI(lr.predict_proba, output="label"), d)
    bar("labels only", f"weight error {np.abs(wl - lr.coef_[0]).max():.3g}", "method fails", None)


# Features of each pool row taken from another of the attacker's 100.  With 8 the copy agrees
# more (a run here: 86.5 / 92.5 / 95.0% at 100 / 500 / 2,000 on seed 0, but 91.0% at 2,000 on
# seed 1) and its queries spread out enough that the "spread" monitor missed all of them.
RESAMPLE = 3


def copycat_rows(cb, budgets, steps, seeds):
    d = cb.spec.n_features
    copies, agree = {}, {}
    for seed in seeds:  # each seed draws its own pool, student initialisation and queries
        pools = {
            "plausible, adaptive": (
                plausible_pool(cb.spec, cb.x_own, 6000, resample=RESAMPLE, seed=seed + 1),
                "adaptive",
            ),
            "uniform schema, random": (cb.spec.sample(6000, seed=seed + 1), "random"),
        }
        for name, (p, strategy) in pools.items():
            if name != "plausible, adaptive" and seed != seeds[0]:
                continue  # the uniform baseline once
            for q in budgets:
                t = time.process_time()
                api = PredictionAPI(cb.scorer, output="label")
                copy = copycat(
                    api,
                    p,
                    queries=q,
                    model_fn=bank.student(d, seed=seed + 1),
                    seed=seed,
                    strategy=strategy,
                    steps=steps,
                )
                agree[name, seed, q] = agreement(copy, cb.scorer, cb.x_eval)
                copies[name, seed, q] = (copy, api.queries())
                print(
                    f"    copy-cat {name:>22}, seed {seed}, {q:>5} queries: "
                    f"{agree[name, seed, q]:.1%} ({time.process_time() - t:.0f} CPU s)",
                    flush=True,
                )
    best = "plausible, adaptive"
    for q in budgets:
        need = {500: 0.90, 2000: 0.95}.get(q)
        each = [agree[best, s, q] for s in seeds]
        bar(
            f"copy-cat at {q} (seeds {', '.join(map(str, seeds))})",
            " / ".join(f"{a:.1%}" for a in each) + f" agreement on {len(cb.x_eval)} held-out "
            "applicants",
            "reported" if need is None else f">= {need:.0%} on every seed",
            None if need is None else min(each) >= need,
        )
    rounded = PredictionAPI(cb.scorer, output="rounded", decimals=2)
    pool = plausible_pool(cb.spec, cb.x_own, 6000, resample=RESAMPLE, seed=seeds[0] + 1)
    same = np.mean(decide(rounded, pool) == decide(cb.scorer, pool))
    through_rounded = agreement(
        copycat(rounded, pool, queries=max(budgets), model_fn=bank.student(d, seed=seeds[0] + 1),
                seed=seeds[0], strategy="adaptive", steps=steps),
        cb.scorer, cb.x_eval,
    )  # fmt: skip
    bar(
        "rounding vs copy-cat",
        f"rounded answers give the same label on {same:.1%} of the pool; a copy-cat trained "
        f"through them ({max(budgets)} queries, seed {seeds[0]}) agrees on {through_rounded:.1%}",
        "rounding does not stop a label-only copy",
        None,
    )
    mean_agreement = {q: float(np.mean([agree[best, s, q] for s in seeds])) for q in budgets}
    return copies[best, seeds[0], max(budgets)], pool, mean_agreement, through_rounded


def evasion_rows(cb, rejected, copy, steps, rounds):
    print(f"    {len(rejected)} bad applicants the scorer rejects")
    mask = cb.spec.mutable_mask()
    raw = evasion.pgd(cb.scorer, rejected, np.zeros(len(rejected), "int64"), eps=2.0,
                      step_size=0.25, steps=40, norm="l2", clip=None, targeted=True,
                      seed=0)  # fmt: skip
    hit = decide(cb.scorer, raw) == 0
    counts = cb.spec.validity(raw[hit], rejected[hit]).counts()
    bar("unconstrained PGD", f"{hit.mean():.1%} 'success', of which valid {counts['valid']}; "
        f"{counts}", "count the impossible", None)  # fmt: skip
    masked = evasion.pgd(cb.scorer, rejected, np.zeros(len(rejected), "int64"), eps=2.0,
                         step_size=0.25, steps=40, norm="l2", clip=(0.0, 1.0), mask=mask,
                         targeted=True, seed=0)  # fmt: skip
    hm = decide(cb.scorer, masked) == 0
    cm = cb.spec.validity(masked[hm], rejected[hm]).counts()
    bar("PGD with mask and bounds only", f"{hm.mean():.1%} 'success', valid {cm['valid']}",
        "one-hots and integers still broken", None)  # fmt: skip
    res = evasion.constrained_attack(cb.scorer, rejected, cb.spec, budget=2.0, steps=steps,
                                     rounds=rounds, seed=0)  # fmt: skip
    valid = cb.spec.validity(res.x_adv, rejected).valid.mean()
    bar("constrained evasion", f"{res.success_rate:.1%} success, {valid:.1%} valid, median cost "
        f"{np.median(res.cost[res.success]):.2f}", ">= 80%, 100% valid",
        res.success_rate >= 0.8 and valid == 1.0)  # fmt: skip
    tr = evasion.constrained_attack(copy, rejected, cb.spec, budget=2.0, steps=steps,
                                    rounds=rounds, seed=0)  # fmt: skip
    moved = tr.success
    transfer = np.mean(decide(cb.scorer, tr.x_adv[moved]) == 0) if moved.any() else 0.0
    overall = np.mean(moved & (decide(cb.scorer, tr.x_adv) == 0))
    bar("transfer from the stolen copy", f"{tr.success_rate:.1%} fool the copy; {transfer:.1%} of "
        f"those fool the bank ({overall:.1%} of rejected)", "reported", None)  # fmt: skip
    return rejected


def attacked_accuracy(m, cb, steps, rounds):
    """Accuracy on the evaluation applicants when every bad one it rejects attacks it."""
    pred = decide(m, cb.x_eval)
    rej = (cb.y_eval == 1) & (pred == 1)
    r = evasion.constrained_attack(m, cb.x_eval[rej], cb.spec, budget=2.0, steps=steps,
                                   rounds=rounds, seed=0)  # fmt: skip
    wrong = (pred != cb.y_eval).sum() + r.success.sum()
    return 1.0 - wrong / len(cb.y_eval), r


def training_rows(cb, rejected, steps, rounds):
    train = privacy.trainer(width=16, depth=2, steps=bank.SCORER["steps"])
    t = time.perf_counter()
    plain = train(cb.x_train, cb.y_train, 0)
    t_plain = time.perf_counter() - t
    t = time.perf_counter()
    robust = evasion.constrained_adversarial_training(
        train, cb.x_train, cb.y_train, cb.spec, rounds=2, budget=2.0, steps=steps
    )
    t_rob = time.perf_counter() - t
    rows = []
    for name, m, cost in (("plain", plain, 1.0), ("constrained adv. training", robust,
                                                   t_rob / t_plain)):  # fmt: skip
        acc = models.accuracy(m, cb.x_eval, cb.y_eval)
        rej = rejected[decide(m, rejected) == 1]
        r = evasion.constrained_attack(m, rej, cb.spec, budget=2.0, steps=steps, rounds=rounds)
        med = np.median(r.cost[r.success]) if r.success.any() else float("nan")
        print(f"    {name}: accuracy {acc:.1%}, rejects {len(rej)} bad, attack success "
              f"{r.success_rate:.1%}, median cost {med:.2f}")  # fmt: skip
        att, _ = attacked_accuracy(m, cb, steps, rounds)
        bar(f"{name}: clean / attacked accuracy", f"{acc:.1%} / {att:.1%}, cost {cost:.1f}x",
            "reported", None)  # fmt: skip
        rows.append({
            "chapter": "08",
            "defence": "none (plain credit MLP)" if name == "plain"
            else "constrained adversarial training (credit MLP)",
            "clean": round(float(acc), 4),
            "attacked": round(float(att), 4),
            "attack": f"constrained evasion (cost-weighted L2 budget 2.0, {steps} steps x {rounds}"
            " rounds) by every bad applicant of the 200 evaluation ones that the model rejects;"
            " attacked = accuracy on the 200 counting each evasion as an error",
            "cost": round(float(cost), 2),
        })  # fmt: skip
    bar("constrained adversarial training", f"{t_rob / t_plain:.0f}x the training time",
        "cost reported", None)  # fmt: skip
    return rows


def membership_rows(cb):
    for name, steps, width in (("the bank's scorer", bank.SCORER["steps"], 16),
                               ("an overfit scorer (300 steps, width 64)", 300, 64)):  # fmt: skip
        m = privacy.trainer(width=width, depth=2, steps=steps)(cb.x_train, cb.y_train, 0)
        for release in ("logits", "label"):
            r = privacy.membership_inference(
                m, (cb.x_train[:200], cb.y_train[:200]), (cb.x_eval, cb.y_eval), release=release
            )
            bar(f"membership, {name}, {release}", f"AUC {r.auc:.3f}, advantage {r.advantage:.3f}",
                "reported", None)  # fmt: skip


def monitor_rows(cb, stream_plausible, pool):
    # calibration on the bank's past customers, false alarms on 300 applicants it never saw
    reference, calib, held = cb.monitor_streams(streams=200, length=200, seed=0)
    attacks = {
        "plausible copy-cat": [stream_plausible[:200]]
        + [pool[np.random.default_rng(s).choice(len(pool), 200, replace=False)] for s in range(9)],
        "uniform schema": [cb.spec.sample(200, seed=s) for s in range(10)],
    }
    monitors = {
        stat: QueryMonitor(statistic=stat, reference=reference, warmup=20).calibrate(
            calib, false_alarms=0.025 if stat != "shapiro" else 0.05
        )
        for stat in ("reference", "spread", "shapiro")
    }
    for stat, mon in list(monitors.items()) + [("reference + spread", None)]:
        if mon is None:
            both = (monitors["reference"], monitors["spread"])
            run = lambda streams, both=both: combine(*(m.run(streams) for m in both))  # noqa: E731
        else:
            run = mon.run
        fa = run(held).rate()
        for name, streams in attacks.items():
            res = run(streams)
            first = res.alarm_at[res.alarm_at >= 0]
            at = f"{np.median(first):.0f}" if len(first) else "never"
            ok = res.rate(200) == 1.0 and fa <= 0.05 if stat == "reference + spread" else None
            if stat == "reference + spread" and name == "plausible copy-cat":
                caught = (int(np.median(first)) if len(first) else None, fa)
            bar(
                f"monitor ({stat}) vs {name}",
                f"detected {res.rate(200):.0%} within 200 queries (median alarm at query {at}), "
                f"false alarms {fa:.1%} on {len(held)} held-out customer streams",
                "detect within 200, <= 5% false alarms",
                ok,
            )
    return caught  # (median alarm query of the plausible copy-cat or None, false alarms)


def fraud_rows(steps, rounds, detector_steps):
    t = time.perf_counter()
    fb = bank.fraud_bank(steps=detector_steps)
    s = evasion.constrained.scores(fb.detector, fb.x_test)
    auc = privacy.auc(s[fb.y_test == 1], s[fb.y_test == 0])
    bar("fraud detector", f"ROC AUC {auc:.3f} at {fb.y_test.mean():.2%} fraud "
        f"({len(fb.x_test)} test transactions, {time.perf_counter() - t:.0f} s)", ">= 0.85",
        auc >= 0.85)  # fmt: skip
    genuine = evasion.constrained.scores(fb.detector, fb.x_train[fb.y_train == 0])
    thr = bank.threshold_at_fpr(genuine, 0.01)
    caught = (s >= thr) & (fb.y_test == 1)
    fpr = np.mean(s[fb.y_test == 0] >= thr)
    xf = fb.x_test[caught]
    res = evasion.constrained_attack(fb.detector, xf, fb.spec, threshold=thr, budget=1.0,
                                     steps=steps, rounds=rounds, seed=0)  # fmt: skip
    valid = fb.spec.validity(res.x_adv, xf).valid.mean()
    drop = (xf[:, 0] - res.x_adv[:, 0])[res.success] * fb.spec.feature("amount").hi
    bar("fraud evasion at 1% false alarms",
        f"caught {caught.sum() / max((fb.y_test == 1).sum(), 1):.1%} of fraud (test FPR {fpr:.2%});"
        f" {res.success_rate:.1%} of caught fraud evades, {valid:.0%} valid, median amount cut "
        f"{np.median(drop) if len(drop) else float('nan'):.0f}", "reported", None)  # fmt: skip
    sc = fb.scenario_test[caught]
    for k, name in ((1, "large amount"), (2, "compromised terminal"), (3, "compromised card")):
        if (sc == k).any():
            print(f"    scenario {k} ({name}): {(sc == k).sum()} caught, "
                  f"{res.success[sc == k].mean():.0%} evade")  # fmt: skip


def extraction_rows(cb, agree, through_rounded, caught, steps, seeds):
    """Chapter 10's rows for the defences against the copy-cat.

    There "attacked" is 1 - the stolen copy's agreement with the scorer on the 200 evaluation
    applicants: the share of decisions the competitor did not get (as chapter 07's privacy rows
    use 1 - the membership advantage).  None of these defences retrains the scorer: cost 1.
    """
    acc = round(float(models.accuracy(cb.scorer, cb.x_eval, cb.y_eval)), 4)
    budget = max(agree)
    alarm, false_alarms = caught
    rows = [
        dict(defence="labels only (credit API)", attacked=1 - agree[budget],
             attack=f"label-only copy-cat, {budget} queries, mean of seeds "
             f"{', '.join(map(str, seeds))}; attacked = 1 - its agreement with the scorer"),
        dict(defence="rounded scores, 2 decimals (credit API)", attacked=1 - through_rounded,
             attack=f"copy-cat through the rounded answers, {budget} queries, seed {seeds[0]}; "
             "attacked = 1 - its agreement with the scorer"),
    ]  # fmt: skip
    if alarm is not None:
        d = cb.spec.n_features
        stopped = [
            agreement(
                copycat(PredictionAPI(cb.scorer, output="label"),
                        plausible_pool(cb.spec, cb.x_own, 6000, resample=RESAMPLE, seed=s + 1),
                        queries=alarm, model_fn=bank.student(d, seed=s + 1), seed=s,
                        strategy="adaptive", steps=steps),
                cb.scorer, cb.x_eval,
            )
            for s in seeds
        ]  # fmt: skip
        rows.append(
            dict(defence="query monitor (reference + spread), account stopped at the alarm",
                 attacked=1 - float(np.mean(stopped)),
                 attack=f"label-only copy-cat stopped at the monitor's median alarm (query "
                 f"{alarm}; {false_alarms:.1%} false alarms on new customers), mean of seeds "
                 f"{', '.join(map(str, seeds))}; attacked = 1 - its agreement with the scorer")
        )  # fmt: skip
    for r in rows:
        print(f"    {r['defence']}: attacked {r['attacked']:.1%} ({r['attack']})")
    return [
        {"chapter": "08", "clean": acc, "cost": 1.0, **r, "attacked": round(r["attacked"], 4)}
        for r in rows
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer budgets and steps (smoke)")
    parser.add_argument("--record", action="store_true", help="write chapter 10's trade-off rows")
    args = parser.parse_args()
    q = args.quick
    budgets = [100, 500] if q else [100, 500, 2000]
    steps, rounds = (10, 2) if q else (20, 5)
    t0 = time.perf_counter()
    cb = bank.credit_bank()
    print("equation-solving", flush=True)
    equation_rows(cb)
    x_all = np.concatenate([cb.x_train, cb.x_own, cb.x_eval])
    y_all = np.concatenate([cb.y_train, np.full(len(cb.x_own), -1), cb.y_eval])
    rejected = x_all[(y_all == 1) & (decide(cb.scorer, x_all) == 1)]
    print("constrained adversarial training", flush=True)
    rows = training_rows(cb, rejected, steps, rounds)
    if args.record:  # written now: the rows are complete, whatever happens later in the run
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench._record import record

        record("bench/finance.py", rows)
    print("copy-cat", flush=True)
    student_steps, seeds = (200, [0]) if q else (bank.STUDENT["steps"], [0, 1, 2])
    (copy, stream), pool, agree, through_rounded = copycat_rows(cb, budgets, student_steps, seeds)
    print("monitor", flush=True)
    caught = monitor_rows(cb, stream, pool)
    print("extraction defences", flush=True)
    extraction = extraction_rows(cb, agree, through_rounded, caught, student_steps, seeds)
    if args.record:
        from bench._record import record

        record("bench/finance.py", extraction)
    print("evasion", flush=True)
    evasion_rows(cb, rejected, copy, steps, rounds)
    print("membership", flush=True)
    membership_rows(cb)
    print("fraud", flush=True)
    fraud_rows(steps, rounds, 100 if q else None)
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    for name, value, _rule, ok in RESULTS:
        verdict = "PASS" if ok else "FAIL" if ok is not None else "REPORTED"
        print(f"{verdict:>8}  {name}: {value}  [{_rule}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
