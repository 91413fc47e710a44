"""``PolicyConfig``: everything needed to rebuild a policy, as a typed dataclass with a JSON round-trip."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from rlft.errors import ConfigError, check_choice, check_float, check_int, did_you_mean

HEADS: tuple[str, ...] = (
    "auto",
    "text_scorer",
    "generative_scorer",
    "pick_place",
    "ee_gaussian",
    "ee_binned",
)
"""Head kinds: ``auto`` picks from the environment and the backbone's modality."""

SCORERS: tuple[str, ...] = ("biencoder", "late_interaction", "cross_attention")
"""How the web text scorer relates the observation to each candidate (see :mod:`rlft.policies.heads`)."""

FINETUNE_MODES: tuple[str, ...] = ("frozen", "lora", "full")
"""How the backbone is trained: not at all, through LoRA adapters, or every weight."""

FINETUNE_CHOICES: tuple[str, ...] = ("auto", *FINETUNE_MODES)
"""What ``PolicyConfig.finetune`` accepts: ``auto`` is resolved to the family's default when built."""


def check_known_fields(cls: type, data: dict[str, Any]) -> None:
    """Refuse a key of ``data`` that is not a field of the dataclass ``cls`` (configs read from JSON).

    Raises:
        ConfigError: naming the first unknown key, the closest field name and every field.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in data if key not in names]
    if unknown:
        raise ConfigError(
            f"Unknown {cls.__name__} field {unknown[0]!r}.{did_you_mean(unknown[0], names)} "
            f"Fields: {', '.join(names)}."
        )


@dataclass
class PolicyConfig:
    """Configuration of an :class:`~rlft.policies.AgentPolicy` (backbone, head, fine-tuning mode, sizes).

    Validated on construction (``ConfigError`` names the field and the valid values). ``to_json`` /
    ``from_json`` round-trip exactly; checkpoints store it as ``config.json``.
    """

    backbone: str = "minilm"
    """Backbone spec passed to ``load_backbone``: ``minilm``, ``smollm2-135m``, ``minilm+efficientnet``,
    ``tiny-bert``, ``hf:<id-or-path>``, ``clip:<id-or-path>``, ``<text>+<vision>`` or a plug-in name."""
    head: str = "auto"
    """``auto`` (web: text scorer, or generative scorer for causal LMs; tabletop: pick_place, or for
    ``ee_delta`` envs the default continuous head), ``text_scorer``, ``generative_scorer``, ``pick_place``,
    ``ee_gaussian`` (tanh-squashed Gaussian) or ``ee_binned`` (quantile-binned categoricals)."""
    scorer: str = "biencoder"
    """Web text scorer: ``biencoder`` (pooled observation and candidate vectors, an MLP over their
    interaction) or ``late_interaction`` (that plus ColBERT-style max-sim: each instruction or history token
    of the observation, encoded in the same pass as the page, finds its best match among the
    candidate's tokens) or ``cross_attention`` (every candidate token reads the observation's token states
    through one learned cross-attention layer; the page is still encoded once)."""
    lexical_features: bool = True
    """Cross-attention scorer: also use token-id features (whether a candidate token occurs in the
    instruction or history, the matched tokens' salience term, and the number comparison). ``False``
    matches candidates from token states alone (the study's ablation of what pretraining contributes)."""
    state_dropout: float = 0.0
    """Cross-attention scorer: dropout on the backbone's token states as the head reads them, while
    training (a regulariser for BC on few demonstrations, where the head otherwise memorises them). 0 (off)
    keeps PPO's probability ratios exact."""
    distinct_matches: bool = False
    """Cross-attention scorer (with ``lexical_features``): also score the candidate's instruction matches
    weighted by how few of the page's other candidates share them (an inverse document frequency over the
    page's candidates, :func:`rlft.policies.heads.page_distinctness`). Words every option of a page
    repeats (the product context, the combobox's current value) then stop outvoting the one word that
    tells the asked-for option from the others."""
    rank_numbers: bool = False
    """Cross-attention scorer (with ``lexical_features``): also rank each candidate's number against the
    same number of the page's other candidates (:meth:`rlft.policies.heads.CrossAttentionScorerHead.
    rank_numbers`): which number counts (a flight's price or its duration) and whether the smallest or
    the largest is wanted are read from the instruction, for requests such as "the cheapest flight" or
    "the shortest" that name no number to compare with."""
    context_matches: bool = True
    """Cross-attention scorer (with ``lexical_features``): also flag each instruction match whose
    neighbouring instruction word the candidate holds too (:func:`rlft.policies.heads.context_matches`):
    "from Hanoi to Lagos" puts Hanoi in ``combobox "From"``, not in the To box that offers it as well.
    Inert with ``lexical_features=False``. Configs saved before this field existed load with ``False``
    (the head they were trained with)."""
    match_commands: bool = False
    """Cross-attention scorer: the instruction flags and the number features also read each candidate's
    command (``click[7]``), not just its description. ``False`` (new policies) reads the description
    alone: the command holds the element number, no quantity (beside "the 7th result" or "4 passengers"
    it matches the wrong element), and arguments the description repeats. Configs saved before this
    field existed load with ``True`` (the head they were trained with)."""
    finetune: str = "auto"
    """``frozen`` (only the head trains), ``lora`` (peft adapters on the backbone), ``full``, or ``auto``:
    the family's default, resolved (and stored) when the policy is built: ``lora`` for web policies (a
    frozen pooled embedding cannot relate the instruction's words to a candidate's; ``frozen`` when the
    backbone declares no LoRA targets), ``frozen`` for tabletop ones."""
    lora_rank: int = 8
    """LoRA rank r."""
    lora_alpha: float = 16.0
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input; 0 keeps PPO's probability ratios exact."""
    max_obs_tokens: int = 256
    """Tokens of the web observation text (instruction, history, url, error, page). The instruction is
    always kept whole and the history up to ``max_history_tokens``; only the end of the page is cut."""
    max_history_tokens: int = 64
    """At most this many tokens of the observation's ``history`` (its most recent steps) are read."""
    max_command_tokens: int = 48
    """Tokens per candidate: the command, then what it acts on (its description), cut at the end."""
    max_instruction_tokens: int = 32
    """Tokens of the tabletop instruction."""
    max_candidates: int = 160
    """K: admissible commands kept per step in the fixed-shape SB3 view (Discrete(K); WebFormDropdown
    offers up to ~136 commands, the expert always among them); the native
    ``act``/``evaluate_actions`` path scores every candidate regardless."""
    head_hidden: int = 256
    """Width of the head MLPs / convolution channels."""
    length_normalize: bool = False
    """Generative scorer: score = mean instead of sum of the command's token log-probabilities."""
    grid_size: int = 64
    """Pick-and-place: the table is a grid_size x grid_size grid of cells in normalised coordinates
    (actions are cell centres: at most 1 / grid_size from any point). Replaying the tabletop experts
    through this quantisation (5 seeds per task) succeeds in every episode of all 11 tasks at 64 x 64
    with 33 yaw bins, against 78% at 32 x 32 with 9 bins."""
    ee_bins: int = 32
    """``ee_binned``: bins per ``ee_delta`` action dimension (quantiles of the demonstrations)."""
    yaw_bins: int = 33
    """Pick-and-place: number of yaw bins over the normalised yaw range [-1, 1] (odd: 0 is a bin centre)."""
    pixel_skip: bool = True
    """Pick-and-place: also feed the image (and depth) resized to the grid into the grid-resolution stage
    of the head, conditioned on the instruction there (see :class:`rlft.policies.heads.PickPlaceHead`).
    Configs saved before this field existed load with ``False`` (the head they were trained with)."""
    view: str = "auto"
    """Tabletop image: ``top_down`` (colormap + heightmap of envs made with ``heightmap=True``, aligned
    with the pick/place grid), ``camera`` (rgb + depth) or ``auto`` (top-down when available)."""
    image_size: int | None = None
    """Side the vision backbone resizes images to (``None``: the backbone's own default)."""
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the backbone factory (JSON-serialisable)."""
    seed: int = 0
    """Seed of the head's (and LoRA's) initial weights; the same config builds the same policy."""
    torch_threads: int | None = None
    """If set, ``build_policy`` calls ``torch.set_num_threads`` (on a small shared CPU 1 is often
    much faster than torch's default)."""

    def __post_init__(self) -> None:
        if not isinstance(self.backbone, str) or not self.backbone.strip():
            raise ConfigError(f"backbone={self.backbone!r}: pass a backbone spec such as 'minilm'.")
        check_choice("head", self.head, HEADS)
        check_choice("scorer", self.scorer, SCORERS)
        check_choice("finetune", self.finetune, FINETUNE_CHOICES)
        check_choice("view", self.view, ("auto", "camera", "top_down"))
        check_int("lora_rank", self.lora_rank, 1)
        check_float("lora_alpha", self.lora_alpha, 0.0)
        check_float("lora_dropout", self.lora_dropout, 0.0, 1.0)
        if check_float("state_dropout", self.state_dropout, 0.0, 1.0) >= 1.0:
            raise ConfigError(f"state_dropout={self.state_dropout!r} would drop every state; pass < 1.")
        check_int("max_obs_tokens", self.max_obs_tokens, 8)
        check_int("max_history_tokens", self.max_history_tokens, 0)
        check_int("max_command_tokens", self.max_command_tokens, 2)
        check_int("max_instruction_tokens", self.max_instruction_tokens, 2)
        check_int("max_candidates", self.max_candidates, 1)
        check_int("head_hidden", self.head_hidden, 1)
        check_int("grid_size", self.grid_size, 2)
        check_int("yaw_bins", self.yaw_bins, 1)
        check_int("ee_bins", self.ee_bins, 2)
        check_int("seed", self.seed, 0)
        if self.image_size is not None:
            check_int("image_size", self.image_size, 8)
        if self.torch_threads is not None:
            check_int("torch_threads", self.torch_threads, 1)
        flags = (
            "length_normalize",
            "pixel_skip",
            "lexical_features",
            "distinct_matches",
            "rank_numbers",
            "match_commands",
            "context_matches",
        )
        for flag in flags:
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{flag}={getattr(self, flag)!r}: pass True or False.")
        if self.distinct_matches and not self.lexical_features:
            raise ConfigError(
                "distinct_matches=True weights the token-id matches that lexical_features=False turns off; "
                "pass lexical_features=True, or distinct_matches=False."
            )
        if self.rank_numbers and not self.lexical_features:
            raise ConfigError(
                "rank_numbers=True reads the token-id numbers that lexical_features=False turns off; "
                "pass lexical_features=True, or rank_numbers=False."
            )
        if not isinstance(self.backbone_kwargs, dict):
            raise ConfigError(f"backbone_kwargs={self.backbone_kwargs!r}: pass a dict.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyConfig:
        """Build from :meth:`to_dict` output.

        Raises:
            ConfigError: for unknown keys (with the closest field name) or invalid values.
        """
        check_known_fields(cls, data)
        if set(data) >= _PRE_PIXEL_SKIP_FIELDS:
            # A complete to_dict() output: fields added since it was saved keep the head it trained with.
            data = {**_SAVED_BEFORE, **data}
        return cls(**data)

    def to_json(self) -> str:
        """Serialise to a JSON string (sorted keys, indented)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PolicyConfig:
        """Parse :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"PolicyConfig JSON is invalid: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("PolicyConfig JSON must be an object.")
        return cls.from_dict(data)


_PRE_PIXEL_SKIP_FIELDS = frozenset(f.name for f in dataclasses.fields(PolicyConfig)) - {
    "pixel_skip",
    "scorer",
    "max_history_tokens",
    "lexical_features",
    "state_dropout",
    "distinct_matches",
    "rank_numbers",
    "match_commands",
    "context_matches",
}
"""Every field a saved config held before ``pixel_skip`` was added (to recognise those configs)."""
_SAVED_BEFORE: dict[str, Any] = {"pixel_skip": False, "match_commands": True, "context_matches": False}
"""What a saved config without these fields (saved before they existed) was trained with."""
