"""Answer scoring for the encyclopedia: normalised exact match, token F1 and quote grounding.

Normalisation follows the SQuAD convention: lowercase, punctuation removed, the articles ``a``,
``an`` and ``the`` dropped, whitespace collapsed, so ``"The Glass Lantern."`` equals
``"glass lantern"`` and ``"1,111,500"`` equals ``"1111500"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_ARTICLES = frozenset(("a", "an", "the"))
_PUNCT = re.compile(r"[^\w\s]")


def normalize_tokens(text: str) -> list[str]:
    """Return the normalised tokens of ``text``."""
    text = unicodedata.normalize("NFKC", text).lower()
    # Digit-group separators vanish ("1,500" -> "1500"); other punctuation separates words.
    text = re.sub(r"(?<=\d)[,.](?=\d)", "", text)
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return [tok for tok in text.split() if tok not in _ARTICLES]


def normalize_answer(text: str) -> str:
    """Return the normalised form of an answer, compared by :func:`exact_match`."""
    return " ".join(normalize_tokens(text))


def exact_match(prediction: str, gold: str) -> bool:
    """Whether ``prediction`` and ``gold`` are equal after normalisation (and not empty)."""
    norm = normalize_answer(prediction)
    return bool(norm) and norm == normalize_answer(gold)


def token_f1(prediction: str, gold: str) -> float:
    """Token-level F1 between the normalised prediction and gold answer (0 when either is empty)."""
    pred, ref = normalize_tokens(prediction), normalize_tokens(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the normalised tokens of ``phrase`` occur contiguously in those of ``text``."""
    hay, needle = normalize_tokens(text), normalize_tokens(phrase)
    if not needle:
        return False
    n = len(needle)
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))
