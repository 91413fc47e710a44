"""Fictional but pronounceable names for the encyclopedia's entities.

Names are assembled from syllables (onset + nucleus + coda) so that they read like real names
("Varnholm", "Isela Dravik") yet belong to no real entity: a pretrained model cannot answer
questions about them from memory. A :class:`NameMaker` hands out names that are unique across the
whole knowledge base (case-insensitively), so every name in a question identifies one article, and
an exact-title search finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

_T = TypeVar("_T")

_ONSETS = (
    "b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s", "sk", "st",
    "t", "th", "tr", "v", "vr", "z", "c", "j", "y", "w",
)  # fmt: skip
_NUCLEI = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei", "ou", "ia")
_CODAS = ("", "", "", "n", "r", "l", "s", "th", "m", "k", "rn", "st", "nd", "x")
# Word endings that make a stem read as a place, a person or a country.
_CITY_ENDINGS = ("holm", "ford", "mar", "ova", "esk", "ant", "wick", "dal", "por", "grad", "is", "ora")
_COUNTRY_ENDINGS = ("ia", "and", "ar", "istan", "ene", "avia", "ond", "ulia")
_GIVEN_ENDINGS = ("a", "o", "en", "ia", "el", "ric", "ine", "as", "is", "an", "ette", "or")
_FAMILY_ENDINGS = ("ik", "son", "ez", "ski", "ard", "ley", "mann", "ov", "ell", "ton", "aro", "ic")

_MAX_TRIES = 500


class NameMaker:
    """Draws unique fictional names from a seeded generator.

    Args:
        rng: the content generator (the only randomness used).

    """

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def _pick(self, options: tuple[_T, ...]) -> _T:
        return options[int(self._rng.integers(len(options)))]

    def _stem(self, syllables: int) -> str:
        parts = [self._pick(_ONSETS) + self._pick(_NUCLEI) for _ in range(syllables)]
        return "".join(parts) + self._pick(_CODAS)

    def word(self, endings: tuple[str, ...], syllables: tuple[int, ...] = (1, 2)) -> str:
        """Return a capitalised word: a random stem plus one of ``endings`` (not checked for uniqueness)."""
        stem = self._stem(self._pick(syllables))
        return (stem + self._pick(endings)).capitalize()

    def unique(self, make: Callable[[], str]) -> str:
        """Call ``make()`` until it returns a name not handed out before, and reserve it."""
        for _ in range(_MAX_TRIES):
            name = make()
            if name.lower() not in self._used and 3 <= len(name) <= 40:
                self._used.add(name.lower())
                return name
        raise RuntimeError("the name space is exhausted; generate fewer entities")  # pragma: no cover

    def city(self) -> str:
        """Draw a one-word city name such as ``Varnholm``."""
        return self.unique(lambda: self.word(_CITY_ENDINGS))

    def country(self) -> str:
        """Draw a one-word country name such as ``Teskavia``."""
        return self.unique(lambda: self.word(_COUNTRY_ENDINGS))

    def person(self) -> str:
        """Draw a given name plus a family name such as ``Isela Dravik``."""
        return self.unique(lambda: f"{self.word(_GIVEN_ENDINGS, (1,))} {self.word(_FAMILY_ENDINGS, (1, 2))}")

    def coined(self) -> str:
        """Draw a bare coined word for organisation and work titles (``Ostrel``)."""
        return self.unique(lambda: self.word(("", "el", "in", "ar", "os"), (1, 2)))

    def pick(self, options: tuple[str, ...]) -> str:
        """One of ``options``, drawn with the shared generator."""
        return self._pick(options)
