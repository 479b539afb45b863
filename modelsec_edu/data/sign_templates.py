"""The sign templates of chapter 09: each class drawn once, in its canonical pose.

Drawn with PIL shapes and the DejaVu Sans Bold font inside matplotlib's
``mpl-data`` at 128x128, then downsampled with antialiasing.  Ten GTSRB-like
classes (Stallkamp et al. 2012, https://doi.org/10.1016/j.neunet.2012.02.016)
and three "foreign" ones for the fine-tuning experiment.  :mod:`.signs` puts
them through the camera.  Used in chapter 09.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from modelsec_edu.validation import check_int

__all__ = ["ALL_CLASSES", "CLASSES", "FOREIGN_CLASSES", "class_index", "templates"]

CLASSES = (
    "stop",
    "yield",
    "speed_30",
    "speed_50",
    "speed_80",
    "no_entry",
    "priority_road",
    "general_warning",
    "keep_right",
    "no_overtaking",
)
# "Another country's signs": new classes for the fine-tuning experiment.
FOREIGN_CLASSES = ("us_speed_45", "us_warning", "roundabout")
ALL_CLASSES = CLASSES + FOREIGN_CLASSES

RED, WHITE, BLACK = (205, 20, 25), (242, 242, 242), (15, 15, 15)
BLUE, YELLOW = (15, 65, 165), (250, 200, 15)
_CANVAS = 128  # templates are drawn this large, then downsampled with antialiasing


# --------------------------------------------------------------------------- templates


def _font(px: int):
    from matplotlib import get_data_path
    from PIL import ImageFont

    return ImageFont.truetype(f"{get_data_path()}/fonts/ttf/DejaVuSans-Bold.ttf", px)


def _text(draw, text: str, px: int, fill, centre=(64, 64)) -> None:
    draw.text(centre, text, font=_font(px), fill=fill, anchor="mm")


def _regular(n: int, r: float, phase: float, c: float = 64.0) -> list[tuple[float, float]]:
    a = phase + 2 * np.pi * np.arange(n) / n
    return [(c + r * np.cos(t), c + r * np.sin(t)) for t in a]


def _ring(draw, fill_outer, fill_inner, r_out=58, r_in=44) -> None:
    draw.ellipse([64 - r_out, 64 - r_out, 64 + r_out, 64 + r_out], fill=fill_outer)
    draw.ellipse([64 - r_in, 64 - r_in, 64 + r_in, 64 + r_in], fill=fill_inner)


def _car(draw, x0: float, colour) -> None:
    draw.rectangle([x0, 64, x0 + 22, 80], fill=colour)
    draw.rectangle([x0 + 4, 54, x0 + 18, 66], fill=colour)


def _draw(name: str, draw) -> None:  # noqa: C901 - one branch per class reads best
    if name == "stop":
        draw.polygon(_regular(8, 60, np.pi / 8), fill=WHITE)
        draw.polygon(_regular(8, 55, np.pi / 8), fill=RED)
        _text(draw, "STOP", 34, WHITE)
    elif name == "yield":
        draw.polygon(_regular(3, 62, np.pi / 2, 58), fill=RED)
        draw.polygon(_regular(3, 38, np.pi / 2, 58), fill=WHITE)
    elif name.startswith("speed_"):
        _ring(draw, RED, WHITE)
        _text(draw, name.split("_")[1], 46, BLACK)
    elif name == "no_entry":
        _ring(draw, RED, RED)
        draw.rectangle([24, 56, 104, 72], fill=WHITE)
    elif name == "priority_road":
        draw.polygon(_regular(4, 62, 0), fill=WHITE)
        draw.polygon(_regular(4, 44, 0), fill=YELLOW)
    elif name == "general_warning":
        draw.polygon(_regular(3, 64, -np.pi / 2, 72), fill=RED)
        draw.polygon(_regular(3, 44, -np.pi / 2, 72), fill=WHITE)
        _text(draw, "!", 44, BLACK, (64, 80))
    elif name == "keep_right":
        _ring(draw, WHITE, BLUE, 58, 54)
        draw.polygon(
            [(40, 44), (52, 32), (80, 60), (84, 48), (90, 90), (48, 84), (60, 80), (32, 52)],
            fill=WHITE,
        )
    elif name == "no_overtaking":
        _ring(draw, RED, WHITE)
        _car(draw, 36, RED)
        _car(draw, 70, BLACK)
    elif name == "us_speed_45":
        draw.rectangle([22, 6, 106, 122], fill=BLACK)
        draw.rectangle([27, 11, 101, 117], fill=WHITE)
        _text(draw, "SPEED", 15, BLACK, (64, 26))
        _text(draw, "45", 50, BLACK, (64, 80))
    elif name == "us_warning":
        draw.polygon(_regular(4, 62, 0), fill=BLACK)
        draw.polygon(_regular(4, 56, 0), fill=YELLOW)
        draw.arc([44, 40, 92, 100], 180, 270, fill=BLACK, width=9)
        draw.polygon([(40, 70), (58, 70), (49, 86)], fill=BLACK)
    elif name == "roundabout":
        _ring(draw, WHITE, BLUE, 58, 54)
        draw.arc([34, 34, 94, 94], 20, 340, fill=WHITE, width=9)
    else:  # pragma: no cover - guarded by class_index
        raise ValueError(name)


@functools.lru_cache(maxsize=8)
def _templates(size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, ImageDraw

    rgb, alpha = [], []
    for name in ALL_CLASSES:
        img = Image.new("RGBA", (_CANVAS, _CANVAS), (0, 0, 0, 0))
        _draw(name, ImageDraw.Draw(img))
        arr = np.asarray(img.resize((size, size), Image.LANCZOS), dtype="float32") / 255.0
        a = np.clip(arr[..., 3], 0.0, 1.0)
        # un-premultiply the antialiased edge so colours do not darken towards it
        rgb.append(np.where(a[..., None] > 0, arr[..., :3], 0.0))
        alpha.append(a)
    return np.stack(rgb), np.stack(alpha)


def templates(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Every class of :data:`ALL_CLASSES` in its canonical pose: ``(rgb, alpha)`` copies.

    ``rgb`` has shape ``(len(ALL_CLASSES), size, size, 3)`` and ``alpha``
    ``(len(ALL_CLASSES), size, size)``, both float32 in [0, 1].
    """
    size = check_int(size, "size", min=8, max=256)
    rgb, alpha = _templates(size)
    return rgb.copy(), alpha.copy()


def class_index(classes: Any = None) -> np.ndarray:
    """Indices into :data:`ALL_CLASSES` of ``classes`` (names or ints); None: :data:`CLASSES`."""
    if classes is None:
        return np.arange(len(CLASSES))
    if isinstance(classes, (str, int, np.integer)):
        classes = [classes]
    out = []
    for c in classes:
        if isinstance(c, str):
            if c not in ALL_CLASSES:
                raise ValueError(f"classes: unknown sign {c!r}; expected one of {ALL_CLASSES}")
            out.append(ALL_CLASSES.index(c))
        else:
            out.append(check_int(c, "classes", min=0, max=len(ALL_CLASSES) - 1))
    if not out:
        raise ValueError("classes must name at least one sign, got none")
    return np.asarray(out, dtype="int64")
