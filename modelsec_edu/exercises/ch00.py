"""Checks for chapter 00 (start here): the mode switch, seeds, reading the data, the environment.

The function-writing checks call the learner's function on **fresh** inputs:
``check_pick_epochs`` runs it once in each mode (the environment variable is
set for the call and restored after), ``check_class_counts`` feeds it new
random labels, ``check_subset`` calls it with new seeds and sizes.  The other
checks compute the right answer on this machine themselves.  Used in chapter
00; solutions in ``solutions/00_start_here.ipynb``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from modelsec_edu import data, runtime

from ._core import call, check_option, verdict

__all__ = ["check_class_counts", "check_gpu", "check_lasting_switch", "check_pick_epochs",
           "check_quick_variable", "check_source", "check_subset"]  # fmt: skip


def _in_mode(quick: bool, fn, *args):
    """Call ``fn`` with quick mode forced on or off, then restore the environment."""
    saved = os.environ.get(runtime.QUICK_ENV)
    os.environ[runtime.QUICK_ENV] = "1" if quick else "0"
    try:
        return call(fn, *args)
    finally:
        if saved is None:
            os.environ.pop(runtime.QUICK_ENV, None)
        else:
            os.environ[runtime.QUICK_ENV] = saved


def check_pick_epochs(fn: Any) -> bool:
    """``fn()`` returns 25 epochs in full mode and 3 in quick mode, using ``runtime.pick``."""

    def run():
        full, quick = _in_mode(False, fn), _in_mode(True, fn)
        if (full, quick) == (quick, full) and full in (3, 25):
            return (
                f"your function returns {full} in both modes: read the mode when it is called "
                "(runtime.pick does), not once when the cell runs"
            )
        if full != 25:
            return f"in full mode your function returned {full!r}, expected 25"
        if quick != 3:
            return f"in quick mode your function returned {quick!r}, expected 3"
        return None

    return verdict(
        run, fn, success="25 epochs in full mode, 3 in quick mode: called in both modes."
    )


def check_class_counts(fn: Any) -> bool:
    """``fn(labels)`` returns how many labels of each class 0-9 there are, as 10 integers."""

    def run():
        rng = np.random.default_rng()
        for n in (int(rng.integers(50, 500)), 7):
            labels = rng.integers(0, 10, n)
            if n == 7:
                labels[:] = 3  # classes that never occur must count 0, not vanish
            before = labels.copy()
            out = np.asarray(call(fn, labels))
            if not np.array_equal(labels, before):
                return "your function changed its input"
            if out.shape != (10,):
                return f"expected 10 counts (one per class 0-9), got shape {out.shape}"
            if out.sum() != n:
                return f"your counts add up to {out.sum()}, but there are {n} labels"
            if not np.array_equal(out, np.bincount(labels, minlength=10)):
                return "some class has the wrong count; compare with a loop over the classes"
        return None

    return verdict(
        run, fn, success="Right counts on fresh labels, including classes that never occur."
    )


def check_subset(fn: Any) -> bool:
    """``fn(n_total, k, seed)``: ``k`` distinct indices below ``n_total``, repeatable per seed."""

    def run():
        rng = np.random.default_rng()
        n_total, k = int(rng.integers(100, 1000)), int(rng.integers(5, 50))
        seeds = [int(s) for s in rng.choice(10_000, size=2, replace=False)]
        a = np.asarray(call(fn, n_total, k, seeds[0]))
        b = np.asarray(call(fn, n_total, k, seeds[0]))
        c = np.asarray(call(fn, n_total, k, seeds[1]))
        if a.shape != (k,):
            return f"expected {k} indices, got shape {a.shape}"
        if not np.issubdtype(a.dtype, np.integer):
            return f"indices must be integers, got dtype {a.dtype}"
        if a.min() < 0 or a.max() >= n_total:
            return f"indices must lie in range({n_total})"
        if len(set(a.tolist())) != k:
            return "some index appears twice: draw without replacement"
        if not np.array_equal(a, b):
            return (
                "the same seed gave different indices: seed a generator, "
                "np.random.default_rng(seed)"
            )
        if np.array_equal(a, c):
            return "two different seeds gave the same indices: the seed must change the draw"
        return None

    return verdict(
        run, fn, success="Distinct, in range, repeatable for one seed, different for another."
    )


_SOURCES = {
    "local": "the course read MNIST files from a directory on this machine",
    "download": "the course downloaded mnist.npz and checked its SHA-256",
    "embedded": "the course fell back to scikit-learn's digits (no MNIST found, no download)",
}


def check_source(answer: Any) -> bool:
    """Where this run's data came from: ``"local"``, ``"download"`` or ``"embedded"``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, source = data.load_mnist(verbose=False, return_source=True)
    right = source.split()[0]
    right = right if right in _SOURCES else "embedded"
    why = {k: f"not on this machine: that would mean {v}. Read the 'source:' line again."
           for k, v in _SOURCES.items() if k != right}  # fmt: skip
    return check_option(answer, right=right, why=why, explain=f"Here {_SOURCES[right]}.")


def check_gpu(answer: Any) -> bool:
    """Whether the backend sees a GPU here (``True``/``False``), read off the environment report."""
    right = "true" if runtime.environment()["gpu"] else "false"
    key = str(answer).lower() if isinstance(answer, bool) else answer
    wrong = "false" if right == "true" else "true"
    why = {wrong: "look at the 'gpu' line of runtime.report() (or 'device' in the setup line)"}
    explain = (
        "Training cells use the GPU." if right == "true" else "Everything runs on the CPU here."
    )
    return check_option(key, right=right, why=why, explain=explain)


def check_quick_variable(answer: Any) -> bool:
    """Which environment variable switches quick mode on (choose a letter)."""
    return check_option(
        answer,
        right="b",
        why={
            "a": "KERAS_BACKEND chooses TensorFlow, JAX or PyTorch; it does not change any sizes.",
            "c": "MODELSEC_EDU_DATA names a directory to look for MNIST in; it changes where data "
            "comes "
            "from, not how much of it a chapter uses.",
            "d": "MODELSEC_EDU_OFFLINE stops the download attempt; the chapter sizes stay the "
            "same.",
        },
        explain="MODELSEC_EDU_QUICK=1 shrinks every chapter; runtime.set_mode('quick') saves the "
        "same "
        "choice in a config file, and the variable wins while it is set.",
    )


def check_lasting_switch(answer: Any) -> bool:
    """Which way of choosing quick mode still holds after a kernel restart and in chapter 06."""
    return check_option(
        answer,
        right="b",
        why={
            "a": "%env sets the variable in this kernel's process only: a restart starts a new "
            "process without it, and chapter 06 runs in a kernel of its own.",
            "c": "runtime.pick reads the mode in force; it never sets it.",
            "d": "the variable lives in this kernel's memory: a restart forgets it, and no other "
            "notebook ever sees it.",
        },
        explain="set_mode writes the choice into a small config file (runtime.config_path()); "
        "every chapter's setup cell reads it, in this session and the next.",
    )
