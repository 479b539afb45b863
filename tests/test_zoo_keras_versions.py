"""A model file written by one Keras version, read by another: loaded correctly, or refused clearly.

The other Keras is Colab's (3.13.2), in the venv ``.ci/colab.sh`` builds
(``.venv-colab``; override with ``MODELSEC_EDU_OTHER_PYTHON``).  Without it
the cross-version test skips.  It covers both directions: pinned -> other, other -> pinned.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

from modelsec_edu import models, zoo
from modelsec_edu.supply_chain import integrity

ROOT = Path(__file__).resolve().parents[1]
# The other Keras: $MODELSEC_EDU_OTHER_PYTHON, else the Colab venv, else bench/keras_floor.sh's.
_CANDIDATES = [ROOT / ".venv-colab" / "bin" / "python", Path("/tmp/k3132/bin/python")]
OTHER = Path(
    os.environ.get("MODELSEC_EDU_OTHER_PYTHON")
    or next((str(p) for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
)

# In the other Keras: load the pinned Keras' file (or be refused), then save one of its own.
SCRIPT = r"""
import json, sys
import keras, numpy as np
from modelsec_edu import models, zoo
from modelsec_edu.supply_chain import integrity
folder = sys.argv[1]
x = np.load(folder + "/x.npy")
out = {"keras": keras.__version__}
try:
    model = zoo.load(folder + "/pinned.keras", folder + "/manifest.json")
except zoo.KerasVersionError as exc:
    out["refused"] = str(exc)
else:
    logits = keras.ops.convert_to_numpy(model(x))
    out["loaded"] = float(np.abs(logits - np.load(folder + "/pinned.npy")).max())
