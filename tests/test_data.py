import gzip
import shutil

import numpy as np
import pytest

from modelsec_edu import data
from tests.conftest import REAL_MNIST


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist():
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 50, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 20, dtype=np.uint8),
    }


def _check(result, arrays):
    (xtr, ytr), (xte, yte) = result
    for got, key in ((xtr, "x_train"), (ytr, "y_train"), (xte, "x_test"), (yte, "y_test")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[key])


def test_reads_mnist_npz(tmp_path, fake_mnist):
    np.savez(tmp_path / "mnist.npz", **fake_mnist)
    _check(data.load_mnist(tmp_path, verbose=False), fake_mnist)


def test_reads_the_four_idx_files(tmp_path, fake_mnist):
    for key, name in data.mnist.IDX_FILES.items():
        _write_idx(tmp_path / name, fake_mnist[key])
    _check(data.load_mnist(tmp_path, verbose=False), fake_mnist)


def test_env_variable_names_the_directory(tmp_path, monkeypatch, fake_mnist):
    np.savez(tmp_path / "mnist.npz", **fake_mnist)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    (_, source) = data.load_mnist(verbose=False, return_source=True)
    assert str(tmp_path) in source


def test_test_files_only_split_first_8000_last_2000(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 10_000, dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", x)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y)
    (xtr, ytr), (xte, yte) = data.load_mnist(tmp_path, verbose=False)
    assert len(xtr) == 8000 and len(xte) == 2000
    np.testing.assert_array_equal(xtr, x[:8000])
    np.testing.assert_array_equal(yte, y[8000:])


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST subset absent")
def test_real_test_only_directory():
    (xtr, ytr), (xte, yte) = data.load_mnist(REAL_MNIST, download=False, verbose=False)
    assert xtr.shape == (8000, 28, 28) and xte.shape == (2000, 28, 28)
    counts = np.bincount(np.concatenate([ytr, yte]), minlength=10)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_offline_fallback_is_the_upsampled_sklearn_digits(tmp_path):
    with pytest.warns(data.OfflineDataWarning, match="scikit-learn"):
        ((xtr, ytr), (xte, yte)), source = data.load_mnist(tmp_path, return_source=True)
    assert "fallback" in source
    assert xtr.shape == (1497, 28, 28) and xte.shape == (300, 28, 28)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.uint8
    assert set(np.unique(ytr)) == set(range(10))
    assert xtr[:, :4].max() == 0 and xtr[:, 24:].max() == 0  # digits centred in 20x20 as MNIST
    assert xtr.max() > 200


def test_download_fails_fast_when_offline(tmp_path, monkeypatch):
    """With no network the probe answers at once; the loader falls back, never hangs."""
    import time

    monkeypatch.delenv("MODELSEC_EDU_OFFLINE", raising=False)
    monkeypatch.setattr(data.mnist, "MNIST_URL", "https://host.invalid/mnist.npz")
    start = time.perf_counter()
    with pytest.warns(data.OfflineDataWarning):
        data.load_mnist(tmp_path)
    assert time.perf_counter() - start < 10


def test_download_path_uses_keras_get_file_with_the_hash(tmp_path, monkeypatch, fake_mnist):
    import keras

    calls = {}

    def fake_get_file(fname, origin, file_hash, cache_dir, cache_subdir):
        calls.update(fname=fname, origin=origin, file_hash=file_hash)
        target = tmp_path / "dl" / fname
        target.parent.mkdir()
        np.savez(target, **fake_mnist)
        return str(target)

    monkeypatch.setattr(data.mnist, "_online", lambda url, timeout=1.0: True)
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    result, source = data.load_mnist(tmp_path / "empty", return_source=True, verbose=False)
    assert calls["file_hash"] == data.MNIST_SHA256 and calls["origin"] == data.MNIST_URL
    assert "SHA-256" in source
    _check(result, fake_mnist)


def test_bad_inputs(tmp_path, monkeypatch):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="directory"):
        data.load_mnist(f)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=data.DATA_ENV):
        data.load_mnist()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "t10k-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04")
    (bad / "t10k-labels-idx1-ubyte").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="IDX"):
        data.load_mnist(bad)


def test_to_float():
    x = np.full((2, 28, 28), 255, dtype=np.uint8)
    out = data.to_float(x)
    assert out.shape == (2, 28, 28, 1) and out.dtype == np.float32 and out.max() == 1.0
    with pytest.raises(TypeError, match="uint8"):
        data.to_float(x.astype("float32"))
    with pytest.raises(ValueError, match="shape"):
        data.to_float(x[0])


