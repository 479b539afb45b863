"""Shared fixtures: small real data, trained models, the real MNIST subset when present."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = Path(
    os.environ.get("MODELSEC_EDU_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist-t10k")
)


@pytest.fixture(autouse=True)
def _no_network_and_quick(monkeypatch, tmp_path_factory):
    """Tests never touch the network and never read a developer's mode, cache or retrain switch.

    Each test gets its own empty config file and zoo cache (outside its ``tmp_path``, which
    stays empty for the test's own files).  ``MODELSEC_EDU_QUICK`` is left as the run set it.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MODELSEC_EDU_OFFLINE", "1")
    monkeypatch.setenv("MODELSEC_EDU_CONFIG", str(home / "config.json"))
    monkeypatch.setenv("MODELSEC_EDU_CACHE", str(home / "zoo"))
    monkeypatch.delenv("MODELSEC_EDU_RETRAIN", raising=False)


@pytest.fixture(scope="session")
def digits():
    """The embedded fallback digits as float images in [0, 1]: ((x, y), (x, y))."""
    from modelsec_edu import data

    (xtr, ytr), (xte, yte) = data.load_sklearn_digits()
    return (data.to_float(xtr), ytr.astype("int64")), (data.to_float(xte), yte.astype("int64"))


@pytest.fixture(scope="session")
def trained_mlp(digits):
    """The article's MLP trained briefly on the digits (about 90% test accuracy)."""
    import keras

    from modelsec_edu import models

    keras.utils.set_random_seed(0)
    (xtr, ytr), _ = digits
    model = models.compile_classifier(models.article_mlp())
    models.fit(model, xtr, ytr, epochs=8, batch_size=64, progress=False)
    return model


@pytest.fixture(scope="session")
def real_mnist():
    """The real MNIST test set split 8,000 / 2,000, or a skip when it is absent."""
    from modelsec_edu import data

    if not REAL_MNIST.is_dir():
        pytest.skip(f"real MNIST subset not found at {REAL_MNIST}")
    (xtr, ytr), (xte, yte) = data.load_mnist(REAL_MNIST, download=False, verbose=False)
    return (data.to_float(xtr), ytr.astype("int64")), (data.to_float(xte), yte.astype("int64"))


@pytest.fixture(scope="session")
def bench_module():
    """``load(name)``: the script ``bench/<name>.py`` as a module (``bench/`` is not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
