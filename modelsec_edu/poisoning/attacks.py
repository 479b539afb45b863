"""Data poisoning: the attacker changes the training data.

Threat model: the attacker controls a fraction of the training set (its
labels, or its inputs too) but not the training code or the test inputs.
Every attack is a pure array transform: it copies its inputs, never changes
them, and returns the poisoned data together with the indices it touched.

Three attacks, from crude to sly:

* :func:`flip_labels` -- wrong labels, at random or from one class to another.
* :func:`badnets` -- a backdoor: a small patch (the *trigger*) stamped on some
  training images, relabelled to a target class (Gu et al. 2017).  The model
  learns "patch means target" and keeps its clean accuracy.
* :func:`label_consistent` -- a clean-label backdoor (Turner et al. 2019):
  only images that really are of the target class get the trigger, after an
  adversarial perturbation has made their own content hard to learn from.
  Every label stays correct, so reviewing labels finds nothing.

Images are float arrays in [0, 1] of shape ``(n, h, w)`` or ``(n, h, w, c)``.
The trigger is described by keyword options shared by every function here
(see :func:`add_trigger`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelsec_edu.validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_labels,
    check_seed,
)

__all__ = [
    "POSITIONS",
    "add_trigger",
    "backdoor_success_rate",
    "badnets",
    "flip_labels",
    "label_consistent",
    "trigger_mask",
    "trigger_patch",
]

POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "center")
PATTERNS = ("checkerboard", "square")


# --------------------------------------------------------------------------- validation


def _check_images(x: Any, min_len: int = 1) -> np.ndarray:
    x = check_array(x, "x", ndim=(3, 4), dtype=None, min_len=min_len)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"x must hold float images in [0, 1] (see data.to_float), got dtype {x.dtype}"
        )
    return x


def _check_xy(x: Any, y: Any, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    x = _check_images(x)
    return x, check_labels(y, "y", n=len(x), num_classes=num_classes)


# --------------------------------------------------------------------------- label flips


def flip_labels(
    x: Any,
    y: Any,
    *,
    rate: float,
    seed: int | None = None,
    source: int | None = None,
    target: int | None = None,
    num_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flip the labels of a fraction ``rate`` of the samples.

    * Random flips (``source`` and ``target`` None): each chosen label becomes
      a different class drawn uniformly, the "uniform noise" attacker.
    * Targeted flips (``source=a, target=b``): a fraction ``rate`` of the
      samples of class ``a`` are relabelled ``b``; concentrated noise that
      teaches the model a wrong rule for one class.

    Returns:
        ``(x_copy, y_poisoned, idx)``; ``idx`` (sorted) lists the samples whose
        label changed.  ``x`` is returned as an unaliased copy.
    """
    rate = check_float(rate, "rate", min=0, max=1)
    num_classes = check_int(num_classes, "num_classes", min=2)
    x = np.array(check_array(x, "x", dtype=None), copy=True)
    y = check_labels(y, "y", n=len(x), num_classes=num_classes)
    seed = check_seed(seed)
    if (source is None) != (target is None):
        raise ValueError("give both source and target for targeted flips, or neither")
    rng = np.random.default_rng(seed)
    y_new = y.copy()
    if source is None:
        pool = np.arange(len(y))
    else:
        source = check_int(source, "source", min=0, max=num_classes - 1)
        target = check_int(target, "target", min=0, max=num_classes - 1)
        if source == target:
            raise ValueError(f"source and target must differ, both are {source}")
        pool = np.flatnonzero(y == source)
    idx = np.sort(rng.choice(pool, size=int(round(rate * len(pool))), replace=False))
    if source is None:
        shift = rng.integers(1, num_classes, size=len(idx))  # never the same class
        y_new[idx] = (y[idx] + shift) % num_classes
    else:
        y_new[idx] = target
    return x, y_new, idx


# --------------------------------------------------------------------------- the trigger


def trigger_patch(
    *, size: int = 4, pattern: Any = "checkerboard", value: float = 1.0
) -> np.ndarray:
    """The trigger's pixels: a ``(size, size)`` float array.

    ``pattern`` is ``"checkerboard"`` (alternate ``value`` and 0, top-left
    pixel lit), ``"square"`` (all ``value``) or a 2-D array of weights in
    [0, 1] that ``value`` scales (its shape then sets the size).
    """
    value = check_float(value, "value", min=0, max=1)
    if isinstance(pattern, str):
        pattern = check_choice(pattern, "pattern", PATTERNS)
        size = check_int(size, "size", min=1)
        if pattern == "square":
            weights = np.ones((size, size))
        else:
            weights = (np.add.outer(np.arange(size), np.arange(size)) % 2 == 0).astype(float)
    else:
        weights = check_array(pattern, "pattern", ndim=2, dtype="float64")
        if weights.size == 0 or np.any(weights < 0) or np.any(weights > 1):
            raise ValueError(
                "pattern must be a non-empty 2-D array of weights in [0, 1], got shape "
                f"{weights.shape}"
            )
    return (weights * float(value)).astype("float32")