def test_copying_real_files_keeps_hashes(tmp_path):
    """The IDX reader also accepts uncompressed files."""
    if not REAL_MNIST.is_dir():
        pytest.skip("real MNIST subset absent")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        with gzip.open(REAL_MNIST / name) as src, open(tmp_path / name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    (xtr, _), _ = data.load_mnist(tmp_path, verbose=False)
    assert xtr.shape == (8000, 28, 28)


@pytest.mark.parametrize(("quick", "sizes"), [("1", (1000, 300)), ("0", (1497, 300))])
def test_load_mnist_float_sizes_follow_the_mode(tmp_path, monkeypatch, quick, sizes):
    monkeypatch.setenv("MODELSEC_EDU_QUICK", quick)
    with pytest.warns(data.OfflineDataWarning):
        (xtr, ytr), (xte, yte) = data.load_mnist_float(data_dir=tmp_path)
    assert (len(xtr), len(xte)) == sizes  # full mode caps at 12,000 / 2,000; the fallback has fewer
    assert xtr.dtype == np.float32 and xtr.shape[1:] == (28, 28, 1) and ytr.dtype == np.int64
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0


def test_load_mnist_float_explicit_sizes_and_errors(tmp_path):
    with pytest.warns(data.OfflineDataWarning):
        (xtr, _), (xte, _) = data.load_mnist_float(data_dir=tmp_path, n_train=50, n_test=None)
    assert len(xtr) == 50 and len(xte) == 300
    with pytest.raises(ValueError, match="n_train must be an int >= 1"):
        data.load_mnist_float(data_dir=tmp_path, n_train=0)  # refused before any loading


def _corrupt_gzip(path):
    path.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")


def _truncated_gzip(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


@pytest.mark.parametrize(
    ("name", "damage", "match"),
    [
        ("bad gzip", _corrupt_gzip, "t10k-images-idx3-ubyte.gz"),
        ("truncated gzip", _truncated_gzip, "t10k-images-idx3-ubyte.gz"),
        ("plain bytes", lambda p: p.write_bytes(b"hello"), "t10k-images-idx3-ubyte.gz"),
    ],
)
def test_corrupt_idx_files_are_refused_naming_the_file(tmp_path, fake_mnist, name, damage, match):
    for key, fname in data.mnist.IDX_FILES.items():
        _write_idx(tmp_path / fname, fake_mnist[key])
    damage(tmp_path / data.mnist.IDX_FILES["x_test"])
    with pytest.raises(ValueError, match=match):
        data.load_mnist_dir(tmp_path)


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("not a zip", lambda p, a: p.write_bytes(b"PK\x03\x04 broken")),
        (
            "missing array",
            lambda p, a: np.savez(p, **{k: v for k, v in a.items() if k != "y_test"}),
        ),
        ("truncated zip", lambda p, a: (np.savez(p, **a), p.write_bytes(p.read_bytes()[:300]))),
    ],
)
def test_corrupt_npz_is_refused_naming_the_file(tmp_path, fake_mnist, name, write):
    write(tmp_path / "mnist.npz", fake_mnist)
    with pytest.raises(ValueError, match="mnist.npz"):
        data.load_mnist_dir(tmp_path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.update(y_train=a["y_train"][:-1]), "50 train images but 49 labels"),
        (lambda a: a.update(y_test=np.full(20, 200, np.uint8)), "digits 0..9"),
        (lambda a: a.update(x_train=a["x_train"].astype("float32")), "uint8"),
    ],
)
def test_mismatched_counts_and_impossible_labels_are_refused(tmp_path, fake_mnist, change, match):
    change(fake_mnist)
    np.savez(tmp_path / "mnist.npz", **fake_mnist)
    with pytest.raises(ValueError, match=match):
        data.load_mnist_dir(tmp_path)
    for key, fname in data.mnist.IDX_FILES.items():  # the same through the IDX files
        if fake_mnist[key].dtype == np.uint8:
            _write_idx(tmp_path / fname, fake_mnist[key])
    (tmp_path / "mnist.npz").unlink()
    if fake_mnist["x_train"].dtype == np.uint8:
        with pytest.raises(ValueError, match=match):
            data.load_mnist_dir(tmp_path)
