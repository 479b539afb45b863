"""One model file, one attack, three frameworks: the article's tools side by side (chapter 10).

The article's section 7 names TensorFlow, Keras and PyTorch.  Keras 3 runs one model on the
TensorFlow, JAX or PyTorch backend; the backend is fixed when Keras is first imported, so
:func:`compare_backends` runs each backend in a fresh Python process (``KERAS_BACKEND=...``) on the
**same** ``.keras`` file (verified against its SHA-256 manifest before a ``safe_mode`` load) and
the same inputs, with PGD's random start drawn by NumPy from the same seed, and reports what each
measured.  A backend whose framework is not installed is reported as unavailable, not as an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelsec_edu import validation

__all__ = ["BACKENDS", "BackendRun", "compare_backends"]

BACKENDS = ("tensorflow", "jax", "torch")


@dataclass(frozen=True)
class BackendRun:
    """What one backend measured: accuracies in [0, 1], seconds, versions; else ``error``."""

    backend: str
    available: bool
    clean_accuracy: float = float("nan")
    robust_accuracy: float = float("nan")
    attack_seconds: float = float("nan")
    process_seconds: float = float("nan")
    framework: str = ""
    keras: str = ""
    error: str = ""


def compare_backends(
    model_path: Any,
    manifest: Any,
    x: Any,
    y: Any,
    *,
    eps: float,
    step_size: float,
    steps: int,
    seed: int = 0,
    backends: tuple[str, ...] = BACKENDS,
    timeout: float = 600.0,
) -> list[BackendRun]:
    """Run L-inf PGD on the model at ``model_path`` under every backend: :class:`BackendRun` each.

    Robust accuracy is :func:`modelsec_edu.evasion.robust_accuracy` (right both clean and attacked),
    computed in float32 on every backend.
    """
    model_path = validation.check_path(model_path, "model_path")
    manifest = validation.check_path(manifest, "manifest")
    if not model_path.is_file():
        raise ValueError(f"model_path must name an existing .keras file, got {str(model_path)!r}")
    x, y = validation.check_xy(x, y)
    eps = validation.check_float(eps, "eps", min=0.0)
    step_size = validation.check_float(step_size, "step_size", min=0.0, min_open=True)
    timeout = validation.check_float(timeout, "timeout", min=0.0, min_open=True)
    steps = validation.check_int(steps, "steps", min=1)
    seed = validation.check_int(seed, "seed", min=0)
    for b in backends:
        validation.check_choice(b, "backends", BACKENDS)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "inputs.npz"
        np.savez(data, x=x, y=y)
        job = {
            "model": str(model_path),
            "manifest": str(manifest),
            "data": str(data),
            "eps": eps,
            "step_size": step_size,
            "steps": steps,
            "seed": seed,
        }
        for b in backends:
            runs.append(_run_one(b, job, timeout))
    return runs


def _run_one(backend: str, job: dict, timeout: float) -> BackendRun:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "modelsec_edu.outlook.cross_backend", json.dumps(job)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return BackendRun(backend, available=True, error=f"timed out after {timeout:.0f} s")
    wall = time.perf_counter() - start
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        err = (
            out.stderr.strip().splitlines()[-1]
            if out.stderr.strip()
            else f"exit code {out.returncode}"
        )
        missing = "ModuleNotFoundError" in out.stderr and f"'{backend}'" in out.stderr
        return BackendRun(backend, available=not missing, error=err)
    res = json.loads(lines[-1])
    return BackendRun(
        backend,
        True,
        res["clean"],
        res["robust"],
        res["seconds"],
        wall,
        res["framework"],
        res["keras"],
    )


def _child(job: dict) -> dict:
    import importlib.metadata as md

    import keras

    from modelsec_edu import evasion, models
    from modelsec_edu.supply_chain import integrity

    model = integrity.load_model(job["model"], job["manifest"])
    arrays = np.load(job["data"])
    x, y = arrays["x"], arrays["y"]
    start = time.perf_counter()
    x_adv = evasion.pgd(
        model,
        x,
        y,
        eps=job["eps"],
        step_size=job["step_size"],
        steps=job["steps"],
        seed=job["seed"],
        precision="float32",
    )
    seconds = time.perf_counter() - start
    name = keras.backend.backend()
    dist = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[name]
    try:
        framework = md.version(dist)
    except md.PackageNotFoundError:
        framework = md.version("tensorflow-cpu") if name == "tensorflow" else "?"
    return {
        "clean": models.accuracy(model, x, y),
        "robust": evasion.robust_accuracy(model, x, x_adv, y),
        "seconds": seconds,
        "framework": f"{name} {framework}",
        "keras": keras.__version__,
    }


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
