"""``AgentPolicy``: a backbone plus an adapter head that acts in rlft environments, and ``build_policy``.

The policy is a plain ``nn.Module``. Its native interface works on raw observation dicts (variable-size
candidate sets, command-string / float32-array actions); its tensor interface (:meth:`AgentPolicy.forward`
on encoded batches) is what the SB3 bridge calls. Both go through the same observation encoder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from rlft.errors import ConfigError, ModalityError
from rlft.policies.backbone import TEXT_MODALITIES, VISION_MODALITIES, Backbone
from rlft.policies.config import PolicyConfig
from rlft.policies.finetune import apply_finetune
from rlft.policies.heads import GenerativeScorerHead, PickPlaceHead, TextScorerHead
from rlft.policies.interface import EnvInterface, detect_interface
from rlft.policies.observations import TabletopObservationEncoder, WebObservationEncoder, commands_of
from rlft.policies.registry import backbones_with_modality, load_backbone, spec_modality
from torch import nn

logger = logging.getLogger(__name__)

Observation = Mapping[str, Any]
Action = str | np.ndarray


def set_torch_threads(num_threads: int | None) -> None:
    """Set torch's intra-op thread count (``None`` leaves torch's default).

    On small shared CPUs torch's default threading can be much slower than 1 thread; measure with
    ``benchmarks/policy_throughput.py --threads``.
    """
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))


def _grid_centers(n: int) -> np.ndarray:
    return (-1.0 + (2.0 * np.arange(n) + 1.0) / n).astype(np.float32)


def _bin(values: np.ndarray, n: int) -> np.ndarray:
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.floor((np.clip(values, -1.0, 1.0) + 1.0) / 2.0 * n), 0, n - 1).astype(np.int64)


class AgentPolicy(nn.Module):
    """A pretrained backbone with an adapter head, acting in one environment family.

    Build with :func:`build_policy` (or :func:`~rlft.policies.load_policy`). Attributes: ``config``
    (:class:`PolicyConfig`), ``interface`` (:class:`EnvInterface`), ``backbone``, ``head``, ``encoder``
    (observation encoder), ``head_kind``.

    Actions: web actions are command strings chosen among ``obs["admissible_commands"]``; tabletop
    actions are float32 ``[pick_x, pick_y, pick_yaw, place_x, place_y, place_yaw]`` in [-1, 1], the centre
    of a grid cell / yaw bin (``action_nvec`` gives the discrete view ``[G*G, R, G*G, R]``).
    """

    def __init__(
        self,
        config: PolicyConfig,
        interface: EnvInterface,
        backbone: Backbone,
        head: nn.Module,
        head_kind: str,
    ) -> None:
        super().__init__()
        self.config = config
        self.interface = interface
        self.backbone = backbone
        self.head = head
        self.head_kind = head_kind
        if interface.kind == "web":
            self.encoder: WebObservationEncoder | TabletopObservationEncoder = WebObservationEncoder(
                backbone, config, generative=head_kind == "generative_scorer"
            )
        else:
            self.encoder = TabletopObservationEncoder(backbone, config, interface)
        g, r = config.grid_size, config.yaw_bins
        self.action_nvec: list[int] | None = [g * g, r, g * g, r] if interface.kind == "tabletop" else None

    # ------------------------------------------------------------------ modes and sizes
    def train(self, mode: bool = True) -> AgentPolicy:
        """Set training mode on the head; the backbone always stays in eval mode.

        Pretrained dropout stays off so that log-probabilities of the same action are identical between
        rollout and update (PPO ratios start at exactly 1) and between BC steps.
        """
        super().train(mode)
        self.backbone.eval()
        return self

    @property
    def device(self) -> torch.device:
        """The device of the policy's parameters."""
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        """Total parameters (backbone + LoRA adapters + head), counting tied weights once."""
        return sum(p.numel() for p in self.parameters())

    def num_trainable_parameters(self) -> int:
        """Number of parameters with ``requires_grad`` (see :meth:`trainable_parameters`)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters to optimise (frozen backbone weights excluded)."""
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ tensor interface
    def encode_observations(
        self, observations: Sequence[Observation], num_candidates: int | None = None
    ) -> dict[str, np.ndarray]:
        """Encode raw observations into fixed-shape arrays (see :mod:`rlft.policies.observations`)."""
        return self.encoder.encode(observations, num_candidates)

    def to_tensors(self, arrays: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Convert encoded arrays (numpy, or SB3's float tensors) into typed tensors on the policy's device.

        Ids and masks become int64, ``*_valid`` bool, images float ``[B, 3, H, W]`` in [0, 1]; SB3
        rollout buffers store
        everything as float32, so ids are rounded first.
        """
        device = self.device
        out: dict[str, torch.Tensor] = {}
        for key, value in arrays.items():
            t = torch.as_tensor(value, device=device)
            if key.endswith("_ids"):
                t = (t.round() if t.is_floating_point() else t).long()
            elif key.endswith("_mask"):
                t = (t > 0.5 if t.is_floating_point() else t > 0).long()
            elif key.endswith("_valid"):
                t = t > 0.5 if t.is_floating_point() else t > 0
            elif key == "rgb":
                t = t.float() / 255.0
                if self.config.image_size is not None:
                    size = (self.config.image_size, self.config.image_size)
                    t = nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False)
            else:
                t = t.float()
            out[key] = t
        return out

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Action logits and values for an encoded batch (from :meth:`to_tensors`).

        Returns:
            ``logits`` — web: ``[B, K]`` over candidate slots (unavailable slots at the float32 minimum);
            tabletop: ``[B, G*G + R + G*G + R]``, the flattened ``MultiDiscrete`` logits — and
            ``values [B]``.
        """
        return self.head(self.backbone, dict(batch))

    def split_logits(self, logits: torch.Tensor) -> list[torch.Tensor]:
        """Per-component logits: ``[logits]`` for web, four chunks for tabletop."""
        return [logits] if self.action_nvec is None else list(torch.split(logits, self.action_nvec, dim=1))

    def log_prob_entropy(
        self, logits: torch.Tensor, indices: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of discrete action ``indices`` (``[B]`` web, ``[B, 4]`` tabletop) and entropy."""
        idx = indices.reshape(indices.shape[0], -1)
        log_prob = torch.zeros(logits.shape[0], device=logits.device)
        entropy = torch.zeros(logits.shape[0], device=logits.device)
        for j, part in enumerate(self.split_logits(logits)):
            dist = torch.distributions.Categorical(logits=part)
            log_prob = log_prob + dist.log_prob(idx[:, j])
            entropy = entropy + dist.entropy()
        return log_prob, entropy

    def sample_indices(
        self, logits: torch.Tensor, deterministic: bool, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Discrete actions ``[B]`` (web) or ``[B, 4]`` (tabletop): argmax, or a sample."""
        chosen = []
        for part in self.split_logits(logits):
            if deterministic:
                chosen.append(part.argmax(dim=1))
            else:
                chosen.append(torch.multinomial(part.softmax(dim=1), 1, generator=generator).squeeze(1))
        return chosen[0] if self.action_nvec is None else torch.stack(chosen, dim=1)

    # ------------------------------------------------------------------ action conversion
    def action_to_index(self, obs: Observation, action: Action) -> int | np.ndarray:
        """The discrete index of an env action: candidate position (web) or ``[4]`` grid/yaw bins (tabletop).

        Raises:
            ConfigError: when a web action is not among the observation's admissible commands.
        """
        if self.interface.kind == "web":
            commands = commands_of(obs)
            try:
                return commands.index(str(action))
            except ValueError:
                raise ConfigError(
                    f"Action {action!r} is not among the observation's {len(commands)} admissible commands; "
                    "web policies score admissible commands only."
                ) from None
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (6,):
            raise ConfigError(
                f"Tabletop actions must have 6 values (pick x, y, yaw, place x, y, yaw); got {a.shape}."
            )
        g, r = self.config.grid_size, self.config.yaw_bins
        col, row, yaw = _bin(a[[0, 3]], g), _bin(a[[1, 4]], g), _bin(a[[2, 5]], r)
        cells = row * g + col
        return np.array([cells[0], yaw[0], cells[1], yaw[1]], dtype=np.int64)

    def index_to_action(self, obs: Observation, index: int | np.ndarray) -> Action:
        """Inverse of :meth:`action_to_index`.

        Returns a command string (web; ``""`` for an empty slot, which the env reports as an invalid
        action) or the float32 cell / bin centres (tabletop).
        """
        if self.interface.kind == "web":
            commands = commands_of(obs)
            i = int(np.asarray(index).reshape(-1)[0])
            return commands[i] if 0 <= i < len(commands) else ""
        g, r = self.config.grid_size, self.config.yaw_bins
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        centers, yaw_centers = _grid_centers(g), _grid_centers(r)
        pick_row, pick_col = divmod(int(idx[0]), g)
        place_row, place_col = divmod(int(idx[2]), g)
        return np.array(
            [
                centers[pick_col],
                centers[pick_row],
                yaw_centers[int(idx[1])],
                centers[place_col],
                centers[place_row],
                yaw_centers[int(idx[3])],
            ],
            dtype=np.float32,
        )

    # ------------------------------------------------------------------ native interface
    def _forward_obs(self, observations: Sequence[Observation]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(self.to_tensors(self.encode_observations(observations)))

    @torch.no_grad()
    def act_batch(
        self,
        observations: Sequence[Observation],
        deterministic: bool = True,
        generator: torch.Generator | None = None,
    ) -> list[Action]:
        """One env action per observation (greedy, or sampled with ``deterministic=False``)."""
        logits, _ = self._forward_obs(observations)
        indices = self.sample_indices(logits, deterministic, generator).cpu().numpy()
        return [self.index_to_action(obs, idx) for obs, idx in zip(observations, indices, strict=True)]

    def act(
        self, obs: Observation, deterministic: bool = True, generator: torch.Generator | None = None
    ) -> Action:
        """The env action for one observation: a command (web) or a float32 ``[6]`` array (tabletop)."""
        return self.act_batch([obs], deterministic, generator)[0]

    def evaluate_actions(
        self, obs_batch: Sequence[Observation], actions: Sequence[Action]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability of each taken action, the policy entropy and the value, with gradients.

        Behaviour cloning minimises ``-log_prob.mean()``; RL and KL terms use all three.

        Returns:
            ``(log_prob [B], entropy [B], value [B])``.
        """
        if len(obs_batch) != len(actions):
            raise ConfigError(
                f"evaluate_actions got {len(obs_batch)} observations and {len(actions)} actions."
            )
        logits, values = self._forward_obs(obs_batch)
        indices = [self.action_to_index(obs, a) for obs, a in zip(obs_batch, actions, strict=True)]
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64), device=logits.device)
        log_prob, entropy = self.log_prob_entropy(logits, idx)
        return log_prob, entropy, values

    def value(self, obs_batch: Sequence[Observation]) -> torch.Tensor:
        """State values ``[B]`` (with gradients)."""
        return self._forward_obs(obs_batch)[1]

    # ------------------------------------------------------------------ checkpoints
    def save(self, directory: str | Path, include_frozen: bool = False) -> Path:
        """Write ``model.safetensors`` + ``config.json`` to ``directory`` (:mod:`rlft.policies.checkpoint`).

        Args:
            directory: Created if missing.
            include_frozen: Also store frozen backbone weights. By default they are rebuilt from the
                backbone spec on load and checked against a SHA-256 fingerprint stored in config.json.
        """
        from rlft.policies.checkpoint import save_policy

        return save_policy(self, directory, include_frozen=include_frozen)


def _choose_head(config: PolicyConfig, interface: EnvInterface, modality: str, spec: str) -> str:
    if interface.kind == "web":
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
        if head not in ("text_scorer", "generative_scorer"):
            raise ModalityError(
                f"head={head!r} does not fit web environments; use text_scorer or generative_scorer."
            )
        return head
    if modality not in VISION_MODALITIES:
        fit = backbones_with_modality(VISION_MODALITIES)
        raise ModalityError(
            f"Backbone {spec!r} is {modality}; tabletop environments need a backbone that sees images. "
            f"Backbones that fit: {', '.join(fit)} (or pair a text and a vision backbone: '<text>+<vision>')."
        )
    if config.head not in ("auto", "pick_place"):
        raise ModalityError(f"head={config.head!r} does not fit tabletop environments; use pick_place.")
    return "pick_place"


def build_policy_for_interface(config: PolicyConfig, interface: EnvInterface) -> AgentPolicy:
    """Build a policy from a config and an :class:`EnvInterface`.

    :func:`build_policy` and checkpoint loading share this.
    """
    set_torch_threads(config.torch_threads)
    declared = spec_modality(config.backbone)
    if declared is not None:  # fail before loading weights when the modality is known up front
        _choose_head(config, interface, declared, config.backbone)
    backbone = load_backbone(config.backbone, **config.backbone_kwargs)
    head_kind = _choose_head(config, interface, backbone.modality, config.backbone)
    if interface.kind == "tabletop" and backbone.modality == "vision":
        logger.warning(
            "backbone %s is vision-only: the policy does not read the instruction", config.backbone
        )
    apply_finetune(
        backbone,
        config.finetune,
        rank=config.lora_rank,
        alpha=config.lora_alpha,
        dropout=config.lora_dropout,
        seed=config.seed,
    )
    # Head weights come from config.seed without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head: nn.Module
        if head_kind == "text_scorer":
            head = TextScorerHead(backbone.hidden_size, config.head_hidden)
        elif head_kind == "generative_scorer":
            head = GenerativeScorerHead(backbone.hidden_size, config.head_hidden, config.length_normalize)
        else:
            text_hidden = backbone.hidden_size if backbone.modality in TEXT_MODALITIES else 0
            head = PickPlaceHead(
                backbone.vision_channels,
                text_hidden,
                config.head_hidden,
                config.grid_size,
                config.yaw_bins,
                interface.has_depth,
                pixel_skip=config.pixel_skip,
            )
    policy = AgentPolicy(config, interface, backbone, head, head_kind)
    logger.info(
        "policy %s/%s (%s): %d parameters, %d trainable",
        config.backbone,
        head_kind,
        config.finetune,
        policy.num_parameters(),
        policy.num_trainable_parameters(),
    )
    return policy.train(False)


def build_policy(
    config: PolicyConfig, observation_space: spaces.Space, action_space: spaces.Space
) -> AgentPolicy:
    """Build an :class:`AgentPolicy` for an environment with these (raw, unwrapped) spaces.

    The head follows the environment and the backbone's modality: web -> ``text_scorer`` (encoders,
    vision-language text towers) or ``generative_scorer`` (causal LMs); tabletop -> ``pick_place``.
    The policy starts in eval mode; call ``.train()`` before updating it.

    Raises:
        ModalityError: when the backbone does not fit the environment (naming backbones that do), or the
            spaces fit no rlft environment family.
        UnknownBackboneError: for an unknown backbone name.
        ConfigError: for invalid settings (for example LoRA on a backbone without LoRA targets).
    """
    if not isinstance(config, PolicyConfig):
        raise ConfigError(f"build_policy needs a PolicyConfig; got {type(config).__name__}.")
    return build_policy_for_interface(config, detect_interface(observation_space, action_space, config.view))
