"""The table behind tests/test_hostile_inputs.py: a valid call for every public function.

A *valid call* is built from the parameter's name (``model`` is a small untrained
classifier, ``x`` eight images in [0, 1], ``eps`` 0.1, ...), then from the
function's own row in :data:`CALLS`, which overrides or adds arguments.  The
hostile probes of the test then spoil one argument of that call at a time.

:data:`EXEMPT` lists what the probes do not apply to, each with its reason.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# ---------------------------------------------------------------- shared inputs


class Inputs:
    """Small inputs, built once per test session (lazily: only what a call needs)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        rng = np.random.default_rng(0)
        self.x = rng.uniform(0, 1, (8, 28, 28, 1)).astype("float32")
        self.y = np.arange(8, dtype="int64") % 10
        self.x_sign = rng.uniform(0, 1, (4, 32, 32, 3)).astype("float32")
        self.y_sign = np.array([0, 0, 1, 1], dtype="int64")
        self.masks = np.zeros((4, 32, 32), dtype="float32")
        self.masks[:, 8:24, 8:24] = 1.0
        self.tab = rng.normal(size=(12, 5)).astype("float32")
        self.y_tab = np.array([0, 1] * 6, dtype="int64")
        self.probs = np.full((8, 10), 0.05, dtype="float32")
        self.probs[np.arange(8), self.y] = 0.55
        self.logits = np.log(self.probs)
        self.s_in = np.linspace(0.5, 1.5, 20)
        self.s_out = np.linspace(0.0, 1.0, 20)

    @functools.cached_property
    def mlp(self):
        import keras

        from modelsec_edu import models

        keras.utils.set_random_seed(0)
        return models.compile_classifier(models.article_mlp())

    @functools.cached_property
    def sign_model(self):
        from modelsec_edu import models
        from modelsec_edu.models.signs import sign_cnn

        return models.compile_classifier(sign_cnn(width=4))

    @functools.cached_property
    def tab_model(self):
        from modelsec_edu.privacy import tabular_mlp

        return tabular_mlp(5, width=8, depth=1)

    @functools.cached_property
    def saved(self) -> tuple[Path, Path]:
        """A recorded model file and its manifest."""
        from modelsec_edu.supply_chain import integrity

        folder = self.tmp / "saved"
        folder.mkdir(exist_ok=True)
        model, manifest = folder / "model.keras", folder / "manifest.json"
        if not model.exists():
            integrity.save_model(self.mlp, model, manifest)
        return model, manifest

    def fresh(self, name: str) -> Path:
        """A path that does not exist yet, in a folder that does."""
        folder = self.tmp / "fresh"
        folder.mkdir(exist_ok=True)
        i = 0
        while (folder / f"{i}-{name}").exists():
            i += 1
        return folder / f"{i}-{name}"


# ---------------------------------------------------------------- values by parameter name

BY_NAME: dict[str, Callable[[Inputs], Any]] = {
    "model": lambda c: c.mlp,
    "x": lambda c: c.x,
    "y": lambda c: c.y,
    "x_adv": lambda c: np.clip(c.x + 0.05, 0, 1),
    "x_train": lambda c: c.x,
    "y_train": lambda c: c.y,
    "x_test": lambda c: c.x,
    "y_test": lambda c: c.y,
    "x_attack": lambda c: c.x,
    "y_attack": lambda c: c.y,
    "images": lambda c: c.x,
    "probs": lambda c: c.probs,
    "logits": lambda c: c.logits,
    "eps": lambda c: 0.1,
    "step_size": lambda c: 0.05,
    "steps": lambda c: 2,
    "epochs": lambda c: 1,
    "n": lambda c: 4,
    "seed": lambda c: 0,
    "target": lambda c: 1,
    "rate": lambda c: 0.25,
    "fraction": lambda c: 0.1,
    "scale": lambda c: 0.1,
    "s_in": lambda c: c.s_in,
    "s_out": lambda c: c.s_out,
    "make_model": lambda c: lambda: c.mlp,
    "models_": lambda c: {"mlp": c.mlp},
    "masks": lambda c: c.masks,
    "coverage": lambda c: 0.9,
    "flips": lambda c: 1,
    "noise_multiplier": lambda c: 1.1,
    "delta": lambda c: 1e-5,
    "source": lambda c: 0,
}

# ---------------------------------------------------------------- rows: overrides per function
# Keys are "<module without 'modelsec_edu.'>.<function>".

CALLS: dict[str, Callable[[Inputs], dict[str, Any]]] = {}


def row(name: str):
    def register(fn):
        CALLS[name] = fn
        return fn

    return register


# ---------------------------------------------------------------- what the probes do not apply to

# Parameters the probes skip, "<function>:<parameter>" (or "<module>:*" for all but the first).
EXEMPT_PARAMS: dict[str, str] = {
    "validation:*": "how the library calls its own checks (the name, the bounds), not user input",
}


def param_exemption(qualname: str, param: str, first: bool) -> str | None:
    """Why the probes skip ``param`` of ``qualname``, or None."""
    if f"{qualname}:{param}" in EXEMPT_PARAMS:
        return EXEMPT_PARAMS[f"{qualname}:{param}"]
    module = qualname.rsplit(".", 1)[0]
    return None if first else EXEMPT_PARAMS.get(f"{module}:*")


