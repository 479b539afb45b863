"""Quick mode, seeds and the environment report, and the one switch for the mode.

Quick mode shrinks every notebook to a few hundred samples and one or two
epochs, so a whole chapter runs in well under two minutes on a laptop CPU.
The mode is read at call time, never cached at import, from (first match wins):

1. the environment variable ``MODELSEC_EDU_QUICK`` (CI and ``%env`` use it);
2. the config file written by :func:`set_mode` (``$MODELSEC_EDU_CONFIG``, else
   ``~/.config/modelsec_edu/config.json``), which lasts across notebooks,
   kernel restarts and sessions;
3. the default, full mode.

Importing this module (the package imports it first) also quiets TensorFlow's
C++ start-up banner, which would otherwise fill each chapter's first output
with a red stderr box: it sets ``TF_CPP_MIN_LOG_LEVEL`` and friends where they
are unset, and, because TensorFlow 2.20+ writes its absl/oneDNN lines to file
descriptor 2 whatever that says, it sends fd 2 to a file while the top-level
``tensorflow`` package loads and prints back every line but those (warnings
and errors stay visible).  Nothing happens if TensorFlow is already imported,
or with ``MODELSEC_EDU_TF_BANNER=1``.  Used in every chapter's setup cell.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import platform
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

QUICK_ENV = "MODELSEC_EDU_QUICK"
CONFIG_ENV = "MODELSEC_EDU_CONFIG"
MODES = ("quick", "full")
ROUTES = ("online", "offline")  # real MNIST at hand; the offline fallback digits
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

# TensorFlow reads these when its C++ runtime starts; after that they change nothing.
_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "2"}
# Lines TensorFlow's C++ side writes straight to file descriptor 2 while it loads, whatever
# TF_CPP_MIN_LOG_LEVEL says (TF 2.20-2.21): absl's pre-init notice and INFO records.
_BANNER = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)|I0000 |\s*$"
    rb"|\d{4}-\d\d-\d\d [0-9:.]+: I |To enable the following instructions: )"
)


class _QuietLoader(importlib.abc.Loader):
    """Run TensorFlow's own loader with fd 2 sent to a file; print back all but the banner."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                self._loader.exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                kept = [ln for ln in sink.read().splitlines() if not _BANNER.match(ln)]
                if kept:
                    sys.stderr.write(b"\n".join(kept).decode(errors="replace") + "\n")


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of the top-level ``tensorflow`` package."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once only, and never in our own way
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _quiet_tensorflow() -> None:
    if "tensorflow" in sys.modules or os.environ.get("MODELSEC_EDU_TF_BANNER"):
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    try:
        os.fstat(2)
    except OSError:  # no stderr to redirect (some embedded interpreters)
        return
    if not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())


_quiet_tensorflow()

# Seconds a whole chapter took from an empty cache, by mode, and the machine it was measured on.
# ``bench/learner_routes.py --record`` writes run_seconds.json; a chapter's setup cell quotes the
# slower of its two routes (real MNIST, offline fallback), in CPU seconds where they were
# recorded (the build machine is shared, so its wall clock overstates a core of one's own).
RUN_FILE = Path(__file__).resolve().parent / "run_seconds.json"
RUN_MACHINE = "one core (taskset -c 0) of a shared 2-core x86-64 Linux VM, TensorFlow CPU"


def _run_seconds(file: Path = RUN_FILE) -> dict[str, dict[str, float]]:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    table: dict[str, dict[str, float]] = {}
    for chapter, row in doc.get("chapters", {}).items():
        for which in MODES:
            runs = [row.get(f"{which}_{r}_cpu", row.get(f"{which}_{r}")) for r in ROUTES]
            runs = [v for v in runs if v is not None]
            if runs:
                table.setdefault(chapter, {})[which] = float(max(runs))
    return table


RUN_SECONDS: dict[str, dict[str, float]] = _run_seconds()


def config_path() -> Path:
    """Where :func:`set_mode` keeps the mode.

    ``$MODELSEC_EDU_CONFIG`` if set, else ``~/.config/modelsec_edu/config.json``
    (``$XDG_CONFIG_HOME`` replaces ``~/.config`` where it is set).
    """
    env = os.environ.get(CONFIG_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or Path.home() / ".config"
    return Path(base) / "modelsec_edu" / "config.json"


def _read_config(file: Path) -> dict[str, Any]:
    if not file.exists():
        return {}
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"the course's config file {file} cannot be read ({exc}); fix it, or delete it and "
            "call runtime.set_mode('quick') or runtime.set_mode('full') again"
        ) from exc
    if not isinstance(doc, dict):
        raise ValueError(
            f"the course's config file {file} must hold a JSON object, found {type(doc).__name__}"
        )
    mode = doc.get("mode")
    if mode is not None and mode not in MODES:
        raise ValueError(f"'mode' in {file} must be one of {MODES}, got {mode!r}")
    return doc


