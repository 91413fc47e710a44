"""Hugging Face backbones: encoders, causal LMs and CLIP, from a hub id or a local folder.

``hf:<id-or-path>`` detects the model type from its config; ``clip:<id-or-path>`` loads a CLIP model.
Nothing is downloaded (``local_files_only=True``): a model that is neither a local folder nor in the
Hugging Face cache raises :class:`~rlft.errors.DependencyError` saying so.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from rlft.errors import ConfigError, DependencyError, ModalityError, require
from rlft.policies.backbone import Backbone, last_token, mean_pool
from torch import nn

logger = logging.getLogger(__name__)

# Sets of attention projections LoRA adapts, tried in order; the first set fully present wins. This
# covers BERT-likes (query/value), GPT-2 (c_attn), Llama/Mistral/Qwen/CLIP (q_proj/v_proj),
# DistilBERT (q_lin/v_lin) and MPNet/T5-likes (q/v).
LORA_TARGET_CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("q_proj", "v_proj"),
    ("query", "value"),
    ("c_attn",),
    ("q_lin", "v_lin"),
    ("q", "v"),
)

TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)
"""Files of which a model folder must hold at least one for its tokenizer to be real."""

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def detect_lora_targets(model: nn.Module) -> tuple[str, ...]:
    """Pick the attention projections LoRA should adapt in ``model`` (empty when none is recognised)."""
    leaf_names = {
        name.rsplit(".", 1)[-1] for name, module in model.named_modules() if not list(module.children())
    }
    for candidate in LORA_TARGET_CANDIDATES:
        if all(name in leaf_names for name in candidate):
            return candidate
    return ()


def _ensure_pad_token(tokenizer: Any) -> Any:
    """Causal LM tokenizers often lack a pad token; padding is always masked, so EOS can stand in."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        else:
            tokenizer.add_special_tokens({"pad_token": "[PAD]"})
    return tokenizer


@contextlib.contextmanager
def hf_progress_bars(enabled: bool = True) -> Iterator[None]:
    """Show (``True``) or hide Hugging Face's weight-loading progress bars and load reports in the block.

    Hidden, transformers' progress bars are disabled and its log level raised to errors; the previous
    settings are restored on exit. transformers is only imported when output is hidden.
    """
    if enabled:
        yield
        return
    hf_logging = require("transformers", "Hugging Face backbones").utils.logging
    was_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if was_enabled:
            hf_logging.enable_progress_bar()


def max_positions(config: Any) -> int | None:
    """The longest token sequence a Hugging Face text config accepts (``None`` when it does not say)."""
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _check_tokenizer(spec: str, path: str, tokenizer: Any) -> Any:
    """Refuse a tokenizer built without vocabulary files (transformers then makes a specials-only one).

    Raises:
        ConfigError: naming the files the folder lacks.
    """
    folder = Path(path)
    has_files = not folder.is_dir() or any((folder / name).is_file() for name in TOKENIZER_FILES)
    specials = set(getattr(tokenizer, "all_special_tokens", ()))
    if not has_files or len(tokenizer) <= len(specials):
        raise ConfigError(
            f"{spec} has no tokenizer (the folder lacks {', '.join(TOKENIZER_FILES[:3])}, ...; a tokenizer "
            f"built without them knows only {len(tokenizer)} tokens). Save the tokenizer next to the model: "
            "tokenizer.save_pretrained(folder)."
        )
    return tokenizer


def _missing(spec: str, exc: Exception) -> DependencyError:
    return DependencyError(
        f"Could not load Hugging Face model {spec!r}: {str(exc).rstrip('.')}. rlft never downloads at run "
        "time: pass a local folder (save_pretrained output) or an id already in the Hugging Face cache."
    )


