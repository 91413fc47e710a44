"""Numbers in token ids: which tokens start a number, and its value, for any subword tokenizer.

A web page states prices, sizes and counts as text, and a pretrained encoder's token states say little
about magnitudes ("$41.99" and "under 40 dollars" look alike). Heads that compare numbers read them
here: :func:`number_table` describes each vocabulary entry once (its digits, whether it starts a word,
whether it is a decimal point), and :func:`token_numbers` assembles, inside a batch of ids, every number
spelled over one or more tokens: ``24 . 99`` (WordPiece), ``Ġ24 . 99`` (byte-level BPE), ``1 0 9``
(tokenizers that split digits), ``123 ##45``. The value sits on the number's first token.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["number_table", "token_numbers"]

_WORD_MARKS = ("Ġ", "▁")
"""Byte-level BPE and SentencePiece mark a token that starts a word with these."""


def number_table(tokenizer: Any) -> torch.Tensor:
    """The vocabulary as a ``[V, 4]`` float table for :func:`token_numbers`.

    Columns: digit value (NaN unless the token is all digits), digit count, starts a word (1/0), is a
    decimal point (1/0).

    A WordPiece token starts a word unless it begins with ``##``; a byte-level BPE or SentencePiece token
    starts one when it carries its space mark; a tokenizer with neither convention counts every token as
    a word start (digits then read one token at a time).
    """
    vocab = tokenizer.get_vocab()
    size = max(max(vocab.values()) + 1, len(tokenizer))
    rows = [[math.nan, 0.0, 0.0, 0.0] for _ in range(size)]
    wordpiece = any(p.startswith("##") for p in vocab)
    marked = any(p.startswith(_WORD_MARKS) for p in vocab)
    for piece, index in vocab.items():
        starts = True
        text = piece
        if wordpiece and text.startswith("##"):
            text, starts = text[2:], False
        elif marked:
            starts = text.startswith(_WORD_MARKS)
            text = text.lstrip("".join(_WORD_MARKS))
        digits = text.isascii() and text.isdigit()
        rows[index] = [
            float(int(text)) if digits else math.nan,
            float(len(text)) if digits else 0.0,
            float(starts),
            float(text == "."),
        ]
    # One tensor from Python lists: writing ~50k rows element by element into a tensor costs ~10x more.
    return torch.tensor(rows, dtype=torch.float32)


def _after(x: torch.Tensor) -> torch.Tensor:
    """``x[..., j - 1]`` at position ``j`` (False at the first position)."""
    out = torch.zeros_like(x)
    out[..., 1:] = x[..., :-1]
    return out


def token_numbers(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Values ``[..., L]`` of the numbers that start at each token of ``ids`` (NaN elsewhere).

    Digit tokens group into runs (a digit token that continues the previous digit token's word joins its
    run); a run right after ``<run> .`` is that number's fractional part.
    """
    shape = ids.shape
    rows = table[ids.reshape(-1, shape[-1]).clamp(0, table.shape[0] - 1)]  # [R, L, 4]
    value, count, starts, dot = rows.unbind(-1)
    digit = ~torch.isnan(value)
    value = torch.where(digit, value, torch.zeros_like(value))
    count = torch.where(digit, count, torch.zeros_like(count))
    head = digit & ~(_after(digit) & ~starts.bool())  # a run's first token
    length = shape[-1]
    run = torch.cumsum(head.long(), dim=-1) - 1  # run index of each token (meaningful on digit tokens)
    index = torch.where(digit, run.clamp(min=0), torch.full_like(run, length))  # non-digits: a spare slot
    through = torch.cumsum(count, dim=-1)  # digits so far in the row
    groups = torch.zeros((rows.shape[0], length + 1), dtype=value.dtype, device=value.device)
    digits_in = groups.scatter_add(1, index, count)
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
