"""The sign renderer: shapes, ranges, seeds, masks, stickers, the drive-by and the loader."""

from __future__ import annotations

import zipfile
from typing import NamedTuple

import numpy as np
import pytest

from modelsec_edu.data import signs


def test_render_shapes_ranges_and_masks():
    x, y, masks = signs.render_signs(64, seed=0)
    assert x.shape == (64, 32, 32, 3) and x.dtype == np.float32
    assert masks.shape == (64, 32, 32) and masks.dtype == bool
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(y)) <= set(range(len(signs.CLASSES)))
    share = masks.reshape(64, -1).mean(axis=1)
    assert np.all(share > 0.1) and np.all(share < 0.9), (
        "every sign is visible and none fills the frame"
    )


def test_same_seed_same_arrays_other_seed_other_arrays():
    a = signs.render_signs(20, seed=3)
    b = signs.render_signs(20, seed=3)
    c = signs.render_signs(20, seed=4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_chunks_do_not_change_the_images():
    a = signs.render_signs(30, seed=1, chunk=7)
    b = signs.render_signs(30, seed=1, chunk=7)
    np.testing.assert_array_equal(a[0], b[0])
    assert len(a[0]) == 30


def test_at_least_ten_classes_each_distinct():
    rgb, alpha = signs.templates(32)
    assert len(signs.CLASSES) >= 10 and rgb.shape[0] == len(signs.ALL_CLASSES)
    flat = (rgb * alpha[..., None]).reshape(len(rgb), -1)
    gaps = np.abs(flat[:, None] - flat[None]).mean(axis=2) + np.eye(len(rgb))
    assert gaps.min() > 0.01, "no two templates are the same picture"


def test_classes_by_name_and_index():
    _, y, _ = signs.render_signs(12, seed=0, classes=("stop", 4))
    assert set(np.unique(y)) <= {0, 4}
    _, y, _ = signs.render_signs(5, seed=0, classes="roundabout")
    assert np.all(y == signs.ALL_CLASSES.index("roundabout"))


def test_identity_camera_is_the_template():
    rgb, alpha = signs.templates(32)
    x, y, masks = signs.render_signs(3, seed=0, classes="stop", transforms=signs.IDENTITY)
    expected = alpha[0][..., None] * rgb[0] + (1 - alpha[0][..., None]) * 0.5
    np.testing.assert_allclose(x[0], expected, atol=1e-5)
    np.testing.assert_array_equal(masks[0], alpha[0] > 0.5)


def test_sticker_changes_only_the_sign_and_moves_with_it():
    m = np.zeros((32, 32), dtype="float32")
    m[14:18, 14:18] = 1
    pix = np.zeros((32, 32, 3), dtype="float32")
    pix[..., 2] = 1.0  # blue
    plain, _, masks = signs.render_signs(20, seed=2, classes="stop")
    stuck, _, _ = signs.render_signs(20, seed=2, classes="stop", sticker=(pix, m))
    changed = np.abs(stuck - plain).max(axis=-1) > 1e-6
    assert changed.any(axis=(1, 2)).all(), "every frame shows the sticker"
    assert not (changed & ~_dilate(masks)).any(), "the sticker never leaves the sign"


def _dilate(m):
    out = m.copy()
    for axis in (1, 2):
        out |= np.roll(m, 1, axis) | np.roll(m, -1, axis)
    return out


def test_drive_by_grows_towards_the_camera():
    x, y, masks = signs.drive_by("stop", frames=6, seed=0)
    assert x.shape == (6, 32, 32, 3) and np.all(y == 0)
    area = masks.reshape(6, -1).sum(axis=1)
    assert np.all(np.diff(area) > 0), "the sign gets bigger frame by frame"


class Bad(NamedTuple):
    kwargs: dict
    error: type


BAD = {
    "n zero": Bad({"n": 0, "seed": 0}, ValueError),
    "n float": Bad({"n": 2.0, "seed": 0}, TypeError),
    "seed str": Bad({"n": 2, "seed": "0"}, TypeError),
    "size bool": Bad({"n": 2, "seed": 0, "size": True}, TypeError),
    "unknown class": Bad({"n": 2, "seed": 0, "classes": ["tram"]}, ValueError),
    "class out of range": Bad({"n": 2, "seed": 0, "classes": [99]}, ValueError),
    "no classes": Bad({"n": 2, "seed": 0, "classes": []}, ValueError),
    "sticker not a pair": Bad({"n": 2, "seed": 0, "sticker": np.zeros((32, 32))}, TypeError),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_arguments_raise(case):
    with pytest.raises(case.error):
        signs.render_signs(**case.kwargs)


def test_transforms_must_be_sign_transforms():
    with pytest.raises(TypeError):
        signs.sample_params(2, seed=0, transforms={"rotation": (0, 1)})


def _fake_gtsrb(path, n_per_class=3):
    from PIL import Image

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as z:
        for cid in (
            14,
            1,
            38,
            40,
        ):  # stop, speed 30, keep right, one class the course does not draw
            rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
            for k in range(n_per_class):
                img = Image.fromarray(rng.integers(0, 255, size=(40, 36, 3), dtype=np.uint8))
                name = f"{k:05d}.ppm"
                import io

                buf = io.BytesIO()
                img.save(buf, format="PPM")
                z.writestr(f"GTSRB/Final_Training/Images/{cid:05d}/{name}", buf.getvalue())
                rows.append(f"{name};36;40;2;2;33;37;{cid}")
            z.writestr(f"GTSRB/Final_Training/Images/{cid:05d}/GT-{cid:05d}.csv", "\n".join(rows))


def test_gtsrb_loader_checks_the_hash_and_maps_classes(tmp_path):
    from modelsec_edu.data import gtsrb
    from modelsec_edu.supply_chain import integrity

    archive = tmp_path / "gtsrb.zip"
    _fake_gtsrb(archive)
    digest = integrity.sha256_file(archive)
    x, y = gtsrb.load_gtsrb(archive, sha256=digest)
    assert x.shape == (9, 32, 32, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert sorted(np.unique(y)) == [0, 2, 8], "stop, speed 30, keep right; unknown classes left out"
    with pytest.raises(ValueError, match="SHA-256"):
        gtsrb.load_gtsrb(archive, sha256="0" * 64)
    with pytest.raises(FileNotFoundError):
        gtsrb.load_gtsrb(tmp_path / "missing.zip", sha256=digest)
