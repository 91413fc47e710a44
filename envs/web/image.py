"""Draw a text page into an RGB image, so a browserless backend can ``render()`` frames for videos.

The text is drawn with Pillow's built-in bitmap font (6 x 11 pixels per character, Latin-1), which ships
inside Pillow: no font file, no download, and the same pixels on every machine. Characters outside
Latin-1 are drawn as ``?``. The image size depends only on the number of columns and rows, so every
frame of an episode has the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rlft.errors import require

CHAR_WIDTH = 6
"""Pixels per character of the bitmap font."""
LINE_HEIGHT = 12
"""Pixels per text row (11 of glyph, 1 of leading)."""
MARGIN = 4
"""Blank pixels around the text."""

COLUMNS = 120
"""Characters per row of :func:`text_frame` images."""

Colour = tuple[int, int, int]
BACKGROUND: Colour = (255, 255, 255)
_TEXT: Colour = (0, 0, 0)
_INSTRUCTION: Colour = (0, 48, 135)
_URL: Colour = (0, 110, 50)
_ERROR: Colour = (176, 0, 32)
_INSTRUCTION_ROWS = 3
_PURPOSE = "render_mode='rgb_array' without a browser (pip install pillow)"


@dataclass(frozen=True)
class Line:
    """One row of text and its colour."""

    text: str
    colour: Colour = _TEXT


def image_shape(columns: int, rows: int) -> tuple[int, int, int]:
    """The ``(height, width, 3)`` shape of :func:`draw_lines` images (both sides even, as encoders like)."""
    return rows * LINE_HEIGHT + 2 * MARGIN, columns * CHAR_WIDTH + 2 * MARGIN, 3


def wrap(text: str, columns: int) -> list[str]:
    """Split ``text`` into rows of at most ``columns`` characters (hard wrap, every character kept)."""
    rows: list[str] = []
    for line in text.split("\n"):
        rows += [line[i : i + columns] for i in range(0, len(line), columns)] or [""]
    return rows


def _latin1(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")


def draw_lines(lines: Sequence[Line], columns: int, rows: int) -> np.ndarray:
    """Draw ``lines`` (each already at most ``columns`` wide) top-down; rows beyond ``rows`` are dropped.

    Returns:
        ``uint8`` array of :func:`image_shape` ``(columns, rows)``.
    """
    image_module = require("PIL.Image", _PURPOSE)
    draw_module = require("PIL.ImageDraw", _PURPOSE)
    font_module = require("PIL.ImageFont", _PURPOSE)
    height, width, _ = image_shape(columns, rows)
    image = image_module.new("RGB", (width, height), BACKGROUND)
    draw = draw_module.Draw(image)
    font = font_module.load_default_imagefont()
    for row, line in enumerate(lines[:rows]):
        text = _latin1(line.text[:columns])
        if text:
            draw.text((MARGIN, MARGIN + row * LINE_HEIGHT), text, fill=line.colour, font=font)
    return np.asarray(image, dtype=np.uint8).copy()


def text_frame(instruction: str, url: str, page: str, error: str, viewport_lines: int) -> np.ndarray:
    """Draw what a text observation shows, as one RGB frame.

    Top to bottom: the instruction (up to 3 rows), the URL, the page viewport (``viewport_lines`` lines
    plus its "(lines a-b of n)" footer, wrapped at :data:`COLUMNS`) and, on the last row, the last
    action's error in red. The size depends on ``viewport_lines`` only, so every frame of an episode
    has the same shape.
    """
    rows = _INSTRUCTION_ROWS + 2 + viewport_lines + 2
    header = wrap(instruction, COLUMNS)[:_INSTRUCTION_ROWS]
    lines = [Line(row, _INSTRUCTION) for row in header]
    lines += [Line("")] * (_INSTRUCTION_ROWS - len(header))
    lines += [Line(url[:COLUMNS], _URL), Line("")]
    lines += [Line(row) for row in wrap(page, COLUMNS)[: rows - len(lines) - 1]]
    lines += [Line("")] * (rows - 1 - len(lines))
    lines.append(Line(error[:COLUMNS], _ERROR))
    return draw_lines(lines, COLUMNS, rows)
