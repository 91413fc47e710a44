"""Backbone modalities: what a pretrained model encodes (torch-free, shared by the registry and backbones)."""

from __future__ import annotations

MODALITIES: tuple[str, ...] = ("text", "causal_lm", "vision", "vision_language")
"""What a backbone encodes: text (an encoder), causal_lm (a decoder that scores tokens), vision (an
image encoder), vision_language (an image and a text tower)."""

TEXT_MODALITIES: tuple[str, ...] = ("text", "causal_lm", "vision_language")
"""Modalities whose backbones can encode text."""

VISION_MODALITIES: tuple[str, ...] = ("vision", "vision_language")
"""Modalities whose backbones can encode images."""
