"""Reward models: a pretrained backbone and a scalar head over (instruction, episode text).

Reward models are the policies' siblings: the same backbone registry (``minilm``, ``hf:<id-or-path>``,
``tiny-bert`` ...), the same fine-tuning modes (frozen, LoRA, full) and the same checkpoint files
(``model.safetensors`` + ``config.json``, nothing unpickled). Training lives in :mod:`rlft.agents.rm`;
best-of-N search and RL from a learned reward use one method, :meth:`RewardModel.score`.

How a pair is read: the instruction and the episode's text (its transcript; for web, the commands and
the pages seen) are encoded separately, each as one token sequence ``[start] text [end]`` where the
special tokens are the tokenizer's own (``[CLS]``/``[SEP]`` for BERT-likes, EOS at the end for causal
LMs). The instruction keeps its first ``max_instruction_tokens`` tokens and the episode its *last*
``max_episode_tokens`` (the outcome of an episode, what was bought or answered, is at its end).

Three heads (``head``):

* ``grounded`` (the default wherever the backbone gives per-token states, encoders such as MiniLM): the
  web policies' cross-attention scorer (:class:`~rlft.policies.heads.CrossAttentionScorerHead`) with
  the instruction as the observation and the episode as the one candidate. Every episode token reads
  the instruction's tokens, carries whether its id occurs there (exact match) with a learned salience,
  and numbers are compared in log space (a price against "under 40 dollars"). A pooled vector holds
  every word of the final page at once; "purple" in the order line and in the instruction is what
  decides a WebShop purchase's score, and the token-level match says it outright.
* ``pooled``: an MLP over ``[u, v, u * v, |u - v|]`` of the two unit-normalised pooled vectors (any text
  backbone, causal LMs included; what ``auto`` picks for them).
* ``image`` (tabletop, where the outcome is a scene, not a text): the episode is its *final frame* (the
  ``rgb_array`` render :func:`rlft.agents.episodes.final_frame` returns, what ``rlft compare`` stores as
  ``.npy``), read with the instruction by a vision-language backbone (``minilm+efficientnet``,
  ``tiny-clip``, ``hf:``): the ``ee_delta`` policies' trunk (:class:`~rlft.policies.tabletop_heads.
  EEDeltaTrunk`: image features FiLM-conditioned on the instruction, fused with the pixels and
  coordinate channels at a 32 x 32 grid, keypoints by spatial softmax) and its scalar readout as the
  reward. ``rlft train rm`` picks it when the comparisons hold tabletop episodes.

Two traps of reward models over padded batches are handled here and tested:

* *padding side*: encoders (BERT) number positions from the first column, so a left-padded row would
  be read with shifted positions. :meth:`RewardModel.encode_tokens` moves every row's real tokens to the
  front (right padding) before an encoder sees it; causal LMs derive positions from the attention mask
  and pool the last attended token, so both sides give the same vectors.
* *pad token equal to EOS*: causal tokenizers often lack a pad token and pad with EOS (see
  :mod:`rlft.policies.hf`). The pooled position comes from the attention mask, never from searching
  the ids for the first EOS, so the appended EOS (or an EOS inside the text) is not mistaken for padding.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from rlft.errors import (
    CheckpointError,
    ConfigError,
    ModalityError,
    atomic_write_text,
    check_choice,
    check_int,
)
from rlft.policies.backbone import TEXT_MODALITIES, Backbone, has_token_states
from rlft.policies.checkpoint import CONFIG_FILE, WEIGHTS_FILE, fingerprint, is_stored, named_tensors
from rlft.policies.config import FINETUNE_MODES, check_known_fields
from rlft.policies.device import resolve_device
from rlft.policies.encode_cache import cache_frozen_images, cache_frozen_text, cache_frozen_tokens
from rlft.policies.finetune import apply_finetune
from rlft.policies.heads import CrossAttentionScorerHead
from rlft.policies.hf import hf_progress_bars
from rlft.policies.marks import INSTRUCTION_MARK
from rlft.policies.numbers import number_table
from rlft.policies.registry import load_backbone, spec_modality
from rlft.policies.tabletop_heads import EEDeltaTrunk
from torch import nn

__all__ = ["FORMAT", "REWARD_HEADS", "RewardModel", "RewardModelConfig", "load_reward_model", "right_align"]

logger = logging.getLogger(__name__)

FORMAT = "rlft-reward-model"
FORMAT_VERSION = 1

REWARD_HEADS = ("auto", "grounded", "pooled", "image")
"""Reward heads: ``grounded`` (token-level matching; needs per-token states), ``pooled`` (pooled
vectors; any text backbone), ``image`` (the final frame and the instruction; a vision-language backbone)
and ``auto`` (for text episodes: grounded when the backbone has per-token states, else pooled)."""


@dataclass
class RewardModelConfig:
    """Everything needed to rebuild a :class:`RewardModel` (stored in its ``config.json``)."""

    backbone: str = "minilm"
    """Backbone spec passed to ``load_backbone`` (a text, causal-LM or vision-language backbone, whose
    text tower is used): ``minilm``, ``smollm2-135m``, ``hf:<id-or-path>``, ``tiny-bert`` ..."""
    finetune: str = "frozen"
    """``frozen`` (only the head trains; encodings are cached, fast on a CPU), ``lora`` or ``full``."""
    lora_rank: int = 8
    """LoRA rank r."""
    lora_alpha: float = 16.0
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    max_instruction_tokens: int = 64
    """Tokens of the instruction (its beginning is kept)."""
    max_episode_tokens: int = 256
    """Tokens of the episode text (its end is kept: the outcome)."""
    head: str = "auto"
    """``grounded``, ``pooled``, ``image`` or ``auto`` (see the module docstring). Checkpoints saved
    before heads were selectable load as ``pooled``."""
    head_hidden: int = 256
    """Width of the head's hidden layer."""
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the backbone factory (JSON-serialisable)."""
    seed: int = 0
    """Seed of the head's (and LoRA's) initial weights."""

    def __post_init__(self) -> None:
        if not isinstance(self.backbone, str) or not self.backbone.strip():
            raise ConfigError(f"backbone={self.backbone!r}: pass a backbone spec such as 'minilm'.")
        check_choice("finetune", self.finetune, FINETUNE_MODES)
        check_choice("head", self.head, REWARD_HEADS)
        check_int("lora_rank", self.lora_rank, 1)
        check_int("max_instruction_tokens", self.max_instruction_tokens, 1)
        check_int("max_episode_tokens", self.max_episode_tokens, 1)
        check_int("head_hidden", self.head_hidden, 1)
        check_int("seed", self.seed, 0)
        if not isinstance(self.backbone_kwargs, dict):
            raise ConfigError(f"backbone_kwargs={self.backbone_kwargs!r}: pass a dict.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardModelConfig:
        """Build from :meth:`to_dict` output.

        Raises:
            ConfigError: for unknown keys (with the closest field name) or invalid values.
        """
        check_known_fields(cls, data)
        return cls(**data)


def right_align(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each row's attended tokens to the front (right padding), keeping their order.

    A left-padded (or otherwise holed) batch becomes the right-padded batch an encoder that numbers
    positions from the first column expects; a right-padded batch is returned unchanged.
    """
    mask = attention_mask.long()
    # A stable sort on "is padding" puts real tokens first without reordering them.
    order = torch.sort((mask == 0).long(), dim=1, stable=True).indices
    return input_ids.gather(1, order), mask.gather(1, order)


