"""Build the trained models the course ships (``modelsec_edu/zoo/weights/``), saved by Keras 3.13.2.

For each zoo recipe it takes the weights from ``--artifacts`` (``<name>.weights.npz`` with a
``<name>.json`` of figures and recipe, or a ``<name>.keras``) when present, otherwise trains
the recipe itself with ``--train`` (full settings, on the real MNIST t10k split's first 8,000
images, as a learner's online route sees it).  Then, in a second Python whose Keras is the oldest
the course supports (``--keras-python``, Keras 3.13.2: files it writes load in every later 3.x;
3.15's files do not load in 3.13), it rebuilds each architecture, sets the weights, checks the
logits against the source model's, and saves the ``.keras`` file with its SHA-256 in
``manifest.json``.  Each model gets a record (``.json``) and a card (``.md``); the manifest is
signed with the publisher's private key (OpenSSF model-signing, ``--key``) and ships with the
public key.  Finally every shipped file is loaded back here and checked against its logits.

    python bench/ship_models.py                         # what --artifacts holds, nothing trained
    python bench/ship_models.py small_cnn article_mlp --train
    python -m venv /tmp/k3132 && /tmp/k3132/bin/pip install keras==3.13.2 \\
        tensorflow-cpu==2.20.0 numpy==2.0.2 scipy scikit-learn "model-signing>=1.1.1" pyopenssl

Threat model: a tampered shipped model (see :mod:`modelsec_edu.zoo.shipped`).  The private key
never enters the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import _record  # noqa: E402

OUT = ROOT / "modelsec_edu" / "zoo" / "weights"
ARTIFACTS = Path(os.environ.get("MODELSEC_EDU_ARTIFACTS", "/work/artifacts/models"))
MNIST = ROOT.parent / "shared" / "data" / "mnist-t10k"
# The publisher's key pair lives outside the repository; only public.pem ships.
KEY = Path(os.environ.get("MODELSEC_EDU_PUBLISHER_KEY", "/work/artifacts/publisher-key"))
DATA = "the real MNIST t10k split's first 8,000 images (test on its last 2,000)"
# Architecture of each recipe's shipped network, as Python run in the other Keras.
BUILD = {
    "article_mlp": "models.compile_classifier(models.article_mlp())",
    "article_mlp_article": "models.compile_classifier(models.article_mlp())",
    "dcgan_generator": "gan.dcgan().generator",
    "cgan_generator": "gan.cgan().generator",
    "advgan_generator": "advgan.perturbation_generator(eps=0.3).generator",
}
# In the other Keras: rebuild, set weights, compare logits, save with a manifest entry.
SAVE = r"""
import json, sys
from pathlib import Path
import keras, numpy as np
from modelsec_edu import models
from modelsec_edu.evasion import advgan, gan
from modelsec_edu.supply_chain import integrity
stage, out = Path(sys.argv[1]), Path(sys.argv[2])
plan = json.loads((stage / "plan.json").read_text())
done = {}
for name, build in plan.items():
    built = eval(build)
    model = built.__class__.from_config(built.get_config())  # uncompiled: no optimizer state
    assert getattr(model, "optimizer", None) is None, name
    with np.load(stage / f"{name}.weights.npz") as f:
        model.set_weights([f[f"arr_{i}"] for i in range(len(f.files))])
    with np.load(stage / f"{name}.probe.npz") as f:
        inputs = [f[k] for k in sorted(k for k in f.files if k.startswith("in"))]
        want = f["out"]
    got = keras.ops.convert_to_numpy(model(inputs if len(inputs) > 1 else inputs[0]))
    diff = float(np.abs(got - want).max())
    if diff > 1e-4:
        raise SystemExit(f"{name}: rebuilt under Keras {keras.__version__} differs by {diff}")
    file = out / f"{name}.keras"
    manifest = out / "manifest.json"
    listed = integrity.read_manifest(manifest) if manifest.exists() else {}
    integrity.save_model(model, file, manifest, overwrite=file.name in listed)
    done[name] = diff
print(json.dumps({"keras": keras.__version__, "diff": done}))
"""
SIGN = r"""
import sys
from pathlib import Path
from modelsec_edu.supply_chain import signing
out, key = Path(sys.argv[1]), Path(sys.argv[2])
if not (key / "private.pem").exists():
    signing.generate_keypair(key)
