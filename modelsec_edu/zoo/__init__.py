"""A cache of trained models that the chapters share: trained on first use, then loaded.

Chapter 06 trains robust models that later chapters attack, prune and
fingerprint.  :func:`get` trains a model by a named recipe the first time it
is asked for, saves it in the ``.keras`` format and records its SHA-256 in a
manifest; every later call verifies the file against the manifest and loads
it with ``safe_mode=True`` (:func:`modelsec_edu.integrity.load_model`).

Threat model: someone who can write to the cache swaps a model file.  A file
that fails its check raises :class:`~modelsec_edu.integrity.IntegrityError`;
it is never retrained over, replaced or loaded.  (The manifest sits beside the
models, so this catches corruption and careless tampering, not an attacker who
rewrites both: chapter 05 adds signatures for that.)

The cache lives in ``$MODELSEC_EDU_CACHE``, else ``~/.cache/modelsec_edu/models``.
A file name holds the recipe, its settings (quick mode trains small versions),
the Keras version and a digest of the training data, so a model is only reused
for the data, settings and Keras it was trained with.  :func:`load` turns a
file another Keras cannot read into a :class:`KerasVersionError` that says what
to do, never a raw deserialisation error.

In the default (full) mode the course ships its trained models
(:mod:`modelsec_edu.zoo.shipped`): :func:`get` hands out the shipped model,
verified, instead of training for hours on a learner's CPU.  It retrains only
when asked (``retrain=True``, or ``MODELSEC_EDU_RETRAIN=1`` for every model),
and prints the time that takes first.  Quick mode trains its small versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from modelsec_edu import data, evasion, models, runtime
from modelsec_edu.evasion import advgan, gan
from modelsec_edu.supply_chain import integrity
from modelsec_edu.validation import check_bool, check_path, check_xy
from modelsec_edu.zoo import shipped

__all__ = [
    "CACHE_ENV",
    "RECIPES",
    "RETRAIN_ENV",
    "KerasVersionError",
    "cache_dir",
    "get",
    "info",
    "load",
    "path",
    "saved_by",
    "shipped",
    "uses_shipped",
]

CACHE_ENV = "MODELSEC_EDU_CACHE"
RETRAIN_ENV = "MODELSEC_EDU_RETRAIN"
EPS = 0.3  # the L-inf budget the robust models are trained for (MNIST's usual)


def cache_dir() -> Path:
    """``$MODELSEC_EDU_CACHE`` if set, else ``<data cache>/models``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else data.cache_dir() / "models"


# --------------------------------------------------------------------------- recipes
# Each recipe: (full, quick settings, train(x, y, settings, cache, progress, scratch) -> (model,
# history)); ``scratch`` holds checkpoints of long runs (GANs resume from it after a stop).
# The full settings reach the course's bars on real MNIST (bench/adversarial_training.py).


def _plain(builder: Callable[[], keras.Model]):
    def train(x, y, s, cache, progress, scratch):
        model, fit = builder(), {k: s[k] for k in ("epochs", "batch_size", "learning_rate")}
        return model, models.fit(model, x, y, progress=progress, **fit).history

    return train


def _adversarial(method: str):
    def train(x, y, s, cache, progress, scratch):
        model = models.small_cnn()
        # adversarial_fit holds out its validation images itself (validation_data="auto"): the
        # best epoch is picked on images it never trained on.
        settings = {k: v for k, v in s.items() if k != "n_val"}
        hist = evasion.adversarial_fit(
            model, x, y, method=method, eps=EPS, progress=progress, **settings
        )
        return model, hist.history

    return train


def _generator(conditional: bool):
    def train(x, y, s, cache, progress, scratch):
        g = gan.load_checkpoint(scratch) or (gan.cgan() if conditional else gan.dcgan())
        opts = {"epochs": s["epochs"], "batch_size": s["batch_size"], "on_samples": None}
        hist = gan.train(g, x, y, checkpoint_dir=scratch, progress=progress, **opts)
        return g.generator, hist.history

    return train


