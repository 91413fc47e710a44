"""Fine-tuning modes: ``frozen`` (no backbone gradient), ``lora`` (peft adapters), ``full``."""

from __future__ import annotations

import logging

import torch
from rlft.errors import ConfigError, check_choice
from rlft.policies.backbone import Backbone
from rlft.policies.config import FINETUNE_MODES

logger = logging.getLogger(__name__)


def apply_finetune(
    backbone: Backbone, mode: str, *, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0, seed: int = 0
) -> Backbone:
    """Set which backbone parameters train, injecting LoRA adapters in place for ``mode="lora"``.

    LoRA targets come from ``backbone.lora_targets`` (chosen per architecture: ``query``/``value`` for
    BERT-likes, ``c_attn`` for GPT-2, ``q_proj``/``v_proj`` for Llama-likes and CLIP). LoRA's B matrices
    start at zero, so the adapted backbone computes exactly what the pretrained one did; A matrices are
    drawn from ``seed`` without touching the global torch RNG.

    Returns:
        The same backbone (modified in place).

    Raises:
        ConfigError: for an unknown mode, or LoRA on a backbone that declares no targets.
    """
    check_choice("finetune", mode, FINETUNE_MODES)
    if mode == "full":
        backbone.requires_grad_(True)
        return backbone
    backbone.requires_grad_(False)
    if mode == "lora":
        targets = tuple(backbone.lora_targets)
        if not targets:
            raise ConfigError(
                f"Backbone {backbone.spec or type(backbone).__name__} declares no lora_targets; "
                "use finetune='frozen' or 'full', or set lora_targets on the backbone class."
            )
        from peft import LoraConfig, inject_adapter_in_model

        # GPT-2's attention uses transformers' Conv1D, whose weight is stored transposed.
        transposed = any(
            type(m).__name__ == "Conv1D" and name.rsplit(".", 1)[-1] in targets
            for name, m in backbone.named_modules()
        )
        config = LoraConfig(
            r=rank,
            lora_alpha=alpha,  # type: ignore[arg-type]  # peft accepts float scales
            lora_dropout=dropout,
            target_modules=list(targets),
            fan_in_fan_out=transposed,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            inject_adapter_in_model(config, backbone)
        for name, param in backbone.named_parameters():
            param.requires_grad_("lora_" in name)
    trainable = sum(p.numel() for p in backbone.parameters() if p.requires_grad)
    logger.info("backbone %s: finetune=%s, %d trainable parameters", backbone.spec, mode, trainable)
    return backbone
