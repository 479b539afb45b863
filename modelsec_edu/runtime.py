"""Quick mode, seeds and the environment report.

Quick mode (``MODELSEC_EDU_QUICK=1``) shrinks every notebook to a few hundred
samples and one or two epochs, so a whole chapter runs in well under two
minutes on a laptop CPU.  It is read from the environment at call time, never
cached at import, so a test can switch it on and off.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, TypeVar

T = TypeVar("T")

QUICK_ENV = "MODELSEC_EDU_QUICK"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_quick() -> bool:
    """Return True when quick mode is on (environment variable ``MODELSEC_EDU_QUICK``)."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{QUICK_ENV} must be one of 1/0/true/false/yes/no, got {value!r}")


def pick(*, full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Notebooks use it for every size that costs time::

        epochs = runtime.pick(full=10, quick=1)
    """
    return quick if is_quick() else full


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend so that a run can be repeated.

    This is the one function in the package that changes global state, and it
    does so only because you ask it to.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    import keras

    keras.utils.set_random_seed(seed)


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a missing distribution is simply reported as absent
        return None


def environment() -> dict[str, Any]:
    """Describe the machine: versions, Keras backend, CPU and GPU devices, quick mode.

    Returns a dict; :func:`report` prints it.  Importing the backend here is the
    first real work the package does, so it happens only when asked.
    """
    import keras

    from modelsec_edu import backend

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "modelsec_edu": _version("modelsec-edu"),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": _version("numpy"),
    }
    for dist in ("tensorflow", "tensorflow-cpu", "jax", "torch", "ipywidgets", "matplotlib"):
        v = _version(dist)
        if v is not None:
            info[dist] = v
    devices = backend.devices()
    info["devices"] = devices
    info["gpu"] = any(d["type"] == "GPU" for d in devices)
    info["cpu_count"] = os.cpu_count()
    info["quick_mode"] = is_quick()
    info["colab"] = "google.colab" in sys.modules
    return info


def report() -> dict[str, Any]:
    """Print a short environment report and return it as a dict."""
    info = environment()
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key == "devices":
            value = ", ".join(f"{d['type']}:{d['name']}" for d in value) or "none"
        print(f"{key:<{width}}  {value}")
    if not info["gpu"]:
        print("No GPU found: training cells run on the CPU (quick mode keeps them short).")
    return info


def setup(chapter: str) -> dict[str, Any]:
    """What every chapter's setup cell prints: the mode, backend, device and precision in force.

    ``chapter`` is the notebook's number (``"03"``).  Returns the facts as a
    dict, so a notebook or a test can use them.  Attack steps run in the
    ``precision`` shown when ``precision="auto"``; reported accuracies are
    always computed in float32.
    """
    if not isinstance(chapter, str) or not (len(chapter) == 2 and chapter.isdigit()):
        raise ValueError(f"chapter must be a two-digit string such as '03', got {chapter!r}")
    import keras

    from modelsec_edu import backend

    devices = backend.devices()
    gpu = [d["name"] for d in devices if d["type"] in ("GPU", "TPU")]
    facts = {
        "chapter": chapter,
        "mode": "quick" if is_quick() else "full",
        "backend": keras.backend.backend(),
        "device": gpu[0] if gpu else "CPU",
        "precision": backend.fast_dtype(),
        "keras": keras.__version__,
    }
    print(
        f"chapter {chapter} · mode {facts['mode']} · backend {facts['backend']} (Keras {facts['keras']}) · "
        f"device {facts['device']} · attack precision {facts['precision']} (accuracies in float32)"
    )
    return facts
