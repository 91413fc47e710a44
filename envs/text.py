"""Text spaces shared by every environment: one charset that covers real text.

Gymnasium's default ``Text`` charset is alphanumeric only; observations hold prose, URLs, prices and
unicode names, so rlft uses a wider charset (:data:`CHARSET`, about 1,900 characters) and cleans every
string that enters an observation.

:class:`RlftText` is the ``Text`` space over that charset. It differs from ``gymnasium.spaces.Text`` in two
ways only:

* its ``repr`` names the charset instead of listing it: ``Text(0, 256, charset=rlft-unicode)``;
* it works in ``AsyncVectorEnv`` with ``shared_memory=True`` (the default). Gymnasium decodes a ``Text``
  shared buffer into strings once, when the vector env is built, so every later batch repeats that first
  (all-zero, i.e. all-tab) read. For :class:`RlftText` the read returns a :class:`SharedText` view that
  decodes the buffer each time it is looked at, and that becomes a plain tuple of strings when copied
  (``AsyncVectorEnv(copy=True)``, the default, hands out such copies).

It pickles, compares equal to a plain ``Text`` over the same charset, samples, and serialises with
Minari's ``serialize_space`` exactly as a plain ``Text`` does (it reads back as a plain ``Text``).
"""

from __future__ import annotations

import multiprocessing
import unicodedata
from collections.abc import Callable, Iterator
from collections.abc import Sequence as AbcSequence
from typing import TYPE_CHECKING, Any, cast, overload

from gymnasium import spaces
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import SynchronizedArray


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


CHARSET_NAME = "rlft-unicode"
"""How :class:`RlftText` names :data:`CHARSET` in its ``repr``."""


class RlftText(spaces.Text):
    """``gymnasium.spaces.Text`` over :data:`CHARSET` with a readable ``repr`` (see the module docstring).

    Args:
        max_length: Maximum length of a string, in characters.
        min_length: Minimum length (0: the empty string is allowed).
        seed: Seed of the space's own sampler.
    """

    def __init__(self, max_length: int, min_length: int = 0, seed: int | None = None) -> None:
        super().__init__(max_length=max_length, min_length=min_length, charset=CHARSET, seed=seed)

    def __repr__(self) -> str:
        return f"Text({self.min_length}, {self.max_length}, charset={CHARSET_NAME})"


def text_space(max_length: int, min_length: int = 0) -> RlftText:
    """A ``Text`` space over :data:`CHARSET` (an :class:`RlftText`)."""
    return RlftText(max_length=max_length, min_length=min_length)


class SharedText(AbcSequence[str]):
    """A batch of strings read from an ``AsyncVectorEnv`` shared-memory buffer whenever it is looked at.

    Indexing, iterating, comparing and printing decode the buffer's current content. ``copy`` /
    ``deepcopy`` / pickling give a plain ``tuple`` of strings (the type a batch of ``Text`` observations has
    everywhere else), so ``AsyncVectorEnv(copy=True)`` returns ordinary tuples.
    """

    def __init__(self, space: spaces.Text, buffer: Any, n: int) -> None:
        self._space = space
        self._buffer = buffer
        self._n = n

    def decode(self) -> tuple[str, ...]:
        """The strings now in the buffer."""
        return _read_plain_text(self._space, self._buffer, n=self._n)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self.decode()[index]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[str]:
        return iter(self.decode())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SharedText):
            other = other.decode()
        return self.decode() == other

    __hash__ = None  # type: ignore[assignment]  # mutable content

    def __repr__(self) -> str:
        return repr(self.decode())

    def __copy__(self) -> tuple[str, ...]:
        return self.decode()

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return self.decode()

    def __reduce__(self) -> tuple[type[tuple], tuple[tuple[str, ...]]]:
        return tuple, (self.decode(),)


# ``dispatch`` is typed with the generic functions' union return types; the Text implementations return these.
_read_plain_text = cast("Callable[..., tuple[str, ...]]", read_from_shared_memory.dispatch(spaces.Text))
_create_plain_text = cast("Callable[..., SynchronizedArray[Any]]", create_shared_memory.dispatch(spaces.Text))


@read_from_shared_memory.register(RlftText)
def _read_rlft_text(space: RlftText, shared_memory: Any, n: int = 1) -> SharedText:
    return SharedText(space, shared_memory, n)


@create_shared_memory.register(RlftText)
def _create_rlft_text(space: RlftText, n: int = 1, ctx: Any = multiprocessing) -> Any:
    buffer = _create_plain_text(space, n=n, ctx=ctx)
    # Fill with the padding index, so a slot nothing was written to reads as "" (zeros would be tabs).
    buffer[:] = [len(space.character_set)] * len(buffer)
    return buffer


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