signing.sign(out / "manifest.json", key / "private.pem", out / "manifest.sig", overwrite=True)
(out / "publisher.pem").write_bytes((key / "public.pem").read_bytes())
print("signed")
"""


def build_expr(name: str) -> str:
    return BUILD.get(name, "models.compile_classifier(models.small_cnn())")


def real_mnist():
    from modelsec_edu import data

    (xtr, ytr), (xte, yte) = data.load_mnist(MNIST, download=False, verbose=False)
    return (data.to_float(xtr), ytr.astype("int64")), (data.to_float(xte), yte.astype("int64"))


def probe_inputs(name: str) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    if name in ("dcgan_generator", "cgan_generator"):
        z = rng.standard_normal((8, 64)).astype("float32")
        return [z, np.arange(8, dtype="int32")] if name == "cgan_generator" else [z]
    return [rng.random((8, 28, 28, 1), dtype="float32")]


def figures(name: str, model, test) -> dict:
    """Clean test accuracy for a classifier; robust accuracy (PGD-40, eps 0.3) for a robust one."""
    from modelsec_edu import evasion, models

    if name.endswith("_generator"):
        return {}
    x, y = test
    if "fgsm" in name or "pgd" in name or "trades" in name or "advgan" in name:
        r = evasion.robustness(model, x[:500], y[:500], eps=0.3)
        return {
            "clean accuracy (500 test images)": r["clean"],
            "PGD-40 robust accuracy at eps 0.3 (500 test images)": r["pgd"],
        }
    return {"clean test accuracy (2,000 images)": models.accuracy(model, x, y)}


def trainer_figures(doc: dict, prefix: str = "") -> dict:
    """The numbers a trainer's record holds under ``figures*`` / ``worst_case*`` keys, flattened."""
    out = {}
    for key, value in doc.items():
        if not (prefix or key.startswith(("figures_", "worst_case"))):
            continue
        label = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(trainer_figures(value, f"{label} "))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{label} (trainer's)"] = float(value)
    return out


def from_artifacts(name: str, folder: Path):
    """(weights, record) from the chapter-06 helper's files, or None."""
    npz, meta, keras_file = (folder / f"{name}{s}" for s in (".weights.npz", ".json", ".keras"))
    doc = json.loads(meta.read_text()) if meta.is_file() else {}
    if npz.is_file():
        with np.load(npz) as f:
            keys = sorted(f.files, key=lambda k: int(k.split("_")[-1]) if k[-1].isdigit() else k)
            return [f[k] for k in keys], doc
    if keras_file.is_file():
        import keras

        model = keras.saving.load_model(keras_file, safe_mode=True)
        return model.get_weights(), doc
    return None


def train(name: str, train_data):
    from modelsec_edu import zoo

    os.environ.pop("MODELSEC_EDU_QUICK", None)
    x, y = train_data
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        model = zoo.get(name, x, y, cache=cache, retrain=True, progress=False)
        seconds = time.perf_counter() - start
        # The cache's own record (zoo.info would describe the shipped model, not this one).
        rec = json.loads(zoo.path(name, x, y, cache=cache).with_suffix(".json").read_text())
    rec["train_seconds"] = seconds
    return model, rec


def card(name: str, rec: dict) -> str:
    figs = (
        "\n".join(
            f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
            for k, v in rec["figures"].items()
        )
        or "| (a generator: no accuracy figure) | |"
    )
    took = rec.get("train_seconds")
    took = f"{took:.0f} s" if isinstance(took, (int, float)) else "not recorded"
    return f"""# Model card: `{name}`

Shipped with modelsec-edu; `zoo.get("{name}")` returns it in the default mode after checking
its SHA-256 (manifest.json) and, when model-signing is installed, the manifest's signature.

- **Recipe**: zoo recipe `{name}`, settings `{json.dumps(rec.get("settings", {}))}`
- **Data**: {rec["data"]}. Real MNIST is not shipped; a learner who downloads MNIST trains and
  tests on other images, and one offline gets the embedded scikit-learn digits, on which this
  model's accuracy is lower.
- **Seed**: {rec.get("seed", 0)} (`keras.utils.set_random_seed`)
- **Trained by**: {rec.get("trained_by", "bench/ship_models.py")},
  backend {rec.get("backend", "tensorflow")}
- **Training time**: {took} on {rec["machine"]}
- **Saved by**: Keras {rec["saved_keras"]} (the oldest supported; later 3.x versions read it)

| figure | value |
| --- | --- |
{figs}

Figures measured by bench/ship_models.py on the file as shipped, on the last 2,000 images of
the t10k split (or the first 500 of them for robust accuracy).
"""


def main(argv: list[str] | None = None) -> int:
    import keras

    from modelsec_edu import (
        models,  # noqa: F401 - used by eval(build_expr)
        zoo,
    )
    from modelsec_edu.evasion import advgan, gan  # noqa: F401
    from modelsec_edu.supply_chain import integrity

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*", help="zoo recipes (default: all)")
    p.add_argument("--artifacts", type=Path, default=ARTIFACTS)
    p.add_argument("--train", action="store_true", help="train what --artifacts lacks")
    p.add_argument("--keras-python", type=Path, default=Path("/tmp/k3132/bin/python"))
    p.add_argument("--key", type=Path, default=KEY, help="folder of private.pem (made if absent)")
    args = p.parse_args(argv)
    if not MNIST.is_dir():
        print(f"no real MNIST at {MNIST}: the shipped models are trained and measured on it")
        return 1
    train_data, test = real_mnist()
    OUT.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="ship-"))
    plan, records = {}, {}
    for name in args.names or sorted(zoo.RECIPES):
        got = from_artifacts(name, args.artifacts)
        if got is not None:
            weights, doc = got
            rec = {"trained_by": f"the chapter-06 helper ({args.artifacts})", **doc}
        elif args.train:
            model, rec = train(name, train_data)
            weights = model.get_weights()
            rec.update(trained_by="bench/ship_models.py --train", machine=_record.machine())
        else:
            print(f"{name}: not in {args.artifacts} and --train not given: not shipped")
            continue
        model = eval(build_expr(name))
        model.set_weights(weights)
        inputs = probe_inputs(name)
        out = keras.ops.convert_to_numpy(model(inputs if len(inputs) > 1 else inputs[0]))
        np.savez(stage / f"{name}.weights.npz", *model.get_weights())
        np.savez(
            stage / f"{name}.probe.npz", out=out, **{f"in{i}": a for i, a in enumerate(inputs)}
        )
        rec.setdefault("figures", {}).update(trainer_figures(rec))
        rec["figures"].update(figures(name, model, test))
        rec.update(
            name=name,
            data=rec.get("data", DATA),
            n_train=rec.get("n_train", 8000),
            seed=rec.get("seed", 0),
            machine=rec.get("machine", "not recorded"),
            train_seconds=rec.get("train_seconds"),
            history=rec.get("history", {}),
        )
        if "settings" not in rec:
            rec["settings"] = models.recipes.RECIPES[zoo.RECIPES[name][0]]
        plan[name], records[name] = build_expr(name), rec
        print(f"{name}: staged ({rec['trained_by']}); {rec['figures']}", flush=True)
    if not plan:
        return 1
    (stage / "plan.json").write_text(json.dumps(plan))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run(
        [str(args.keras_python), "-c", SAVE, str(stage), str(OUT)],
        env=env,
        capture_output=True,
        text=True,
    )
    if run.returncode:
        print(run.stderr[-3000:])
        return 1
    saved = json.loads(run.stdout.strip().splitlines()[-1])
    listed = integrity.read_manifest(OUT / "manifest.json")
    for name, rec in records.items():
        rec.update(saved_keras=saved["keras"], rebuild_max_diff=saved["diff"][name])
        for suffix, text in (
            (".json", json.dumps(rec, indent=1, default=float)),
            (".md", card(name, rec)),
        ):
            f = OUT / f"{name}{suffix}"
            f.write_text(text + "\n", encoding="utf-8")
            integrity.record(f, OUT / "manifest.json", replace=f.name in listed)
    run = subprocess.run(
        [str(args.keras_python), "-c", SIGN, str(OUT), str(args.key)],
        env=env,
        capture_output=True,
        text=True,
    )
    print(run.stdout.strip() or run.stderr[-2000:])
    for name in records:  # read back here, under this Keras, through the zoo's own checks
        model = zoo.load(*zoo.shipped.files(name))
        with np.load(stage / f"{name}.probe.npz") as f:
            ins = [f[k] for k in sorted(k for k in f.files if k.startswith("in"))]
            diff = float(
                np.abs(
                    keras.ops.convert_to_numpy(model(ins if len(ins) > 1 else ins[0])) - f["out"]
                ).max()
            )
        print(
            f"{name}: saved by Keras {saved['keras']}, loads in {keras.__version__}, "
            f"max logit difference {diff:.2e}"
        )
    size = sum(f.stat().st_size for f in OUT.iterdir()) / 1e6
    print(f"shipped folder: {size:.1f} MB (bar 15 MB); {len(zoo.shipped.names())} models")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