def _modality_error(spec: str, modality: str) -> ModalityError:
    return ModalityError(
        f"Reward models read the instruction and the episode as text; backbone {spec!r} is {modality} "
        "and encodes no text. Use a text, causal-LM or vision-language backbone "
        f"({', '.join(TEXT_MODALITIES)})."
    )


class RewardModel(nn.Module):
    """A backbone and a scalar head: ``r(instruction, episode text)`` (see the module docstring).

    Build one with ``RewardModel(config)`` (or pass an already loaded ``backbone``); load a saved one with
    :func:`load_reward_model`. Attributes: ``config``, ``backbone``, ``head``.

    Raises:
        ModalityError: the backbone encodes no text (a vision-only backbone).
        UnknownBackboneError: unknown backbone spec.
    """

    def __init__(
        self,
        config: RewardModelConfig,
        backbone: Backbone | None = None,
        *,
        device: str | torch.device | None = "cpu",
        progress: bool = True,
    ) -> None:
        super().__init__()
        declared = spec_modality(config.backbone) if backbone is None else backbone.modality
        if declared is not None and declared not in TEXT_MODALITIES:
            raise _modality_error(config.backbone, declared)
        if backbone is None:
            with hf_progress_bars(progress):
                backbone = load_backbone(config.backbone, **config.backbone_kwargs)
        if backbone.modality not in TEXT_MODALITIES:
            raise _modality_error(config.backbone, backbone.modality)
        apply_finetune(
            backbone, config.finetune, rank=config.lora_rank, alpha=config.lora_alpha, seed=config.seed
        )
        self.config = config
        self.backbone = backbone
        self.metrics: dict[str, Any] = {}
        """Metrics stored with the checkpoint (held-out accuracy, calibration), empty for a fresh model."""
        self.head_kind = _resolve_head(config, backbone)
        """The head in use: ``grounded`` or ``pooled`` (``auto`` resolved for this backbone)."""
        self.head: nn.Module
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            if self.head_kind == "image":
                self.head = EEDeltaTrunk(
                    backbone.vision_channels, backbone.hidden_size, 0, config.head_hidden, has_depth=False
                )
            elif self.head_kind == "grounded":
                table = number_table(backbone.tokenizer) if backbone.tokenizer is not None else None
                self.head = CrossAttentionScorerHead(
                    backbone.hidden_size, config.head_hidden, number_table=table
                )
            else:
                self.head = nn.Sequential(
                    nn.Linear(4 * backbone.hidden_size, config.head_hidden),
                    nn.GELU(),
                    nn.Linear(config.head_hidden, 1),
                )
        tok = backbone.tokenizer
        self._start = [tok.cls_token_id] if getattr(tok, "cls_token_id", None) is not None else []
        end = getattr(tok, "sep_token_id", None)
        end = end if end is not None else getattr(tok, "eos_token_id", None)
        self._end = [end] if end is not None else []
        pad = getattr(tok, "pad_token_id", None)
        self._pad = int(pad) if pad is not None else (self._end[0] if self._end else 0)
        limit = backbone.max_positions
        self._limit = None if limit is None else int(limit) - len(self._start) - len(self._end)
        cache = cache_frozen_tokens if self.head_kind == "grounded" else cache_frozen_text  # image: its text
        self.cache = cache(backbone) if self.backbone_is_frozen() else None
        if self.head_kind == "image" and self.backbone_is_frozen():
            cache_frozen_images(backbone)  # every epoch reads the same final frames
        self.to(resolve_device(device))
        self.train(False)

    # ------------------------------------------------------------------ basics
    @property
    def device(self) -> torch.device:
        """Where the head's weights live."""
        return next(self.head.parameters()).device

    @property
    def reads_frames(self) -> bool:
        """Whether episodes are final frames (``image`` head), not texts."""
        return self.head_kind == "image"

    def backbone_is_frozen(self) -> bool:
        """True when no backbone parameter trains."""
        return not any(p.requires_grad for p in self.backbone.parameters())

    def train(self, mode: bool = True) -> RewardModel:
        """Training mode for the head (and a trainable backbone); a frozen backbone stays in eval mode."""
        super().train(mode)
        if self.backbone_is_frozen():
            self.backbone.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters an optimizer should update."""
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ tokens
    def tokenize(
        self, texts: Sequence[str], max_tokens: int, *, keep: str = "start", padding_side: str = "right"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[start] text [end]`` per row, cut to ``max_tokens`` text tokens, padded to the longest row.

        Args:
            texts: the texts.
            max_tokens: text tokens kept per row (also capped by the backbone's position limit).
            keep: ``start`` keeps the beginning of a long text, ``end`` its end.
            padding_side: ``right`` or ``left`` (the scores do not depend on it).

        Returns:
            ``input_ids`` and ``attention_mask``, ``[N, L]`` int64 tensors on the model's device.
        """
        check_choice("keep", keep, ("start", "end"))
        check_choice("padding_side", padding_side, ("left", "right"))
        budget = max_tokens if self._limit is None else max(1, min(max_tokens, self._limit))
        rows = []
        for ids in self.backbone.token_ids(list(texts), add_special_tokens=False):
            ids = list(ids[:budget] if keep == "start" else ids[max(0, len(ids) - budget) :])
            rows.append(self._start + ids + self._end)
        width = max((len(r) for r in rows), default=1)
        input_ids = np.full((len(rows), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            span = slice(0, len(row)) if padding_side == "right" else slice(width - len(row), width)
            input_ids[i, span] = row
            mask[i, span] = 1
        return torch.as_tensor(input_ids, device=self.device), torch.as_tensor(mask, device=self.device)

    def encode_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled, unit-normalised vectors ``[N, hidden]`` of token rows padded on either side."""
        if self.backbone.modality != "causal_lm":
            # Encoders number positions from column 0: only right padding reads a row as it is.
            input_ids, attention_mask = right_align(input_ids, attention_mask)
        return F.normalize(self.backbone.encode_text(input_ids, attention_mask).float(), dim=-1)

    def encode(self, texts: Sequence[str], max_tokens: int, keep: str = "start") -> torch.Tensor:
        """Pooled vectors of ``texts`` (see :meth:`tokenize` and :meth:`encode_tokens`)."""
        return self.encode_tokens(*self.tokenize(texts, max_tokens, keep=keep))

    def token_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Per-token states ``[N, L, hidden]`` of right-aligned token rows (the grounded head's input)."""
        input_ids, attention_mask = right_align(input_ids, attention_mask)
        return self.backbone.encode_tokens(input_ids, attention_mask).float()

    # ------------------------------------------------------------------ rewards
    def grounded_rewards(self, instructions: Sequence[str], episodes: Sequence[str]) -> torch.Tensor:
        """The grounded head: rewards ``[N]``, each episode's tokens reading its instruction's."""
        cfg = self.config
        # tokenize pads on the right, so these ids line up with the states token_states returns.
        ins_ids, ins_mask = self.tokenize(instructions, cfg.max_instruction_tokens, keep="start")
        ep_ids, ep_mask = self.tokenize(episodes, cfg.max_episode_tokens, keep="end")
        head: Any = self.head
        scores, _ = head.score_tokens(
            self.token_states(ins_ids, ins_mask),
            ins_mask,
            ins_mask * INSTRUCTION_MARK,
            self.token_states(ep_ids, ep_mask),
            ep_mask,
            torch.ones((len(episodes), 1), dtype=torch.bool, device=ins_ids.device),
            ins_ids,
            ep_ids,
        )
        return scores

    def image_rewards(self, instructions: Sequence[str], frames: Sequence[np.ndarray]) -> torch.Tensor:
        """The image head: rewards ``[N]`` of final frames (``H x W x 3`` uint8, one size) for instructions.

        Raises:
            ConfigError: a frame is not an ``H x W x 3`` array, or the frames differ in size.
        """
        shapes = {np.shape(f) for f in frames}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[2] != 3:
            raise ConfigError(
                f"The image reward head reads final frames, H x W x 3 arrays of one size; got shapes "
                f"{sorted(shapes)[:3]}. Pass episodes as frames (rlft.agents.episodes.final_frame)."
            )
        pixels = torch.as_tensor(np.stack([np.asarray(f) for f in frames]), device=self.device)
        ids, mask = self.tokenize(instructions, self.config.max_instruction_tokens, keep="start")
        batch = {"rgb": pixels.permute(0, 3, 1, 2).float() / 255.0, "instr_ids": ids, "instr_mask": mask}
        _, rewards = self.head(self.backbone, batch)
        return rewards

    def reward_from_vectors(self, instruction: torch.Tensor, episode: torch.Tensor) -> torch.Tensor:
        """The head: rewards ``[N]`` from instruction and episode vectors ``[N, hidden]``."""
        features = torch.cat(
            [instruction, episode, instruction * episode, (instruction - episode).abs()], dim=-1
        )
        return self.head(features).squeeze(-1)

    def forward(self, instructions: Sequence[str], episodes: Sequence[Any]) -> torch.Tensor:
        """Rewards ``[N]`` (with gradients) of ``episodes[i]`` for ``instructions[i]``.

        Episodes are texts (:func:`rlft.agents.episodes.episode_text`), or final frames for the image head
        (:attr:`reads_frames`).

        Raises:
            ConfigError: when the two lists differ in length, or an episode is of the other kind.
        """
        if len(instructions) != len(episodes):
            raise ConfigError(
                f"{len(instructions)} instructions for {len(episodes)} episodes: pass one of each per row."
            )
        texts = all(isinstance(e, str) for e in episodes)
        if episodes and texts == self.reads_frames:
            want = "final frames (H x W x 3 arrays)" if self.reads_frames else "texts (episode_text)"
            raise ConfigError(f"This reward model ({self.head_kind} head) reads episodes as {want}.")
        if self.head_kind == "image":
            return self.image_rewards(instructions, episodes)
        if self.head_kind == "grounded":
            return self.grounded_rewards(instructions, episodes)
        cfg = self.config
        return self.reward_from_vectors(
            self.encode(instructions, cfg.max_instruction_tokens, "start"),
            self.encode(episodes, cfg.max_episode_tokens, "end"),
        )

    def score(self, instructions: Sequence[str], episodes: Sequence[Any], batch_size: int = 32) -> np.ndarray:
        """Rewards of ``episodes[i]`` for ``instructions[i]`` as a float64 array (no gradients).

        Episodes are texts, or frames (see :meth:`forward`). The one interface best-of-N search and RL
        from a learned reward use. Scores do not depend on how rows are batched.
        """
        check_int("batch_size", batch_size, 1)
        was_training = self.training
        self.train(False)
        out: list[np.ndarray] = []
        try:
            with torch.no_grad():
                for start in range(0, len(episodes), batch_size):
                    chunk = slice(start, start + batch_size)
                    out.append(self(instructions[chunk], episodes[chunk]).double().cpu().numpy())
        finally:
            self.train(was_training)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)

    # ------------------------------------------------------------------ checkpoints
    def save_pretrained(
        self, directory: str | Path, metrics: dict[str, Any] | None = None, include_frozen: bool = False
    ) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (created if missing).

        Frozen backbone weights are not stored (unless ``include_frozen``): they are rebuilt from the
        backbone spec on load and checked against a SHA-256 fingerprint. ``metrics`` (held-out accuracy,
        calibration ...) are kept in ``config.json`` for reference.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = named_tensors(self)
        stored = {
            n: t.detach().cpu().contiguous() for n, t in tensors.items() if is_stored(n, t, include_frozen)
        }
        frozen = {n: t for n, t in tensors.items() if n not in stored}
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "reward_config": self.config.to_dict(),
            "stored_tensors": sorted(stored),
            "frozen_fingerprint": fingerprint(frozen),
            "metrics": metrics or {},
        }
        # Weights first, config last: a folder with a config.json is complete.
        save_file(stored, str(directory / WEIGHTS_FILE), metadata={"format": FORMAT})
        atomic_write_text(directory / CONFIG_FILE, json.dumps(meta, indent=2, sort_keys=True))
        return directory

    def save(self, directory: str | Path) -> Path:
        """Alias of :meth:`save_pretrained` (what training checkpoints call)."""
        return self.save_pretrained(directory)


