"""The trained models the course ships inside the package, verified before every load.

A learner on Binder or Colab has one CPU and no cache that outlives the session, so chapter 06's
dozen training runs (hours on one core) cannot happen at "Run All".  The course ships those
models instead, as chapter 05 teaches: small ``.keras`` files in ``modelsec_edu/zoo/weights/``,
each with a record (``<name>.json``: recipe, settings, data, seed, Keras version, training time
and machine, figures reached, training history) and a model card (``<name>.md``) beside it.

Threat model: someone who can change the installed package's files (a tampered wheel or
mirror, a careless edit) swaps a model.  ``manifest.json`` lists the SHA-256 of every shipped
file; :func:`load` checks a file's digest before Keras reads it, then loads it with
``safe_mode=True``.  The manifest itself is signed with the publisher's private key
(``manifest.sig``, OpenSSF model-signing, https://github.com/sigstore/model-transparency);
the public key ``publisher.pem`` ships beside it.  The signature is checked whenever the
optional ``signing`` extra is installed; without it only the digests are checked, which
catches corruption but not an attacker who rewrites the manifest too, and :func:`verify`
says so once per session.  Files are saved by the oldest supported Keras (3.13.2, Colab's),
which every later 3.x reads; ``bench/ship_models.py`` builds them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from modelsec_edu.supply_chain import integrity, signing
from modelsec_edu.validation import check_bool, check_int

__all__ = [
    "FOLDER",
    "available",
    "card",
    "files",
    "estimate",
    "names",
    "notice",
    "record",
    "verify",
]

FOLDER = Path(__file__).resolve().parent / "weights"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "publisher.pem"
_checked: dict[str, str] = {}  # manifest digest -> how it was checked, once per session


def _folder(folder: str | Path | None) -> Path:
    if folder is not None and not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path (str or Path) or None, got {type(folder).__name__}")
    return Path(folder) if folder is not None else FOLDER


def _name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a zoo name (a str), got {type(name).__name__}")
    if not name:
        raise ValueError("name must be a zoo name, got an empty string")
    return name


def names(folder: str | Path | None = None) -> list[str]:
    """The zoo names of the shipped models (those listed in the manifest with a record)."""
    root = _folder(folder)
    listed = integrity.read_manifest(root / MANIFEST) if (root / MANIFEST).is_file() else {}
    return sorted(
        n.removesuffix(".keras")
        for n in listed
        if n.endswith(".keras") and n.removesuffix(".keras") + ".json" in listed
    )


def available(name: str, folder: str | Path | None = None) -> bool:
    """True when the course ships a trained model called ``name``."""
    return _name(name) in names(folder)


def verify(folder: str | Path | None = None, *, quiet: bool = False) -> str:
    """Check the manifest's signature when model-signing is installed; return what was checked.

    Raises:
        IntegrityError: the signature does not match the manifest, or is missing.
    """
    root = _folder(folder)
    quiet = check_bool(quiet, "quiet")
    manifest = root / MANIFEST
    digest = integrity.sha256_file(manifest)
    if digest in _checked:
        return _checked[digest]
    if not (root / SIGNATURE).is_file() or not (root / PUBLIC_KEY).is_file():
        raise integrity.IntegrityError(
            f"the shipped models in {root} have no signature ({SIGNATURE}) or public key "
            f"({PUBLIC_KEY}): refusing to trust their manifest"
        )
    if signing.available():
        signing.verify(manifest, root / PUBLIC_KEY, root / SIGNATURE)
        how = "SHA-256 manifest and its publisher signature checked"
    else:
        how = "SHA-256 manifest checked; its signature was not (pip install modelsec-edu[signing])"
        if not quiet:
            print(
                f"zoo: {how}. The digests catch a corrupted file, not someone who rewrote the "
                "manifest as well."
            )
    _checked[digest] = how
    return how


def record(name: str, folder: str | Path | None = None) -> dict[str, Any]:
    """How the shipped model ``name`` was trained (its ``.json`` record), verified first."""
    root = _folder(folder)
    file = root / f"{_name(name)}.json"
    verify(root, quiet=True)
    integrity.verify(file, root / MANIFEST)
    return json.loads(file.read_text(encoding="utf-8"))


def card(name: str, folder: str | Path | None = None) -> Path:
    """The path of the model card (``<name>.md``) of the shipped model ``name``."""
    return _folder(folder) / f"{_name(name)}.md"


def files(name: str, folder: str | Path | None = None) -> tuple[Path, Path]:
    """``(model file, manifest)`` of ``name`` once the manifest's signature is checked.

    The model's own digest is checked by the load (:func:`modelsec_edu.zoo.load`).
    """
    root = _folder(folder)
    name = _name(name)
    verify(root)
    return root / f"{name}.keras", root / MANIFEST


def minutes(seconds: float) -> str:
    """A duration as a learner reads it."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def notice(name: str, how: str, folder: str | Path | None = None) -> str:
    """The line :func:`modelsec_edu.zoo.get` prints when it hands out a shipped model."""
    if not isinstance(how, str):
        raise TypeError(f"how must be a str, got {type(how).__name__}")
    doc = record(name, folder)
    numbers = {k: v for k, v in doc.get("figures", {}).items() if isinstance(v, (int, float))}
    # The headline: the zoo's own measurements (the trainer's copies and timings are in the card).
    own = {k: v for k, v in numbers.items() if "(trainer's)" not in k and "seconds" not in k}
    worst = {k: v for k, v in numbers.items() if k.endswith(" worst_case (trainer's)")}
    figures = ", ".join(f"{k} {v:.3f}" for k, v in list(({**own, **worst} or numbers).items())[:3])
    cost = doc.get("train_seconds")
    again = (
        f"about {minutes(cost)} on {doc.get('machine', 'the machine in its card')}"
        if isinstance(cost, (int, float))
        else "a time its card gives"
    )
    return (
        f"zoo: {name} is the course's shipped model, trained on {doc.get('data', 'see its card')}"
        f"{' (' + figures + ')' if figures else ''}; {how}. Your own data may differ. "
        f"zoo.get({name!r}, x, y, retrain=True) trains it on your data instead: {again}."
    )


def estimate(name: str, settings: dict, n: int) -> str:
    """Before a long training run: how long it took the publisher, scaled to ``n`` images."""
    name, n = _name(name), check_int(n, "n", min=1)
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict, got {type(settings).__name__}")
    if not available(name):
        return f"zoo: training {name} ({settings}) on {n:,} images; no timing is recorded for it."
    doc = record(name)
    seconds, done = doc.get("train_seconds"), int(doc.get("n_train") or n)
    if not isinstance(seconds, (int, float)):
        return f"zoo: training {name} on {n:,} images; its card records no training time."
    # Time grows with images x epochs: a recipe changed since the card was written scales too.
    epochs, shipped = settings.get("epochs"), doc.get("settings", {}).get("epochs")
    scale = n / max(done, 1)
    passes = ""
    if isinstance(epochs, int) and isinstance(shipped, int) and shipped > 0 and epochs != shipped:
        scale *= epochs / shipped
        passes = f" in {shipped} epochs ({epochs} now)"
    return (
        f"zoo: training {name} on your {n:,} images. The shipped one took {minutes(seconds)} "
        f"for {done:,} images{passes} on {doc.get('machine', 'the machine in its card')}; expect "
        f"about {minutes(seconds * scale)} (more on a slower or busier CPU, less on a GPU)."
    )
