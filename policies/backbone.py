"""The :class:`Backbone` base class: what a pretrained model must offer to become an rlft policy.

A backbone declares its ``modality`` and implements the encode methods that modality needs; the
contract is checked when the subclass is *defined* (``__init_subclass__``), so a plug-in that forgets a
method fails at import, not halfway through training.

* ``text``: ``encode_text`` (web text scorer);
* ``causal_lm``: ``encode_text`` and ``continuation_log_probs`` (web generative scorer, or text scorer);
* ``vision``: ``encode_image`` (tabletop pick-and-place, language-blind);
* ``vision_language``: ``encode_text`` and ``encode_image`` (tabletop; on web its text tower is used).

Every text modality also needs a Hugging Face tokenizer (``self.tokenizer``) or its own
:meth:`Backbone.tokenize`. Attributes a backbone sets in ``__init__``: ``hidden_size`` (size of
``encode_text`` vectors) and, for vision modalities, ``vision_channels`` (channels of the
``encode_image`` feature map).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from rlft.errors import ConfigError
from rlft.policies.modalities import MODALITIES, TEXT_MODALITIES, VISION_MODALITIES
from torch import nn

_REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("encode_text",),
    "causal_lm": ("encode_text", "continuation_log_probs"),
    "vision": ("encode_image",),
    "vision_language": ("encode_text", "encode_image"),
}

__all__ = [
    "TEXT_MODALITIES",
    "VISION_MODALITIES",
    "Backbone",
    "TextVisionPair",
    "last_token",
    "mean_pool",
]


class Backbone(nn.Module):
    """Base class of every backbone (an ``nn.Module`` wrapping a pretrained model).

    Subclasses set the class attribute ``modality`` and implement the methods it requires (see the
    module docstring); pass ``abstract=True`` in the class statement for intermediate base classes.

    Attributes:
        modality: One of ``"text"``, ``"causal_lm"``, ``"vision"``, ``"vision_language"``.
        lora_targets: Names of the sub-modules LoRA adapts (``("query", "value")`` for BERT); empty
            means LoRA is not supported by this backbone.
        spec: The spec it was loaded from (set by :func:`~rlft.policies.load_backbone`).
        hidden_size: Size of the vectors :meth:`encode_text` returns.
        vision_channels: Channels of the feature map :meth:`encode_image` returns.
        max_positions: Longest token sequence :meth:`encode_text` accepts (a Hugging Face model's
            ``max_position_embeddings``); ``None`` when unbounded. Policies cap their token budgets at it.
    """

    modality: ClassVar[str]
    lora_targets: tuple[str, ...] = ()
    spec: str = ""
    hidden_size: int = 0
    vision_channels: int = 0
    max_positions: int | None = None

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        modality = getattr(cls, "modality", None)
        if modality not in MODALITIES:
            raise TypeError(
                f"Backbone subclass {cls.__name__} must set the class attribute modality to one of "
                f"{', '.join(MODALITIES)} (got {modality!r}); pass abstract=True for a base class."
            )
        missing = [name for name in _REQUIRED[modality] if getattr(cls, name) is getattr(Backbone, name)]
        if missing:
            raise TypeError(
                f"Backbone subclass {cls.__name__} (modality {modality!r}) must implement "
                f"{', '.join(missing)}."
            )

    # ------------------------------------------------------------------ tokenizer access
    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer of the text stream (``None`` for vision-only backbones)."""
        return None

    def tokenize(
        self,
        texts: Sequence[str],
        max_length: int,
        *,
        padding_side: str = "right",
        add_special_tokens: bool = True,
    ) -> dict[str, np.ndarray]:
        """Tokenize ``texts`` into fixed-shape arrays, truncating and padding to ``max_length``.

        Returns:
            ``{"input_ids": int64 [N, max_length], "attention_mask": int64 [N, max_length]}``.
        """
        tok = self.tokenizer
        if tok is None:
            raise ConfigError(
                f"Backbone {self.spec or type(self).__name__} has no tokenizer; it cannot encode text."
            )
        tok.padding_side = padding_side
        enc = tok(
            list(texts),
            max_length=max_length,
            truncation=True,
            padding="max_length",
            add_special_tokens=add_special_tokens,
            return_tensors="np",
        )
        return {
            "input_ids": enc["input_ids"].astype(np.int64),
            "attention_mask": enc["attention_mask"].astype(np.int64),
        }

    def token_ids(self, texts: Sequence[str], *, add_special_tokens: bool = True) -> list[list[int]]:
        """Token ids of each text without padding or truncation (used to compose prompts)."""
        tok = self.tokenizer
        if tok is None:
            raise ConfigError(
                f"Backbone {self.spec or type(self).__name__} has no tokenizer; it cannot encode text."
            )
        # Callers cut the ids to their own budgets: no "longer than the maximum length" warning.
        return tok(list(texts), add_special_tokens=add_special_tokens, verbose=False)["input_ids"]

    # ------------------------------------------------------------------ encoders
    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Encode token ids ``[B, L]`` (with their ``attention_mask``) into vectors ``[B, hidden_size]``."""
        raise NotImplementedError

    def encode_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Encoders: per-token last hidden states ``[B, L, hidden_size]`` (late-interaction scoring).

        Optional; backbones without it cannot use ``scorer="late_interaction"``.
        """
        raise NotImplementedError

    def continuation_log_probs(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        cont_ids: torch.Tensor,
        cont_mask: torch.Tensor,
        pair_index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal LMs: log-probabilities of continuation tokens given their prompt.

        Args:
            prompt_ids: ``[B, Lp]`` left-padded prompts (the last column is each prompt's last token).
            prompt_mask: ``[B, Lp]``.
            cont_ids: ``[N, Lc]`` right-padded continuations (commands).
            cont_mask: ``[N, Lc]``.
            pair_index: ``[N]`` the prompt row each continuation follows.

        Returns:
            ``log_probs [N, Lc]`` (0 at padding) and ``prompt_hidden [B, hidden_size]``, the last prompt
            token's hidden state (value heads read it).
        """
        raise NotImplementedError

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Encode float images ``[B, 3, H, W]`` in [0, 1] into a map ``[B, vision_channels, h, w]``.

        The backbone resizes and normalises as its pretraining expects.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check the instance attributes the heads rely on (called by ``load_backbone``).

        Raises:
            ConfigError: naming the attribute a plug-in forgot to set.
        """
        name = self.spec or type(self).__name__
        if self.modality in TEXT_MODALITIES and not (
            isinstance(self.hidden_size, int) and self.hidden_size > 0
        ):
            raise ConfigError(f"Backbone {name} must set self.hidden_size (size of encode_text vectors).")
        if self.modality in VISION_MODALITIES and not (
            isinstance(self.vision_channels, int) and self.vision_channels > 0
        ):
            raise ConfigError(
                f"Backbone {name} must set self.vision_channels (channels of encode_image maps)."
            )
        if (
            self.modality in TEXT_MODALITIES
            and self.tokenizer is None
            and type(self).tokenize is Backbone.tokenize
        ):
            raise ConfigError(
                f"Backbone {name} encodes text but has no tokenizer: set one or override tokenize()."
            )


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average ``hidden [B, L, H]`` over the positions where ``attention_mask`` is 1 (sentence embedding)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def last_token(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The hidden state ``[B, H]`` at the last attended position of each row (left or right padding)."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask.long() * (positions + 1)).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def has_token_states(backbone: Backbone) -> bool:
    """Whether ``backbone`` implements :meth:`Backbone.encode_tokens` (per-token states)."""
    return type(backbone).encode_tokens is not Backbone.encode_tokens


class TextVisionPair(Backbone):
    """A vision-language backbone made of a language backbone and a vision backbone (two streams).

    ``load_backbone("a+b")`` builds one; ``minilm+efficientnet`` is the embedded default.
    """

    modality = "vision_language"

    def __init__(self, text: Backbone, vision: Backbone) -> None:
        super().__init__()
        if text.modality not in TEXT_MODALITIES:
            raise ConfigError(
                f"In a 'text+vision' pair the first backbone must encode text; "
                f"{text.spec} is {text.modality}."
            )
        if vision.modality not in VISION_MODALITIES:
            raise ConfigError(
                f"In a 'text+vision' pair the second backbone must encode images; "
                f"{vision.spec} is {vision.modality}."
            )
        self.text = text
        self.vision = vision
        self.hidden_size = text.hidden_size
        self.vision_channels = vision.vision_channels
        self.max_positions = text.max_positions

    @property
    def lora_targets(self) -> tuple[str, ...]:  # type: ignore[override]
        """Both streams' LoRA targets."""
        return tuple(dict.fromkeys(self.text.lora_targets + self.vision.lora_targets))

    @property
    def tokenizer(self) -> Any:
        """The language stream's tokenizer."""
        return self.text.tokenizer

    def tokenize(self, texts: Sequence[str], max_length: int, **kwargs: Any) -> dict[str, np.ndarray]:
        """Tokenize with the language stream."""
        return self.text.tokenize(texts, max_length, **kwargs)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Encode with the language stream."""
        return self.text.encode_text(input_ids, attention_mask)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Encode with the vision stream."""
        return self.vision.encode_image(images)