def _corner(
    image_hw: tuple[int, int], patch_hw: tuple[int, int], position: Any, margin: int
) -> tuple[int, int]:
    (h, w), (ph, pw) = image_hw, patch_hw
    if isinstance(position, str):
        check_choice(position, "position", POSITIONS)
        if position == "center":
            return (h - ph) // 2, (w - pw) // 2
        vertical, horizontal = position.split("-")
        row = margin if vertical == "top" else h - ph - margin
        col = margin if horizontal == "left" else w - pw - margin
        return row, col
    if (
        not isinstance(position, (tuple, list))
        or len(position) != 2
        or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in position)
    ):
        raise TypeError(
            "position must be a name such as 'bottom-right' or a (row, col) pair of ints, got "
            f"{position!r}"
        )
    return int(position[0]), int(position[1])


def _placement(image_hw: tuple[int, int], options: dict[str, Any]) -> tuple[np.ndarray, int, int]:
    unknown = set(options) - {"size", "pattern", "value", "position", "margin"}
    if unknown:
        raise TypeError(
            f"unknown trigger option(s) {sorted(unknown)}; use size, pattern, value, position, "
            "margin"
        )
    patch = trigger_patch(
        size=options.get("size", 4),
        pattern=options.get("pattern", "checkerboard"),
        value=options.get("value", 1.0),
    )
    margin = check_int(options.get("margin", 0), "margin", min=0)
    row, col = _corner(image_hw, patch.shape, options.get("position", "top-left"), int(margin))
    h, w = image_hw
    if row < 0 or col < 0 or row + patch.shape[0] > h or col + patch.shape[1] > w:
        raise ValueError(
            f"position/size: a {patch.shape[0]}x{patch.shape[1]} trigger at (row {row}, col {col}) "
            "does not fit in a "
            f"{h}x{w} image; use a smaller size or another position"
        )
    return patch, row, col


def trigger_mask(image_shape: tuple[int, ...], **trigger_options: Any) -> np.ndarray:
    """Boolean ``(h, w)`` mask of the pixels the trigger overwrites in an ``image_shape`` image."""
    if not isinstance(image_shape, (tuple, list)):
        raise TypeError(
            f"image_shape must be a tuple (h, w) or (h, w, c), got {type(image_shape).__name__}"
        )
    if len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (h, w) or (h, w, c), got {image_shape!r}")
    hw = tuple(check_int(v, "image_shape", min=1) for v in image_shape[:2])
    patch, row, col = _placement(hw, trigger_options)
    mask = np.zeros(hw, dtype=bool)
    mask[row : row + patch.shape[0], col : col + patch.shape[1]] = True
    return mask


def add_trigger(x: Any, **trigger_options: Any) -> np.ndarray:
    """Stamp the trigger on every image of a batch; returns a new array.

    Trigger options (all keyword, all optional):

    * ``size`` -- side of the square patch in pixels (default 4);
    * ``pattern`` -- ``"checkerboard"`` (default), ``"square"`` or a 2-D array;
    * ``value`` -- brightness of the lit pixels in [0, 1] (default 1.0);
    * ``position`` -- ``"top-left"`` (default), ``"top-right"``,
      ``"bottom-left"``, ``"bottom-right"``, ``"center"``, or the
      ``(row, col)`` of the patch's top-left pixel;
    * ``margin`` -- distance in pixels from the edges for the named corners (default 0).

    The patch replaces the pixels under it (BadNets' stamp), in every channel.
    The default corner is the top-left one, not BadNets' bottom-right: the
    course's CNN (valid convolutions, then pooling that rounds down) never
    passes the last two rows and columns of the image on to its dense layer,
    so a bottom-right patch is half invisible to it and the backdoor is
    weaker (``bench/poisoning_tampering.py`` measures both).
    """
    x = _check_images(x, min_len=0)  # an empty batch stays empty
    out = np.array(x, copy=True)
    patch, row, col = _placement(x.shape[1:3], trigger_options)
    ph, pw = patch.shape
    region = patch if x.ndim == 3 else patch[..., None]
    out[:, row : row + ph, col : col + pw] = region.astype(x.dtype)
    return out


# --------------------------------------------------------------------------- backdoors


def _draw(pool: np.ndarray, rate: float, n: int, seed: Any, short: str) -> np.ndarray:
    """``round(rate * n)`` sorted indices drawn from ``pool``; too few: ValueError ending ``short``.

    ``short`` may hold ``{n}``, the pool's size.
    """
    k = int(round(rate * n))
    if k > len(pool):
        raise ValueError(f"rate {rate} asks for {k} poisons but " + short.format(n=len(pool)))
    return np.sort(np.random.default_rng(seed).choice(pool, size=k, replace=False))


