import pickle

import pytest

from modelsec_edu.supply_chain import safe_loading


def test_unpickling_runs_code(capsys):
    data = safe_loading.pickle_payload("hello from a pickle")
    assert capsys.readouterr().out == ""  # building the payload runs nothing
    pickle.loads(data)
    assert capsys.readouterr().out == "hello from a pickle\n"
    listing = safe_loading.pickle_opcodes(data)
    assert "REDUCE" in listing and "print" in listing


def test_safe_mode_refuses_a_lambda_layer_and_runs_nothing(tmp_path, capsys):
    model = safe_loading.lambda_model("payload!")
    path = tmp_path / "lambda.keras"
    model.save(path)
    capsys.readouterr()
    assert len(safe_loading.lambda_code(path)) == 1  # the bytecode sits in config.json
    loaded, what = safe_loading.try_load(path)
    assert not loaded and "Lambda" in what
    assert "payload!" not in capsys.readouterr().out
    loaded, _ = safe_loading.try_load(path, safe_mode=False)
    assert loaded and "payload!" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        safe_loading.try_load(tmp_path / "missing.keras")


@pytest.mark.parametrize(
    ("installed", "ok"),
    [
        ("3.13.2", True),
        ("3.15.1", True),
        ("4.0.0", True),
        ("3.13.1", False),
        ("3.9.0", False),
        ("3.13.2rc1", False),
        ("2.15.0", False),
    ],
)
def test_check_keras(installed, ok):
    assert safe_loading.check_keras(installed)[0] is ok


def test_the_installed_keras_is_new_enough():
    ok, message = safe_loading.check_keras()
    assert ok, message
