"""Offline-first MNIST.

:func:`load_mnist` returns ``(x_train, y_train), (x_test, y_test)`` exactly like
``keras.datasets.mnist.load_data()`` (uint8 images of 28x28, uint8 labels) and
tries three sources in order:

1. **A local directory**: ``data_dir``, else ``$MODELSEC_EDU_DATA``, else the user
   cache (``$XDG_CACHE_HOME/modelsec_edu`` or ``~/.cache/modelsec_edu``).  It may
   hold ``mnist.npz``, or the four IDX files (``train-images-idx3-ubyte.gz`` ...),
   or only the two test files (``t10k-*``).  With only the test files, the
   10,000 test images are split: the **first 8,000 train, the last 2,000 test**.
2. **The real download** of ``mnist.npz`` (11 MB), checked against its SHA-256.
   A one-second connection probe runs first, so an offline machine fails over
   at once instead of hanging.
3. **An embedded fallback**: scikit-learn's bundled 8x8 handwritten digits
   (1,797 real samples), upsampled to 28x28 and split 1,497 / 300.  A one-line
   notice says so; every notebook runs on it offline.
"""

from __future__ import annotations

import gzip
import os
import socket
import sys
import warnings
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from modelsec_edu.validation import check_bool, check_int, check_path, check_seed

__all__ = [
    "DATA_ENV",
    "MNIST_SHA256",
    "MNIST_URL",
    "OfflineDataWarning",
    "cache_dir",
    "load_mnist",
    "load_mnist_dir",
    "load_mnist_float",
    "load_sklearn_digits",
    "to_float",
]

DATA_ENV = "MODELSEC_EDU_DATA"
OFFLINE_ENV = "MODELSEC_EDU_OFFLINE"
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
TEST_ONLY_SPLIT = 8000
# Sizes the notebooks use: quick mode keeps a chapter under two minutes on a
# laptop CPU; full mode caps the training set so a chapter stays under five.
SIZES = {"quick": (1000, 300), "full": (12000, 2000)}

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class OfflineDataWarning(UserWarning):
    """Issued when the loader falls back to the embedded digits."""


def cache_dir() -> Path:
    """The user cache directory the loader reads and downloads into."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "modelsec_edu"


# --------------------------------------------------------------------------- IDX / npz readers


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{path} is not a readable gzip file ({type(exc).__name__}: {exc})"
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape}, but the file holds {data.size} bytes")
    return data.reshape(shape).copy()


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def load_mnist_dir(directory: str | os.PathLike) -> Arrays | None:
    """Read MNIST from a directory, or return None if it holds no MNIST files.

    Accepts ``mnist.npz``, the four IDX files (gzipped or not), or only the two
    test files; the latter are split first 8,000 / last 2,000.
    """
    directory = check_path(directory, "directory")
    if not directory.is_dir():
        return None
    npz = directory / "mnist.npz"
    if npz.is_file():
        try:
            with np.load(npz, allow_pickle=False) as f:
                arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError, zlib.error) as exc:
            raise ValueError(
                f"{npz} is not a readable MNIST npz file ({type(exc).__name__}: {exc})"
            ) from None
        return _checked(
            npz, (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
        )
    paths = {key: _find(directory, name) for key, name in IDX_FILES.items()}
    if paths["x_test"] is None or paths["y_test"] is None:
        return None
    test = _read_idx(paths["x_test"]), _read_idx(paths["y_test"])
    if paths["x_train"] is not None and paths["y_train"] is not None:
        return _checked(directory, (_read_idx(paths["x_train"]), _read_idx(paths["y_train"])), test)
    (x_test, y_test), _ = _checked(directory, test, test)
    s = min(TEST_ONLY_SPLIT, len(x_test) * 4 // 5)
    return (x_test[:s], y_test[:s]), (x_test[s:], y_test[s:])


def _checked(source: Path, *splits: tuple[np.ndarray, np.ndarray]) -> Arrays:
    """Each split: uint8 ``(n, h, w)`` images, a label 0..9 each; else ValueError naming source."""
    for (x, y), part in zip(splits, ("train", "test")):
        if (
            x.dtype != np.uint8
            or x.ndim != 3
            or y.ndim != 1
            or not np.issubdtype(y.dtype, np.integer)
        ):
            raise ValueError(
                f"{source}: {part} images must be uint8 (n, h, w) and labels integers (n,), "
                f"got {x.dtype} {x.shape} and {y.dtype} {y.shape}"
            )
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"{source}: {len(x)} {part} images but {len(y)} labels")
        if y.min() < 0 or y.max() > 9:
            raise ValueError(
                f"{source}: {part} labels must be digits 0..9, got values from {y.min()} to "
                f"{y.max()}"
            )
    return splits[0], splits[1]


# --------------------------------------------------------------------------- download


def _online(url: str, timeout: float = 1.0) -> bool:
    if os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    host = urlparse(url).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _download(directory: Path) -> Arrays | None:
    if not _online(MNIST_URL):
        return None
    import keras

    try:
        path = keras.utils.get_file(
            "mnist.npz",
            origin=MNIST_URL,
            file_hash=MNIST_SHA256,
            cache_dir=str(directory),
            cache_subdir=".",
        )
    except Exception as exc:  # noqa: BLE001 - any failed download falls back, with its reason shown
        print(
            f"[modelsec_edu] MNIST download failed ({exc.__class__.__name__}: {exc})",
            file=sys.stderr,
        )
        return None
    return load_mnist_dir(Path(path).parent)


# --------------------------------------------------------------------------- embedded fallback


def load_sklearn_digits(*, test_size: int = 300, seed: int = 0) -> Arrays:
    """scikit-learn's 1,797 real 8x8 digits, upsampled to 28x28 uint8 like MNIST.

    Each 8x8 image (values 0-16) is scaled to 0-255, resized to 20x20 with
    bilinear interpolation and centred in a 28x28 frame, as MNIST centres its
    digits in a 20x20 box.  The split is stratified-random with a fixed seed.
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = check_int(
        test_size, "test_size", min=10, max=1787
    )  # one per class at least, each way
    seed = check_int(seed, "seed", min=0)

    digits = load_digits()
    small = digits.images.astype("float32") * (255.0 / 16.0)
    big = zoom(small, (1, 20 / 8, 20 / 8), order=1)
    images = np.zeros((len(small), 28, 28), dtype=np.uint8)
    images[:, 4:24, 4:24] = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    return (x_tr, y_tr), (x_te, y_te)