EXEMPT: dict[str, str] = {
    "exercises": "a check reports a wrong answer as a verdict, no raise (tests/test_exercises_*)",
    "backend.torch": "imported only on the torch backend",
}


# Probes whose "hostile" value is a valid input of that function (the case is skipped, with the
# reason shown).  Each is a documented design choice of the function, not a gap.
VALID_PROBES: dict[str, str] = {
    "tampering.quantize.int8_bits:value:-1": "-1 is an int8 value ('11111111', as documented)",
    "tampering.quantize.dequantize:q:an empty batch": (
        "an empty tensor round-trips: quantize_array accepts one (w.size == 0) and so does this"
    ),
    "tampering.bitflip.random_bit_flips:flips:0": (
        "zero flips is the no-fault baseline (the 8-bit model itself), as eps=0 is the identity"
    ),
    "tampering.bitflip.bit_flip_attack:flips:0": (
        "flips is the most bits to flip: zero returns the 8-bit model unchanged, an empty log"
    ),
    "poisoning.attacks.add_trigger:x:an empty batch": (
        "a pure array transform: an empty batch comes back empty, as with quantize_array"
    ),
}


def exemption(qualname: str) -> str | None:
    """The reason ``qualname`` (or a package above it) is exempt, or None."""
    parts = qualname.split(".")
    for i in range(len(parts), 0, -1):
        reason = EXEMPT.get(".".join(parts[:i]))
        if reason:
            return reason
    return None


# ---------------------------------------------------------------- kinds of parameter

_POSITIVE_INTS = {
    "steps",
    "epochs",
    "batch_size",
    "n",
    "restarts",
    "queries",
    "flips",
    "size",
    "n_show",
    "ncols",
    "bins",
    "rounds",
    "frames",
    "n_shadow",
    "n_targets",
    "latent_dim",
    "width",
    "depth",
    "levels",
    "samples",
    "customers",
    "terminals",
    "days",
    "chunk",
    "dims",
    "neighbours",
    "n_features",
    "candidates",
    "max_flips",
    "weights_to_try",
    "sample_every",
    "num_classes",
    "n_classes",
    "chunk_size",
    "side",
    "test_size",
}
_NONNEG_FLOATS = {
    "eps",
    "step_size",
    "learning_rate",
    "rate",
    "fraction",
    "scale",
    "noise_multiplier",
    "delta",
    "tolerance",
    "l2_norm_clip",
    "overshoot",
    "max_eps",
    "max_eps_linf",
    "max_eps_l2",
    "p_init",
    "alpha",
    "weight_decay",
    "momentum",
    "budget",
    "false_alarms",
    "coverage",
}
_ARRAYS = {
    "x",
    "y",
    "x_adv",
    "x_train",
    "y_train",
    "x_test",
    "y_test",
    "x_attack",
    "y_attack",
    "images",
    "probs",
    "logits",
    "features",
    "labels",
    "masks",
    "s_in",
    "s_out",
    "q",
    "grad",
}
_LABELS = {"y", "y_train", "y_test", "y_attack", "labels"}


def kind(param: inspect.Parameter) -> str | None:
    """What a parameter is, from its annotation and name: the probes depend on it."""
    ann = str(param.annotation).replace("'", "")
    name = param.name
    if ann.startswith("Callable"):  # Callable[[np.ndarray], ...] is a function, not an array
        return "callable"
    # A name that usually holds an array is a scalar when its annotation says so (gradient_walk's
    # ``y: int`` is one label, the accountant's ``q: float`` a sampling rate): an array's probes
    # (an empty batch sliced from a scalar) would fail in the test itself, not in the function.
    scalar = re.fullmatch(r"(int|float|str|bool)( \| None)?", ann)
    if (name in _ARRAYS and not scalar) or "np.ndarray" in ann and name not in {"rng"}:
        return "array"
    if re.fullmatch(r"bool( \| None)?", ann):
        return "bool"
    if re.fullmatch(r"int( \| None)?", ann):
        return "int"
    if re.fullmatch(r"float( \| None)?", ann):
        return "float"
    if "PathLike" in ann or re.search(r"\bPath\b", ann):
        return "path"
    if re.fullmatch(r"str( \| None)?", ann):
        return "str"
    if "keras.Model" in ann.split("|")[0] or name in {"model", "generator", "classifier"}:
        return "model"
    if ann.startswith("Callable"):
        return "callable"
    return None


def optional(param: inspect.Parameter) -> bool:
    return "None" in str(param.annotation) or param.default is None


def _const(v: Any) -> Callable[[Any], Any]:
    return lambda _valid: v


def _empty(v: Any) -> Any:
    """The valid value with no rows: a pair ``(x, y)`` (``validation_data``) as two empty arrays,
    a list of arrays (one per weight tensor, ``q``) as an empty list."""
    if isinstance(v, tuple) and len(v) == 2 and all(hasattr(a, "shape") for a in v):
        return tuple(np.asarray(a)[:0] for a in v)
    if isinstance(v, list) and all(hasattr(a, "shape") for a in v):
        return []
    return np.asarray(v)[:0]


