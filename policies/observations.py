"""Observation encoders: rlft Dict observations -> fixed-shape numpy arrays a head consumes.

The same encoder serves the native path (``AgentPolicy.act`` / ``evaluate_actions``) and the SB3
wrappers (whose Box observation space it declares), so both views of an observation are identical.

Web arrays (K candidates, Lp observation tokens, Lc command tokens):
``obs_ids``/``obs_mask`` [Lp] (left-padded prompts for causal LMs), ``cand_ids``/``cand_mask`` [K, Lc],
``cand_valid`` [K] (candidates are commands with what they act on), and with the late-interaction
token scorers ``obs_query`` [Lp] (:data:`INSTRUCTION_MARK` on instruction tokens, :data:`HISTORY_MARK` on
history tokens, 0 elsewhere). Tabletop arrays: ``rgb`` [3, H, W]
uint8 (the camera ``rgb`` or the top-down
``colormap``; channels first, the layout SB3 expects of images, so it does not transpose them),
``depth`` [H, W] float32 (``depth`` or ``heightmap``, when the env has one),
``instr_ids``/``instr_mask`` [Li] (when the backbone reads text), ``state`` [S] float32 (when the env
has the opt-in ``step`` / ``ee_state`` keys; :func:`rlft.policies.tabletop_heads.state_features`).
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
from rlft.policies.marks import HISTORY_MARK, INSTRUCTION_MARK

logger = logging.getLogger(__name__)

PROMPT_SUFFIX = "\nNext action:"
"""Ends every causal-LM prompt; commands follow it after a space."""


HISTORY_KEY = "history"
"""Observation key of the episode's recent steps (``Text``, one ``N. command -> result`` per line)."""
DESCRIPTIONS_KEY = "admissible_descriptions"
"""Observation key of what each admissible command acts on (a tuple parallel to the commands)."""
CANDIDATE_SEPARATOR = " | "
"""Joins a command and its description in the candidate text: ``click[6] | link "Acme ..." $35.99``."""


def _text(obs: Mapping[str, Any], key: str) -> str:
    value = obs.get(key)
    return "" if value is None else str(value)


def web_observation_parts(obs: Mapping[str, Any]) -> tuple[str, str, str]:
    """The observation text in three parts: ``(instruction, history, page)``.

    The instruction part is always kept in full, the history part up to ``max_history_tokens`` (its
    most recent lines), and the page part (url, last error, page) fills what is left, so truncation
    only ever drops the end of the page. A missing ``history`` key (older datasets, other envs) reads as
    an empty history.
    """
    instruction = f"Instruction: {_text(obs, 'instruction')}"
    history = _text(obs, HISTORY_KEY).strip()
    history_part = f"\nPrevious actions:\n{history}" if history else ""
    page = []
    if obs.get("url"):
        page.append(f"URL: {obs['url']}")
    if obs.get("last_action_error"):
        page.append(f"Last action error: {obs['last_action_error']}")
    page.append(f"Page:\n{_text(obs, 'page')}")
    return instruction, history_part, "\n" + "\n".join(page)


def web_observation_text(obs: Mapping[str, Any]) -> str:
    """The whole text a web policy reads: instruction, history, url, last error, page (in that order)."""
    return "".join(web_observation_parts(obs))


def commands_of(obs: Mapping[str, Any]) -> list[str]:
    """The admissible commands of a web observation as a list of strings."""
    return [str(c) for c in (obs.get("admissible_commands") or ())]


def descriptions_of(obs: Mapping[str, Any]) -> list[str]:
    """What each admissible command acts on, parallel to :func:`commands_of` (``""`` where unknown).

    A missing ``admissible_descriptions`` key, or one shorter than the commands, reads as empty
    descriptions (the policy then scores the bare commands).
    """
    n = len(obs.get("admissible_commands") or ())
    given = [str(d) for d in (obs.get(DESCRIPTIONS_KEY) or ())][:n]
    return given + [""] * (n - len(given))


