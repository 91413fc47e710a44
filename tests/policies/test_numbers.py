"""Numbers read from token ids, for WordPiece, byte-level BPE and digit-splitting tokenizers."""

from __future__ import annotations

import math

import torch
from rlft.policies.numbers import number_table, token_numbers


class _Vocab:
    """The two things number_table needs of a Hugging Face tokenizer."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def get_vocab(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.pieces)}

    def __len__(self) -> int:
        return len(self.pieces)

    def ids(self, pieces: list[str]) -> torch.Tensor:
        vocab = self.get_vocab()
        return torch.tensor([[vocab[p] for p in pieces]])


def _read(vocab: _Vocab, pieces: list[str]) -> list[tuple[str, float]]:
    values = token_numbers(vocab.ids(pieces), number_table(vocab))[0].tolist()
    return [(p, round(v, 4)) for p, v in zip(pieces, values, strict=True) if not math.isnan(v)]


def test_wordpiece_numbers_with_continuations_and_decimals() -> None:
    vocab = _Vocab(["[CLS]", "$", "24", ".", "99", "rated", "3", "4", "75", "##2", "under", "40", "##0", ","])
    pieces = ["[CLS]", "$", "24", ".", "99", ",", "rated", "3", ".", "4", "75", "##2", "under", "40", "##0"]
    assert _read(vocab, pieces) == [("24", 24.99), ("3", 3.4), ("75", 752.0), ("40", 400.0)]


def test_byte_level_bpe_and_split_digits() -> None:
    # SmolLM2-style: a space mark on its own, then one token per digit.
    vocab = _Vocab(["Ġunder", "Ġ", "Ġ$", "1", "0", "9", ".", "4", "Ġdollars", "Ġ12", "Ġsize"])
    pieces = ["Ġunder", "Ġ", "4", "0", "Ġdollars", "Ġ$", "1", "0", "9", ".", "9", "9", "Ġsize", "Ġ12", "Ġ12"]
    assert _read(vocab, pieces) == [("4", 40.0), ("1", 109.99), ("Ġ12", 12.0), ("Ġ12", 12.0)]


def test_no_numbers_and_empty_rows() -> None:
    vocab = _Vocab(["a", "b", "."])
    assert _read(vocab, ["a", ".", "b"]) == []
    assert token_numbers(torch.zeros((0, 5), dtype=torch.long), number_table(vocab)).shape == (0, 5)


def test_thousands_separators() -> None:
    wordpiece = _Vocab(["$", "1", ",", "692", "3", "400", "000", "50", "##0", ".", "12", "and"])
    pieces = [
        "$",
        "1",
        ",",
        "692",
        "and",
        "3",
        ",",
        "400",
        ",",
        "000",
        ".",
        "50",
        "and",
        "12",
        ",",
        "50",
        "##0",
    ]
    assert _read(wordpiece, pieces) == [("1", 1692.0), ("3", 3400000.5), ("12", 12500.0)]
    # Not a separator: a comma before two or four digits, or one that ends the text.
    pieces = ["12", ",", "50", "and", "1", ",", "50", "##0", "##0", "and", "3", ","]
    assert _read(wordpiece, pieces) == [("12", 12.0), ("50", 50.0), ("1", 1.0), ("50", 5000.0), ("3", 3.0)]
    # A byte-level BPE marks word starts, so the list "1, 692" stays two numbers and "1,692" is one.
    bpe = _Vocab(["Ġ$", "1", ",", "6", "9", "2", "Ġ", "Ġ692"])
    assert _read(bpe, ["Ġ$", "1", ",", "6", "9", "2"]) == [("1", 1692.0)]
    assert _read(bpe, ["Ġ$", "1", ",", "Ġ692"]) == [("1", 1.0), ("Ġ692", 692.0)]
    assert _read(bpe, ["Ġ$", "1", ",", "Ġ", "6", "9", "2"]) == [("1", 1.0), ("6", 692.0)]


def test_ordinals_in_one_token_are_their_number() -> None:
    # BERT's vocabulary holds "7th" whole: "open the 7th result" asks for item 7.
    vocab = _Vocab(["open", "the", "7th", "21st", "104", "##th", "tenth", "item", "7", "##7th"])
    pieces = ["open", "the", "7th", "21st", "104", "##th", "tenth", "item", "7"]
    assert _read(vocab, pieces) == [("7th", 7.0), ("21st", 21.0), ("104", 104.0), ("7", 7.0)]
    assert _read(vocab, ["7", "##7th"]) == [("7", 77.0)]  # a continuation ordinal continues its number