def probes(
    param: inspect.Parameter, *, has_classes: bool
) -> list[tuple[str, Callable[[Any], Any]]]:
    """(label, spoil) pairs for one parameter: ``spoil(valid value)`` is the hostile value.

    ``has_classes``: the function knows how many classes there are (it takes a model or
    ``num_classes``), so labels out of range are wrong.
    """
    k, name = kind(param), param.name
    out: list[tuple[str, Callable[[Any], Any]]] = []
    if k == "bool":
        out += [("string 'yes'", _const("yes")), ("int 1", _const(1))]
    elif k == "int":
        out += [
            ("bool True", _const(True)),
            ("float 2.5", _const(2.5)),
            ("string '2'", _const("2")),
        ]
        out.append(("-1", _const(-1)))
        if name in _POSITIVE_INTS:
            out.append(("0", _const(0)))
    elif k == "float":
        out += [
            ("NaN", _const(float("nan"))),
            ("string '0.1'", _const("0.1")),
            ("bool True", _const(True)),
        ]
        if name in _NONNEG_FLOATS:
            out.append(("-1.0", _const(-1.0)))
    elif k in ("str", "path"):
        out.append(("int 123", _const(123)))
    elif k == "model":
        out.append(("a plain object", _const(object())))
    elif k == "callable":
        out.append(("int 42", _const(42)))
    elif k == "array":
        out.append(("a string", _const("not an array")))
        if param.default is not None:  # the spoils below start from a real array
            out.append(("an empty batch", _empty))
            if name in _LABELS and has_classes:
                out.append(("labels out of range", lambda v: np.asarray(v) + 1000))
            if name in _LABELS:
                out.append(("float labels", lambda v: np.asarray(v).astype("float32") + 0.5))
    if k is not None and not optional(param) and param.default is inspect.Parameter.empty:
        out.append(("None", _const(None)))
    if name == "clip":
        out.append(("lo > hi", _const((1.0, 0.0))))
    return out


# ---------------------------------------------------------------- more values by name

BY_NAME.update(
    {
        "rng": lambda c: np.random.default_rng(0),
        "norm": lambda c: "linf",
        "features": lambda c: c.x.reshape(8, -1)[:, :16],
        "labels": lambda c: c.y % 2,
        "flagged": lambda c: np.array([0, 3]),
        "poison_idx": lambda c: np.array([0, 1]),
        "eps_values": lambda c: (0.0, 0.1),
        "rates": lambda c: (0.0, 0.25),
        "shape": lambda c: (2, 28, 28, 1),
        "q": lambda c: np.array([-3, 5, 127], dtype="int8"),
        "mask": lambda c: c.masks[0],
        "expected": lambda c: 0.1,
        "bit": lambda c: 3,
    }
)


def _model_file(c: Inputs) -> dict[str, Any]:
    model, manifest = c.saved
    return {"path": model, "manifest": manifest}


def _gan(c: Inputs):
    from modelsec_edu.evasion import gan

    return gan.dcgan(latent_dim=8)


def _adv(c: Inputs):
    from modelsec_edu.evasion import advgan

    return advgan.perturbation_generator(eps=0.1)


def _spec(c: Inputs):
    from modelsec_edu.data import credit_spec

    return credit_spec()


def _credit(c: Inputs):
    from modelsec_edu.data import credit_spec, load_german_credit

    data = load_german_credit()
    return credit_spec(), np.asarray(data.x[:6], dtype="float32"), np.asarray(data.y[:6])


def _render(c: Inputs):
    from modelsec_edu.data import signs

    return signs.sample_params(2, seed=0)


def _bank(c: Inputs):
    from modelsec_edu.privacy import shadow, trainer

    return shadow.train_shadows(trainer(steps=2, width=4, depth=1), c.tab, c.y_tab, n_shadow=2)


