"""An optional loader for a local copy of the real GTSRB training set (chapter 09, never required).

The German Traffic Sign Recognition Benchmark (Stallkamp et al. 2012,
https://doi.org/10.1016/j.neunet.2012.02.016) is not on any package registry
and the course never downloads it.  A learner who has the archive
``GTSRB_Final_Training_Images.zip`` can read the course's ten classes from it:
the file is hash-checked first (pass the SHA-256 you recorded when you
downloaded it; the course ships no digest it could not verify offline), each
image is cropped to its annotated box and resized to ``size`` x ``size``, and
GTSRB's class ids are mapped to :data:`modelsec_edu.data.signs.CLASSES`.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import numpy as np

from modelsec_edu.validation import check_int

__all__ = ["GTSRB_IDS", "load_gtsrb"]

# GTSRB ClassId -> index in signs.CLASSES
GTSRB_IDS = {14: 0, 13: 1, 1: 2, 2: 3, 5: 4, 17: 5, 12: 6, 18: 7, 38: 8, 9: 9}


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_gtsrb(
    archive: str | os.PathLike, *, sha256: str, size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Read the course's classes from a local GTSRB training archive: ``(x, y)``.

    Args:
        archive: path of ``GTSRB_Final_Training_Images.zip`` (or any zip with its layout).
        sha256: the archive's expected SHA-256 (hex); a mismatch raises ``ValueError``.
        size: side of the returned images.

    Returns:
        ``x`` float32 ``(n, size, size, 3)`` in [0, 1] and ``y`` int64 indices
        into :data:`~modelsec_edu.data.signs.CLASSES`; other GTSRB classes are left out.
    """
    from PIL import Image

    if not isinstance(archive, (str, os.PathLike)):
        raise TypeError(f"archive must be a path, got {type(archive).__name__}")
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a hex string, got {type(sha256).__name__}")
    size = check_int(size, "size", min=8, max=256)
    path = Path(archive)
    if not path.is_file():
        raise FileNotFoundError(f"archive {str(path)!r} does not exist")
    found = _sha256(path)
    if found != sha256.strip().lower():
        raise ValueError(
            f"archive's SHA-256 is {found}, expected {sha256}: refusing a file that changed"
        )
    xs, ys = [], []
    with zipfile.ZipFile(path) as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".csv") and "/GT-" in n):
            folder = name.rsplit("/", 1)[0]
            rows = csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8"), delimiter=";")
            for row in rows:
                cid = int(row["ClassId"])
                if cid not in GTSRB_IDS:
                    continue
                with z.open(f"{folder}/{row['Filename']}") as f:
                    img = Image.open(f).convert("RGB")
                    box = tuple(int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
                    img = img.crop((box[0], box[1], box[2] + 1, box[3] + 1)).resize(
                        (size, size), Image.BILINEAR
                    )
                xs.append(np.asarray(img, dtype="float32") / 255.0)
                ys.append(GTSRB_IDS[cid])
    if not xs:
        raise ValueError(
            f"archive {str(path)!r} holds none of the course's classes in GTSRB's layout"
        )
    return np.stack(xs), np.asarray(ys, dtype="int64")
