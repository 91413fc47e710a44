"""Text spaces shared by every environment: one charset that covers real text.

Gymnasium's default ``Text`` charset is alphanumeric only; observations hold prose, URLs, prices and
unicode names, so rlft uses a wider charset and cleans every string that enters an observation.
"""

from __future__ import annotations

import unicodedata

from gymnasium import spaces


def _build_charset() -> frozenset[str]:
    chars = {"\n", "\t"}
    ranges = [
        (0x20, 0x7E),  # printable ASCII
        (0xA0, 0x17F),  # Latin-1 supplement, Latin extended-A
        (0x370, 0x3FF),  # Greek
        (0x400, 0x4FF),  # Cyrillic
        (0x2010, 0x205E),  # general punctuation
        (0x20A0, 0x20BF),  # currency symbols
        (0x2190, 0x21FF),  # arrows
        (0x2200, 0x22FF),  # mathematical operators
        (0x2500, 0x25FF),  # box drawing, block elements, geometric shapes
        (0x2600, 0x27BF),  # miscellaneous symbols, dingbats
    ]
    for lo, hi in ranges:
        for code in range(lo, hi + 1):
            ch = chr(code)
            if unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
                chars.add(ch)
    return frozenset(chars)


CHARSET: frozenset[str] = _build_charset()
"""Every character an rlft text observation may contain."""

REPLACEMENT = "?"
"""Stands in for characters outside :data:`CHARSET`."""


def text_space(max_length: int, min_length: int = 0) -> spaces.Text:
    """A ``spaces.Text`` over :data:`CHARSET`."""
    return spaces.Text(max_length=max_length, min_length=min_length, charset=CHARSET)


def clean_text(text: str, max_length: int) -> str:
    """Make ``text`` fit a :func:`text_space` of ``max_length``.

    Unicode is NFC-normalised, characters outside the charset become ``?`` (control characters
    other than newline and tab are dropped), and the result is cut to ``max_length`` characters.
    """
    if CHARSET.issuperset(text) and unicodedata.is_normalized("NFC", text):
        return text[:max_length]  # the common case: nothing to clean, skip the per-character loop
    text = unicodedata.normalize("NFC", text)
    out = []
    for ch in text:
        if ch in CHARSET:
            out.append(ch)
        elif ch == "\r" or unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(REPLACEMENT)
    return "".join(out)[:max_length]