# backend
row("backend.compiled")(lambda c: {"key": "hostile", "make": lambda: lambda: 0})
row("backend.train_step")(lambda c: {"loss_fn": lambda f, x, y: f(x)})
row("backend.value_and_grad")(lambda c: {"f": lambda v: (v, v)})
# data
row("data.corruptions.corrupt")(lambda c: {"x": c.x_sign, "name": "fog", "severity": 1})
row("data.mnist.load_mnist_dir")(lambda c: {"directory": c.tmp})
row("data.mnist.to_float")(lambda c: {"x": (c.x[..., 0] * 255).astype("uint8")})
row("data.signs.compose")(
    lambda c: dict(zip(("rgb", "alpha"), (t[:2] for t in _templates())), params=_render(c))
)
row("data.signs.warp")(
    lambda c: {"img": c.x_sign[:2], "affine": np.tile(np.eye(3)[:2].ravel(), (2, 1))}
)
row("data.tabular.stratified_split")(lambda c: {"x": c.tab, "y": c.y_tab})
# evasion
row("evasion.advgan.adversarial_fit")(
    lambda c: {"adv": _adv(c), "batch_size": 4, "progress": False}
)
row("evasion.advgan.attack")(lambda c: {"generator": _adv(c)})
row("evasion.advgan.train")(lambda c: {"adv": _adv(c), "batch_size": 4, "progress": False})
row("evasion.apgd.dlr_loss")(lambda c: {"z": c.logits})
row("evasion.article.article_gan_training")(lambda c: {"generator": _gan(c).generator})
row("evasion.consistency.colour_profile")(lambda c: {"x": c.x_sign})
row("evasion.consistency.fit_consistency")(lambda c: {"x": c.x_sign, "y": c.y_sign})
row("evasion.constrained.constrained_adversarial_training")(
    lambda c: dict(
        zip(("spec", "x", "y"), _credit(c)),
        train=lambda x, y, seed: _credit_model(c),
        rounds=1,
    )
)
row("evasion.constrained.constrained_attack")(
    lambda c: dict(zip(("spec", "x"), _credit(c)[:2]), model=_credit_model(c), steps=2, rounds=1)
)
row("evasion.constrained.scores")(lambda c: {"model": _credit_model(c), "x": _credit(c)[1]})
row("evasion.constrained.validity")(
    lambda c: {"spec": _credit(c)[0], "x_adv": _credit(c)[1], "x": _credit(c)[1]}
)
row("evasion.evaluation.accuracy_from_norms")(lambda c: {"eps": (0.0, 1.0)})
row("evasion.evaluation.security_curve")(
    lambda c: {
        "eps": (0.0, 0.1),
        "attack_fns": {"noise": lambda m, x, y, eps: x},
        "progress": False,
    }
)
row("evasion.gan.label_accuracy")(
    lambda c: {"generator": _cgan_generator(c), "classifier": c.mlp, "n": 4}
)
row("evasion.gan.load_checkpoint")(lambda c: {"directory": c.fresh("gan")})
row("evasion.gan.sample")(lambda c: {"generator": _gan(c).generator})
row("evasion.gan.save_checkpoint")(lambda c: {"gan": _gan(c), "directory": c.fresh("gan")})
row("evasion.gan.train")(
    lambda c: {"gan": _gan(c), "y": None, "on_samples": None, "progress": False}
)
row("evasion.gradient.pgd_tensor")(lambda c: {"logits_fn": c.mlp, "eps": 0.1, "step_size": 0.05})
row("evasion.masking.bpda")(
    lambda c: {"model": __import__("modelsec_edu").evasion.quantized(c.mlp)}
)
row("evasion.norms.direction")(lambda c: {"g": c.x})
row("evasion.norms.per_sample_norm")(lambda c: {"v": c.x})
row("evasion.norms.project")(lambda c: {"delta": c.x - 0.5})
row("evasion.norms.random_start")(lambda c: {})
row("evasion.patches.apply_patch")(
    lambda c: {"x": c.x_sign, "patch": np.full((4, 4, 3), 0.5, "float32")}
)
row("evasion.patches.patch_adversarial_fit")(
    lambda c: {"model": c.sign_model, "x": c.x_sign, "y": c.y_sign}
)
row("evasion.patches.patch_placements")(lambda c: {"side": 4})
row("evasion.patches.patch_success")(
    lambda c: {
        "model": c.sign_model,
        "x": c.x_sign,
        "y": c.y_sign,
        "patch": np.full((4, 4, 3), 0.5, "float32"),
    }
)
row("evasion.patches.universal_patch")(
    lambda c: {"model": c.sign_model, "x": c.x_sign, "y": c.y_sign, "samples": 2}
)
row("evasion.eot.apply_transforms")(
    lambda c: {
        "x": c.x_sign[:2],
        "alpha": c.masks[:2, ..., None],
        "params": __import__("modelsec_edu").evasion.eot.params_to_tensors(_render(c)),
    }
)
row("evasion.physical.eot_gradient")(
    lambda c: {
        "model": c.sign_model,
        "x": c.x_sign[0],
        "sticker": np.zeros((32, 32, 3), "float32"),
        "params": _render(c),
        "sign_mask": c.masks[0],
    }
)
row("evasion.eot.params_to_tensors")(lambda c: {"params": _render(c)})
row("evasion.physical.project_sticker")(lambda c: {"x": c.x_sign, "x_adv": c.x_sign * 0.5})
row("evasion.physical.sticker_attack")(
    lambda c: {
        "model": c.sign_model,
        "x": c.x_sign,
        "y": c.y_sign,
        "target": 1,
        "transforms": None,
        "samples": 2,
    }
)
row("evasion.physical.road_success")(
    lambda c: {
        "model": c.sign_model,
        "sticker": (np.zeros((32, 32, 3), "float32"), np.zeros((32, 32), "float32")),
        "n": 4,
    }
)
row("evasion.physical.saliency_mask")(
    lambda c: {
        "model": c.sign_model,
        "x": c.x_sign[:1],
        "y": c.y_sign[:1],
        "transforms": None,
        "sign_mask": c.masks[0],
        "budget": 0.05,
        "steps": 1,
        "samples": 2,
        "stages": (0.1,),
    }
)
row("evasion.physical.sticker_of")(lambda c: {"x_adv": c.x_sign})
# validation_data given as a pair: from its default "auto" the empty-batch probe cannot be made
row("evasion.training.adversarial_fit")(
    lambda c: {"method": "fgsm_rs", "progress": False, "validation_data": (c.x[:4], c.y[:4])}
)
row("evasion.training.epoch_seconds")(lambda c: {"method": "fgsm_rs", "warmup": 0})
row("evasion.worst_case.worst_case")(lambda c: {"steps": 2, "n_targets": 1, "square_queries": 2})
# extraction
row("extraction.monitor.min_distances")(lambda c: {"stream": c.tab})
row("extraction.retrain.agreement")(
    lambda c: {"model_a": c.tab_model, "model_b": c.tab_model, "x": c.tab}
)
row("extraction.retrain.copycat")(
    lambda c: {
        "query": lambda x: np.stack([x[:, 0] <= 0, x[:, 0] > 0], 1).astype("float32"),
        "x_pool": c.tab,
        "queries": 6,
        "model_fn": lambda: __import__("modelsec_edu").privacy.tabular_mlp(5, width=4, depth=1),
        "rounds": 1,
        "steps": 2,
    }
)
row("extraction.retrain.decide")(lambda c: {"model": c.tab_model, "x": c.tab})
row("extraction.solve.equation_solving")(
    lambda c: {
        "query": lambda x: np.stack([1 - _sig(x.sum(1)), _sig(x.sum(1))], 1),
        "n_features": 3,
    }
)
row("extraction.solve.log_odds")(lambda c: {"p": np.array([[0.8, 0.2], [0.3, 0.7]])})
# models
row("models.loop.epoch_loop")(
    lambda c: {
        "train_batch": lambda sl, idx: {"loss": 0.0},
        "n": 8,
        "batch_size": 4,
        "progress": False,
    }
)
row("models.loss.first_order_change")(lambda c: {"grad": c.x, "delta": c.x})
row("models.loss.loss_along")(
    lambda c: {"direction": np.sign(c.x - 0.5), "ts": np.array([0.0, 0.1])}
)
row("models.loss.random_sign")(lambda c: {"shape": (2, 3)})
row("models.reliability.best_error_at_coverage")(lambda c: {"error": 0.2, "coverage": 0.95})
row("models.reliability.plot_calibration")(lambda c: {"curves": {"a": c.probs}, "bound": "a"})
row("models.recipes.recipe")(
    lambda c: {"name": next(iter(__import__("modelsec_edu").models.recipes.RECIPES))}
)
row("models.reliability.abstain")(lambda c: {"threshold": 0.5})
row("outlook.cross_backend.compare_backends")(
    lambda c: dict(
        model_path=c.saved[0],
        manifest=c.saved[1],
        eps=0.1,
        step_size=0.05,
        backends=("tensorflow",),
    )
)
row("outlook.tradeoffs.pareto_front")(
    lambda c: {"clean": np.array([0.9, 0.8]), "robust": np.array([0.1, 0.5])}
)
row("plots.accuracy_curves")(lambda c: {"xs": (0.0, 0.1), "curves": {"a": (1.0, 0.5)}})
row("plots.history")(lambda c: {"hist": {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]}})
# poisoning
row("poisoning.attacks.label_consistent")(
    lambda c: {"y": np.array([1, 1, 1, 1, 0, 0, 2, 2]), "steps": 1}
)
row("poisoning.attacks.trigger_mask")(lambda c: {"image_shape": (28, 28, 1)})
row("poisoning.detection.activation_clustering")(lambda c: {"dims": 2})
_SWEEP = {"rates": (0.25,), "epochs": 1, "progress": False}


