"""Tiny random backbones built locally in well under a second: ``tiny-bert``, ``tiny-gpt2``, ``tiny-clip``.

They have the real Hugging Face architectures (BERT, GPT-2, CLIP) with a few thousand parameters and a
word-level WordPiece vocabulary built from a small corpus of web and tabletop words, so every code path
(tokenisation, LoRA injection, KV caches, heads, SB3) runs for real in fast tests. Weights come from a
fixed seed: the same name builds the same weights in every process (checkpoints rely on it).
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any

import torch
from rlft.policies.hf import ClipBackbone, HFCausalLMBackbone, HFEncoderBackbone

# Words of rlft's web commands, pages and tabletop instructions; anything else splits into characters.
CORPUS = """
click search type select choose buy back next prev previous page go to open submit answer stop scroll
up down home cart checkout item items product products result results price size color colour rating
review reviews description features option options quantity add remove the a an of in on to for with and
or is are what which who when where how many much i want need looking find get me please under over less
than more dollars shirt shoes dress pants jacket hat bag cotton wool leather red green blue yellow black
white brown orange purple pink gray grey small medium large xl men women kids article encyclopedia born
city country river year capital population field name email address date checkbox radio button input
text enter login password slider tab menu link instruction url error last action put place pick stack
pack block blocks bowl bowls box cube cylinder table left right top bottom middle corner into onto
"""
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
HIDDEN = 32
MAX_POSITIONS = 512


@functools.lru_cache(maxsize=1)
def tiny_vocab() -> tuple[str, ...]:
    """Deterministic WordPiece vocabulary: special tokens, printable characters (+ ``##`` forms), words."""
    chars = [c for c in string.printable if not c.isspace()]
    words = sorted(set(re.findall(r"[a-z]+", CORPUS)))
    return SPECIALS + tuple(chars) + tuple(f"##{c}" for c in chars) + tuple(w for w in words if len(w) > 1)


@functools.lru_cache(maxsize=1)
def tiny_tokenizer() -> Any:
    """A BERT-style fast tokenizer (lower-casing, WordPiece) over :func:`tiny_vocab`."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(tiny_vocab())}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=64))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        eos_token="[SEP]",
        bos_token="[CLS]",
    )


def _seeded(seed: int, build: Any) -> Any:
    # Forking the RNG keeps the caller's global torch random state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class TinyBertBackbone(HFEncoderBackbone):
    """tiny-bert: a 2-layer BERT (hidden 32) with random weights from ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        from transformers import BertConfig, BertModel

        tok = tiny_tokenizer()
        config = BertConfig(
            vocab_size=len(tok),
            hidden_size=HIDDEN,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=MAX_POSITIONS,
            pad_token_id=tok.pad_token_id,
        )
        super().__init__(_seeded(seed, lambda: BertModel(config, add_pooling_layer=False)), tok)


class TinyGPT2Backbone(HFCausalLMBackbone):
    """tiny-gpt2: a 2-layer GPT-2 (hidden 32) with random weights from ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        from transformers import GPT2Config, GPT2LMHeadModel

        tok = tiny_tokenizer()
        config = GPT2Config(
            vocab_size=len(tok),
            n_embd=HIDDEN,
            n_layer=2,
            n_head=2,
            n_positions=MAX_POSITIONS,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        super().__init__(_seeded(seed, lambda: GPT2LMHeadModel(config)), tok)


class TinyClipBackbone(ClipBackbone):
    """tiny-clip: a CLIP with 2-layer text and vision towers (hidden 32, 32x32 images, 8x8 patches)."""

    def __init__(self, seed: int = 0) -> None:
        from transformers import CLIPConfig, CLIPModel

        tok = tiny_tokenizer()
        config = CLIPConfig(
            text_config={
                "vocab_size": len(tok),
                "hidden_size": HIDDEN,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "max_position_embeddings": MAX_POSITIONS,
                "pad_token_id": tok.pad_token_id,
                "bos_token_id": tok.bos_token_id,
                # The pooled text vector is read at the first end-of-text token: [SEP] here.
                "eos_token_id": tok.eos_token_id,
            },
            vision_config={
                "hidden_size": HIDDEN,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": 32,
                "patch_size": 8,
            },
            projection_dim=HIDDEN,
        )
        super().__init__(_seeded(seed, lambda: CLIPModel(config)), tok)
