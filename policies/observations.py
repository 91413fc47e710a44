"""Observation encoders: rlft Dict observations -> fixed-shape numpy arrays a head consumes.

The same encoder serves the native path (``AgentPolicy.act`` / ``evaluate_actions``) and the SB3
wrappers (whose Box observation space it declares), so both views of an observation are identical.

Web arrays (K candidates, Lp observation tokens, Lc command tokens):
``obs_ids``/``obs_mask`` [Lp] (left-padded prompts for causal LMs), ``cand_ids``/``cand_mask`` [K, Lc],
``cand_valid`` [K]. Tabletop arrays: ``rgb`` [3, H, W] uint8 (the camera ``rgb`` or the top-down
``colormap``; channels first, the layout SB3 expects of images, so it does not transpose them),
``depth`` [H, W] float32 (``depth`` or ``heightmap``, when the env has one),
``instr_ids``/``instr_mask`` [Li] (when the backbone reads text).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from rlft.errors import ModalityError
from rlft.policies.backbone import TEXT_MODALITIES, Backbone
from rlft.policies.config import PolicyConfig
from rlft.policies.interface import EnvInterface

logger = logging.getLogger(__name__)

PROMPT_SUFFIX = "\nNext action:"
"""Ends every causal-LM prompt; commands follow it after a space."""


def web_observation_text(obs: Mapping[str, Any]) -> str:
    """The text a web policy reads: instruction first (so truncation drops the end of the page)."""
    parts = [f"Instruction: {obs.get('instruction', '')}"]
    if obs.get("url"):
        parts.append(f"URL: {obs['url']}")
    if obs.get("last_action_error"):
        parts.append(f"Last action error: {obs['last_action_error']}")
    parts.append(f"Page:\n{obs.get('page', '')}")
    return "\n".join(parts)


def commands_of(obs: Mapping[str, Any]) -> list[str]:
    """The admissible commands of a web observation as a list of strings."""
    return [str(c) for c in (obs.get("admissible_commands") or ())]


def _pad_rows(
    rows: Sequence[Sequence[int]], length: int, pad_id: int, left: bool
) -> tuple[np.ndarray, np.ndarray]:
    ids = np.full((len(rows), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        row = list(row)[:length]
        if not row:
            continue
        sl = slice(length - len(row), length) if left else slice(0, len(row))
        ids[i, sl] = row
        mask[i, sl] = 1
    return ids, mask


def capped_tokens(field: str, value: int, backbone: Backbone, reserved: int = 0) -> int:
    """``value`` capped at what the backbone's text stream accepts (``max_positions - reserved``).

    A Hugging Face model cannot embed positions beyond its ``max_position_embeddings``; longer token
    budgets would fail in the first forward pass, so they are capped here (and the cap is logged).
    """
    limit = backbone.max_positions
    if limit is None or value + reserved <= limit:
        return value
    capped = max(limit - reserved, 1)
    logger.warning(
        "%s=%d exceeds what backbone %s accepts (%d positions%s); using %d",
        field,
        value,
        backbone.spec or type(backbone).__name__,
        limit,
        f", {reserved} kept for the command" if reserved else "",
        capped,
    )
    return capped


class WebObservationEncoder:
    """Tokenizes web observations and their admissible commands with the backbone's tokenizer."""

    def __init__(self, backbone: Backbone, config: PolicyConfig, generative: bool) -> None:
        self.backbone = backbone
        self.generative = generative
        self.cmd_len = capped_tokens("max_command_tokens", config.max_command_tokens, backbone)
        # A causal LM reads the prompt and the command as one sequence.
        reserved = self.cmd_len if generative else 0
        self.obs_len = capped_tokens("max_obs_tokens", config.max_obs_tokens, backbone, reserved)
        tok = backbone.tokenizer
        self.pad_id = int(tok.pad_token_id) if tok is not None and tok.pad_token_id is not None else 0
        self.eos_id = tok.eos_token_id if tok is not None else None
        if generative:
            self.suffix_ids = backbone.token_ids([PROMPT_SUFFIX], add_special_tokens=False)[0]

    def observation_space(self, num_candidates: int) -> spaces.Dict:
        """The fixed-shape Box space of :meth:`encode` output with ``num_candidates`` slots."""
        k, lp, lc = num_candidates, self.obs_len, self.cmd_len
        vocab = max(len(self.backbone.tokenizer), 2) if self.backbone.tokenizer is not None else 2**31 - 1

        def ids(shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(0, vocab - 1, shape, np.int64)

        def mask(shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(0, 1, shape, np.int64)

        return spaces.Dict(
            {
                "obs_ids": ids((lp,)),
                "obs_mask": mask((lp,)),
                "cand_ids": ids((k, lc)),
                "cand_mask": mask((k, lc)),
                "cand_valid": mask((k,)),
            }
        )

    def _prompts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if not self.generative:
            enc = self.backbone.tokenize(texts, self.obs_len)
            return enc["input_ids"], enc["attention_mask"]
        # Keep the start (instruction) and always end with the suffix the commands continue.
        budget = max(self.obs_len - len(self.suffix_ids), 1)
        rows = [ids[:budget] + self.suffix_ids for ids in self.backbone.token_ids(texts)]
        return _pad_rows(rows, self.obs_len, self.pad_id, left=True)

    def _commands(self, commands: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if not commands:
            empty = np.zeros((0, self.cmd_len), dtype=np.int64)
            return empty, empty.copy()
        if not self.generative:
            enc = self.backbone.tokenize(commands, self.cmd_len)
            return enc["input_ids"], enc["attention_mask"]
        eos = [self.eos_id] if self.eos_id is not None else []
        rows = [
            ids[: self.cmd_len - len(eos)] + eos
            for ids in self.backbone.token_ids([" " + c for c in commands], add_special_tokens=False)
        ]
        return _pad_rows(rows, self.cmd_len, self.pad_id, left=False)

    def encode(
        self, observations: Sequence[Mapping[str, Any]], num_candidates: int | None = None
    ) -> dict[str, np.ndarray]:
        """Encode a batch of observations.

        Args:
            observations: Web observation dicts.
            num_candidates: K slots per observation; extra commands are dropped (the SB3 view). ``None``
                uses the largest candidate count in the batch (the native view: nothing dropped).
        """
        cmd_lists = [commands_of(obs) for obs in observations]
        k = num_candidates if num_candidates is not None else max([1, *map(len, cmd_lists)])
        cmd_lists = [cmds[:k] for cmds in cmd_lists]
        obs_ids, obs_mask = self._prompts([web_observation_text(obs) for obs in observations])
        flat_ids, flat_mask = self._commands([c for cmds in cmd_lists for c in cmds])
        b = len(observations)
        cand_ids = np.full((b, k, self.cmd_len), self.pad_id, dtype=np.int64)
        cand_mask = np.zeros((b, k, self.cmd_len), dtype=np.int64)
        cand_valid = np.zeros((b, k), dtype=np.int64)
        start = 0
        for i, cmds in enumerate(cmd_lists):
            n = len(cmds)
            cand_ids[i, :n] = flat_ids[start : start + n]
            cand_mask[i, :n] = flat_mask[start : start + n]
            cand_valid[i, :n] = 1
            start += n
        return {
            "obs_ids": obs_ids,
            "obs_mask": obs_mask,
            "cand_ids": cand_ids,
            "cand_mask": cand_mask,
            "cand_valid": cand_valid,
        }


class TabletopObservationEncoder:
    """Stacks images and tokenizes the instruction (when the backbone reads text)."""

    def __init__(self, backbone: Backbone, config: PolicyConfig, interface: EnvInterface) -> None:
        if interface.image_shape is None:
            raise ModalityError("A tabletop interface needs image_shape (the image observation's shape).")
        self.backbone = backbone
        self.interface = interface
        self.image_shape = interface.image_shape
        self.instr_len = capped_tokens("max_instruction_tokens", config.max_instruction_tokens, backbone)
        self.reads_text = backbone.modality in TEXT_MODALITIES

    def observation_space(self, num_candidates: int | None = None) -> spaces.Dict:
        """The fixed-shape Box space of :meth:`encode` output (``num_candidates`` is ignored)."""
        del num_candidates
        h, w, _ = self.image_shape
        entries: dict[str, spaces.Space] = {"rgb": spaces.Box(0, 255, (3, h, w), np.uint8)}
        if self.interface.has_depth:
            entries["depth"] = spaces.Box(-np.inf, np.inf, (h, w), np.float32)
        if self.reads_text:
            vocab = len(self.backbone.tokenizer) if self.backbone.tokenizer is not None else 2**31 - 1
            entries["instr_ids"] = spaces.Box(0, vocab - 1, (self.instr_len,), np.int64)
            entries["instr_mask"] = spaces.Box(0, 1, (self.instr_len,), np.int64)
        return spaces.Dict(entries)

    def encode(
        self, observations: Sequence[Mapping[str, Any]], num_candidates: int | None = None
    ) -> dict[str, np.ndarray]:
        """Encode a batch of tabletop observations (``num_candidates`` is ignored)."""
        del num_candidates
        rgb = np.stack([np.asarray(o[self.interface.image_key], dtype=np.uint8) for o in observations])
        out: dict[str, np.ndarray] = {"rgb": np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))}
        depth_key = self.interface.depth_key
        if self.interface.has_depth and depth_key is not None:
            depth = np.stack([np.asarray(o[depth_key], dtype=np.float32) for o in observations])
            out["depth"] = np.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0)
        if self.reads_text:
            enc = self.backbone.tokenize(
                [str(o.get("instruction", "")) for o in observations], self.instr_len
            )
            out["instr_ids"] = enc["input_ids"]
            out["instr_mask"] = enc["attention_mask"]
        return out
