"""``WebPolicy``: the policy of the web family (text pages, admissible commands, command actions).

Web actions are command strings chosen among ``obs["admissible_commands"]``: the head scores every
candidate, grounded in what it acts on (``admissible_descriptions``) and read with the episode's
``history`` (a bi-encoder :class:`~rlft.policies.heads.TextScorerHead`, its late-interaction variant
:class:`~rlft.policies.heads.LateInteractionScorerHead` with ``scorer="late_interaction"``, or a
causal LM's likelihood with :class:`~rlft.policies.heads.GenerativeScorerHead`) and the action is
one candidate's index. The SB3 view is ``Discrete(K)`` over the first K candidates, with MaskablePPO
masks for the slots in use.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from rlft.errors import ConfigError, ModalityError
from rlft.policies.backbone import TEXT_MODALITIES, Backbone, has_token_states
from rlft.policies.config import PolicyConfig
from rlft.policies.heads import (
    CrossAttentionScorerHead,
    GenerativeScorerHead,
    LateInteractionScorerHead,
    TextScorerHead,
)
from rlft.policies.interface import EnvInterface
from rlft.policies.numbers import number_table
from rlft.policies.observations import WebObservationEncoder, commands_of, separator_ids
from rlft.policies.policy import Action, AgentPolicy, Observation
from rlft.policies.registry import backbones_with_modality
from torch import nn

__all__ = ["WebPolicy"]

WEB_HEADS: tuple[str, ...] = ("text_scorer", "generative_scorer")

TOKEN_SCORERS: dict[str, type[LateInteractionScorerHead] | type[CrossAttentionScorerHead]] = {
    "late_interaction": LateInteractionScorerHead,
    "cross_attention": CrossAttentionScorerHead,
}
"""Text scorers that read per-token states (``Backbone.encode_tokens``) and the instruction marks."""


class WebPolicy(AgentPolicy):
    """Scores the admissible commands of a web observation; actions are command strings."""

    family = "web"
    supports_action_masks = True
    default_finetune = "lora"
    """Web backbones adapt by default: at equal BC wall-clock on WebShop, LoRA reaches a higher
    validation accuracy than a frozen backbone with a trained head (see the README's measurements)."""

    @classmethod
    def choose_head(cls, config: PolicyConfig, modality: str, spec: str) -> str:
        """``text_scorer`` for encoders (and vision-language text towers), ``generative_scorer`` for LMs."""
        if modality not in TEXT_MODALITIES:
            fit = backbones_with_modality(TEXT_MODALITIES)
            raise ModalityError(
                f"Backbone {spec!r} is {modality}; web environments need a backbone that reads text. "
                f"Backbones that fit: {', '.join(fit)}."
            )
        head = config.head
        if head == "auto":
            head = "generative_scorer" if modality == "causal_lm" else "text_scorer"
        if head == "generative_scorer" and modality != "causal_lm":
            raise ModalityError(
                f"head='generative_scorer' needs a causal LM backbone; {spec!r} is {modality}."
            )
        if head not in WEB_HEADS:
            raise ModalityError(
                f"head={head!r} does not fit web environments; use text_scorer or generative_scorer."
            )
        return head

    @classmethod
    def build_head(
        cls, config: PolicyConfig, interface: EnvInterface, backbone: Backbone, head_kind: str
    ) -> nn.Module:
        """The candidate scorer."""
        if head_kind == "generative_scorer":
            return GenerativeScorerHead(backbone.hidden_size, config.head_hidden, config.length_normalize)
        if config.scorer in TOKEN_SCORERS:
            if not has_token_states(backbone):
                raise ModalityError(
                    f"scorer={config.scorer!r} needs per-token encodings (Backbone.encode_tokens), which "
                    f"{config.backbone!r} does not provide; use scorer='biencoder' or a Hugging Face "
                    "encoder such as minilm."
                )
            if config.scorer == "cross_attention":
                tokenizer = backbone.tokenizer
                table = number_table(tokenizer) if tokenizer is not None else None
                separators = None
                if tokenizer is not None and not config.match_commands:
                    separators = torch.tensor(separator_ids(tokenizer), dtype=torch.long)
                return CrossAttentionScorerHead(
                    backbone.hidden_size,
                    config.head_hidden,
                    number_table=table,
                    lexical=config.lexical_features,
                    state_dropout=config.state_dropout,
                    distinct=config.distinct_matches,
                    rank=config.rank_numbers,
                    separator_ids=separators,
                    context=config.context_matches,
                )
            return TOKEN_SCORERS[config.scorer](backbone.hidden_size, config.head_hidden)
        return TextScorerHead(backbone.hidden_size, config.head_hidden)

    def make_encoder(self) -> WebObservationEncoder:
        """Tokenizes the observation text (instruction, history, page) and every grounded command."""
        return WebObservationEncoder(
            self.backbone,
            self.config,
            generative=self.head_kind == "generative_scorer",
            query_mask=self.reads_tokens,
        )

    @property
    def reads_tokens(self) -> bool:
        """Whether the text scorer reads per-token states (late interaction, cross-attention)."""
        return self.head_kind == "text_scorer" and self.config.scorer in TOKEN_SCORERS

    def caches_text_encodings(self) -> bool:
        """Only the bi-encoder reads ``encode_text`` vectors alone.

        The generative scorer reads token log-probabilities, the token scorers per-token states.
        """
        return self.head_kind == "text_scorer" and not self.reads_tokens

    def caches_token_encodings(self) -> bool:
        """The token scorers read ``encode_tokens`` states alone."""
        return self.reads_tokens

    def action_to_index(self, obs: Observation, action: Action) -> int:
        """The candidate position of a command.

        Raises:
            ConfigError: when the command is not among the observation's admissible commands.
        """
        commands = commands_of(obs)
        try:
            return commands.index(str(action))
        except ValueError:
            raise ConfigError(
                f"Action {action!r} is not among the observation's {len(commands)} admissible commands; "
                "web policies score admissible commands only."
            ) from None

    def index_to_action(self, obs: Observation, index: int | np.ndarray) -> str:
        """The command at a candidate position (``""`` for an empty slot, which the env reports)."""
        commands = commands_of(obs)
        i = int(np.asarray(index).reshape(-1)[0])
        return commands[i] if 0 <= i < len(commands) else ""

    def sb3_action_space(self, num_candidates: int) -> spaces.Discrete:
        """``Discrete(K)`` over the first K candidates."""
        return spaces.Discrete(num_candidates)

    def sb3_action_masks(self, obs: Observation, num_candidates: int) -> np.ndarray:
        """The first ``len(admissible_commands)`` slots (slot 0 alone when there is none)."""
        n = len(commands_of(obs))
        mask = np.zeros(num_candidates, dtype=bool)
        mask[: min(n, num_candidates)] = True
        if not mask.any():
            # MaskablePPO rejects all-false masks; slot 0 then maps to "" (a no-op the env reports).
            mask[0] = True
        return mask

    def unselectable_actions(self, obs: Observation, num_candidates: int) -> int:
        """Admissible commands beyond the first ``num_candidates``."""
        return max(0, len(commands_of(obs)) - num_candidates)