class HFEncoderBackbone(Backbone):
    """A Hugging Face encoder (BERT, MiniLM, RoBERTa, ...): mean-pooled last hidden states."""

    modality = "text"
    model: Any
    """The Hugging Face model (a ``PreTrainedModel``)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        super().__init__()
        # Mean pooling never reads BERT's pooler; dropping it also drops weights that checkpoints
        # without a pooler would initialise at random (and that would break checkpoint fingerprints).
        if getattr(model, "pooler", None) is not None:
            model.pooler = None
        self.model = model
        self._tokenizer = tokenizer
        self.hidden_size = int(model.config.hidden_size)
        self.max_positions = max_positions(model.config)
        self.lora_targets = detect_lora_targets(model)

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer."""
        return self._tokenizer

    def encode_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last hidden state of every token ``[B, L, hidden_size]``."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the last hidden states over real tokens (the sentence-transformers pooling)."""
        return mean_pool(self.encode_tokens(input_ids, attention_mask), attention_mask)


class HFCausalLMBackbone(Backbone):
    """A Hugging Face causal LM (GPT-2, Llama, SmolLM2, Qwen, ...).

    ``continuation_log_probs`` runs each prompt once, then every candidate continuation of it on the
    prompt's key/value cache, and applies the LM head only at the continuation's real tokens.
    """

    modality = "causal_lm"
    model: Any
    """The Hugging Face model (a ``PreTrainedModel``)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        super().__init__()
        self.model = model
        self._tokenizer = _ensure_pad_token(tokenizer)
        self.hidden_size = int(model.config.hidden_size)
        self.max_positions = max_positions(model.config)
        self.lora_targets = detect_lora_targets(model)
        params = inspect.signature(model.base_model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (its pad token set to EOS when it had none)."""
        return self._tokenizer

    def _hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any) -> Any:
        # Left-padded prompts need explicit positions so the first real token is position 0.
        positions = (attention_mask.long().cumsum(1) - 1).clamp(min=0)
        return self.model.base_model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, **kwargs
        )

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last real token's last-layer hidden state."""
        out = self._hidden(input_ids, attention_mask, use_cache=False)
        return last_token(out.last_hidden_state, attention_mask)

    def continuation_log_probs(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        cont_ids: torch.Tensor,
        cont_mask: torch.Tensor,
        pair_index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :meth:`Backbone.continuation_log_probs`; prompts run once, continuations on their KV cache."""
        out = self._hidden(prompt_ids, prompt_mask, use_cache=True)
        prompt_last = out.last_hidden_state[:, -1]
        # transformers renamed past_key_values to cache (5.2x); support both spellings.
        cache = out["cache"] if "cache" in out else out["past_key_values"]
        cache.batch_select_indices(pair_index)
        cont_len = cont_ids.shape[1]
        start = prompt_mask.long().sum(1)[pair_index].unsqueeze(1)
        positions = start + torch.arange(cont_len, device=cont_ids.device).unsqueeze(0)
        full_mask = torch.cat([prompt_mask[pair_index], cont_mask], dim=1)
        cont_hidden = self.model.base_model(
            input_ids=cont_ids,
            attention_mask=full_mask,
            position_ids=positions,
            use_cache=True,
            **{self._cache_kwarg: cache},
        ).last_hidden_state
        # Token t of a continuation is predicted from the hidden state one position earlier.
        predictors = torch.cat([prompt_last[pair_index].unsqueeze(1), cont_hidden[:, :-1]], dim=1)
        real = cont_mask.bool()
        logits = self.model.get_output_embeddings()(predictors[real])
        token_lp = logits.float().log_softmax(-1).gather(-1, cont_ids[real].unsqueeze(-1)).squeeze(-1)
        log_probs = torch.zeros(cont_ids.shape, dtype=token_lp.dtype, device=cont_ids.device)
        log_probs[real] = token_lp
        return log_probs, prompt_last


class ClipBackbone(Backbone):
    """Hugging Face CLIP: the text tower's pooled output and the vision tower's patch-token map."""

    modality = "vision_language"
    pixel_mean: torch.Tensor
    pixel_std: torch.Tensor
    model: Any
    """The Hugging Face model (a ``PreTrainedModel``)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        super().__init__()
        self.model = model
        self._tokenizer = _ensure_pad_token(tokenizer)
        self.hidden_size = int(model.config.text_config.hidden_size)
        self.vision_channels = int(model.config.vision_config.hidden_size)
        self.image_size = int(model.config.vision_config.image_size)
        self.max_positions = max_positions(model.config.text_config)
        self.lora_targets = detect_lora_targets(model)
        self.register_buffer("pixel_mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def tokenizer(self) -> Any:
        """CLIP's text tokenizer."""
        return self._tokenizer

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The text tower's pooled (end-of-text token) output."""
        return self.model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Patch tokens of the vision tower arranged as a ``[B, C, g, g]`` map (CLS token dropped)."""
        size = self.image_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
        pixels = (images - self.pixel_mean) / self.pixel_std
        tokens = self.model.vision_model(pixel_values=pixels).last_hidden_state[:, 1:]
        side = round(tokens.shape[1] ** 0.5)
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], side, side)


def _is_causal(config: Any) -> bool:
    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return True
    return bool(getattr(config, "is_decoder", False))


def _hf_config(spec: str, path: str) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise _missing(spec, exc) from exc


def load_hf(path: str, **kwargs: Any) -> Backbone:
    """``hf:<id-or-path>``: an encoder or a causal LM (detected from the config's architectures), or CLIP.

    Args:
        path: A local folder (``save_pretrained`` output of the model *and* its tokenizer) or a hub id
            already in the local cache.
        **kwargs: Passed to ``from_pretrained`` (for example ``torch_dtype``).

    Raises:
        DependencyError: when the model cannot be found offline.
        ConfigError: for encoder-decoder models, which rlft does not support, or a folder without
            tokenizer files.
    """
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    config = _hf_config(f"hf:{path}", path)
    if config.model_type == "clip":
        return load_clip(path, **kwargs)
    if getattr(config, "is_encoder_decoder", False):
        raise ConfigError(
            f"hf:{path} is an encoder-decoder ({config.model_type}); rlft supports encoders and causal LMs."
        )
    try:
        tokenizer = _check_tokenizer(
            f"hf:{path}", path, AutoTokenizer.from_pretrained(path, local_files_only=True)
        )
        if _is_causal(config):
            return HFCausalLMBackbone(
                AutoModelForCausalLM.from_pretrained(path, local_files_only=True, **kwargs), tokenizer
            )
        return HFEncoderBackbone(AutoModel.from_pretrained(path, local_files_only=True, **kwargs), tokenizer)
    except OSError as exc:
        raise _missing(f"hf:{path}", exc) from exc


def load_clip(path: str, **kwargs: Any) -> ClipBackbone:
    """``clip:<id-or-path>``: a Hugging Face ``CLIPModel`` and its tokenizer.

    Raises:
        DependencyError: when the model cannot be found offline.
        ModalityError: when the folder holds another kind of model (its ``config.model_type``).
        ConfigError: for a folder without tokenizer files.
    """
    from transformers import AutoTokenizer, CLIPModel

    config = _hf_config(f"clip:{path}", path)
    if config.model_type != "clip":
        raise ModalityError(
            f"clip:{path} is a {config.model_type!r} model, not CLIP (config.model_type must be 'clip'); "
            f"load it with hf:{path}, or pair it with a vision backbone ('hf:{path}+efficientnet-lite0')."
        )
    try:
        tokenizer = _check_tokenizer(
            f"clip:{path}", path, AutoTokenizer.from_pretrained(path, local_files_only=True)
        )
        return ClipBackbone(CLIPModel.from_pretrained(path, local_files_only=True, **kwargs), tokenizer)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise _missing(f"clip:{path}", exc) from exc