def _backdoor_sweep(c: Inputs):
    """A tiny sweep of fresh MLPs (never the shared ``c.mlp``, which the sweep would train)."""
    if "backdoor_sweep" not in c.__dict__:
        from modelsec_edu import models, poisoning

        c.__dict__["backdoor_sweep"] = poisoning.backdoor_sweep(
            models.article_mlp, c.x, c.y, c.x, c.y, **_SWEEP
        )
    return c.__dict__["backdoor_sweep"]


row("poisoning.experiments.backdoor_sweep")(
    lambda c: {"make_model": __import__("modelsec_edu").models.article_mlp, **_SWEEP}
)
row("poisoning.detection.evaluate")(lambda c: {"n": 8})
row("poisoning.detection.exclusionary_reclassification")(
    lambda c: {
        "detection": __import__("modelsec_edu").poisoning.activation_clustering(
            c.x.reshape(8, -1)[:, :16], c.y % 2, dims=2
        ),
        "x": c.x.reshape(8, -1)[:, :16],
        "neighbours": 2,
    }
)
row("poisoning.detection.projection_2d")(lambda c: {})
row("poisoning.detection.sanitize")(lambda c: {})
row("poisoning.detection.spectral_signatures")(lambda c: {})
row("poisoning.physical.sticker_asr")(
    lambda c: {"model": c.sign_model, "x": c.x_sign, "y": c.y_sign}
)
row("poisoning.physical.sticker_backdoor")(
    lambda c: {"x": c.x_sign, "y": c.y_sign, "target": 1, "rate": 0.5}
)
row("poisoning.physical.sticker_trigger")(lambda c: {"x": c.x_sign})
row("poisoning.provenance.changed_samples")(
    lambda c: {"digests": __import__("modelsec_edu").poisoning.sample_digests(c.x, c.y)}
)
# privacy
_DP = {"n": 8000, "batch_size": 256, "noise_multiplier": 1.1, "epochs": 2.0, "delta": 1e-5}
row("privacy.accountant.dp_epsilon")(lambda c: dict(_DP))
row("privacy.accountant.noise_for_epsilon")(
    lambda c: {**_DP, "noise_multiplier": None, "target_epsilon": 3.0}
)
row("privacy.accountant.rdp_sampled_gaussian")(lambda c: {"q": 0.01})
row("privacy.accountant.rdp_to_epsilon")(lambda c: {"rdp": np.ones(5), "orders": (2, 3, 4, 5, 6)})
row("privacy.accountant.steps_for")(lambda c: {"n": 8000, "batch_size": 256, "epochs": 2.0})
row("privacy.dpsgd.capacity")(lambda c: {"expected": 4.0})
row("privacy.dpsgd.clip_and_noise")(
    lambda c: {
        "grads": [np.ones((4, 3))],
        "noise": [np.zeros(3)],
        "l2_norm_clip": 1.0,
        "denominator": 4.0,
    }
)
row("privacy.dpsgd.dp_fit")(
    lambda c: {"model": c.tab_model, "x": c.tab, "y": c.y_tab, "batch_size": 4, "progress": False}
)
row("privacy.membership.membership_inference")(
    lambda c: {
        "model": c.tab_model,
        "members": (c.tab[:6], c.y_tab[:6]),
        "non_members": (c.tab[6:], c.y_tab[6:]),
    }
)
row("privacy.metrics.tpr_at_fpr")(lambda c: {"fpr": 0.1})
row("privacy.shadow.lira_scores")(
    lambda c: {"bank": _bank(c), "target_logp": np.log(np.full((12, 2), 0.5)), "y": c.y_tab}
)
row("privacy.shadow.logit_confidence")(
    lambda c: {"logp": np.log(np.full((12, 2), 0.5)), "y": c.y_tab}
)
row("privacy.shadow.shokri_scores")(
    lambda c: {"bank": _bank(c), "target_logp": np.log(np.full((12, 2), 0.5)), "y": c.y_tab}
)
row("privacy.shadow.train_shadows")(
    lambda c: {
        "train": __import__("modelsec_edu").privacy.trainer(steps=2, width=4, depth=1),
        "x": c.tab,
        "y": c.y_tab,
        "n_shadow": 2,
    }
)
row("privacy.training.tabular_mlp")(lambda c: {"n_features": 5})
# supply chain
row("supply_chain.integrity.flip_file_bit")(
    lambda c: {"src": c.saved[0], "dst": c.fresh("flipped.keras"), "bit": 3}
)
row("supply_chain.integrity.load_model")(_model_file)
row("supply_chain.integrity.read_manifest")(lambda c: {"manifest": c.saved[1]})
row("supply_chain.integrity.record")(lambda c: {**_model_file(c), "replace": True})
row("supply_chain.integrity.save_model")(
    lambda c: {"model": c.mlp, "path": c.fresh("m.keras"), "manifest": c.saved[1]}
)
row("supply_chain.integrity.sha256_file")(lambda c: {"path": c.saved[0]})
row("supply_chain.integrity.sign_file")(
    lambda c: {"path": c.saved[0], "key": b"k" * 32, "signature": c.fresh("m.sig")}
)
row("supply_chain.integrity.verify")(_model_file)
row("supply_chain.integrity.verify_signature")(
    lambda c: {"path": c.saved[0], "key": b"k" * 32, "signature": _signed(c)}
)
row("supply_chain.safe_loading.lambda_code")(lambda c: {"path": c.saved[0]})
row("supply_chain.safe_loading.pickle_opcodes")(lambda c: {"data": b"\x80\x04K\x01."})
row("supply_chain.safe_loading.try_load")(lambda c: {"path": c.saved[0]})
row("supply_chain.signing.generate_keypair")(
    lambda c: {"directory": c.fresh("keys")} if _signing() else {}
)
row("supply_chain.signing.sign")(lambda c: _keys(c, "private"))
row("supply_chain.signing.verify")(lambda c: _keys(c, "public"))
# tampering
row("tampering.bitflip.flip_bit")(lambda c: {"index": 1})
row("tampering.bitflip.flip_bits")(lambda c: {"flips": [(0, 0, 7)]})
row("tampering.quantize.dequantize")(lambda c: {"scale": 0.1})
row("tampering.quantize.int8_bits")(lambda c: {"value": -3})
row("tampering.quantize.quantize_array")(lambda c: {"w": np.linspace(-1, 1, 9)})
row("tampering.weights.canary_check")(lambda c: {"expected": 0.1})
row("tampering.weights.noisy_weights")(lambda c: {"weights": [np.ones((2, 2))]})
row("tampering.weights.weight_diff")(lambda c: {"before": c.mlp, "after": c.mlp})
# validation (``name`` labels the caller's parameter: probes of it don't apply)
row("validation.check_array")(lambda c: {"x": c.x, "name": "x"})
row("validation.check_bool")(lambda c: {"value": True, "name": "flag"})
row("validation.check_callable")(lambda c: {"fn": len, "name": "make_model"})
row("validation.check_choice")(lambda c: {"value": "a", "name": "option", "options": ("a", "b")})
row("validation.check_clip")(lambda c: {"clip": (0.0, 1.0)})
row("validation.check_float")(lambda c: {"value": 0.5, "name": "rate"})
row("validation.check_int")(lambda c: {"value": 3, "name": "steps"})
row("validation.check_new_path")(lambda c: {"path": c.fresh("new"), "name": "path"})
row("validation.check_path")(lambda c: {"path": c.saved[0], "name": "path"})
# widgets
row("widgets.adversarial_training.attack_transfer_table")(lambda c: {"steps": 1})
row("widgets.attacks.run_attack")(lambda c: {"attack": "FGSM"})
row("widgets.concepts.gradient_walk")(lambda c: {"x": c.x[0], "y": 0})
row("widgets.concepts.label_flip_curve")(lambda c: {})
row("widgets.driving.sticker_explorer")(
    lambda c: {"model": c.sign_model, "stickers": {"none": None}, "target": 1}
)
row("widgets.driving.view_stickers")(
    lambda c: {"model": c.sign_model, "stickers": {"none": None}, "target": 1}
)
row("widgets.poisoning.backdoor_explorer")(lambda c: {"sweep": _backdoor_sweep(c)})
# zoo
_ZOO = {"name": "article_mlp"}
row("zoo.get")(lambda c: {**_ZOO, "x": c.x, "y": c.y, "cache": c.fresh("zoo"), "progress": False})
row("zoo.info")(lambda c: {**_ZOO, "x": c.x, "y": c.y, "cache": _zoo_cache(c)})
row("zoo.load")(lambda c: {"file": c.saved[0], "manifest": c.saved[1]})
row("zoo.path")(lambda c: {**_ZOO, "x": c.x, "y": c.y, "cache": c.fresh("zoo")})
row("zoo.saved_by")(lambda c: {"file": c.saved[0]})


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _signed(c: Inputs) -> Path:
    from modelsec_edu.supply_chain import integrity

    sig = c.tmp / "model.sig"
    if not sig.exists():
        integrity.sign_file(c.saved[0], b"k" * 32, signature=sig)
    return sig