def _resolve_head(config: RewardModelConfig, backbone: Backbone) -> str:
    """``grounded``, ``pooled`` or ``image`` for ``config.head`` on ``backbone``.

    Raises:
        ModalityError: ``grounded`` asked of a backbone without per-token states, or ``image`` of one that
            encodes no images.
    """
    if config.head == "image":
        if backbone.modality != "vision_language":
            raise ModalityError(
                f"head='image' reads the final frame with the instruction, so it needs a vision-language "
                f"backbone (minilm+efficientnet, tiny-clip, hf:<clip-like id>); {config.backbone!r} is "
                f"{backbone.modality}."
            )
        return "image"
    has_tokens = has_token_states(backbone)
    if config.head == "auto":
        return "grounded" if has_tokens else "pooled"
    if config.head == "grounded" and not has_tokens:
        raise ModalityError(
            f"head='grounded' reads per-token states (Backbone.encode_tokens), which {config.backbone!r} "
            "does not provide; use head='pooled' (--reward-kwarg head=pooled) or an encoder such as minilm."
        )
    return config.head


def read_reward_config(directory: str | Path) -> dict[str, Any]:
    """Parse and check a reward model's ``config.json``.

    Raises:
        CheckpointError: when it is missing, corrupt, or not a reward model.
    """
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(
            f"No {CONFIG_FILE} in {directory}: not an rlft reward model (train one with rlft train rm)."
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        hint = " (it is a policy; pass a reward model from rlft train rm)" if "policy_config" in meta else ""
        raise CheckpointError(f"{path} is not an rlft reward model{hint}.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {meta.get('format_version')}; this rlft reads {FORMAT_VERSION}."
        )
    return meta


def load_reward_model(
    directory: str | Path, device: str | torch.device | None = "cpu", progress: bool = True
) -> RewardModel:
    """Load a reward model saved with :meth:`RewardModel.save_pretrained`.

    ``directory`` may also be a training run folder (``rlft train rm --out``): its ``best/`` model is
    loaded, else its last (``model/``).

    Raises:
        CheckpointError: missing or corrupt files, tensors that do not fit, or frozen backbone weights
            that differ from those it was trained with.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    if not (directory / CONFIG_FILE).is_file():
        # A training run folder: its best model, else its last one.
        directory = next(
            (directory / sub for sub in ("best", "model") if (directory / sub / CONFIG_FILE).is_file()),
            directory,
        )
    meta = read_reward_config(directory)
    try:
        # Reward models saved before heads were selectable have the pooled head.
        config = RewardModelConfig.from_dict({"head": "pooled", **meta["reward_config"]})
        stored_names = set(meta["stored_tensors"])
        expected_fingerprint = meta["frozen_fingerprint"]
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE} is incomplete or invalid: {exc}") from exc
    try:
        stored = load_file(str(directory / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{directory / WEIGHTS_FILE} is missing or corrupt: {exc}") from exc
    if set(stored) != stored_names:
        raise CheckpointError(
            f"{directory / WEIGHTS_FILE} does not hold the tensors listed in {CONFIG_FILE}."
        )
    model = RewardModel(config, device="cpu", progress=progress)
    tensors = named_tensors(model)
    unknown = sorted(set(stored) - set(tensors))
    if unknown:
        raise CheckpointError(f"Reward model tensors {unknown[:3]} do not exist in the rebuilt model.")
    if fingerprint({n: t for n, t in tensors.items() if n not in stored}) != expected_fingerprint:
        raise CheckpointError(
            f"The frozen weights of backbone {config.backbone!r} differ from those {directory} was trained "
            "with (the backbone files changed)."
        )
    with torch.no_grad():
        for name, value in stored.items():
            if tensors[name].shape != value.shape:
                raise CheckpointError(
                    f"Tensor {name}: stored shape {tuple(value.shape)} != model {tuple(tensors[name].shape)}."
                )
            tensors[name].copy_(value)
    model.metrics = dict(meta.get("metrics") or {})
    return model.to(resolve_device(device))
