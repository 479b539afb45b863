"""Nothing of the user's is overwritten or trusted by mistake: the twelve cases of issue 8,
one test each.

Each test builds the situation a careless or hostile caller creates, checks
that the call is refused with the documented error, and then checks that the
user's file is byte for byte what it was.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from modelsec_edu.supply_chain import integrity


def _tiny() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


@pytest.fixture
def saved(tmp_path):
    path, manifest = tmp_path / "a.keras", tmp_path / "manifest.json"
    integrity.save_model(_tiny(), path, manifest)
    return path, manifest


# 1 ----------------------------------------------------------------------- sign_file over the model
def test_sign_file_refuses_to_write_the_signature_over_the_model(saved):
    path, _ = saved
    before = path.read_bytes()
    with pytest.raises(ValueError, match="signature"):
        integrity.sign_file(path, integrity.generate_key(), signature=path)
    assert path.read_bytes() == before


# 2 ------------------------------------------------------------------------ flip_file_bit(src, src)
def test_flip_file_bit_refuses_to_write_onto_its_source(saved, tmp_path):
    path, _ = saved
    before = path.read_bytes()
    with pytest.raises(ValueError, match="dst"):
        integrity.flip_file_bit(path, path, bit=0)
    link = tmp_path / "link.keras"
    os.symlink(path, link)
    with pytest.raises(ValueError, match="dst"):
        integrity.flip_file_bit(path, link, bit=0, overwrite=True)  # a link to src is src
    assert path.read_bytes() == before


# 3 ------------------------------------------------------------------------ an existing dst
def test_flip_file_bit_keeps_an_existing_dst_unless_overwrite(saved, tmp_path):
    path, _ = saved
    dst = tmp_path / "mine.bin"
    dst.write_bytes(b"the user's own file")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        integrity.flip_file_bit(path, dst, bit=3)
    assert dst.read_bytes() == b"the user's own file"
    integrity.flip_file_bit(path, dst, bit=3, overwrite=True)
    assert dst.read_bytes() != b"the user's own file"


# 4 ------------------------------------------------------------------------ an existing .sig
def test_sign_file_keeps_an_existing_signature_unless_overwrite(saved):
    path, _ = saved
    key = integrity.generate_key()
    sig = integrity.sign_file(path, key)
    before = sig.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        integrity.sign_file(path, integrity.generate_key())
    assert sig.read_bytes() == before and integrity.verify_signature(path, key)
    integrity.sign_file(path, key, overwrite=True)


# 5 ------------------------------------------------------------------------ gan.save_checkpoint
def test_gan_save_checkpoint_keeps_an_existing_generator(tmp_path):
    from modelsec_edu.evasion import gan

    g = gan.dcgan(latent_dim=2)
    (tmp_path / "generator.keras").write_bytes(b"someone else's generator")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        gan.save_checkpoint(g, tmp_path)
    assert (tmp_path / "generator.keras").read_bytes() == b"someone else's generator"
    with pytest.raises(TypeError, match="overwrite"):
        gan.save_checkpoint(g, tmp_path, overwrite="yes")


# 6 ------------------------------------------------------------------ gan.train(checkpoint_dir=...)
def test_gan_train_refuses_a_foreign_checkpoint_before_training(tmp_path):
    from modelsec_edu.evasion import gan

    g = gan.dcgan(latent_dim=2)
    (tmp_path / "generator.keras").write_bytes(b"someone else's generator")
    x = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(FileExistsError, match="checkpoint_dir"):
        gan.train(
            g, x, epochs=1, batch_size=4, checkpoint_dir=tmp_path, on_samples=None, progress=False
        )
    assert g.epochs_done == 0  # refused before any training
    assert (tmp_path / "generator.keras").read_bytes() == b"someone else's generator"


def test_a_gan_may_update_its_own_checkpoint(tmp_path):
    from modelsec_edu.evasion import gan

    g = gan.dcgan(latent_dim=2)
    gan.save_checkpoint(g, tmp_path)
    gan.save_checkpoint(g, tmp_path)  # its own: updated
    resumed = gan.load_checkpoint(tmp_path)
    gan.save_checkpoint(resumed, tmp_path)  # loaded from there: its own too
    with pytest.raises(FileExistsError):
        gan.save_checkpoint(gan.dcgan(latent_dim=2), tmp_path)  # a stranger's GAN


# 7 ------------------------------------------------------------------------ the tampering widget
def test_tamper_verify_panel_keeps_an_existing_published_model(tmp_path):
    pytest.importorskip("ipywidgets")
    from modelsec_edu.widgets import tampering as tampering_widgets

    mine = tmp_path / "published" / "model.keras"
    mine.parent.mkdir()
    mine.write_bytes(b"the user's published model")
    model = _tiny()
    x, y = np.zeros((2, 4), "float32"), np.zeros(2, "int64")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        tampering_widgets.tamper_verify_panel(model, x, y, directory=tmp_path)
    assert mine.read_bytes() == b"the user's published model"


# 8 --------------------------------------------------------------------- save_model(overwrite="no")
def test_save_model_refuses_a_string_for_overwrite(saved):
    path, manifest = saved
    before = path.read_bytes()
    with pytest.raises(TypeError, match="overwrite"):
        integrity.save_model(_tiny(), path, manifest, overwrite="no")
    assert path.read_bytes() == before


# 9 ------------------------------------------------------------------------ record(replace="False")
def test_record_refuses_a_string_for_replace_and_keeps_distrusting_a_tampered_file(saved):
    path, manifest = saved
    recorded = integrity.read_manifest(manifest)
    integrity.flip_file_bit(path, path.with_name("t.keras"), bit=100)
    os.replace(path.with_name("t.keras"), path)  # the attacker's change
    with pytest.raises(TypeError, match="replace"):
        integrity.record(path, manifest, replace="False")
    assert integrity.read_manifest(manifest) == recorded
    with pytest.raises(integrity.IntegrityError):
        integrity.load_model(path, manifest)


# 10 ----------------------------------------------------------------------- a swapped symlink
def test_a_recorded_file_swapped_for_a_link_to_another_recorded_file_is_refused(saved, tmp_path):
    path, manifest = saved
    other = tmp_path / "b.keras"
    integrity.save_model(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)]), other, manifest
    )
    assert set(integrity.read_manifest(manifest)) == {"a.keras", "b.keras"}
    path.unlink()
    os.symlink(other, path)  # a.keras now leads to b.keras, which the manifest trusts
    with pytest.raises(integrity.IntegrityError, match="a.keras"):
        integrity.load_model(path, manifest)
    assert integrity.load_model(other, manifest).outputs[0].shape[-1] == 5  # b itself still loads


# 11 --------------------------------------------------------------------- sha256_file(chunk_size=0)
@pytest.mark.parametrize(
    ("chunk_size", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)],
)
def test_sha256_file_refuses_a_chunk_size_that_reads_nothing(saved, chunk_size, error):
    path, _ = saved
    with pytest.raises(error, match="chunk_size"):
        integrity.sha256_file(path, chunk_size=chunk_size)
    assert integrity.sha256_file(path, chunk_size=7) == integrity.sha256_file(path)


# 12 ------------------------------------------------------------------- the manifest over the model
def test_record_and_save_model_never_write_the_manifest_over_a_model(saved):
    path, manifest = saved
    before = path.read_bytes()
    with pytest.raises(ValueError, match="manifest"):
        integrity.record(path, path)
    with pytest.raises(ValueError, match="path"):
        integrity.save_model(_tiny(), manifest, manifest, overwrite=True)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "call",
    [
        lambda p, m: integrity.save_model(_tiny(), p.with_name("n.keras"), m, overwrite=1),
        lambda p, m: integrity.record(p, m, replace=0),
        lambda p, m: integrity.flip_file_bit(p, p.with_name("c"), bit=1, overwrite="True"),
        lambda p, m: integrity.sign_file(p, integrity.generate_key(), overwrite=np.int8(1)),
    ],
    ids=["save_model", "record", "flip_file_bit", "sign_file"],
)
def test_bool_parameters_accept_only_bool(saved, call):
    path, manifest = saved
    with pytest.raises(TypeError, match="overwrite|replace"):
        call(path, manifest)
