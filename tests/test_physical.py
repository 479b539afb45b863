"""Physical attacks and defences: the sticker, EOT, the patch, the sticker backdoor, the check."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from modelsec_edu import models
from modelsec_edu.data import signs
from modelsec_edu.evasion import consistency, patches, physical
from modelsec_edu.poisoning import physical as sticker_poison


@pytest.fixture(scope="module")
def signs_data():
    return signs.render_signs(1500, seed=0), signs.render_signs(300, seed=1)


@pytest.fixture(scope="module")
def net(signs_data):
    from modelsec_edu.models.signs import sign_cnn

    (x, y, _), _ = signs_data
    keras.utils.set_random_seed(0)
    model = sign_cnn(width=8)
    models.fit(model, x, y, epochs=3, batch_size=64, learning_rate=3e-3, progress=False)
    return model


@pytest.fixture(scope="module")
def frontal():
    x, y, _ = signs.render_signs(2, seed=5, classes="stop", transforms=signs.IDENTITY)
    _, alpha = signs.sticker_frame("stop")
    return x, y, alpha


def _ce(model, x, target):
    z = models.predict_logits(model, x)
    z = z - z.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[:, target]))


@pytest.mark.parametrize("eot", [False, True], ids=["frontal", "eot"])
def test_sticker_changes_only_the_mask_and_helps_the_target(net, frontal, eot):
    x, y, alpha = frontal
    mask = physical.sticker_mask("bars")
    before = x.copy()
    kwargs = dict(mask=mask, target=4, steps=25, seed=0, sign_mask=alpha, samples=8)
    x_adv = physical.sticker_attack(
        net, x, y, transforms=signs.SignTransforms() if eot else None, **kwargs
    )
    np.testing.assert_array_equal(x, before)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert 0 <= x_adv.min() and x_adv.max() <= 1
    np.testing.assert_array_equal(x_adv[:, ~mask], x[:, ~mask])
    np.testing.assert_array_equal(x_adv[0][mask], x_adv[1][mask]), "one sticker for every photo"
    assert _ce(net, x_adv, 4) < _ce(net, x, 4), "the target's loss falls"
    again = physical.sticker_attack(
        net, x, y, transforms=signs.SignTransforms() if eot else None, **kwargs
    )
    np.testing.assert_array_equal(x_adv, again)


def test_sticker_mask_kinds_fit_the_budget_and_the_sign():
    _, alpha = signs.sticker_frame("stop")
    for kind in ("bars", "dots", "word", "square"):
        m = physical.sticker_mask(kind)
        assert 0 < m.mean() <= 0.10 and not (m & (alpha <= 0.5)).any()


def test_keras_camera_matches_the_renderer():
    rgb, alpha = signs.templates(32)
    params = signs.sample_params(5, seed=3)
    y = np.arange(5)
    expected, _ = signs.compose(rgb[y], alpha[y], params)
    t = keras.ops.convert_to_tensor
    got = physical.apply_transforms(
        t(rgb[y]), t(alpha[y][..., None]), physical.params_to_tensors(params)
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, atol=1e-4)


def test_eot_gradient_is_the_mean_of_single_view_gradients(net, frontal):
    x, _, alpha = frontal
    mask = physical.sticker_mask("bars")
    sticker = np.random.default_rng(0).uniform(0, 1, size=(32, 32, 3)).astype("float32")
    params = signs.sample_params(4, seed=9)
    g = physical.eot_gradient(
        net, x[0], sticker, mask=mask, target=4, params=params, sign_mask=alpha
    )
    assert np.all(g[~mask] == 0) and np.abs(g[mask]).sum() > 0
    singles = []
    for i in range(4):
        one = params[i]
        singles.append(
            physical.eot_gradient(
                net, x[0], sticker, mask=mask, target=4, params=one, sign_mask=alpha
            )
        )
    np.testing.assert_allclose(g, np.mean(singles, axis=0), atol=1e-5)


BAD = {
    "mask shape": (dict(mask=np.ones((8, 8), bool)), ValueError),
    "empty mask": (dict(mask=np.zeros((32, 32), bool)), ValueError),
    "target out of range": (dict(target=10), ValueError),
    "target float": (dict(target=1.0), TypeError),
    "steps 0": (dict(steps=0), ValueError),
    "transforms dict": (dict(transforms={"rotation": (0, 1)}), TypeError),
}


@pytest.mark.parametrize("change,error", BAD.values(), ids=BAD.keys())
def test_sticker_bad_arguments(net, frontal, change, error):
    x, y, _ = frontal
    kwargs = dict(mask=physical.sticker_mask("bars"), target=4, steps=1, transforms=None, seed=0)
    kwargs.update(change)
    with pytest.raises(error):
        physical.sticker_attack(net, x, y, **kwargs)
    with pytest.raises(TypeError):
        physical.sticker_attack("not a model", x, y, **dict(kwargs, **{"steps": 1}))


def test_patch_sizes_and_placement(signs_data):
    assert [patches.patch_side(f) for f in (0.04, 0.08, 0.12)] == [6, 9, 11]
    (x, _, _), _ = signs_data
    patch = np.ones((9, 9, 3), dtype="float32")
    out = patches.apply_patch(x[:50], patch, seed=0)
    changed = (np.abs(out - x[:50]).max(-1) > 1e-4).reshape(50, -1).sum(1)
    assert np.all(changed > 0) and np.all(changed <= 2 * 81), (
        "one patch-sized area changes per image"
    )
    np.testing.assert_array_equal(out, patches.apply_patch(x[:50], patch, seed=0))


def test_universal_patch_raises_its_target(net, signs_data):
    _, (xt, yt, _) = signs_data
    patch = patches.universal_patch(
        net, xt, yt, target=4, fraction=0.12, steps=60, seed=0, samples=16
    )
    assert patch.shape == (11, 11, 3) and 0 <= patch.min() and patch.max() <= 1
    others = yt != 4

    def target_prob(p):
        return models.predict_proba(net, patches.apply_patch(xt[others], p, seed=1))[:, 4].mean()

    assert target_prob(patch) > target_prob(np.full_like(patch, 0.5)), (
        "the patch raises the target's probability"
    )
    assert 0 <= patches.patch_success(net, xt, yt, patch, target=4, seed=1) <= 1


def test_sticker_trigger_stays_inside_the_sign(signs_data):
    (x, y, masks), _ = signs_data
    before = x[:40].copy()
    out = sticker_poison.sticker_trigger(x[:40], masks[:40])
    np.testing.assert_array_equal(x[:40], before)
    changed = np.abs(out - x[:40]).max(-1) > 0
    assert changed.any(axis=(1, 2)).all() and not (changed & ~masks[:40]).any()


def test_sticker_backdoor_contract(signs_data):
    (x, y, masks), _ = signs_data
    xp, yp, idx = sticker_poison.sticker_backdoor(
        x, y, masks, source=0, target=4, rate=0.05, seed=0
    )
    assert len(idx) == round(0.05 * len(x)) and np.all(y[idx] == 0) and np.all(yp[idx] == 4)
    rest = np.setdiff1d(np.arange(len(x)), idx)
    np.testing.assert_array_equal(xp[rest], x[rest])
    np.testing.assert_array_equal(yp[rest], y[rest])
    with pytest.raises(ValueError):
        sticker_poison.sticker_backdoor(x, y, masks, source=0, target=0, rate=0.05)
    with pytest.raises(ValueError):
        sticker_poison.sticker_backdoor(x, y, masks, source=0, target=4, rate=0.5)
    with pytest.raises(ValueError):
        sticker_poison.sticker_trigger(x[:2], masks[:1])


def test_consistency_check_flags_wrong_labels_not_right_ones(signs_data):
    (x, y, _), (xt, yt, _) = signs_data
    check = consistency.fit_consistency(x, y, false_alarms=0.02, num_classes=10)
    false_alarm = check.flags(xt, yt).mean()
    stop = yt == 0
    wrong = check.flags(xt[stop], np.full(stop.sum(), 4)).mean()  # stop signs called speed limit 80
    assert false_alarm < 0.1 and wrong > 0.8


def test_sticker_view_and_explorer_headless(net):
    from modelsec_edu.widgets import driving

    m = physical.sticker_mask("word")
    pix = np.zeros((32, 32, 3), dtype="float32")
    stickers = {"none": None, "black": (pix, m.astype("float32"))}
    view = driving.view_stickers(net, stickers, target=None, scale=0.9)
    assert view.images.shape == (2, 32, 32, 3) and view.probs.shape == (2, 10)
    np.testing.assert_allclose(view.probs.sum(1), 1, atol=1e-5)
    assert view.fooled().shape == (2,)
    panel = driving.sticker_explorer(net, stickers, target=4)
    before = panel.fig.image.value
    panel.controls[1].value = 0.6  # move the camera away: the picture changes
    assert panel.fig.image.value != before
    assert panel.results["view"].camera["scale"] == pytest.approx(0.6)


def test_saliency_mask_fits_the_budget_inside_the_sign(net, frontal):
    x, y, alpha = frontal
    mask, start = physical.saliency_mask(
        net,
        x[:1],
        y[:1],
        target=4,
        budget=0.08,
        transforms=None,
        seed=0,
        sign_mask=alpha,
        steps=5,
        stages=(0.3,),
    )
    assert mask.dtype == bool and mask.shape == (32, 32)
    assert 0 < mask.sum() <= int(0.08 * 32 * 32) and not (mask & (alpha <= 0.5)).any()
    assert start.shape == (32, 32, 3) and np.all(start[~mask] == 0)
    assert 0 <= start.min() and start.max() <= 1
    with pytest.raises(ValueError):
        physical.saliency_mask(
            net, x[:1], y[:1], target=4, budget=0.9, transforms=None, seed=0, sign_mask=alpha
        )


def test_sticker_restarts_keep_the_best_and_start_is_used(net, frontal):
    x, y, alpha = frontal
    mask = physical.sticker_mask("word")
    kwargs = dict(mask=mask, target=4, steps=3, transforms=None, seed=0, sign_mask=alpha)
    start = np.where(mask[..., None], np.float32(0.3), np.zeros((32, 32, 3), "float32"))
    a = physical.sticker_attack(net, x, y, start=start, step_size=1e-6, **kwargs)
    np.testing.assert_allclose(a[0][mask], 0.3, atol=1e-3)  # a tiny step stays at the start
    with pytest.raises(ValueError):
        physical.sticker_attack(net, x, y, start=start[:8], **kwargs)


@pytest.mark.parametrize("spread", [0.0, 0.1, 0.2])
def test_patch_spread_keeps_the_patch_near_the_centre(signs_data, spread):
    (x, _, _), _ = signs_data
    patch = np.ones((6, 6, 3), dtype="float32")
    bare = np.zeros_like(x[:60])
    out = patches.apply_patch(bare, patch, seed=3, spread=spread)
    rows, cols = np.arange(32)[None, :, None], np.arange(32)[None, None, :]
    w = out.max(-1)
    centre_r = (w * rows).sum((1, 2)) / w.sum((1, 2))
    centre_c = (w * cols).sum((1, 2)) / w.sum((1, 2))
    off = np.maximum(np.abs(centre_r - 15.5), np.abs(centre_c - 15.5))
    assert np.all(off <= spread * 32 + 0.5), "the patch's centre stays within the spread"
    if spread > 0:
        assert off.max() > spread * 32 / 2, "and it does move"
    anywhere = patches.apply_patch(bare, patch, seed=3)
    assert not np.array_equal(anywhere, out)


def test_road_success_counts_fresh_frames(net):
    blank = (np.zeros((32, 32, 3), "float32"), np.zeros((32, 32), "float32"))
    xs, _, _ = signs.render_signs(120, seed=3, classes="stop", sticker=blank)
    pred = models.predict_labels(net, xs)
    got = physical.road_success(net, blank, target=None, n=120, seed=3)
    assert got == pytest.approx(np.mean(pred != 0)), "an empty sticker: the model's own error"
    assert physical.road_success(net, blank, target=[1, 2], n=120, seed=3) == pytest.approx(
        np.mean(np.isin(pred, [1, 2]))
    )
    with pytest.raises(ValueError):
        physical.road_success(net, blank, target=10, n=10)


def test_sticker_blocks_are_printable_tiles(net, frontal):
    x, y, alpha = frontal
    mask = physical.sticker_mask("word")  # rows 12-19, columns 10-21: whole 2x2 tiles
    x_adv = physical.sticker_attack(
        net, x, y, mask=mask, target=4, steps=5, transforms=None, seed=0, block=2
    )
    tiles = x_adv[0, 12:20, 10:22].reshape(4, 2, 6, 2, 3)
    np.testing.assert_allclose(tiles, np.broadcast_to(tiles[:, :1, :, :1], tiles.shape), atol=1e-6)
    np.testing.assert_array_equal(x_adv[:, ~mask], x[:, ~mask])
    with pytest.raises(ValueError):
        physical.sticker_attack(
            net, x, y, mask=mask, target=4, steps=1, transforms=None, seed=0, block=3
        )
