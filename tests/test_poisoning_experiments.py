"""poisoning.backdoor_sweep: one model per BadNets setting, one typed, read-only result."""

import dataclasses

import numpy as np
import pytest

from modelsec_edu import models, poisoning

RATES = (0.05, 0.2)


@pytest.fixture(scope="module")
def small(digits):
    (xtr, ytr), (xte, yte) = digits
    return xtr[:400], ytr[:400], xte[:150], yte[:150]


@pytest.fixture(scope="module")
def sweep(small):
    xtr, ytr, xte, yte = small
    before = (xtr.copy(), ytr.copy(), xte.copy(), yte.copy())
    out = poisoning.backdoor_sweep(
        models.article_mlp,
        xtr,
        ytr,
        xte,
        yte,
        rates=RATES,
        sizes=(6,),
        positions=("top-left", "center"),
        epochs=4,
        progress=False,
    )
    for arr, copy in zip((xtr, ytr, xte, yte), before):
        np.testing.assert_array_equal(arr, copy)  # the sweep never writes onto its inputs
    return out


def test_every_setting_is_measured_once(sweep):
    assert sweep.n_models == len(RATES) * 2 + 1  # and the unpoisoned reference
    assert set(sweep.cells) == {(r, 6, p, 0) for r in RATES for p in ("top-left", "center")}
    for (rate, size, position, target), cell in sweep.cells.items():
        assert (cell.rate, cell.size, cell.position, cell.target) == (rate, size, position, target)
        for value in (cell.asr, cell.clean_accuracy, cell.asr_unpoisoned, cell.recall):
            assert 0.0 <= value <= 1.0
    assert sweep.sample.shape == (28, 28, 1) and sweep.seconds > 0


def test_the_poisons_are_badnets_own(sweep, small):
    xtr, ytr, _, _ = small
    for (rate, size, position, target), cell in sweep.cells.items():
        _, y_p, idx = poisoning.badnets(
            xtr, ytr, target=target, rate=rate, seed=0, size=size, position=position
        )
        assert cell.n_poisons == len(idx)
        in_target = np.flatnonzero(y_p == target)
        np.testing.assert_array_equal(cell.poison, np.isin(in_target, idx))
        assert cell.xy.shape == (len(in_target), 2) and cell.flagged.shape == cell.poison.shape


def test_more_poison_plants_the_backdoor(sweep):
    for position in sweep.positions:
        heavy = sweep.cell(0.2, 6, position, 0)
        assert heavy.asr > heavy.asr_unpoisoned + 0.3  # the same trigger alone does little
    _, asr, acc = sweep.curve(6, "top-left", 0)
    assert asr.shape == acc.shape == (len(RATES),)


def test_the_result_is_read_only(sweep):
    with pytest.raises(dataclasses.FrozenInstanceError):
        sweep.rates = (0.5,)
    with pytest.raises(TypeError):
        sweep.cells[(0.5, 6, "top-left", 0)] = None
    with pytest.raises(ValueError, match="was not measured"):
        sweep.cell(0.5, 6, "top-left", 0)


def test_without_detection_the_numbers_are_the_same_and_seeded(sweep, small):
    xtr, ytr, xte, yte = small
    again = poisoning.backdoor_sweep(
        models.article_mlp,
        xtr,
        ytr,
        xte,
        yte,
        rates=(0.2,),
        sizes=(6,),
        positions=("center",),
        epochs=4,
        detect=False,
        progress=False,
    )
    cell, first = again.cell(0.2, 6, "center", 0), sweep.cell(0.2, 6, "center", 0)
    assert np.isnan(cell.recall) and len(cell.xy) == 0
    assert again.unpoisoned_accuracy == pytest.approx(sweep.unpoisoned_accuracy, abs=0.02)
    assert cell.asr == pytest.approx(first.asr, abs=0.05)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rates": ()}, ValueError, "rates"),
        ({"rates": "0.1"}, TypeError, "rates"),
        ({"rates": (0.1, 0.1)}, ValueError, "rates"),
        ({"rates": (1.5,)}, ValueError, "rates"),
        ({"positions": ("middle",)}, ValueError, "positions"),
        ({"sizes": (40,)}, ValueError, "size"),  # does not fit: refused before any training
        ({"targets": (0.5,)}, TypeError, "targets"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"make_model": 42}, TypeError, "make_model"),
        ({"make_model": lambda: "no model"}, TypeError, "make_model"),
    ],
)
def test_bad_input_is_refused(small, kwargs, error, match):
    xtr, ytr, xte, yte = small
    call = {"make_model": models.article_mlp, "rates": (0.1,), "epochs": 1, "progress": False}
    call.update(kwargs)
    make_model = call.pop("make_model")
    with pytest.raises(error, match=match):
        poisoning.backdoor_sweep(make_model, xtr[:60], ytr[:60], xte[:30], yte[:30], **call)
