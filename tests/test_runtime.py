import json
import os
import subprocess
import sys

import pytest

from modelsec_edu import runtime


@pytest.fixture(autouse=True)
def _own_config(monkeypatch, tmp_path):
    """Every test gets its own (absent) mode file, never the developer's."""
    monkeypatch.setenv(runtime.CONFIG_ENV, str(tmp_path / "cfg" / "config.json"))


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


@pytest.mark.parametrize(
    ("seed", "error"), [(-1, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError)]
)
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
        "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib') "
        "if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --------------------------------------------------------------------------- the mode switch


def _in_new_process(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter: a new notebook, or one after a kernel restart."""
    full_env = {k: v for k, v in os.environ.items() if k != runtime.QUICK_ENV} | env
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=full_env
    )
    return out.stdout.strip()


READ_MODE = "from modelsec_edu import runtime; print(*runtime.mode(), sep='|')"


@pytest.mark.parametrize("chosen", ["quick", "full"])
def test_set_mode_lasts_into_the_next_process(monkeypatch, chosen):
    monkeypatch.delenv(runtime.QUICK_ENV, raising=False)
    file = runtime.set_mode(chosen)
    assert file == runtime.config_path() and file.exists()
    for _restart in range(2):  # a second notebook, then the same one after a kernel restart
        mode, source = _in_new_process(READ_MODE).split("|")
        assert mode == chosen
        assert str(file) in source


def test_set_mode_in_one_process_is_seen_by_another(monkeypatch):
    monkeypatch.delenv(runtime.QUICK_ENV, raising=False)
    _in_new_process("from modelsec_edu import runtime; runtime.set_mode('quick')")
    assert runtime.is_quick() is True
    assert runtime.mode()[1] == f"config file {runtime.config_path()}"


@pytest.mark.parametrize(
    ("env", "saved", "expected"), [("1", "full", "quick"), ("0", "quick", "full")]
)
def test_the_environment_variable_wins_over_the_file(monkeypatch, env, saved, expected):
    runtime.set_mode(saved)
    monkeypatch.setenv(runtime.QUICK_ENV, env)
    assert runtime.mode() == (expected, f"environment variable {runtime.QUICK_ENV}={env}")
    assert _in_new_process(READ_MODE, **{runtime.QUICK_ENV: env}).split("|")[0] == expected


def test_no_file_and_no_variable_means_full_mode(monkeypatch):
    monkeypatch.delenv(runtime.QUICK_ENV, raising=False)
    assert not runtime.config_path().exists()
    assert runtime.mode() == ("full", "default (nothing set)")


def test_set_mode_keeps_the_files_other_settings_and_says_what_changed(monkeypatch, capsys):
    monkeypatch.delenv(runtime.QUICK_ENV, raising=False)
    file = runtime.config_path()
    file.parent.mkdir(parents=True)
    file.write_text(json.dumps({"mode": "full", "theme": "dark"}), encoding="utf-8")
    runtime.set_mode("quick")
    assert json.loads(file.read_text(encoding="utf-8")) == {"mode": "quick", "theme": "dark"}
    assert "full -> quick" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "match"),
    [("not json {", "cannot be read"), ("[1, 2]", "JSON object"), ('{"mode": "fast"}', "'mode'")],
)
def test_a_file_that_is_not_ours_is_never_overwritten(monkeypatch, content, match):
    monkeypatch.delenv(runtime.QUICK_ENV, raising=False)
    file = runtime.config_path()
    file.parent.mkdir(parents=True)
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        runtime.set_mode("quick")
    with pytest.raises(ValueError, match=str(file)):
        runtime.is_quick()
    assert file.read_text(encoding="utf-8") == content


@pytest.mark.parametrize(
    ("value", "error"), [("fast", ValueError), (1, TypeError), (None, TypeError)]
)
def test_set_mode_rejects_other_modes(value, error):
    with pytest.raises(error, match="mode"):
        runtime.set_mode(value)
    assert not runtime.config_path().exists()


def test_setup_prints_the_mode_its_source_and_the_expected_time(monkeypatch, capsys):
    monkeypatch.delenv(runtime.QUICK_ENV, raising=False)
    runtime.set_mode("quick")
    capsys.readouterr()
    facts = runtime.setup("03")
    out = capsys.readouterr().out
    assert facts["mode"] == "quick" and str(runtime.config_path()) in facts["mode_source"]
    assert "mode quick, from config file" in out
    assert "expected run time in quick mode" in out
    expected = runtime.RUN_SECONDS.get("03", {}).get("quick")
    assert facts["expected_seconds"] == expected
    assert ("not measured" in out) is (expected is None)


@pytest.mark.parametrize("chapter", ["3", "003", 3, "ab"])
def test_setup_rejects_a_chapter_that_is_not_two_digits(chapter):
    with pytest.raises(ValueError, match="chapter"):
        runtime.setup(chapter)


def test_tensorflow_banner_stays_out_of_stderr_but_warnings_do_not():
    pytest.importorskip("tensorflow")
    code = (
        "import sys, modelsec_edu, keras; keras.ops.ones((2,)); "
        "print('a real warning', file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "KERAS_BACKEND"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "absl::InitializeLog" not in out.stderr
    assert "oneDNN" not in out.stderr
    assert "a real warning" in out.stderr


def _notebook(*cells: str):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def _last_text(nb) -> str:
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")


def test_the_mode_set_in_one_notebook_holds_in_another_and_after_a_kernel_restart(monkeypatch):
    """Real Jupyter kernels (nbclient): set once in notebook A; B and A restarted see it."""
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv(runtime.QUICK_ENV, raising=False)
    setup = (
        "import os; os.environ.pop('MODELSEC_EDU_QUICK', None)\nfrom modelsec_edu import runtime"
    )
    show = "print(*runtime.mode(), sep='|')"
    first = nbclient.NotebookClient(
        _notebook(setup, "runtime.set_mode('quick')", show), timeout=120, kernel_name="python3"
    )
    with first.setup_kernel():
        for i, cell in enumerate(first.nb.cells):
            first.execute_cell(cell, i)
        assert _last_text(first.nb).strip().startswith("quick|")
        first.km.restart_kernel(now=True)  # the learner's "Restart kernel"
        first.kc.wait_for_ready(timeout=60)
        again = _notebook(setup, show)
        for i, cell in enumerate(again.cells):
            first.nb.cells = again.cells
            first.execute_cell(cell, i)
        assert _last_text(first.nb).strip() == f"quick|config file {runtime.config_path()}"
    second = nbclient.NotebookClient(_notebook(setup, show), timeout=120, kernel_name="python3")
    second.execute()
    assert _last_text(second.nb).strip() == f"quick|config file {runtime.config_path()}"


def test_the_run_table_quotes_the_slower_route_and_says_what_was_not_measured(tmp_path, capsys):
    file = tmp_path / "run_seconds.json"
    doc = {
        "chapters": {
            "02": {
                "full_online": 120,
                "full_online_mb": 900,
                "full_offline": 80,
                "full_offline_mb": 700,
                "source": "bench/learner_routes.py, x",
            }
        }
    }
    file.write_text(json.dumps(doc), encoding="utf-8")
    assert runtime._run_seconds(file) == {"02": {"full": 120.0}}  # the slower route
    rows = runtime.run_table(file)
    out = capsys.readouterr().out
    assert [r["chapter"] for r in rows] == sorted(runtime.CHAPTERS)
    assert "02_loss_formula" in out and "2.0 min / ?, 900 MB" in out and "80 s / ?, 700 MB" in out
    doc["chapters"]["02"] |= {"full_online_cpu": 50, "full_offline_cpu": 60}
    file.write_text(json.dumps(doc), encoding="utf-8")
    assert runtime._run_seconds(file) == {"02": {"full": 60.0}}  # CPU time where recorded
    assert out.count("not measured") == 2 * (len(runtime.CHAPTERS) - 1)
    assert "bench/learner_routes.py, x" in out
    assert runtime._run_seconds(tmp_path / "absent.json") == {}