@functools.lru_cache(maxsize=1)
def _credit_model_cached():
    from modelsec_edu.data import load_german_credit
    from modelsec_edu.privacy import tabular_mlp

    return tabular_mlp(np.asarray(load_german_credit().x).shape[1], width=4, depth=1)


def _credit_model(c: Inputs):
    return _credit_model_cached()


def _cgan_generator(c: Inputs):
    from modelsec_edu.evasion import gan

    return gan.cgan(latent_dim=8).generator


def _signing() -> bool:
    import pytest

    from modelsec_edu.supply_chain import signing

    if not signing.available():
        pytest.skip("model-signing is not installed (an optional extra)")
    return True


def _keys(c: Inputs, which: str) -> dict[str, Any]:
    from modelsec_edu.supply_chain import signing

    _signing()
    folder = c.tmp / "keys"
    if not folder.exists():
        private, public = signing.generate_keypair(folder)
        signing.sign(c.saved[0], private, folder / "model.sig")
    private, public = sorted(folder.glob("*private*"))[0], sorted(folder.glob("*public*"))[0]
    if which == "private":
        return {"model_path": c.saved[0], "private_key": private, "signature": c.fresh("model.sig")}
    return {"model_path": c.saved[0], "public_key": public, "signature": folder / "model.sig"}


