"""Chapter 10's library: the Pareto front, the threat picker, standards, three backends."""

import importlib.util
import itertools

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