def separator_ids(tokenizer: Any) -> list[int]:
    """The token ids ``tokenizer`` may spell :data:`CANDIDATE_SEPARATOR`'s ``|`` with (``|``, ``Ġ|``)."""
    ids: set[int] = set()
    for text in (CANDIDATE_SEPARATOR, CANDIDATE_SEPARATOR.strip(), "x" + CANDIDATE_SEPARATOR + "x"):
        for token_id in tokenizer(text, add_special_tokens=False)["input_ids"]:
            if "|" in tokenizer.convert_ids_to_tokens(token_id):
                ids.add(int(token_id))
    return sorted(ids)


def candidate_texts(obs: Mapping[str, Any]) -> list[str]:
    """Each admissible command with what it acts on: ``click[6] | link "Acme ..." $35.99``.

    The command comes first, so truncating a long description keeps the command itself.
    """
    return [
        f"{cmd}{CANDIDATE_SEPARATOR}{desc}" if desc else cmd
        for cmd, desc in zip(commands_of(obs), descriptions_of(obs), strict=True)
    ]


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


def _special_frame(backbone: Backbone) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one text (``[CLS]`` / ``[SEP]``, BOS ...)."""
    probe = "a"
    framed = backbone.token_ids([probe])[0]
    bare = backbone.token_ids([probe], add_special_tokens=False)[0]
    for start in range(len(framed) - len(bare) + 1):
        if framed[start : start + len(bare)] == bare:
            return list(framed[:start]), list(framed[start + len(bare) :])
    return [], []


class WebObservationEncoder:
    """Tokenizes web observations and their admissible commands with the backbone's tokenizer.

    The observation is composed token by token from :func:`web_observation_parts`: the instruction is
    kept in full (up to the whole budget), then the most recent ``max_history_tokens`` of the history,
    then as much of the page as fits; truncation only drops the end of the page. Each candidate is a
    command with what it acts on (:func:`candidate_texts`). With ``query_mask`` the encoder also marks
    the instruction and history tokens (``obs_query`` [Lp]), which the late-interaction scorer matches
    candidate tokens against.
    """

    def __init__(
        self, backbone: Backbone, config: PolicyConfig, generative: bool, query_mask: bool = False
    ) -> None:
        self.backbone = backbone
        self.generative = generative
        self.query_mask = query_mask
        self.history_len = config.max_history_tokens
        self.cmd_len = capped_tokens("max_command_tokens", config.max_command_tokens, backbone)
        # A causal LM reads the prompt and the command as one sequence.
        reserved = self.cmd_len if generative else 0
        self.obs_len = capped_tokens("max_obs_tokens", config.max_obs_tokens, backbone, reserved)
        tok = backbone.tokenizer
        self.pad_id = int(tok.pad_token_id) if tok is not None and tok.pad_token_id is not None else 0
        self.eos_id = tok.eos_token_id if tok is not None else None
        # A backbone without a tokenizer (it overrides tokenize) gets the whole text truncated at its end.
        self.composes = tok is not None
        self.prefix: list[int] = []
        self.end: list[int] = []
        if self.composes:
            self.prefix, self.end = _special_frame(backbone)
        if generative:
            self.end = backbone.token_ids([PROMPT_SUFFIX], add_special_tokens=False)[0]

    def observation_space(self, num_candidates: int) -> spaces.Dict:
        """The fixed-shape Box space of :meth:`encode` output with ``num_candidates`` slots."""
        k, lp, lc = num_candidates, self.obs_len, self.cmd_len
        vocab = max(len(self.backbone.tokenizer), 2) if self.backbone.tokenizer is not None else 2**31 - 1

        def ids(shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(0, vocab - 1, shape, np.int64)

        def mask(shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(0, 1, shape, np.int64)

        entries: dict[str, spaces.Space] = {
            "obs_ids": ids((lp,)),
            "obs_mask": mask((lp,)),
            "cand_ids": ids((k, lc)),
            "cand_mask": mask((k, lc)),
            "cand_valid": mask((k,)),
        }
        if self.query_mask:
            entries["obs_query"] = spaces.Box(0, HISTORY_MARK, (lp,), np.int64)
        return spaces.Dict(entries)

    def _compose(
        self, observations: Sequence[Mapping[str, Any]]
    ) -> tuple[list[list[int]], list[tuple[int, int]]]:
        """Token rows of the observations and, per row, how many body tokens are instruction and history."""
        parts = [web_observation_parts(obs) for obs in observations]
        instr = self.backbone.token_ids([p[0] for p in parts], add_special_tokens=False)
        hist = self.backbone.token_ids([p[1] for p in parts], add_special_tokens=False)
        page = self.backbone.token_ids([p[2] for p in parts], add_special_tokens=False)
        budget = max(self.obs_len - len(self.prefix) - len(self.end), 1)
        rows, query = [], []
        for i_ids, h_ids, p_ids in zip(instr, hist, page, strict=True):
            body = list(i_ids[:budget])
            room = min(self.history_len, budget - len(body))
            # The most recent steps are at the end of the history: keep its tail.
            body += list(h_ids[max(len(h_ids) - room, 0) :]) if room > 0 else []
            query.append((min(len(i_ids), budget), len(body)))
            body += list(p_ids[: budget - len(body)])
            rows.append(self.prefix + body + self.end)
        return rows, query

    def _prompts(self, observations: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        if not self.composes:
            enc = self.backbone.tokenize([web_observation_text(o) for o in observations], self.obs_len)
            out = {"obs_ids": enc["input_ids"], "obs_mask": enc["attention_mask"]}
            if self.query_mask:  # no token boundaries known: every real token is a query token
                out["obs_query"] = out["obs_mask"].copy()
            return out
        rows, query = self._compose(observations)
        # Causal LMs read left-padded prompts that end where the command starts.
        left = self.generative
        ids, mask = _pad_rows(rows, self.obs_len, self.pad_id, left=left)
        out = {"obs_ids": ids, "obs_mask": mask}
        if self.query_mask:
            marks = np.zeros_like(mask)
            for i, (row, (n_instr, n)) in enumerate(zip(rows, query, strict=True)):
                start = (self.obs_len - len(row) if left else 0) + len(self.prefix)
                marks[i, start : start + n] = HISTORY_MARK
                marks[i, start : start + n_instr] = INSTRUCTION_MARK
            out["obs_query"] = marks
        return out

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
            observations: Web observation dicts (``history`` and ``admissible_descriptions`` are read
                when present; missing ones read as empty).
            num_candidates: K slots per observation; extra commands are dropped (the SB3 view). ``None``
                uses the largest candidate count in the batch (the native view: nothing dropped).
        """
        cand_lists = [candidate_texts(obs) for obs in observations]
        k = num_candidates if num_candidates is not None else max([1, *map(len, cand_lists)])
        cand_lists = [cands[:k] for cands in cand_lists]
        out = self._prompts(observations)
        flat_ids, flat_mask = self._commands([c for cands in cand_lists for c in cands])
        b = len(observations)
        cand_ids = np.full((b, k, self.cmd_len), self.pad_id, dtype=np.int64)
        cand_mask = np.zeros((b, k, self.cmd_len), dtype=np.int64)
        cand_valid = np.zeros((b, k), dtype=np.int64)
        start = 0
        for i, cands in enumerate(cand_lists):
            n = len(cands)
            cand_ids[i, :n] = flat_ids[start : start + n]
            cand_mask[i, :n] = flat_mask[start : start + n]
            cand_valid[i, :n] = 1
            start += n
        out.update(cand_ids=cand_ids, cand_mask=cand_mask, cand_valid=cand_valid)
        return out


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
        if self.interface.state_keys:
            from rlft.policies.tabletop_heads import state_dim

            size = state_dim(self.interface.state_keys)
            entries["state"] = spaces.Box(-np.inf, np.inf, (size,), np.float32)
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
        if self.interface.state_keys:
            from rlft.policies.tabletop_heads import state_features

            out["state"] = state_features(observations, self.interface.state_keys)
        return out
