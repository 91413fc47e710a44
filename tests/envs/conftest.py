"""Fixtures of the cross-family env tests: a tiny tokenizer trained here, in well under a second."""

from __future__ import annotations

import pytest

CORPUS = [
    "put the red block in the green bowl",
    "pack the yellow cylinder in the brown box",
    "move the small cyan block to the red bowl",
    "log in with the username and password",
    "click type select search stop back scroll down up",
    "sign up email name submit button link page url",
]


@pytest.fixture(scope="session")
def tiny_fast_tokenizer():
    """A ``tokenizers.Tokenizer`` (word level, lower-cased) trained on :data:`CORPUS`."""
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from tokenizers.trainers import WordLevelTrainer

    tok = tokenizers.Tokenizer(WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"]))
    return tok


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_fast_tokenizer):
    """The same vocabulary as a ``transformers`` tokenizer (``[PAD]`` = 0)."""
    transformers = pytest.importorskip("transformers")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tiny_fast_tokenizer, unk_token="[UNK]", pad_token="[PAD]"
    )
