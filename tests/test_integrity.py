import json

import numpy as np
import pytest

from modelsec_edu import integrity, models


@pytest.fixture
def saved(tmp_path):
    model = models.article_mlp()
    path, manifest = tmp_path / "mlp.keras", tmp_path / "manifest.json"
    digest = integrity.save_model(model, path, manifest)
    return model, path, manifest, digest


def test_round_trip_loads_the_same_weights(saved):
    model, path, manifest, digest = saved
    assert integrity.read_manifest(manifest) == {"mlp.keras": digest}
    loaded = integrity.load_model(path, manifest)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("position", [0.0, 0.37, 0.81, 1.0])
def test_a_single_flipped_bit_is_refused(saved, position):
    _, path, manifest, _ = saved
    raw = bytearray(path.read_bytes())
    i = min(int(position * len(raw)), len(raw) - 1)
    raw[i] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(integrity.IntegrityError, match="does not match"):
        integrity.load_model(path, manifest)


def test_unlisted_missing_and_overwrite(saved, tmp_path):
    model, path, manifest, _ = saved
    other = tmp_path / "other.keras"
    model.save(other)
    with pytest.raises(integrity.IntegrityError, match="not listed"):
        integrity.load_model(other, manifest)
    with pytest.raises(FileNotFoundError):
        integrity.load_model(tmp_path / "missing.keras", manifest)
    with pytest.raises(FileExistsError):
        integrity.save_model(model, path, manifest)
    with pytest.raises(ValueError, match=".keras"):
        integrity.save_model(model, tmp_path / "m.h5", manifest)
    with pytest.raises(ValueError, match="safe_mode"):
        integrity.load_model(path, manifest, safe_mode=False)


def test_record_never_silently_blesses_a_changed_file(saved):
    _, path, manifest, digest = saved
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(integrity.IntegrityError, match="replace=True"):
        integrity.record(path, manifest)
    new = integrity.record(path, manifest, replace=True)
    assert new != digest and integrity.verify(path, manifest) == new


def test_broken_manifest(tmp_path):
    m = tmp_path / "m.json"
    m.write_text("{not json")
    with pytest.raises(integrity.IntegrityError, match="JSON"):
        integrity.read_manifest(m)
    m.write_text(json.dumps({"algorithm": "md5", "files": {}}))
    with pytest.raises(integrity.IntegrityError, match="sha256"):
        integrity.read_manifest(m)
