"""Numbers in token ids: which tokens start a number, and its value, for any subword tokenizer.

A web page states prices, sizes and counts as text, and a pretrained encoder's token states say little
about magnitudes ("$41.99" and "under 40 dollars" look alike). Heads that compare numbers read them
here: :func:`number_table` describes each vocabulary entry once (its digits, whether it starts a word,
whether it is a decimal point), and :func:`token_numbers` assembles, inside a batch of ids, every number
spelled over one or more tokens: ``24 . 99`` (WordPiece), ``Ġ24 . 99`` (byte-level BPE), ``1 0 9``
(tokenizers that split digits), ``123 ##45``, and thousands written with commas, ``1 , 692`` (1692).
The value sits on the number's first token.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

__all__ = ["number_table", "token_numbers"]

_ORDINAL = re.compile(r"\A(\d+)(?:st|nd|rd|th)\Z")
"""A whole ordinal in one token (BERT's vocabulary holds ``1st`` to ``100th``): its digits are its number."""
_WORD_MARKS = ("Ġ", "▁")
"""Byte-level BPE and SentencePiece mark a token that starts a word with these."""


def number_table(tokenizer: Any) -> torch.Tensor:
    """The vocabulary as a ``[V, 6]`` float table for :func:`token_numbers`.

    Columns: digit value (NaN unless the token is all digits, or an ordinal such as ``7th``), digit
    count, starts a word (1/0), is a decimal point (1/0), is a comma (1/0), and whether the tokenizer
    marks word starts (1/0, the same in every row).

    A WordPiece token starts a word unless it begins with ``##``; a byte-level BPE or SentencePiece token
    starts one when it carries its space mark; a tokenizer with neither convention counts every token as
    a word start (digits then read one token at a time). Only a tokenizer that marks word starts can
    tell ``1,692`` from the list ``1, 692``; WordPiece splits both alike and reads both as 1692.
    """
    vocab = tokenizer.get_vocab()
    size = max(max(vocab.values()) + 1, len(tokenizer))
    wordpiece = any(p.startswith("##") for p in vocab)
    marked = any(p.startswith(_WORD_MARKS) for p in vocab)
    rows = [[math.nan, 0.0, 0.0, 0.0, 0.0, float(marked)] for _ in range(size)]
    for piece, index in vocab.items():
        starts = True
        text = piece
        if wordpiece and text.startswith("##"):
            text, starts = text[2:], False
        elif marked:
            starts = text.startswith(_WORD_MARKS)
            text = text.lstrip("".join(_WORD_MARKS))
        ordinal = _ORDINAL.match(text)
        if ordinal:  # "7th" is one WordPiece token: the number 7
            text = ordinal.group(1)
        digits = text.isascii() and text.isdigit()
        rows[index] = [
            float(int(text)) if digits else math.nan,
            float(len(text)) if digits else 0.0,
            float(starts),
            float(text == "."),
            float(text == ","),
            float(marked),
        ]
    # One tensor from Python lists: writing ~50k rows element by element into a tensor costs ~10x more.
    return torch.tensor(rows, dtype=torch.float32)


def _after(x: torch.Tensor) -> torch.Tensor:
    """``x[..., j - 1]`` at position ``j`` (False at the first position)."""
    out = torch.zeros_like(x)
    out[..., 1:] = x[..., :-1]
    return out


def _runs(digit: torch.Tensor, head: torch.Tensor, count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's run index (a spare slot ``L`` for tokens outside runs) and each run's digit count.

    Args:
        digit: ``[R, L]`` the tokens that belong to a run.
        head: ``[R, L]`` the tokens that start one.
        count: ``[R, L]`` digits each token adds (0 outside runs).

    Returns:
        ``(index [R, L], digits_in [R, L + 1])``.
    """
    length = digit.shape[-1]
    run = torch.cumsum(head.long(), dim=-1) - 1
    index = torch.where(digit, run.clamp(min=0), torch.full_like(run, length))
    groups = torch.zeros((digit.shape[0], length + 1), dtype=count.dtype, device=count.device)
    return index, groups.scatter_add(1, index, count)


def token_numbers(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Values ``[..., L]`` of the numbers that start at each token of ``ids`` (NaN elsewhere).

    Digit tokens group into runs (a digit token that continues the previous digit token's word joins its
    run); a comma between a run and a run of exactly three digits (that, where the tokenizer marks word
    starts, does not start a word) joins them as a thousands separator; a run right after ``<run> .`` is
    that number's fractional part.
    """
    shape = ids.shape
    rows = table[ids.reshape(-1, shape[-1]).clamp(0, table.shape[0] - 1)]  # [R, L, 6]
    value, count, starts, dot, comma, marked = rows.unbind(-1)
    digit = ~torch.isnan(value)
    value = torch.where(digit, value, torch.zeros_like(value))
    count = torch.where(digit, count, torch.zeros_like(count))
    head = digit & ~(_after(digit) & ~starts.bool())  # a run's first token, commas aside
    # Thousands separators: "<run> , <three digits>", the three digits not a new word where that shows.
    index, digits_in = _runs(digit, head, count)
    three = head & (digits_in.gather(1, index) == 3) & ~(marked.bool() & starts.bool())
    separator = torch.zeros_like(digit)
    separator[:, :-1] = comma.bool()[:, :-1] & _after(digit)[:, :-1] & three[:, 1:]
    digit = digit | separator
    head = head & ~_after(separator)
    length = shape[-1]
    index, digits_in = _runs(digit, head, count)
    run = torch.where(digit, index, torch.zeros_like(index))  # run index of each token (on run tokens)
    through = torch.cumsum(count, dim=-1)  # digits so far in the row
    groups = torch.zeros((rows.shape[0], length + 1), dtype=value.dtype, device=value.device)
    first_through = groups.scatter_add(
        1, torch.where(head, index, torch.full_like(index, length)), through - count
    )
    within = through - first_through.gather(1, index)  # digits of the run up to and including this token
    after = digits_in.gather(1, index) - within
    run_value = groups.scatter_add(1, index, value * torch.pow(10.0, after))
    # A run that follows "<digit> ." is the fractional part of the run before it.
    fraction = head & _after(dot.bool()) & _after(_after(digit))
    frac_value = run_value / torch.pow(10.0, digits_in)
    owner = torch.where(fraction, (run - 1).clamp(min=0), torch.full_like(run, length))
    extra = groups.scatter_add(
        1, owner, torch.where(fraction, frac_value.gather(1, index), torch.zeros_like(value))
    )
    number = run_value.gather(1, index) + extra.gather(1, index)
    number = torch.where(head & ~fraction, number, torch.full_like(number, math.nan))
    return number.reshape(shape)
