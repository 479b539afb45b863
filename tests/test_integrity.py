import json
import multiprocessing
import sys

import numpy as np
import pytest

from modelsec_edu import models
from modelsec_edu.supply_chain import integrity


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


def _record_many(folder, worker, n):
    for i in range(n):
        f = folder / f"w{worker}-{i}.bin"
        f.write_bytes(f"{worker}:{i}".encode())
        integrity.record(f, folder / "manifest.json")


@pytest.mark.skipif(sys.platform == "win32", reason="the manifest lock is POSIX-only")
def test_writers_sharing_one_manifest_lose_no_entry(tmp_path):
    # two notebooks on one model cache: each process reads, adds and rewrites the manifest
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_record_many, args=(tmp_path, w, 30)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
    assert [p.exitcode for p in workers] == [0] * 4
    files = integrity.read_manifest(tmp_path / "manifest.json")
    assert len(files) == 4 * 30
    for f in tmp_path.glob("w*.bin"):
        integrity.verify(f, tmp_path / "manifest.json")
    assert not list(tmp_path.glob("*.tmp"))


def test_broken_manifest(tmp_path):
    m = tmp_path / "m.json"
    m.write_text("{not json")
    with pytest.raises(integrity.IntegrityError, match="JSON"):
        integrity.read_manifest(m)
    m.write_text(json.dumps({"algorithm": "md5", "files": {}}))
    with pytest.raises(integrity.IntegrityError, match="sha256"):
        integrity.read_manifest(m)


# -------------------------------------------------------- every single-bit change, keyed signatures


def test_every_single_bit_change_at_random_positions_is_detected(saved, tmp_path):
    _, path, manifest, digest = saved
    n_bits = 8 * path.stat().st_size
    positions = np.random.default_rng(0).choice(n_bits, size=200, replace=False)
    tampered = tmp_path / "tampered" / path.name
    tampered.parent.mkdir()
    m2 = tmp_path / "tampered" / "manifest.json"
    m2.write_text(manifest.read_text())
    caught = 0
    for bit in positions:
        integrity.flip_file_bit(path, tampered, bit=int(bit), overwrite=True)
        try:
            integrity.verify(tampered, m2)
        except integrity.IntegrityError:
            caught += 1
    assert caught == len(positions)
    assert integrity.sha256_file(path) == digest  # the source file was never touched


def test_flip_file_bit_flips_one_bit(tmp_path):
    src, dst = tmp_path / "a.bin", tmp_path / "b.bin"
    src.write_bytes(bytes([0b1010_0000, 0xFF]))
    integrity.flip_file_bit(src, dst, bit=9)
    assert dst.read_bytes() == bytes([0b1010_0000, 0xFD]) and src.read_bytes() == bytes(
        [0b1010_0000, 0xFF]
    )
    with pytest.raises(ValueError, match="bit"):
        integrity.flip_file_bit(src, dst, bit=16)
    with pytest.raises(FileNotFoundError):
        integrity.flip_file_bit(tmp_path / "missing", dst, bit=0)


def test_hmac_signature_round_trip_and_every_way_to_fail(saved, tmp_path):
    _, path, _, digest = saved
    key = integrity.generate_key()
    sig = integrity.sign_file(path, key)
    assert sig.name == "mlp.keras.sig"
    assert integrity.verify_signature(path, key) == digest
    with pytest.raises(integrity.IntegrityError, match="another key"):
        integrity.verify_signature(path, integrity.generate_key())
    flipped = tmp_path / "flipped" / path.name
    flipped.parent.mkdir()
    integrity.flip_file_bit(path, flipped, bit=1000)
    with pytest.raises(integrity.IntegrityError, match="no signature"):
        integrity.verify_signature(flipped, key)
    with pytest.raises(integrity.IntegrityError, match="does not match"):
        integrity.verify_signature(flipped, key, signature=sig)
    renamed = tmp_path / "renamed.keras"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(integrity.IntegrityError, match="does not match"):
        integrity.verify_signature(renamed, key, signature=sig)  # bound to the file's name too
    sig.write_text("{}")
    with pytest.raises(integrity.IntegrityError, match="malformed"):
        integrity.verify_signature(path, key)


@pytest.mark.parametrize(("key", "error"), [("secret", TypeError), (b"short", ValueError)])
def test_bad_keys(saved, key, error):
    _, path, _, _ = saved
    with pytest.raises(error, match="key"):
        integrity.sign_file(path, key)


def test_public_key_signing_when_model_signing_is_installed(saved, tmp_path):
    from modelsec_edu.supply_chain import signing

    if not signing.available():
        with pytest.raises(ImportError, match="model-signing"):
            signing.generate_keypair(tmp_path)
        pytest.skip("model-signing (optional extra) is not installed")
    _, path, _, _ = saved
    private, public = signing.generate_keypair(tmp_path / "keys")
    bundle = signing.sign(path, private, tmp_path / "mlp.sig")
    signing.verify(path, public, bundle)
    flipped = tmp_path / "flipped.keras"
    integrity.flip_file_bit(path, flipped, bit=4242)
    with pytest.raises(integrity.IntegrityError):
        signing.verify(flipped, public, bundle)
