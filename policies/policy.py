"""``AgentPolicy``: a backbone plus an adapter head that acts in one rlft environment family.

:class:`AgentPolicy` holds what every family shares (the tensor interface, log-probabilities,
sampling, checkpoints, devices, the frozen-encoding cache). Each environment family has its own
subclass that owns the observation encoder, the head choice, the action conversion and the SB3 action
space and masks: :class:`~rlft.policies.web.WebPolicy` and
:class:`~rlft.policies.tabletop.TabletopPolicy`, registered in :data:`POLICY_FAMILIES` (an
:class:`~rlft.policies.EnvInterface` kind -> its class) when defined; that lookup is the only place the
family is looked at.

The policy is a plain ``nn.Module``. Its native interface works on raw observation dicts (variable-size
candidate sets, command-string / float32-array actions); its tensor interface (:meth:`AgentPolicy.forward`
on encoded batches) is what the SB3 bridge calls. Both go through the same observation encoder.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, cast

import numpy as np
import torch
from gymnasium import spaces
from rlft.errors import CheckpointError, ConfigError, LazyRegistry, ModalityError, UnknownNameError
from rlft.policies.backbone import Backbone
from rlft.policies.checkpoint import Checkpoint, read_checkpoint, restore_tensors, save_policy
from rlft.policies.config import PolicyConfig
from rlft.policies.device import resolve_device
from rlft.policies.encode_cache import (
    FrozenTextCache,
    cache_frozen_images,
    cache_frozen_text,
    cache_frozen_tokens,
)
from rlft.policies.finetune import apply_finetune
from rlft.policies.hf import hf_progress_bars
from rlft.policies.interface import EnvInterface
from rlft.policies.registry import load_backbone, spec_modality
from torch import nn

__all__ = ["POLICY_FAMILIES", "Action", "AgentPolicy", "Observation", "policy_class", "set_torch_threads"]

logger = logging.getLogger(__name__)

Observation = Mapping[str, Any]
Action = str | np.ndarray
P = TypeVar("P", bound="AgentPolicy")


class ObservationEncoder(Protocol):
    """Raw observations -> fixed-shape arrays (see :mod:`rlft.policies.observations`)."""

    def encode(
        self, observations: Sequence[Observation], num_candidates: int | None = None
    ) -> dict[str, np.ndarray]: ...

    def observation_space(self, num_candidates: int) -> spaces.Dict: ...


def set_torch_threads(num_threads: int | None) -> None:
    """Set torch's intra-op thread count (``None`` leaves torch's default).

    On small shared CPUs torch's default threading can be much slower than 1 thread; measure with
    ``benchmarks/policy_throughput.py --threads``.
    """
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))


POLICY_FAMILIES: LazyRegistry[type[AgentPolicy]] = LazyRegistry("environment family")
"""Environment family (``EnvInterface.kind``) -> its :class:`AgentPolicy` subclass. Family classes register
themselves when defined; :mod:`rlft.policies.build` imports the built-in ones."""


def policy_class(kind: str) -> type[AgentPolicy]:
    """The :class:`AgentPolicy` subclass of an environment family (``"web"``, ``"tabletop"``).

    Raises:
        ModalityError: for a family without a policy class.
    """
    try:
        return POLICY_FAMILIES.get(kind)
    except UnknownNameError as exc:
        raise ModalityError(str(exc)) from exc


class AgentPolicy(nn.Module):
    """A pretrained backbone with an adapter head, acting in one environment family (base class).

    Build with :func:`build_policy` (or :func:`load_policy` / :meth:`from_pretrained`); the class
    returned is the family's subclass. Attributes: ``config`` (:class:`PolicyConfig`), ``interface``
    (:class:`EnvInterface`), ``backbone``, ``head``, ``encoder`` (observation encoder), ``head_kind``,
    ``action_nvec`` (the ``MultiDiscrete`` sizes of the action, ``None`` for a single categorical over
    candidates).

    A family subclass sets ``family`` (the :class:`EnvInterface` kind it serves) and implements
    :meth:`choose_head`, :meth:`build_head`, :meth:`make_encoder`, :meth:`action_to_index`,
    :meth:`index_to_action`, :meth:`sb3_action_space` and :meth:`sb3_action_masks`.
    """

    family: ClassVar[str] = ""
    """The environment family (``EnvInterface.kind``) this class serves; a subclass that sets it is
    registered in :data:`POLICY_FAMILIES` when it is defined."""
    supports_action_masks: ClassVar[bool] = False
    """Whether :meth:`sb3_action_masks` can rule actions out (MaskablePPO is useful)."""
    default_finetune: ClassVar[str] = "frozen"
    """What ``PolicyConfig(finetune="auto")`` resolves to for this family (``lora`` falls back to
    ``frozen`` for a backbone that declares no LoRA target modules)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.family:
            POLICY_FAMILIES.register(cls.family, cls)

    def __init__(
        self,
        config: PolicyConfig,
        interface: EnvInterface,
        backbone: Backbone,
        head: nn.Module,
        head_kind: str,
    ) -> None:
        super().__init__()
        if interface.kind != self.family:
            raise ModalityError(
                f"{type(self).__name__} serves {self.family} environments, not {interface.kind}; "
                "build policies with build_policy, which picks the class from the environment."
            )
        self.config = config
        self.interface = interface
        self.backbone = backbone
        self.head = head
        self.head_kind = head_kind
        self.action_nvec: list[int] | None = self.action_components()
        self.encoder: ObservationEncoder = self.make_encoder()

    # ------------------------------------------------------------------ what each family provides
    @classmethod
    def choose_head(cls, config: PolicyConfig, modality: str, spec: str) -> str:
        """The head kind for a backbone of ``modality`` (``config.head`` resolved).

        Raises:
            ModalityError: when the backbone or the requested head does not fit this family.
        """
        raise NotImplementedError

    @classmethod
    def build_head(
        cls, config: PolicyConfig, interface: EnvInterface, backbone: Backbone, head_kind: str
    ) -> nn.Module:
        """A freshly initialised head (called under the seeded RNG of :func:`build_policy_for_interface`)."""
        raise NotImplementedError

    def action_components(self) -> list[int] | None:
        """Sizes of the action's categorical components (``MultiDiscrete``).

        ``None`` (the default) means one categorical over a variable number of candidates.
        """
        return None

    def make_encoder(self) -> ObservationEncoder:
        """The observation encoder of this family (called once, in ``__init__``)."""
        raise NotImplementedError

    def action_to_index(self, obs: Observation, action: Action) -> int | np.ndarray:
        """The discrete index of an env action (a candidate position, or per-component bins).

        Raises:
            ConfigError: when the action cannot be represented by the policy.
        """
        raise NotImplementedError

    def index_to_action(self, obs: Observation, index: int | np.ndarray) -> Action:
        """Inverse of :meth:`action_to_index`: the env action of a discrete index."""
        raise NotImplementedError

    def sb3_action_space(self, num_candidates: int) -> spaces.Space:
        """The discrete action space of the SB3 view (``Discrete(K)`` or ``MultiDiscrete``)."""
        raise NotImplementedError

    def sb3_action_masks(self, obs: Observation, num_candidates: int) -> np.ndarray:
        """MaskablePPO's valid actions for the raw observation ``obs`` (a flat bool array)."""
        raise NotImplementedError

    def unselectable_actions(self, obs: Observation, num_candidates: int) -> int:
        """How many of ``obs``'s actions the SB3 view with ``num_candidates`` slots cannot select."""
        del obs, num_candidates
        return 0

    def sb3_observation_space(self, num_candidates: int) -> spaces.Dict:
        """The fixed-shape Box space of :meth:`encode_observations` with ``num_candidates`` slots."""
        return self.encoder.observation_space(num_candidates)

    def same_action(self, obs: Observation, a: Action, b: Action) -> bool:
        """Whether two env actions are the same in the policy's own action set (BC's accuracy).

        The default compares their discrete indices; a continuous head compares within a tolerance.
        """
        return bool(np.array_equal(self.action_to_index(obs, a), self.action_to_index(obs, b)))

    def fit_actions(self, actions: Sequence[Action]) -> None:
        """Fit data-dependent action statistics (quantile bins) before BC; the default has none."""
        del actions

    def sb3_distribution(self, sb3_distribution: Any, logits: torch.Tensor) -> Any:
        """The SB3 distribution of ``logits`` (the default: SB3's own, from its action space)."""
        return sb3_distribution.proba_distribution(action_logits=logits)

    def kl_divergence(self, logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
        """``KL(self || reference)`` ``[B]`` from two heads' outputs (summed over action components)."""
        kl = torch.zeros(logits.shape[0], device=logits.device)
        for part, ref_part in zip(self.split_logits(logits), self.split_logits(ref_logits), strict=True):
            log_p, log_q = part.float().log_softmax(-1), ref_part.float().log_softmax(-1)
            kl = kl + (log_p.exp() * (log_p - log_q)).sum(-1)
        return kl

    def caches_text_encodings(self) -> bool:
        """Whether the head reads ``backbone.encode_text`` output on its own (so it may be memoised)."""
        return True

    def caches_token_encodings(self) -> bool:
        """Whether the head reads ``backbone.encode_tokens`` states on their own (so they may be memoised)."""
        return False

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

    @property
    def backbone_is_frozen(self) -> bool:
        """True when no backbone parameter trains (``finetune="frozen"``)."""
        return not any(p.requires_grad for p in self.backbone.parameters())

    def cache_frozen_encodings(self, max_entries: int = 100_000) -> FrozenTextCache | None:
        """Memoise the frozen backbone's text encodings (see :mod:`rlft.policies.encode_cache`).

        A frozen backbone is cached always; a LoRA / fully fine-tuned one only for gradient-free
        eval-mode passes, and only until its weights next change (a versioned cache: evaluation and
        PPO rollouts reuse encodings, training never sees stale ones). Token scorers (late interaction,
        cross-attention) get a per-token cache of ``encode_tokens`` instead; the generative scorer, which
        reads the LM's log-probabilities of prompt + command, is left as it is. A backbone that encodes
        images gets an image cache too (:class:`~rlft.policies.encode_cache.FrozenImageCache`).
        Idempotent.

        Returns:
            The text (or token) cache, or ``None`` when no text encoding was cached.
        """
        # Images (tabletop): BC epochs revisit the same demonstration frames, PPO updates its rollout's.
        cache_frozen_images(self.backbone, max_entries)
        if self.caches_token_encodings():
            return cache_frozen_tokens(self.backbone, max_entries)
        if not self.caches_text_encodings():
            return None
        return cache_frozen_text(self.backbone, max_entries)

    # ------------------------------------------------------------------ tensor interface
    def encode_observations(
        self, observations: Sequence[Observation], num_candidates: int | None = None
    ) -> dict[str, np.ndarray]:
        """Encode raw observations into fixed-shape arrays (see :mod:`rlft.policies.observations`)."""
        return self.encoder.encode(observations, num_candidates)

    def to_tensors(self, arrays: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Convert encoded arrays (numpy, or SB3's float tensors) into typed tensors on the policy's device.

        Ids and masks become int64, ``*_valid`` bool, images float ``[B, 3, H, W]`` in [0, 1]; SB3
        rollout buffers store everything as float32, so ids are rounded first.
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
            ``logits`` — ``[B, K]`` over candidate slots (unavailable slots at the float32 minimum), or
            the flattened ``MultiDiscrete`` logits ``[B, sum(action_nvec)]`` — and ``values [B]``.
        """
        return self.head(self.backbone, dict(batch))

    def split_logits(self, logits: torch.Tensor) -> list[torch.Tensor]:
        """Per-component logits: ``[logits]``, or one chunk per ``action_nvec`` entry."""
        return [logits] if self.action_nvec is None else list(torch.split(logits, self.action_nvec, dim=1))

    def log_prob_entropy(
        self, logits: torch.Tensor, indices: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of discrete action ``indices`` (``[B]`` or ``[B, components]``) and entropy."""
        idx = indices.reshape(indices.shape[0], -1)
        log_prob = torch.zeros(logits.shape[0], device=logits.device)
        entropy = torch.zeros(logits.shape[0], device=logits.device)
        for j, part in enumerate(self.split_logits(logits)):
            dist = torch.distributions.Categorical(logits=part.float())
            log_prob = log_prob + dist.log_prob(idx[:, j])
            entropy = entropy + dist.entropy()
        return log_prob, entropy

    def sample_indices(
        self,
        logits: torch.Tensor,
        deterministic: bool,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Discrete actions ``[B]`` (one categorical) or ``[B, components]``: argmax, or a sample.

        A sample is drawn from ``softmax(logits / temperature)`` (1: the policy's own distribution).
        """
        chosen = []
        for part in self.split_logits(logits):
            if deterministic:
                chosen.append(part.argmax(dim=1))
            else:
                probs = (part.float() / temperature).softmax(dim=1)
                if generator is not None and generator.device != probs.device:
                    probs = probs.to(generator.device)
                chosen.append(torch.multinomial(probs, 1, generator=generator).squeeze(1).to(part.device))
        return chosen[0] if self.action_nvec is None else torch.stack(chosen, dim=1)

    # ------------------------------------------------------------------ native interface
    def _forward_obs(self, observations: Sequence[Observation]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(self.to_tensors(self.encode_observations(observations)))

    @torch.no_grad()
    def act_batch(
        self,
        observations: Sequence[Observation],
        deterministic: bool = True,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> list[Action]:
        """One env action per observation: greedy, or (``deterministic=False``) sampled at ``temperature``."""
        logits, _ = self._forward_obs(observations)
        indices = self.sample_indices(logits, deterministic, generator, temperature).cpu().numpy()
        return [self.index_to_action(obs, idx) for obs, idx in zip(observations, indices, strict=True)]

    def act(
        self,
        obs: Observation,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> Action:
        """The env action for one observation (a command string, or a float32 array)."""
        return self.act_batch([obs], deterministic, generator, temperature)[0]

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
        return log_prob, entropy, values.float()

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
        return save_policy(self, directory, include_frozen=include_frozen)

    def save_pretrained(self, directory: str | Path, include_frozen: bool = False) -> Path:
        """Hugging Face-style name of :meth:`save`."""
        return self.save(directory, include_frozen=include_frozen)

    @classmethod
    def create(
        cls: type[P],
        config: PolicyConfig,
        interface: EnvInterface,
        *,
        seed: int | None = None,
        device: str | torch.device | None = "cpu",
        progress: bool = True,
    ) -> P:
        """Build a fresh policy of this family class from a config and an :class:`EnvInterface`.

        :func:`rlft.policies.build_policy` picks the family class and calls this; see it for the
        arguments.

        Raises:
            ConfigError: when called on :class:`AgentPolicy` itself rather than a family class.
        """
        cls._require_family()
        if seed is not None:
            config = dataclasses.replace(config, seed=seed)
        target = resolve_device(device)
        set_torch_threads(config.torch_threads)
        declared = spec_modality(config.backbone)
        if declared is not None:  # fail before loading weights when the modality is known up front
            cls.choose_head(config, declared, config.backbone)
        with hf_progress_bars(progress):
            backbone = load_backbone(config.backbone, **config.backbone_kwargs)
        head_kind = cls.choose_head(config, backbone.modality, config.backbone)
        if config.finetune == "auto":
            # The family's default; LoRA needs target modules, so a backbone without them stays frozen.
            mode = cls.default_finetune
            if mode == "lora" and not backbone.lora_targets:
                mode = "frozen"
            config = dataclasses.replace(config, finetune=mode)
        apply_finetune(
            backbone,
            config.finetune,
            rank=config.lora_rank,
            alpha=config.lora_alpha,
            dropout=config.lora_dropout,
            seed=config.seed,
        )
        # Head weights depend on config.seed only; the caller's global RNG is restored afterwards.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            head = cls.build_head(config, interface, backbone, head_kind)
        policy = cls(config, interface, backbone, head, head_kind)
        logger.info(
            "policy %s/%s (%s): %d parameters, %d trainable",
            config.backbone,
            head_kind,
            config.finetune,
            policy.num_parameters(),
            policy.num_trainable_parameters(),
        )
        policy.to(target)  # nn.Module.to and .train work in place
        policy.train(False)
        return policy

    @classmethod
    def restore(
        cls: type[P],
        checkpoint: Checkpoint,
        device: str | torch.device | None = "cpu",
        progress: bool = True,
    ) -> P:
        """Rebuild a policy from a checkpoint read by :func:`read_checkpoint`.

        Called on :class:`AgentPolicy` itself, the checkpoint's family picks the class; called on a family
        class, the checkpoint must be of that family.

        Raises:
            CheckpointError: for a checkpoint of another family, or tensors that do not fit.
        """
        if not cls.family:
            family = policy_class(checkpoint.interface.kind)  # a subclass of cls, which is AgentPolicy here
            return cast(P, family.restore(checkpoint, device=device, progress=progress))
        if checkpoint.interface.kind != cls.family:
            raise CheckpointError(
                f"{checkpoint.directory} holds a policy for {checkpoint.interface.kind} environments, not a "
                f"{cls.__name__}; load it with AgentPolicy.from_pretrained or rlft.policies.load_policy."
            )
        target = resolve_device(device)
        policy = cls.create(checkpoint.config, checkpoint.interface, device="cpu", progress=progress)
        restore_tensors(policy, checkpoint.meta, checkpoint.tensors)
        return policy.to(target)

    @classmethod
    def from_pretrained(
        cls: type[P], directory: str | Path, device: str | torch.device | None = "cpu", progress: bool = True
    ) -> P:
        """Load a policy saved with :meth:`save_pretrained` (:meth:`restore` says which class it gets).

        Raises:
            CheckpointError: for missing/corrupt files, a checkpoint of another family, tensors that do
                not fit, or frozen backbone weights that differ from those it was trained on.
        """
        return cls.restore(read_checkpoint(directory), device=device, progress=progress)

    @classmethod
    def _require_family(cls) -> None:
        if not cls.family:
            raise ConfigError(
                f"{cls.__name__} is the shared base class; use a family class (WebPolicy, TabletopPolicy) "
                "or rlft.policies.build_policy / load_policy, which pick the family."
            )