keras.utils.set_random_seed(1)
model = models.small_cnn()
integrity.save_model(model, folder + "/other.keras", folder + "/manifest.json")
np.save(folder + "/other.npy", keras.ops.convert_to_numpy(model(x)))
print(json.dumps(out))
"""


def _other_keras() -> None:
    if not OTHER.exists():
        pytest.skip(
            f"no second Keras venv at {OTHER} "
            "(bash .ci/colab.sh --build or bash bench/keras_floor.sh makes one)"
        )


def _loaded_or_refused(outcome: dict, wrote: str, reads: str) -> None:
    """The one acceptable pair of outcomes: the same function, or a refusal that says what to do."""
    if "loaded" in outcome:
        assert outcome["loaded"] < 1e-5, outcome  # the same function, not merely a file that parsed
    else:
        message = outcome["refused"]
        assert f"saved by Keras {wrote}" in message and f"Keras {reads} cannot" in message
        assert f"pip install keras=={wrote}" in message


def test_a_file_from_another_keras_loads_correctly_or_is_refused_clearly(tmp_path):
    """Both directions in one run: pinned -> other in the subprocess, other -> pinned here."""
    _other_keras()
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    np.save(tmp_path / "x.npy", x)
    manifest = tmp_path / "manifest.json"
    keras.utils.set_random_seed(0)
    model = models.small_cnn()
    integrity.save_model(model, tmp_path / "pinned.keras", manifest)
    np.save(tmp_path / "pinned.npy", keras.ops.convert_to_numpy(model(x)))

    env = dict(os.environ, PYTHONPATH=str(ROOT), KERAS_BACKEND="tensorflow")
    run = subprocess.run(
        [str(OTHER), "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, f"a raw failure instead of a clear answer:\n{run.stderr[-3000:]}"
    there = json.loads(run.stdout.strip().splitlines()[-1])
    other = there["keras"]
    if other == keras.__version__:
        pytest.skip(f"{OTHER} has the same Keras ({other})")
    _loaded_or_refused(there, wrote=keras.__version__, reads=other)  # pinned -> other

    assert zoo.saved_by(tmp_path / "other.keras") == other
    here: dict = {}
    try:
        back = zoo.load(tmp_path / "other.keras", manifest)
    except zoo.KerasVersionError as exc:
        here["refused"] = str(exc)
    else:
        logits = keras.ops.convert_to_numpy(back(x))
        here["loaded"] = float(np.abs(logits - np.load(tmp_path / "other.npy")).max())
    _loaded_or_refused(here, wrote=other, reads=keras.__version__)  # other -> pinned
    print(f"Keras {keras.__version__} -> {other}: {sorted(there)}; back: {sorted(here)}")


def test_the_cache_key_holds_the_keras_version(monkeypatch, tmp_path):
    x = np.zeros((8, 28, 28, 1), "float32")
    y = np.arange(8) % 10
    here = zoo.path("small_cnn", x, y, cache=tmp_path)
    assert zoo.path("small_cnn", x, y, cache=tmp_path) == here  # stable within one version
    monkeypatch.setattr(
        keras, "__version__", "3.13.2" if keras.__version__ != "3.13.2" else "3.15.1"
    )
    assert zoo.path("small_cnn", x, y, cache=tmp_path) != here


def test_an_unreadable_file_of_another_version_is_refused_with_what_to_do(tmp_path, monkeypatch):
    """No second venv needed: a verified file this Keras rejects, labelled as foreign."""
    file, manifest = tmp_path / "m.keras", tmp_path / "manifest.json"
    integrity.save_model(models.small_cnn(), file, manifest)

    def foreign(*_args, **_kwargs):
        raise TypeError("GlorotUniform.__init__() got an unexpected keyword argument 'input_axes'")

    monkeypatch.setattr(keras.saving, "load_model", foreign)
    monkeypatch.setattr(zoo, "saved_by", lambda _f: "9.9.9")
    with pytest.raises(
        zoo.KerasVersionError, match=r"saved by Keras 9\.9\.9.*pip install keras==9\.9\.9"
    ):
        zoo.load(file, manifest)
    monkeypatch.setattr(zoo, "saved_by", lambda _f: keras.__version__)
    with pytest.raises(TypeError, match="input_axes"):  # same version: a real bug, shown as it is
        zoo.load(file, manifest)


def test_a_tampered_file_is_still_an_integrity_error(tmp_path):
    file, manifest = tmp_path / "m.keras", tmp_path / "manifest.json"
    integrity.save_model(models.small_cnn(), file, manifest)
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 1
    file.write_bytes(bytes(data))
    with pytest.raises(integrity.IntegrityError):
        zoo.load(file, manifest)


def test_saved_by_reads_the_version_or_says_unknown(tmp_path):
    file, manifest = tmp_path / "m.keras", tmp_path / "manifest.json"
    integrity.save_model(models.small_cnn(), file, manifest)
    assert zoo.saved_by(file) == keras.__version__
    junk = tmp_path / "junk.keras"
    junk.write_bytes(np.arange(10, dtype="uint8").tobytes())
    assert zoo.saved_by(junk) is None


# In the other Keras: load every shipped model through the zoo's checks, print its outputs' digest.
SHIPPED = r"""
import json, sys
import keras, numpy as np
from modelsec_edu import zoo
from modelsec_edu.zoo import shipped
x = np.load(sys.argv[1])
out = {"keras": keras.__version__, "models": {}}
for name in shipped.names():
    model = zoo.load(*shipped.files(name))
    latent = name in ("dcgan_generator", "cgan_generator")
    inputs = [x.reshape(len(x), -1)[:, :64]] if latent else [x]
    if name == "cgan_generator":
        inputs.append(np.arange(len(x), dtype="int32"))
    y = keras.ops.convert_to_numpy(model(inputs if len(inputs) > 1 else inputs[0]))
    out["models"][name] = y.astype("float64").ravel().tolist()
print(json.dumps(out))
"""


def test_every_shipped_model_loads_in_the_oldest_and_the_pinned_keras_alike(tmp_path):
    """The shipped files are saved by Keras 3.13.2: both Kerases load them and compute the same."""
    from modelsec_edu.zoo import shipped

    _other_keras()
    if not shipped.names():
        pytest.skip("no shipped models in this checkout")
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    np.save(tmp_path / "x.npy", x)
    env = dict(os.environ, PYTHONPATH=str(ROOT), KERAS_BACKEND="tensorflow")
    run = subprocess.run(
        [str(OTHER), "-c", SHIPPED, str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, f"the other Keras failed on a shipped model:\n{run.stderr[-3000:]}"
    there = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(there["models"]) == set(shipped.names())
    for name, values in there["models"].items():
        model = zoo.load(*shipped.files(name))
        latent = name in ("dcgan_generator", "cgan_generator")
        inputs = [x.reshape(len(x), -1)[:, :64]] if latent else [x]
        if name == "cgan_generator":
            inputs.append(np.arange(len(x), dtype="int32"))
        here = keras.ops.convert_to_numpy(model(inputs if len(inputs) > 1 else inputs[0]))
        np.testing.assert_allclose(here.ravel(), values, atol=1e-5, err_msg=name)
    print(
        f"{len(there['models'])} shipped models: Keras {there['keras']} and {keras.__version__} "
        "agree"
    )