# --------------------------------------------------------------------------- public loader


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    verbose: bool = True,
    return_source: bool = False,
):
    """Load MNIST from a local directory, the network, or the embedded digits.

    Args:
        data_dir: directory to look in first (default: ``$MODELSEC_EDU_DATA``,
            else the user cache).  Downloads are saved here too.
        download: try the hash-checked download when no local copy exists.
        verbose: print one line naming the source used.
        return_source: also return a short description of the source.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, plus the source
        string when ``return_source`` is true.
    """
    download, verbose = check_bool(download, "download"), check_bool(verbose, "verbose")
    return_source = check_bool(return_source, "return_source")
    if data_dir is None:
        env = os.environ.get(DATA_ENV)
        directory = Path(env) if env else cache_dir()
        if env and not directory.is_dir():
            raise ValueError(f"{DATA_ENV} points to {env!r}, which is not a directory")
    else:
        directory = check_path(data_dir, "data_dir")
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"data_dir must be a directory, got the file {str(directory)!r}")

    data = load_mnist_dir(directory)
    source = f"local files in {directory}"
    if data is None and download:
        data = _download(directory)
        source = f"download from {urlparse(MNIST_URL).hostname} (SHA-256 checked)"
    if data is None:
        data = load_sklearn_digits()
        source = "embedded fallback: scikit-learn 8x8 digits upsampled to 28x28"
        warnings.warn(
            "MNIST not found locally and not downloadable: using scikit-learn's 1,797 "
            "8x8 digits upsampled to 28x28 (1,497 train / 300 test). Accuracies will "
            f"differ from real MNIST; put mnist.npz in {directory} to use it.",
            OfflineDataWarning,
            stacklevel=2,
        )
    elif verbose:
        (xt, _), (xv, _) = data
        print(f"MNIST from {source}: {len(xt):,} train / {len(xv):,} test images")
    return (data, source) if return_source else data


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, 28, 28)`` to float32 in [0, 1] with a channel axis ``(n, 28, 28, 1)``."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"x must be uint8 images (n, height, width), got {type(x).__name__}")
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise TypeError(f"x must be uint8 images (0-255), got dtype {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"x must be images of shape (n, height, width), got shape {x.shape}")
    if len(x) == 0:
        raise ValueError("x must hold at least one image, got an empty batch")
    return (x.astype("float32") / 255.0)[..., None]


def load_mnist_float(
    *,
    n_train: int | str | None = "auto",
    n_test: int | str | None = "auto",
    seed: int = 0,
    **loader_kwargs,
):
    """MNIST as the notebooks use it: float32 images in [0, 1], shape (n, 28, 28, 1), int64 labels.

    ``"auto"`` sizes follow the mode: quick mode takes 1,000 training and 300
    test images, full mode at most 12,000 and 2,000 (``None`` takes all).
    Subsets are drawn at random with ``seed`` (not the first n, which in MNIST
    are not class-balanced).  Other keywords go to :func:`load_mnist`.
    """
    from modelsec_edu import runtime

    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None and not (isinstance(n, str) and n == "auto"):
            check_int(n, name, min=1)
    seed = check_seed(seed)
    sizes = SIZES["quick" if runtime.is_quick() else "full"]
    (xtr, ytr), (xte, yte) = load_mnist(**loader_kwargs)
    rng = np.random.default_rng(seed)

    def take(x, y, n, auto):
        if n == "auto":
            n = auto
        if n is None or n >= len(x):
            return to_float(x), y.astype("int64")
        idx = np.sort(rng.choice(len(x), size=int(n), replace=False))
        return to_float(x[idx]), y[idx].astype("int64")

    return take(xtr, ytr, n_train, sizes[0]), take(xte, yte, n_test, sizes[1])
