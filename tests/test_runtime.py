import subprocess
import sys

import pytest

from modelsec_edu import runtime


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("off", False)],
)
def test_quick_mode_reads_the_environment_at_call_time(monkeypatch, value, expected):
    monkeypatch.setenv(runtime.QUICK_ENV, value)
    assert runtime.is_quick() is expected
    assert runtime.pick(full="full", quick="quick") == ("quick" if expected else "full")


def test_quick_mode_rejects_nonsense(monkeypatch):
    monkeypatch.setenv(runtime.QUICK_ENV, "maybe")
    with pytest.raises(ValueError, match="MODELSEC_EDU_QUICK"):
        runtime.is_quick()


def test_set_seed_makes_keras_random_repeatable():
    import keras

    runtime.set_seed(3)
    a = keras.ops.convert_to_numpy(keras.random.normal((4,)))
    runtime.set_seed(3)
    b = keras.ops.convert_to_numpy(keras.random.normal((4,)))
    assert (a == b).all()


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError)])
def test_set_seed_rejects_bad_seeds(seed, error):
    with pytest.raises(error):
        runtime.set_seed(seed)


@pytest.mark.backend
def test_environment_reports_versions_backend_and_devices():
    import keras

    info = runtime.environment()
    assert info["keras"] == keras.__version__
    assert info["backend"] == keras.backend.backend()
    assert any(d["type"] == "CPU" for d in info["devices"]) or info["gpu"]
    assert isinstance(info["gpu"], bool)


def test_importing_the_package_does_no_work():
    code = (
        "import sys, modelsec_edu; "
        "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