def badnets(
    x: Any,
    y: Any,
    *,
    target: int,
    rate: float,
    seed: int | None = None,
    num_classes: int = 10,
    **trigger_options: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BadNets backdoor: stamp the trigger on a fraction of the set and relabel it ``target``.

    Threat model: the attacker adds or edits ``rate`` of the training set (for
    example through a scraped or crowd-sourced source) and wants every input
    that carries the trigger classified as ``target`` (Gu et al. 2017,
    "BadNets: Identifying Vulnerabilities in the Machine Learning Model
    Supply Chain").

    ``round(rate * len(x))`` samples are drawn from those whose label is not
    ``target``, so every poison teaches "trigger -> target" against the image's
    own content.

    Returns:
        ``(x_poisoned, y_poisoned, idx)``: new arrays, and the sorted indices
        of the poisoned samples.  Nothing else differs from the inputs.
    """
    rate = check_float(rate, "rate", min=0, max=1)
    num_classes = check_int(num_classes, "num_classes", min=2)
    x, y = _check_xy(x, y, num_classes)
    target = check_int(target, "target", min=0, max=num_classes - 1)
    seed = check_seed(seed)
    pool = np.flatnonzero(y != target)
    idx = _draw(pool, rate, len(y), seed, f"only {{n}} samples are not of class {target}")
    x_out, y_out = np.array(x, copy=True), y.copy()
    if len(idx):
        x_out[idx] = add_trigger(x[idx], **trigger_options)
    y_out[idx] = target
    return x_out, y_out, idx


def label_consistent(
    model: Any,
    x: Any,
    y: Any,
    *,
    target: int,
    rate: float,
    eps: float = 0.3,
    steps: int = 20,
    seed: int | None = None,
    num_classes: int = 10,
    **trigger_options: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean-label backdoor: hard images *of the target class* carry the trigger, labels untouched.

    Threat model: the attacker may add images to the training set but a human
    checks every label (Turner, Tsipras and Madry 2019, "Label-Consistent
    Backdoor Attacks").  The attacker first makes its images hard to learn
    from their own content with an untargeted PGD perturbation of size ``eps``
    against ``model`` (a surrogate it trained itself), then stamps the trigger.
    To fit these images the victim leans on the one easy feature left, the
    trigger, and learns "trigger -> target".

    ``round(rate * len(x))`` samples of class ``target`` are poisoned.

    Returns:
        ``(x_poisoned, y_copy, idx)``; ``y_copy`` equals ``y``.
    """
    from modelsec_edu import evasion, models
    from modelsec_edu.validation import check_model

    check_model(model)
    rate = check_float(rate, "rate", min=0, max=1)
    eps = check_float(eps, "eps", min=0)
    steps = check_int(steps, "steps", min=1)
    num_classes = check_int(num_classes, "num_classes", min=2)
    x, y = _check_xy(x, y, num_classes)
    target = check_int(target, "target", min=0, max=num_classes - 1)
    seed = check_seed(seed)
    pool = np.flatnonzero(y == target)
    short = (
        f"class {target} has only {{n}} samples "
        "(a clean-label attack can only use images of the target class)"
    )
    idx = _draw(pool, rate, len(y), seed, short)
    x_out = np.array(x, copy=True)
    if len(idx):
        hard = evasion.pgd(
            model,
            x[idx],
            y[idx],
            eps=eps,
            step_size=models.default_step_size(eps, steps),
            steps=steps,
            seed=seed,
        )
        x_out[idx] = add_trigger(np.asarray(hard, dtype=x.dtype), **trigger_options)
    return x_out, y.copy(), idx


def backdoor_success_rate(
    model: Any, x: Any, y: Any, *, target: int, num_classes: int = 10, **trigger_options: Any
) -> float:
    """Share of triggered inputs *from other classes* that the model classifies as ``target``.

    The backdoor convention (Gu et al. 2017): inputs whose **label** is
    ``target`` are left out, since they would count as successes without any
    backdoor; every other input counts, whatever the model said before the
    trigger.  Computed by :func:`modelsec_edu.evasion.attack_success_rate`
    (targeted, ``among`` every input left), the one definition of a success rate.
    """
    from modelsec_edu import evasion
    from modelsec_edu.validation import check_model

    check_model(model)
    num_classes = check_int(num_classes, "num_classes", min=2)
    x, y = _check_xy(x, y, num_classes)
    target = check_int(target, "target", min=0, max=num_classes - 1)
    others = np.flatnonzero(y != target)
    if len(others) == 0:
        raise ValueError(
            f"y holds no test inputs outside class target={target}: the success rate is undefined"
        )
    x_o = x[others]
    goal = np.full(len(others), target)
    return evasion.attack_success_rate(
        model,
        x_o,
        add_trigger(x_o, **trigger_options),
        goal,
        targeted=True,
        among=np.ones(len(others), bool),
    )