def _zoo_cache(c: Inputs) -> Path:
    from modelsec_edu import zoo

    cache = c.tmp / "zoo"
    zoo.get("article_mlp", c.x, c.y, cache=cache, progress=False)
    return cache


def _gtsrb(c: Inputs) -> dict[str, Any]:
    """A one-image archive in GTSRB's layout (class 14, stop) and its digest."""
    import hashlib
    import io
    import zipfile

    from PIL import Image

    path = c.tmp / "gtsrb.zip"
    if not path.exists():
        png = io.BytesIO()
        Image.fromarray(np.zeros((40, 40, 3), "uint8")).save(png, format="PPM")
        folder = "GTSRB/Final_Training/Images/00014"
        header = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"{folder}/00000_00000.ppm", png.getvalue())
            z.writestr(f"{folder}/GT-00014.csv", header + "00000_00000.ppm;40;40;5;5;34;34;14\n")
    return {"archive": path, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


row("data.gtsrb.load_gtsrb")(_gtsrb)


def _templates():
    from modelsec_edu.data import sign_templates

    return sign_templates.templates()


# ---------------------------------------------------------------- open work

# Cases ("<function>:<parameter>:<probe label>", or "<function>" for its valid call) that
# still fail: OPEN WORK FOR ISSUE 8.  The test marks them xfail(strict=False): a fix shows as
# XPASS in ``-rxX``, and its entry is then removed from this set.
KNOWN_GAPS: set[str] = set()

# --------------------------------------------------------------- rows added for the rest of the API


def _binary_first_column(c: Inputs) -> np.ndarray:
    x = c.tab.copy()
    x[:, 0] = (x[:, 0] > 0).astype("float32")
    return x


def _int8_tab_model(c: Inputs):
    from modelsec_edu.privacy import tabular_mlp
    from modelsec_edu.tampering.bitflip import _Int8Model

    state = _Int8Model(tabular_mlp(5, width=4, depth=1))
    return {"model": state.model, "q": state.q, "scales": state.scales}


def _logistic(x):
    return np.stack([1 - _sig(x.sum(1)), _sig(x.sum(1))], 1)


def _budget_sweep_obj():
    from modelsec_edu.extraction.sweep import BudgetSweep

    return BudgetSweep(
        budgets=np.array([4, 8]),
        agreement=np.array([0.5, 0.7]),
        suspicion=np.zeros(8),
        threshold=0.1,
        alarm_at=-1,
    )


def _rounding_sweep_obj():
    from modelsec_edu.extraction.sweep import RoundingSweep

    return RoundingSweep((None, 2), np.array([0.0, 0.1]), np.array([1.0, 0.9]))


def _dp_sweep_obj():
    from modelsec_edu.privacy.experiments import DPPoint, DPSweep

    points = (DPPoint(0.0, float("inf"), 0.9, 0.95, 0.6), DPPoint(1.0, 3.0, 0.8, 0.82, 0.52))
    return DPSweep(points, 100, 10, 1, 1e-5, "synthetic features")


def _monitor_result():
    from modelsec_edu.extraction.monitor import MonitorResult

    return MonitorResult(np.array([3]), [np.zeros(5)])


row("evasion.gan.train")(
    lambda c: {"gan": _gan(c), "y": None, "on_samples": None, "progress": False, "batch_size": 4}
)
row("evasion.robust_eval.evaluate_models")(lambda c: {"named": {"mlp": c.mlp}, "steps": 2})
row("evasion.universal.apply_universal")(
    lambda c: {"x": c.x, "delta": np.zeros((28, 28, 1), "float32")}
)
row("evasion.universal.fooling_rate")(
    lambda c: {"x": c.x, "delta": np.zeros((28, 28, 1), "float32"), "target": 1}
)
row("extraction.bank.student")(lambda c: {"n_features": 5})
row("extraction.bank.threshold_at_fpr")(lambda c: {"scores_genuine": c.s_out, "fpr": 0.1})
row("extraction.monitor.combine")(lambda c: {"*": (_monitor_result(), _monitor_result())})
row("extraction.pool.plausible_pool")(
    lambda c: {"spec": _credit(c)[0], "seeds": _credit(c)[1], "n": 4}
)
row("extraction.sweep.budget_sweep")(
    lambda c: {
        "victim": c.tab_model,
        "pool": c.tab,
        "x_eval": c.tab,
        "budgets": (6,),
        "model_fn": lambda: __import__("modelsec_edu").privacy.tabular_mlp(5, width=4, depth=1),
        "monitor": __import__("modelsec_edu.extraction.monitor").extraction.monitor.QueryMonitor(
            warmup=3
        ),
        "rounds": 1,
        "steps": 2,
    }
)
row("extraction.sweep.rounding_sweep")(
    lambda c: {
        "predict_proba": _logistic,
        "weights": np.ones(3),
        "bias": 0.0,
        "x_eval": c.tab[:, :3].astype("float64"),
        "decimals": (None, 2),
    }
)
row("models.recipes.adversarial_defaults")(lambda c: {"method": "fgsm_rs", "n": 8})
row("outlook.tradeoffs.missing_chapters")(lambda c: {"rows": []})
row("privacy.attribute.attribute_inference")(
    lambda c: {"model": c.tab_model, "x": _binary_first_column(c), "y": c.y_tab, "column": 0}
)
row("privacy.attribute.population_baseline")(
    lambda c: {"x_known": _binary_first_column(c), "x_query": _binary_first_column(c), "column": 0}
)
row("privacy.experiments.dp_sweep")(
    lambda c: {
        "train": (c.tab, c.y_tab),
        "test": (c.tab, c.y_tab),
        "noise_multipliers": (1.0,),
        "batch_size": 4,
        "epochs": 1,
        "mia_size": 10,
    }
)
row("privacy.experiments.leak")(
    lambda c: {
        "name": "plain",
        "model": c.tab_model,
        "members": (c.tab[:6], c.y_tab[:6]),
        "non_members": (c.tab[6:], c.y_tab[6:]),
    }
)
row("privacy.experiments.linear_head")(lambda c: {"n_features": 5, "n_classes": 2})
row("privacy.experiments.mitigations")(
    lambda c: {
        "members": (np.tile(c.tab, (2, 1))[:16], np.tile(c.y_tab, 2)[:16]),  # DP batch >= 16
        "non_members": (c.tab[6:], c.y_tab[6:]),
        "steps": 41,
    }
)
row("privacy.experiments.plain_fit")(
    lambda c: {"train": (c.tab, c.y_tab), "epochs": 1, "batch_size": 4}
)
row("tampering.dense_search.attack_score")(lambda c: {"objective": "ce", "cap": 5.0})
row("tampering.dense_search.dense_flip_losses")(
    lambda c: {**_int8_tab_model(c), "x": c.tab, "y": c.y_tab, "cap": 5.0}
)
row("widgets.finance.extraction_explorer")(
    lambda c: {"sweep": _budget_sweep_obj(), "rounding": _rounding_sweep_obj()}
)
row("widgets.healthcare.noise_explorer")(lambda c: {"sweep": _dp_sweep_obj()})
_SHIPPED = {"name": "article_mlp"}
row("zoo.shipped.available")(lambda c: dict(_SHIPPED))
row("zoo.shipped.card")(lambda c: dict(_SHIPPED))
row("zoo.shipped.estimate")(lambda c: {**_SHIPPED, "settings": {}, "n": 100})
row("zoo.shipped.files")(lambda c: dict(_SHIPPED))
row("zoo.shipped.notice")(lambda c: {**_SHIPPED, "how": "loaded from the package"})
row("zoo.shipped.record")(lambda c: dict(_SHIPPED))
row("zoo.uses_shipped")(lambda c: dict(_SHIPPED))