def mode() -> tuple[str, str]:
    """The mode in force and where it came from: ``("quick" | "full", source)``."""
    value = os.environ.get(QUICK_ENV, "")
    if value.strip():  # set and not empty (an empty value counts as unset)
        flag = value.strip().lower()
        if flag in _TRUE:
            return "quick", f"environment variable {QUICK_ENV}={value}"
        if flag in _FALSE:
            return "full", f"environment variable {QUICK_ENV}={value}"
        raise ValueError(f"{QUICK_ENV} must be one of 1/0/true/false/yes/no, got {value!r}")
    file = config_path()
    saved = _read_config(file).get("mode")
    if saved is not None:
        return saved, f"config file {file}"
    return "full", "default (nothing set)"


def is_quick() -> bool:
    """True in quick mode: ``MODELSEC_EDU_QUICK``, else the config file, else False."""
    return mode()[0] == "quick"


def set_mode(new_mode: str) -> Path:
    """Switch every chapter to ``"quick"`` or ``"full"`` mode, for this and every later session.

    Writes ``{"mode": ...}`` into :func:`config_path` and keeps any other keys
    the file holds; a file that is not the course's JSON is never overwritten
    (a ``ValueError`` says what to do).  Prints what changed.  The environment
    variable ``MODELSEC_EDU_QUICK`` still wins while it is set (CI uses it).
    Returns the file's path.
    """
    from modelsec_edu.validation import check_choice

    check_choice(new_mode, "mode", MODES)
    file = config_path()
    doc = _read_config(file)
    before = doc.get("mode")
    doc["mode"] = new_mode
    file.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the file and rename: an interrupted write never leaves half a file.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=file.parent, delete=False, suffix=".tmp"
    ) as tmp:
        json.dump(doc, tmp, indent=2)
        tmp.write("\n")
    os.replace(tmp.name, file)
    change = f"{before} -> {new_mode}" if before and before != new_mode else new_mode
    print(f"mode {change}: saved in {file}; every chapter uses it from its next setup cell on.")
    if os.environ.get(QUICK_ENV, "").strip():
        print(
            f"Note: {QUICK_ENV}={os.environ[QUICK_ENV]} is set in this process and wins "
            "over the file."
        )
    return file


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
    current, source = mode()
    facts = {
        "chapter": chapter,
        "mode": current,
        "mode_source": source,
        "expected_seconds": RUN_SECONDS.get(chapter, {}).get(current),
        "backend": keras.backend.backend(),
        "device": gpu[0] if gpu else "CPU",
        "precision": backend.fast_dtype(),
        "keras": keras.__version__,
    }
    print(
        f"chapter {chapter} · mode {facts['mode']} · backend {facts['backend']} "
        f"(Keras {facts['keras']}) · "
        f"device {facts['device']} · attack precision {facts['precision']} (accuracies in float32)"
    )
    print(
        f"mode {current}, from {source}; "
        "switch every chapter with runtime.set_mode('quick') or runtime.set_mode('full')"
    )
    print(expected_time(chapter, current))
    return facts


def expected_time(chapter: str, which: str | None = None) -> str:
    """How long ``chapter`` took in mode ``which`` (default: the mode in force), as measured."""
    which = which or mode()[0]
    seconds = RUN_SECONDS.get(chapter, {}).get(which)
    if seconds is None:
        return f"expected run time in {which} mode: not measured yet"
    other = "full" if which == "quick" else "quick"
    alt = RUN_SECONDS.get(chapter, {}).get(other)
    tail = f"; {other} mode: about {_minutes(alt)}" if alt is not None else ""
    return (
        f"expected run time in {which} mode: about {_minutes(seconds)} of CPU time from an empty "
        f"cache on {RUN_MACHINE} (bench/learner_routes.py){tail}"
    )


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


CHAPTERS = {
    "00": "start_here", "01": "concepts", "02": "loss_formula", "03": "backprop_attacks",
    "04": "data_poisoning", "05": "model_tampering", "06": "gan_adversarial_training",
    "07": "healthcare", "08": "finance", "09": "autonomous_driving", "10": "tools_outlook",
}  # fmt: skip


def run_table(file: Path | None = None) -> list[dict[str, Any]]:
    """Print how long each chapter took from an empty cache, per route, as measured; return
    the rows.

    The figures come from ``bench/learner_routes.py --record`` (``run_seconds.json``): each
    chapter in the default mode on one CPU core, with real MNIST (``online``) and on the
    offline fallback.  A chapter or route without a figure says "not measured".
    """
    try:
        doc = json.loads((file or RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    rows = []
    print("full mode, empty cache, one core: wall time / CPU time, peak memory")
    print(f"{'chapter':<30} {'real MNIST':>26} {'offline fallback':>26}")
    for chapter, name in CHAPTERS.items():
        row = doc.get("chapters", {}).get(chapter, {})
        cells = []
        for route in ROUTES:
            s, mb, cpu = (row.get(f"full_{route}{k}") for k in ("", "_mb", "_cpu"))
            cpu = _minutes(cpu) if cpu is not None else "?"
            cells.append(f"{_minutes(s)} / {cpu}, {mb:,} MB" if s is not None else "not measured")
        rows.append({"chapter": chapter, **row})
        print(f"{chapter}_{name:<27} {cells[0]:>26} {cells[1]:>26}")
    sources = sorted({r["source"] for r in doc.get("chapters", {}).values() if "source" in r})
    print("measured by " + ("; ".join(sources) if sources else "nothing yet") + f" ({RUN_MACHINE})")
    return rows
