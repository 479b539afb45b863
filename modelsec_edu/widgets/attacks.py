"""Widgets for chapter 03 (backpropagation attacks): an attack explorer, accuracy-vs-eps curves."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as w
import keras
import numpy as np

from modelsec_edu import evasion, models
from modelsec_edu.models.recipes import default_step_size
from modelsec_edu.validation import (
    check_array,
    check_choice,
    check_classifier,
    check_float,
    check_int,
    check_model,
    check_seed,
)

from .base import BlitFigurePanel, FigurePanel, Panel

__all__ = ["ATTACKS", "attack_explorer", "run_attack", "security_curves"]

ATTACKS = ("FGSM", "PGD", "DeepFool", "Square")
QUERIES_PER_STEP = 25  # Square Attack: the steps control buys this many queries per step


def run_attack(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    attack: str,
    eps: float,
    steps: int,
    norm: str,
    seed: int = 0,
) -> np.ndarray:
    """Run one of the chapter's attacks with the explorer's settings.

    FGSM is one step (its L2 twin, "FGM", when ``norm="l2"``); PGD takes
    ``steps`` steps of ``models.recipes.default_step_size`` (Madry et al.'s
    ``2.5 eps / steps``) from a random
    start; DeepFool ignores ``eps`` (it has no budget) and stops after at most
    ``steps`` rounds; Square Attack is L-inf only and gets
    ``QUERIES_PER_STEP * steps`` queries.
    """
    check_model(model)
    attack = check_choice(attack, "attack", ATTACKS)
    eps = check_float(eps, "eps", min=0.0)
    steps = check_int(steps, "steps", min=1)
    norm = check_choice(norm, "norm", ("linf", "l2"))
    seed = check_seed(seed)
    if attack == "DeepFool":
        return evasion.deepfool(model, x, y, norm=norm, steps=steps)
    if eps == 0:
        return np.array(x, dtype="float32")
    if attack == "FGSM":
        if norm == "linf":
            return evasion.fgsm(model, x, y, eps=eps)
        return evasion.pgd(
            model, x, y, eps=eps, step_size=eps, steps=1, norm=norm, random_start=False
        )
    if attack == "PGD":
        step_size = default_step_size(eps, steps)
        return evasion.pgd(
            model, x, y, eps=eps, step_size=step_size, steps=steps, norm=norm, seed=seed
        )
    if norm != "linf":
        raise ValueError("the Square Attack here is L-inf only: choose norm 'linf'")
    return evasion.square_attack(model, x, y, eps=eps, queries=QUERIES_PER_STEP * steps, seed=seed)


def live_controls(attack: str, norm: str) -> set[str]:
    """The explorer's controls that change the picture for this attack and norm (the rest are off).

    DeepFool has no budget; FGSM takes one step whatever ``steps`` says; the
    Square Attack is L-inf only, so its norm and L2 budget do nothing.
    """
    live = {"norm", "steps", "eps_linf" if norm == "linf" else "eps_l2"}
    if attack == "DeepFool":
        live -= {"eps_linf", "eps_l2"}
    if attack == "FGSM":
        live.discard("steps")
    if attack == "Square":
        live = {"steps", "eps_linf"}
    return live


def _images(x: np.ndarray, name: str) -> np.ndarray:
    x = check_array(x, "x")
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(
            f"x: {name} shows grey images of shape (n, height, width, 1), got {x.shape}"
        )
    return x


def attack_explorer(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_eps_linf: float = 0.3,
    max_eps_l2: float = 4.0,
    seed: int = 0,
) -> Panel:
    """Pick an attack, its budget, steps and norm, and an image: see what the attack does to it.

    Shows the clean and the attacked image, the perturbation magnified to the
    full grey range (red brighter, blue darker), the class probabilities
    before and after, and the perturbation's norms.  Threat models: white-box
    (FGSM, PGD, DeepFool) or score-based black-box (Square), within eps in the
    chosen norm.  Each change runs the attack on one image; the first use of
    an attack or norm compiles it (a second or two).
    """
    check_classifier(model)
    x = _images(x, "attack_explorer")
    max_eps_linf = check_float(max_eps_linf, "max_eps_linf", min=0.0, min_open=True)
    max_eps_l2 = check_float(max_eps_l2, "max_eps_l2", min=0.0, min_open=True)
    seed = check_seed(seed)
    y = np.asarray(y)
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},), got {y.shape}")
    attack = w.Dropdown(options=list(ATTACKS), value="PGD", description="attack")
    norm = w.ToggleButtons(
        options=[("L\u221e", "linf"), ("L2", "l2")], value="linf", description="norm"
    )
    eps_inf = w.FloatSlider(
        value=0.1,
        min=0.0,
        max=max_eps_linf,
        step=0.01,
        description="\u03b5 (L\u221e)",
        continuous_update=False,
        readout_format=".2f",
    )
    eps_2 = w.FloatSlider(
        value=1.5,
        min=0.0,
        max=max_eps_l2,
        step=0.1,
        description="\u03b5 (L2)",
        continuous_update=False,
        readout_format=".1f",
    )
    steps = w.SelectionSlider(
        options=[1, 2, 5, 10, 20, 40, 100], value=20, description="steps", continuous_update=False
    )
    index = w.IntSlider(
        value=0, min=0, max=len(x) - 1, description="image", continuous_update=False
    )
    probs_clean = models.predict_proba(model, x)
    k = probs_clean.shape[1]
    run_attack(
        model, x[:1], y[:1], attack="PGD", eps=0.1, steps=20, norm="linf", seed=seed
    )  # compile up front

    fig = BlitFigurePanel((11, 2.9), ncols=4)
    fig.figure.subplots_adjust(left=0.02, right=0.98, bottom=0.16, top=0.84, wspace=0.25)
    ax_clean, ax_adv, ax_delta, ax_p = fig.axes
    blank = np.zeros(x.shape[1:3], "float32")
    im_clean = ax_clean.imshow(blank, cmap="gray", vmin=0, vmax=1)
    im_adv = ax_adv.imshow(blank, cmap="gray", vmin=0, vmax=1)
    im_delta = ax_delta.imshow(blank, cmap="seismic", vmin=-1, vmax=1)
    for ax in (ax_clean, ax_adv, ax_delta):
        ax.axis("off")
    titles = [ax.set_title("", fontsize=9) for ax in (ax_clean, ax_adv, ax_delta)]
    width = 0.4
    bars_clean = ax_p.bar(
        np.arange(k) - width / 2, np.zeros(k), width, color="tab:blue", label="before"
    )
    bars_adv = ax_p.bar(
        np.arange(k) + width / 2, np.zeros(k), width, color="tab:red", label="after"
    )
    ax_p.set(ylim=(0, 1), xticks=np.arange(k), xlabel="class")
    ax_p.set_title("probabilities", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper right")
    fig.animate(im_clean, im_adv, im_delta, *titles, *bars_clean, *bars_adv)

    def update(panel: Panel) -> str:
        i = index.value
        live = live_controls(attack.value, norm.value)
        for name, control in (
            ("norm", norm),
            ("eps_linf", eps_inf),
            ("eps_l2", eps_2),
            ("steps", steps),
        ):
            control.disabled = name not in live  # a control that cannot change the picture is off
        eps = eps_inf.value if norm.value == "linf" else eps_2.value
        note = ""
        chosen_norm = norm.value
        if attack.value == "Square" and chosen_norm != "linf":
            chosen_norm, eps, note = "linf", eps_inf.value, " (Square is L\u221e only: ran L\u221e)"
        t0 = time.perf_counter()
        x_adv = run_attack(
            model,
            x[i : i + 1],
            y[i : i + 1],
            attack=attack.value,
            eps=eps,
            steps=steps.value,
            norm=chosen_norm,
            seed=seed,
        )
        took = time.perf_counter() - t0
        p_adv = models.predict_proba(model, x_adv)[0]
        delta = x_adv[0, :, :, 0] - x[i, :, :, 0]
        big = float(np.abs(delta).max())
        im_clean.set_data(x[i, :, :, 0])
        im_adv.set_data(x_adv[0, :, :, 0])
        im_delta.set_data(delta / big if big > 0 else delta)
        before, after = int(probs_clean[i].argmax()), int(p_adv.argmax())
        titles[0].set_text(f"clean: {before} ({probs_clean[i, before]:.0%}), label {int(y[i])}")
        titles[1].set_text(f"attacked: {after} ({p_adv[after]:.0%})")
        titles[1].set_color("green" if after == y[i] else "red")
        titles[2].set_text(f"perturbation \u00d7{1 / big:.0f}" if big > 0 else "no perturbation")
        for b, h in zip(bars_clean, probs_clean[i]):
            b.set_height(h)
        for b, h in zip(bars_adv, p_adv):
            b.set_height(h)
        sizes = evasion.perturbation_norms(x[i : i + 1], x_adv)
        budget = "no budget" if attack.value == "DeepFool" else f"\u03b5 = {eps:g}"
        return (
            f"{attack.value}, {'L&infin;' if chosen_norm == 'linf' else 'L2'}, {budget}{note}: "
            f"{before} &rarr; <b>{after}</b>; "
            f"&#8214;&delta;&#8214;<sub>&infin;</sub> = {sizes['linf'][0]:.3f}, "
            f"&#8214;&delta;&#8214;<sub>2</sub> = {sizes['l2'][0]:.2f} ({took:.2f} s)"
        )

    panel = Panel(
        [attack, norm, eps_inf, eps_2, steps, index], update, fig=fig, title="Attack explorer"
    )
    panel.children[1].layout.flex_flow = "row wrap"  # six controls: let them wrap
    return panel


def security_curves(
    models_: Mapping[str, keras.Model],
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps_values: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
    attack_fns: Mapping[str, Callable] | None = None,
    n_show: int = 6,
    seed: int = 0,
) -> Panel:
    """Accuracy against eps for several models and attacks, with the attacked images at each eps.

    All curves are computed up front (:func:`modelsec_edu.evaluation.security_curve`,
    a progress bar per model) and left in ``panel.results["curves"]``; the
    controls only redraw.  The images are the first ``n_show`` of ``x``
    attacked with PGD on the chosen model.
    """
    if not isinstance(models_, Mapping):
        raise TypeError(
            f"models_ must be a mapping of names to models, got {type(models_).__name__}"
        )
    if not models_:
        raise ValueError("models_: security_curves needs at least one model")
    for m in models_.values():
        check_model(m, "models_ (each value)")
    x = _images(x, "security_curves")
    n_show = check_int(n_show, "n_show", min=1)
    seed = check_seed(seed)
    y = np.asarray(y)
    eps_values = [float(e) for e in eps_values]
    attack_fns = dict(attack_fns or evasion.standard_attacks(seed=seed))
    names = list(models_)
    curves = {m: evasion.security_curve(models_[m], x, y, eps_values, attack_fns) for m in names}
    n_show = max(1, min(int(n_show), len(x)))
    shown = {}
    for m in names:
        shown[m] = [
            run_attack(
                models_[m],
                x[:n_show],
                y[:n_show],
                attack="PGD",
                eps=e,
                steps=20,
                norm="linf",
                seed=seed,
            )
            for e in eps_values
        ]
        shown[m] = [(a, models.predict_labels(models_[m], a)) for a in shown[m]]

    eps = w.SelectionSlider(
        options=eps_values,
        value=eps_values[min(2, len(eps_values) - 1)],
        description="\u03b5",
        continuous_update=False,
    )
    which = w.Dropdown(options=names, value=names[0], description="images of")
    fig = FigurePanel((10, 3.2), ncols=2)
    ax_c, ax_i = fig.axes
    styles = ["-", "--", ":", "-."]
    colors = {a: f"C{j}" for j, a in enumerate(attack_fns)}
    for j, m in enumerate(names):
        for a, acc in curves[m].items():
            ax_c.plot(
                eps_values,
                np.asarray(acc) * 100,
                styles[j % 4],
                marker="o",
                ms=3,
                color=colors[a],
                label=f"{m}: {a}",
            )
    ax_c.set(xlabel="\u03b5 (L\u221e)", ylabel="robust accuracy (%)", ylim=(-2, 102))
    ax_c.grid(alpha=0.3)
    ax_c.legend(fontsize=7)
    marker = ax_c.axvline(eps.value, color="gray", ls=":")
    h, wd = x.shape[1:3]
    montage = np.ones((h, n_show * (wd + 2) - 2), "float32")
    image = ax_i.imshow(montage, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax_i.axis("off")
    fig.figure.tight_layout()

    def update(panel: Panel) -> str:
        k = eps_values.index(eps.value)
        x_adv, pred = shown[which.value][k]
        for c in range(n_show):
            montage[:, c * (wd + 2) : c * (wd + 2) + wd] = x_adv[c, :, :, 0]
        image.set_data(montage)
        marker.set_xdata([eps.value, eps.value])
        right = ", ".join(
            f"{p}" if p == t else f"<span style='color:red'>{p}</span>"
            for p, t in zip(pred, y[:n_show])
        )
        ax_i.set_title(f"PGD on {which.value}, \u03b5 = {eps.value:g}", fontsize=9)
        accs = "; ".join(
            f"{m}: " + ", ".join(f"{a} {curves[m][a][k]:.0%}" for a in attack_fns) for m in names
        )
        return f"&epsilon; = {eps.value:g} &mdash; {accs}<br>predictions on the images: {right}"

    panel = Panel([eps, which], update, fig=fig, title="Accuracy against \u03b5")
    panel.results["curves"] = curves
    panel.results["eps"] = eps_values
    return panel
