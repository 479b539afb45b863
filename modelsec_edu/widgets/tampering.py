"""Widgets for chapter 05 (model tampering): bit flips, and "tamper, then verify"."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ipywidgets as w
import keras
import numpy as np

from modelsec_edu import models, tampering
from modelsec_edu.supply_chain import integrity
from modelsec_edu.validation import (
    check_classifier,
    check_int,
    check_new_path,
    check_path,
    check_seed,
    check_xy,
)

from .base import BlitFigurePanel, FigurePanel, Panel

__all__ = ["bit_flip_explorer", "tamper_verify_panel"]


def bit_flip_explorer(
    model: keras.Model,
    x_attack: np.ndarray,
    y_attack: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    max_flips: int = 20,
    seed: int = 0,
    candidates: int = 4,
    targeted_log: list[tampering.BitFlip] | None = None,
    random_log: list[tampering.BitFlip] | None = None,
) -> Panel:
    """Flip 0..``max_flips`` bits of the 8-bit model, at random or chosen by the Bit-Flip Attack.

    The factory runs the attack once and draws one random sequence (or reuses
    the logs you pass, from :func:`.tampering.bit_flip_attack` and
    :func:`.tampering.random_bit_flips` with ``eval_data`` on this test set);
    moving the slider applies the first *k* flips of either sequence to a
    private copy and measures the test accuracy live.  The logs are kept in
    ``panel.results``.
    """
    k = check_classifier(model)
    x_attack, y_attack = check_xy(x_attack, y_attack, num_classes=k, names=("x_attack", "y_attack"))
    x_test, y_test = check_xy(x_test, y_test, num_classes=k, names=("x_test", "y_test"))
    max_flips = check_int(max_flips, "max_flips", min=1)
    seed = check_seed(seed)
    candidates = check_int(candidates, "candidates", min=1)
    base = tampering.quantize(model)
    if targeted_log is None:
        _, targeted_log = tampering.bit_flip_attack(
            model,
            x_attack,
            y_attack,
            flips=max_flips,
            seed=seed,
            candidates=candidates,
            eval_data=(x_test, y_test),
        )
    if random_log is None:
        _, random_log = tampering.random_bit_flips(
            model, flips=max_flips, seed=seed, eval_data=(x_test, y_test)
        )
    logs = {
        "random": list(random_log)[:max_flips],
        "targeted (BFA)": list(targeted_log)[:max_flips],
    }
    if any(e.accuracy is None for log in logs.values() for e in log):
        raise ValueError(
            "the logs passed in must record accuracies: run the flips with eval_data=(x_test, "
            "y_test)"
        )
    names = tampering.weight_names(base)
    q0, scales = zip(
        *(tampering.quantize_array(keras.ops.convert_to_numpy(v)) for v in base.trainable_variables)
    )
    scratch = tampering.clone(base)
    acc0 = models.accuracy(base, x_test, y_test)

    most = max(len(log) for log in logs.values())
    flips = w.IntSlider(
        value=0, min=0, max=most, description="bits flipped", continuous_update=False
    )
    mode = w.ToggleButtons(options=list(logs), value="random", description="choice")
    fig = BlitFigurePanel((9, 3), ncols=2)  # the curves and axes are drawn once
    ax_curve, ax_layers = fig.axes
    for label, log in logs.items():
        ax_curve.plot(
            range(len(log) + 1),
            [acc0 * 100] + [e.accuracy * 100 for e in log],
            marker=".",
            label=label,
        )
    (here,) = ax_curve.plot([], [], marker="o", markersize=13, mfc="none", mec="black", ls="none")
    ax_curve.axhline(10, ls=":", color="gray")
    ax_curve.set_xlabel("bits flipped")
    ax_curve.set_ylabel("test accuracy (%)")
    ax_curve.set_ylim(0, 102)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=8)
    bars = ax_layers.barh(range(len(names)), np.zeros(len(names)), color="tab:red")
    ax_layers.set_yticks(range(len(names)), names, fontsize=7)
    ax_layers.set_xlim(0, max(most, 1))
    ax_layers.set_xlabel("flips in this tensor")
    fig.figure.tight_layout()
    fig.animate(here, *bars)

    def update(panel: Panel) -> str:
        mode.disabled = flips.value == 0  # with no bit flipped both sequences show the same model
        log = logs[mode.value][: flips.value]
        q = list(q0)
        counts = np.zeros(len(names))
        for e in log:
            t = names.index(e.layer)
            q[t] = tampering.flip_bit(q[t], e.index, e.bit)
            counts[t] += 1
        scratch.set_weights([tampering.dequantize(qt, s) for qt, s in zip(q, scales)])
        acc = models.accuracy(scratch, x_test, y_test)  # measured now, not read from the log
        here.set_data([len(log)], [acc * 100])
        for bar, c in zip(bars, counts):
            bar.set_width(c)
        last = f"; last flip: {log[-1]}" if log else ""
        return f"{len(log)} {mode.value} flips: accuracy {acc0:.1%} &rarr; <b>{acc:.1%}</b>{last}"

    panel = Panel([flips, mode], update, fig=fig, title="Bit flips in the 8-bit model")
    panel.results = logs
    return panel


def _digest_bits(hex_digest: str) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(hex_digest), dtype=np.uint8)).reshape(16, 16)


def tamper_verify_panel(
    model: keras.Model,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    directory: str | Path | None = None,
    weights_to_try: int = 8,
    overwrite: bool = False,
) -> Panel:
    """Tamper with a saved model file, then try to load it, with or without checking its manifest.

    Three files can arrive: the untouched one; one with a **random bit
    flipped** (an accident: the zip's CRC-32 usually catches it); and one an
    **attacker re-saved** with the sign bit of one weight flipped (a valid zip
    that loads silently).  The manifest's SHA-256 refuses both changed files.
    The figure shows the 256 bits of the recorded and the received digests:
    one changed bit in the file changes about half of them.  The panel writes
    into ``directory/published`` and ``directory/received`` (default: a new
    temporary folder) and refuses to replace files already there unless
    ``overwrite=True``.
    """
    k = check_classifier(model)
    x_test, y_test = check_xy(x_test, y_test, num_classes=k, names=("x_test", "y_test"))
    weights_to_try = check_int(weights_to_try, "weights_to_try", min=1)
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="tamper_"))
    directory = check_path(directory, "directory")
    published = directory / "published"
    received = directory / "received"
    names = ["model.keras", "manifest.json", *(f"resaved_{i}.keras" for i in range(weights_to_try))]
    for target in [published / n for n in names] + [
        received / "model.keras",
        received / "manifest.json",
    ]:
        check_new_path(target, "directory", overwrite=overwrite)
    published.mkdir(parents=True, exist_ok=True)
    received.mkdir(parents=True, exist_ok=True)
    release = tampering.quantize(model)
    path, manifest = published / "model.keras", published / "manifest.json"
    expected = integrity.save_model(release, path, manifest, overwrite=True)
    (received / "manifest.json").write_text(manifest.read_text())
    arrived = received / "model.keras"
    n_bits = 8 * path.stat().st_size
    last = tampering.weight_names(release)[-2]  # the output layer's kernel
    attacker_files = []
    for i in range(weights_to_try):
        evil, _ = tampering.flip_bits(release, [(last, i, 7)])
        p = published / f"resaved_{i}.keras"
        evil.save(p)
        attacker_files.append(p)
    acc_release = models.accuracy(release, x_test, y_test)

    mode = w.ToggleButtons(
        options=["untouched", "random bit flipped", "attacker re-saved"], value="untouched"
    )
    where = w.IntSlider(
        value=n_bits // 2,
        min=0,
        max=n_bits - 1,
        description="bit / weight",
        continuous_update=False,
    )
    check = w.Checkbox(value=True, description="verify the manifest before loading")
    fig = FigurePanel((7.5, 2.6), ncols=3)
    titles = ("recorded SHA-256", "received SHA-256", "bits that differ")
    images = []
    for ax, title in zip(fig.axes, titles):
        images.append(ax.imshow(_digest_bits(expected), cmap="Greys", vmin=0, vmax=1))
        ax.set_title(title, fontsize=9)
        ax.axis("off")

    def update(panel: Panel) -> str:
        where.disabled = mode.value == "untouched"  # nothing to choose in the untouched file
        where.description = "weight" if mode.value == "attacker re-saved" else "bit"
        if mode.value == "untouched":
            arrived.write_bytes(path.read_bytes())
            what = "the untouched file"
        elif mode.value == "random bit flipped":
            integrity.flip_file_bit(
                path, arrived, bit=where.value, overwrite=True
            )  # the panel's own file
            what = f"bit {where.value % 8} of byte {where.value // 8} flipped"
        else:
            i = where.value % weights_to_try
            arrived.write_bytes(attacker_files[i].read_bytes())
            what = f"re-saved with the sign bit of {last}[{i}] flipped"
        got = integrity.sha256_file(arrived)
        a, b = _digest_bits(expected), _digest_bits(got)
        images[1].set_data(b)
        images[2].set_data(a ^ b)
        fig.axes[2].set_title(f"bits that differ: {int((a ^ b).sum())}", fontsize=9)
        try:
            loaded = (
                integrity.load_model(arrived, received / "manifest.json")
                if check.value
                else _load(arrived)
            )
        except integrity.IntegrityError:
            return (
                f"{what}: <b style='color:green'>refused</b>, the SHA-256 does not match the "
                "manifest"
            )
        except Exception as exc:  # noqa: BLE001 - any failure to parse is what the learner should see
            return f"{what}: Keras could not read it ({type(exc).__name__}: {str(exc)[:80]})"
        acc = models.accuracy(loaded, x_test, y_test)
        colour = "green" if mode.value == "untouched" else "red"
        how = "verified, then loaded" if check.value else "loaded without any check"
        return (
            f"{what}: <b style='color:{colour}'>{how}</b>, test accuracy {acc:.1%} "
            f"(published {acc_release:.1%})"
        )

    return Panel([mode, where, check], update, fig=fig, title="Tamper, then verify")


def _load(path: Path) -> Any:
    return keras.saving.load_model(path, safe_mode=True)