def _with_gan(labels: str, generator: str, builder: Callable[[], keras.Model]):
    def train(x, y, s, cache, progress, scratch):
        g = get(generator, x, y, cache=cache, progress=progress)
        steps = s["epochs"] * -(-len(x) // s["batch_size"])
        model = models.compile_classifier(
            builder(), learning_rate=s["learning_rate"], decay_steps=steps
        )
        hist = evasion.article_gan_training(
            model, x, y, g, epochs=s["epochs"], batch_size=s["batch_size"], labels=labels,
            progress=progress,
        )  # fmt: skip
        return model, hist.history

    return train


def _advgan_generator(target: str):
    def train(x, y, s, cache, progress, scratch):
        adv = advgan.perturbation_generator(eps=EPS)
        victim = get(target, x, y, cache=cache, progress=progress)
        hist = advgan.train(adv, victim, x, y, epochs=s["epochs"], progress=progress)
        return adv.generator, hist.history

    return train


def _advgan_trained(x, y, s, cache, progress, scratch):
    model = models.compile_classifier(
        models.small_cnn(),
        learning_rate=s["learning_rate"],
        decay_steps=s["epochs"] * (len(x) // s["batch_size"]),
    )
    adv = advgan.perturbation_generator(eps=EPS)
    hist = advgan.adversarial_fit(
        model, adv, x, y, epochs=s["epochs"], batch_size=s["batch_size"], progress=progress
    )
    return model, hist.history


# Each zoo model: (its entry in the one recipes table, models.recipes, and how to train it).
# The chapter-06 comparison gives every plain CNN the same budget as the robust ones: 40 passes
# over the training set ("small_cnn_40").
RECIPES: dict[str, tuple[str, Callable[..., Any]]] = {
    "small_cnn": ("small_cnn_40", _plain(models.small_cnn)),
    "article_mlp": ("article_mlp", _plain(models.article_mlp)),
    "dcgan_generator": ("dcgan_generator", _generator(False)),
    "cgan_generator": ("cgan_generator", _generator(True)),
    "small_cnn_article": (
        "small_cnn_article",
        _with_gan("random", "dcgan_generator", models.small_cnn),
    ),
    "article_mlp_article": (
        "article_mlp_article",
        _with_gan("random", "dcgan_generator", models.article_mlp),
    ),
    "small_cnn_cgan": (
        "small_cnn_cgan",
        _with_gan("conditional", "cgan_generator", models.small_cnn),
    ),
    "small_cnn_fgsm_rs": ("small_cnn_fgsm_rs", _adversarial("fgsm_rs")),
    "small_cnn_fgsm_co": ("small_cnn_fgsm_co", _adversarial("fgsm_rs")),
    "small_cnn_pgd": ("small_cnn_pgd", _adversarial("pgd")),
    "small_cnn_trades": ("small_cnn_trades", _adversarial("trades")),
    "advgan_generator": ("advgan_generator", _advgan_generator("small_cnn")),
    "small_cnn_advgan": ("small_cnn_advgan", _advgan_trained),
}


# --------------------------------------------------------------------------- the cache


def _default_data() -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = data.load_mnist_float(verbose=False)
    return x, y


def _name(name: Any) -> str:
    if not isinstance(name, str) or name not in RECIPES:
        error = TypeError if not isinstance(name, str) else ValueError
        raise error(f"name must be one of {sorted(RECIPES)}, got unknown model {name!r}")
    return name


def _request(name: Any, x: Any, y: Any, cache: Any) -> tuple:
    """``name`` of the zoo, ``(x, y)`` checked (or both None), ``cache`` None or a path."""
    name = _name(name)
    x, y = (None, None) if x is None and y is None else check_xy(x, y)
    return name, x, y, None if cache is None else check_path(cache, "cache")


def _settings(name: str) -> dict:
    return models.recipes.recipe(RECIPES[_name(name)][0])


def path(
    name: str,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    *,
    cache: str | Path | None = None,
) -> Path:
    """Where the model ``name`` trained on ``(x, y)`` with the current settings is cached."""
    name, x, y, cache = _request(name, x, y, cache)
    settings = _settings(name)
    if x is None:
        x, y = _default_data()
    # The Keras version is part of the key: a file written by one Keras is never read by another
    # through the cache (3.15's initializer configs break 3.13's loader, for one).
    key = {"name": name, "settings": settings, "keras": keras.__version__}
    h = hashlib.sha256(json.dumps(key, sort_keys=True).encode())
    h.update(np.ascontiguousarray(x, dtype="float32").tobytes())
    h.update(np.ascontiguousarray(y, dtype="int64").tobytes())
    return Path(cache or cache_dir()) / f"{name}-{h.hexdigest()[:16]}.keras"


def _refuse(file: Path, exc: Exception) -> integrity.IntegrityError:
    return integrity.IntegrityError(
        f"the zoo refuses {file}: {exc} It was not loaded, retrained or replaced. "
        "If you know where the change came from, delete the file (and its .json) to train it anew."
    )


class KerasVersionError(RuntimeError):
    """A verified ``.keras`` file that this Keras cannot read (it was saved by another version)."""


def saved_by(file: str | Path) -> str | None:
    """The Keras version that wrote a ``.keras`` file (its ``metadata.json``), or None."""
    import zipfile

    file = check_path(file, "file")
    try:
        with zipfile.ZipFile(file) as archive:
            meta = json.loads(archive.read("metadata.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    version = meta.get("keras_version") if isinstance(meta, dict) else None
    return version if isinstance(version, str) else None


def load(file: str | Path, manifest: str | Path) -> keras.Model:
    """Verify ``file`` against ``manifest``, then load it with ``safe_mode=True``.

    A file another Keras version wrote is loaded when this Keras can read it;
    when it cannot, :class:`KerasVersionError` says which versions met and
    what to do, instead of the raw deserialisation error.

    Raises:
        IntegrityError: the file does not match the manifest (nothing is deserialised).
        KerasVersionError: the file is intact but was saved by a Keras this one cannot read.
    """
    file, manifest = check_path(file, "file"), check_path(manifest, "manifest")
    try:
        return integrity.load_model(file, manifest)
    except (integrity.IntegrityError, FileNotFoundError):
        raise
    except Exception as exc:  # noqa: BLE001 - any deserialisation failure gets the explanation
        wrote = saved_by(file)
        if wrote == keras.__version__:
            raise
        raise KerasVersionError(
            f"{file} passed its SHA-256 check but Keras {keras.__version__} cannot load it: it was "
            f"saved by Keras {wrote or 'of an unknown version'} ({type(exc).__name__}: {exc}). "
            f"Nothing was loaded. Use the Keras it was saved with (pip install keras=={wrote}), or "
            "train the model anew under this Keras: zoo.get caches a separate file per Keras "
            "version, so it never reads this one."
        ) from exc


def uses_shipped(name: str, *, retrain: bool = False) -> bool:
    """True when :func:`get` hands out the course's shipped ``name`` (full mode, no retrain)."""
    name, retrain = _name(name), check_bool(retrain, "retrain")
    flag = os.environ.get(RETRAIN_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    return not (retrain or flag or runtime.is_quick()) and shipped.available(name)


def get(
    name: str,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    *,
    cache: str | Path | None = None,
    progress: bool = True,
    retrain: bool = False,
) -> keras.Model:
    """The trained model ``name``: shipped, cached, or trained now.

    In the default (full) mode a model the course ships is loaded from the
    package after its checks (:mod:`.shipped`), whatever ``x, y`` are: it was
    trained on the data its card names, which may not be yours.  Otherwise the
    model comes from the cache after a SHA-256 check, or is trained and cached.

    Args:
        name: a key of :data:`RECIPES`.
        x, y: training data (default: ``data.load_mnist_float()``'s training split).
        cache: the cache directory (default: :func:`cache_dir`).
        progress: show training progress when the model has to be trained.
        retrain: train on ``x, y`` (or use the cache) even where a model ships;
            prints the time it took the publisher first.  ``MODELSEC_EDU_RETRAIN=1``
            sets it for every call.

    Training seeds Keras' global random state (``keras.utils.set_random_seed(0)``)
    so that a recipe gives the same model on the same machine and backend.

    Raises:
        IntegrityError: the cached file (or its record) does not match the manifest.
    """
    retrain, progress = check_bool(retrain, "retrain"), check_bool(progress, "progress")
    name, x, y, cache = _request(name, x, y, cache)
    if uses_shipped(name, retrain=retrain):
        file, manifest = shipped.files(name)
        try:
            model = load(file, manifest)
        except integrity.IntegrityError as exc:
            raise integrity.IntegrityError(
                f"the zoo refuses the shipped {file.name}: {exc} It was not loaded. Reinstall the "
                f"course, or train your own with zoo.get({name!r}, x, y, retrain=True)."
            ) from exc
        print(shipped.notice(name, shipped.verify(quiet=True)))
        return model
    if x is None:
        x, y = _default_data()
    file = path(name, x, y, cache=cache)
    manifest = file.parent / "manifest.json"
    if file.exists():
        try:
            return load(file, manifest)
        except integrity.IntegrityError as exc:
            raise _refuse(file, exc) from exc
    settings = _settings(name)
    if not runtime.is_quick():
        print(shipped.estimate(name, settings, len(x)))
    scratch = file.with_suffix(".ckpt")
    keras.utils.set_random_seed(0)  # a recipe trains the same model every time it runs
    start = time.perf_counter()
    model, logs = RECIPES[name][1](
        np.asarray(x, "float32"), np.asarray(y), settings, cache, progress, scratch
    )
    seconds = time.perf_counter() - start
    # A manifest entry whose file is gone is stale, not a tampered file: nothing is overwritten.
    listed = integrity.read_manifest(manifest)
    integrity.save_model(model, file, manifest, overwrite=file.name in listed)
    meta = file.with_suffix(".json")
    doc = {"name": name, "settings": settings, "train_seconds": seconds, "n_train": len(x)}
    doc |= {"backend": keras.backend.backend(), "quick": runtime.is_quick()}
    doc["history"] = {k: [float(v) for v in vs] for k, vs in logs.items()}
    if meta.exists() and meta.name in listed:
        integrity.verify(meta, manifest)  # never overwrite a record that fails its check
    meta.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    integrity.record(meta, manifest, replace=meta.name in listed)
    if scratch.is_dir():
        shutil.rmtree(scratch)
    return model


def info(
    name: str,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    *,
    cache: str | Path | None = None,
) -> dict[str, Any]:
    """How a model was trained (settings, seconds, backend, history), verified against its manifest.

    Describes the model :func:`get` returns: the shipped record where a shipped
    model is used, else the cached one.
    """
    name, x, y, cache = _request(name, x, y, cache)
    if uses_shipped(name):
        return shipped.record(name)
    file = path(name, x, y, cache=cache).with_suffix(".json")
    if not file.exists():
        raise FileNotFoundError(
            f"{name} is not cached yet in {file.parent}: zoo.get({name!r}) trains it"
        )
    try:
        integrity.verify(file, file.parent / "manifest.json")
    except integrity.IntegrityError as exc:
        raise _refuse(file, exc) from exc
    return json.loads(file.read_text(encoding="utf-8"))
