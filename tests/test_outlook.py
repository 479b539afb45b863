"""Chapter 10's library: the Pareto front, the threat picker, standards, three backends."""

import importlib.util
import itertools
import json

import keras
import numpy as np
import pytest

from modelsec_edu import models, outlook
from modelsec_edu.supply_chain import integrity


def _brute_front(c, r):
    keep = []
    for i in range(len(c)):
        dominated = any(
            c[j] >= c[i] and r[j] >= r[i] and (c[j] > c[i] or r[j] > r[i]) for j in range(len(c))
        )
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: (c[i], i))


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 6, 30) / 5  # coarse values: ties happen
    r = rng.integers(0, 6, 30) / 5
    assert outlook.pareto_front(c, r).tolist() == _brute_front(c, r)


def test_pareto_front_points_are_not_dominated_and_the_rest_are():
    rng = np.random.default_rng(7)
    c, r = rng.random(50), rng.random(50)
    front = set(outlook.pareto_front(c, r).tolist())
    for i in range(50):
        beaten = np.any((c >= c[i]) & (r >= r[i]) & ((c > c[i]) | (r > r[i])))
        assert beaten == (i not in front)


@pytest.mark.parametrize(
    ("clean", "robust", "error"),
    [
        ([0.9, np.nan], [0.1, 0.2], ValueError),
        ([0.9], [0.1, 0.2], ValueError),
        ("ab", [0.1], TypeError),
    ],
)
def test_pareto_front_refuses_bad_input(clean, robust, error):
    with pytest.raises(error, match="clean|robust"):
        outlook.pareto_front(clean, robust)


ROW = {
    "chapter": "06",
    "defence": "PGD-AT",
    "clean": 0.9,
    "attacked": 0.7,
    "attack": "PGD",
    "cost": 11,
}


def test_recorded_rows_flow_into_the_tradeoff_table(tmp_path, bench_module):
    record = bench_module("_record").record  # the one writer of the trade-off files
    record("bench/adversarial_training.py", [ROW], folder=tmp_path)
    record(
        "bench/poisoning_tampering.py",
        [{**ROW, "chapter": "04", "defence": "spectral"}],
        folder=tmp_path,
    )
    # a second run replaces its own row and leaves the other bench's file alone
    record("bench/adversarial_training.py", [{**ROW, "attacked": 0.6}], folder=tmp_path)
    rows = outlook.load_tradeoffs(tmp_path)
    assert [(r.chapter, r.defence, r.attacked) for r in rows] == [
        ("04", "spectral", 0.7),
        ("06", "PGD-AT", 0.6),
    ]
    assert all(r.source.startswith("bench/") and "CPU" in r.source for r in rows)
    assert outlook.missing_chapters(rows) == ["05", "07", "08", "09"]
    assert outlook.load_tradeoffs(tmp_path / "none") == []


@pytest.mark.parametrize(
    ("change", "match"),
    [({"clean": 1.5}, "clean"), ({"cost": 0}, "cost"), ({"attacked": "high"}, "attacked")],
)
def test_a_bad_tradeoff_row_is_refused_when_recorded_and_when_read(
    tmp_path, bench_module, change, match
):
    with pytest.raises(ValueError, match=match):
        bench_module("_record").record("bench/x.py", [{**ROW, **change}], folder=tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"rows": [{**ROW, **change, "source": "s"}]}))
    with pytest.raises(ValueError, match=f"x.json: {match}"):
        outlook.load_tradeoffs(tmp_path)


def test_the_shipped_tradeoff_files_load():
    rows = outlook.load_tradeoffs()
    assert all(r.chapter in outlook.tradeoffs.DEFENCE_CHAPTERS for r in rows)
    assert len({(r.chapter, r.defence) for r in rows}) == len(rows)


def test_applicable_filters_by_each_part_of_the_threat_model():
    everything = outlook.applicable()
    assert len(everything) == len(outlook.ATTACKS)
    for goal, knowledge, capability in itertools.product(
        outlook.GOALS, outlook.KNOWLEDGE, outlook.CAPABILITIES
    ):
        found = outlook.applicable(goal=goal, knowledge=knowledge, capability=capability)
        reach = outlook.KNOWLEDGE[outlook.KNOWLEDGE.index(knowledge) :]
        assert all(
            t.goal == goal and t.capability == capability and t.knowledge in reach for t in found
        )
    # more knowledge never shrinks what applies
    assert len(outlook.applicable(knowledge="white-box")) >= len(
        outlook.applicable(knowledge="labels only")
    )


def test_applicable_refuses_unknown_words():
    with pytest.raises(ValueError, match="goal"):
        outlook.applicable(goal="fame")


def test_standards_table_links_every_chapter_it_names():
    rows = outlook.standards_table()
    assert [r["chapter"] for r in rows] == sorted(r["chapter"] for r in rows)
    for row in rows:
        assert "](https://" in row["NIST AI 100-2"] and "](https://" in row["EU AI Act"]
        assert row["MITRE ATLAS"] == "—" or "atlas.mitre.org/techniques/AML.T" in row["MITRE ATLAS"]


def test_tools_table_comes_from_a_run_of_the_script():
    table = outlook.tools_table()
    assert table["made_by"] == "bench/tools_table.py"
    assert len(table["rows"]) >= 12
    for row in table["rows"]:
        assert isinstance(row["installs_beside_pins"], bool) and row["name"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int64")
    model = models.compile_classifier(models.article_mlp((8, 8, 1), num_classes=2))
    models.fit(model, x, y, epochs=3, batch_size=16, progress=False)
    d = tmp_path_factory.mktemp("model")
    integrity.save_model(model, d / "m.keras", d / "manifest.json")
    return d / "m.keras", d / "manifest.json", x, y


def test_one_model_one_attack_agrees_across_backends(saved_model):
    path, manifest, x, y = saved_model
    wanted = ("tensorflow", "jax") + (("torch",) if importlib.util.find_spec("torch") else ())
    runs = outlook.compare_backends(
        path, manifest, x, y, eps=0.05, step_size=0.01, steps=10, backends=wanted
    )
    assert [r.backend for r in runs] == list(wanted)
    assert all(r.available and not r.error for r in runs), [r.error for r in runs]
    robust = [r.robust_accuracy for r in runs]
    clean = [r.clean_accuracy for r in runs]
    for r in runs:  # `make test-torch` shows these (pytest -s): each backend's answer and time
        print(
            f"\n{r.backend:>10}: clean {r.clean_accuracy:.1%}, robust {r.robust_accuracy:.1%}, "
            f"attack {r.attack_seconds:.2f} s"
        )
    assert max(clean) - min(clean) <= 0.005 and max(robust) - min(robust) <= 0.005, (clean, robust)
    assert all(r.attack_seconds > 0 for r in runs)


def test_a_missing_framework_is_reported_not_raised(saved_model, monkeypatch):
    path, manifest, x, y = saved_model
    if importlib.util.find_spec("torch"):
        pytest.skip("torch is installed here: nothing is missing")
    (run,) = outlook.compare_backends(
        path, manifest, x, y, eps=0.05, step_size=0.01, steps=2, backends=("torch",)
    )
    assert not run.available and run.error
