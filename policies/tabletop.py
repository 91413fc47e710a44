"""``TabletopPolicy``: the policy of the tabletop family (images, instructions, pick-and-place actions).

``pick_place`` envs: actions are float32 ``[pick_x, pick_y, pick_yaw, place_x, place_y, place_yaw]`` in
[-1, 1], the centre of a grid cell / yaw bin chosen by :class:`~rlft.policies.heads.PickPlaceHead`; the
discrete view (and the SB3 action space) is ``MultiDiscrete([G*G, R, G*G, R])``.

``ee_delta`` envs (five numbers per control step) get one of two heads of
:mod:`rlft.policies.tabletop_heads`: ``ee_gaussian`` (the default), a tanh-squashed Gaussian whose SB3
action space is the env's own ``Box(-1, 1, (5,))``, or ``ee_binned``, quantile-binned categoricals per
dimension, ``MultiDiscrete([ee_bins] * 5)``. Why the Gaussian is the default: :data:`DEFAULT_EE_HEAD`.

Both modes read the opt-in ``step`` / ``ee_state`` observation keys when the env has them (the episode's
step index for multi-step tasks, the cup's state for ``ee_delta``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from rlft.errors import ConfigError, ModalityError
from rlft.policies.backbone import TEXT_MODALITIES, VISION_MODALITIES, Backbone
from rlft.policies.config import PolicyConfig
from rlft.policies.heads import PickPlaceHead
from rlft.policies.interface import EE_DELTA_DIM, PICK_PLACE_DIM, EnvInterface
from rlft.policies.observations import TabletopObservationEncoder
from rlft.policies.policy import Action, AgentPolicy, Observation
from rlft.policies.registry import backbones_with_modality
from rlft.policies.tabletop_heads import (
    TARGET_LIMIT,
    BinnedActionHead,
    EEDeltaTrunk,
    SquashedGaussian,
    SquashedGaussianHead,
    state_dim,
)
from torch import nn

__all__ = ["TabletopPolicy"]

logger = logging.getLogger(__name__)


def _grid_centers(n: int) -> np.ndarray:
    return (-1.0 + (2.0 * np.arange(n) + 1.0) / n).astype(np.float32)


def _bin(values: np.ndarray, n: int) -> np.ndarray:
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.floor((np.clip(values, -1.0, 1.0) + 1.0) / 2.0 * n), 0, n - 1).astype(np.int64)


EE_HEADS: tuple[str, ...] = ("ee_gaussian", "ee_binned")
"""Heads of ``ee_delta`` envs (see :mod:`rlft.policies.tabletop_heads`)."""
DEFAULT_EE_HEAD = "ee_gaussian"
"""What ``head="auto"`` builds for ``ee_delta`` envs, and why. Both heads were trained with the same BC
budget on the same expert demonstrations (``benchmarks/ee_heads_throughput.py`` and the README's
ee_delta figures); neither solved an unseen-colour episode at that small budget, so success did not
decide. What did: the Gaussian trains faster per sample (3.3 against 2.5 BC samples/s in the same run),
acts with real-valued steps (no quantisation, while a bin acts with its demonstrations' median) and
gives PPO its own ``Box`` action space with an exact log-probability (the tanh Jacobian included), so
PPO explores around the BC mean rather than over 32 unordered bins per dimension."""
SAME_ACTION_TOLERANCE = 0.1
"""The Gaussian head's BC accuracy counts an action as the expert's when every value is this close."""


class TabletopPolicy(AgentPolicy):
    """Language-conditioned tabletop policy: pick-and-place on a grid, or ``ee_delta`` control steps."""

    family = "tabletop"

    @classmethod
    def create(cls, config: PolicyConfig, interface: EnvInterface, **kwargs: Any) -> TabletopPolicy:
        """Build a fresh policy (see :meth:`AgentPolicy.create`); ``head="auto"`` resolves by action mode.

        Raises:
            ModalityError: a pick-and-place head on an ``ee_delta`` env or an ``ee_*`` head on a
                pick_place one.
        """
        ee = interface.action_mode == "ee_delta"
        fits = EE_HEADS if ee else ("pick_place",)
        if config.head == "auto":
            config = dataclasses.replace(config, head=fits[0] if not ee else DEFAULT_EE_HEAD)
        elif config.head not in fits:
            raise ModalityError(
                f"head={config.head!r} does not fit tabletop {interface.action_mode} environments; "
                f"use {' or '.join(fits)} (or auto)."
            )
        return super().create(config, interface, **kwargs)

    @property
    def continuous(self) -> bool:
        """Whether the head is the squashed Gaussian (real-valued actions, no discrete index)."""
        return self.head_kind == "ee_gaussian"

    def action_components(self) -> list[int] | None:
        """The categorical sizes: ``[G*G, R, G*G, R]``, ``[ee_bins] * 5`` or ``None``.

        Pick cell, pick yaw bin, place cell, place yaw bin (``pick_place``); one set of bins per dimension
        (``ee_binned``); no categorical (``ee_gaussian``).
        """
        if self.head_kind == "ee_gaussian":
            return None
        if self.head_kind == "ee_binned":
            return [self.config.ee_bins] * EE_DELTA_DIM
        g, r = self.config.grid_size, self.config.yaw_bins
        return [g * g, r, g * g, r]

    @classmethod
    def choose_head(cls, config: PolicyConfig, modality: str, spec: str) -> str:
        """``config.head`` (resolved by :meth:`create`; ``pick_place`` for ``auto``) for image backbones."""
        if modality not in VISION_MODALITIES:
            fit = backbones_with_modality(VISION_MODALITIES)
            raise ModalityError(
                f"Backbone {spec!r} is {modality}; tabletop environments need a backbone that sees "
                f"images. Backbones that fit: {', '.join(fit)} (or pair a text and a vision backbone: "
                "'<text>+<vision>')."
            )
        if config.head not in ("auto", "pick_place", *EE_HEADS):
            raise ModalityError(
                f"head={config.head!r} does not fit tabletop environments; use pick_place, ee_gaussian or "
                "ee_binned."
            )
        return "pick_place" if config.head == "auto" else config.head

    @classmethod
    def build_head(
        cls, config: PolicyConfig, interface: EnvInterface, backbone: Backbone, head_kind: str
    ) -> nn.Module:
        """The pick-and-place or ``ee_delta`` head (language-blind for a vision-only backbone)."""
        reads_text = backbone.modality in TEXT_MODALITIES
        if not reads_text:
            logger.warning(
                "backbone %s is vision-only: the policy does not read the instruction", backbone.spec
            )
        text_hidden = backbone.hidden_size if reads_text else 0
        state_size = state_dim(interface.state_keys)
        if head_kind in EE_HEADS:
            trunk = EEDeltaTrunk(
                backbone.vision_channels, text_hidden, state_size, config.head_hidden, interface.has_depth
            )
            if head_kind == "ee_binned":
                return BinnedActionHead(trunk, config.ee_bins)
            return SquashedGaussianHead(trunk)
        return PickPlaceHead(
            backbone.vision_channels,
            text_hidden,
            config.head_hidden,
            config.grid_size,
            config.yaw_bins,
            interface.has_depth,
            pixel_skip=config.pixel_skip,
            state_size=state_size,
        )

    def make_encoder(self) -> TabletopObservationEncoder:
        """Stacks the images and tokenizes the instruction."""
        return TabletopObservationEncoder(self.backbone, self.config, self.interface)

    def _ee_vector(self, action: Action) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (EE_DELTA_DIM,):
            raise ConfigError(f"ee_delta actions must have 5 values (dx, dy, dz, dyaw, grip); got {a.shape}.")
        return np.clip(np.nan_to_num(a), -1.0, 1.0)

    def action_to_index(self, obs: Observation, action: Action) -> np.ndarray:
        """The ``[pick cell, pick yaw bin, place cell, place yaw bin]`` of a pick-and-place action.

        ``ee_binned``: the 5 bin indices; ``ee_gaussian``: the action itself (float64, clipped to [-1, 1]).

        Raises:
            ConfigError: when the action does not have 6 values (5 for ``ee_delta``).
        """
        del obs
        if self.head_kind in EE_HEADS:
            a = self._ee_vector(action)
            return a if self.continuous else self._bins.to_index(a[None])[0]
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (PICK_PLACE_DIM,):
            raise ConfigError(
                f"Tabletop actions must have 6 values (pick x, y, yaw, place x, y, yaw); got {a.shape}."
            )
        g, r = self.config.grid_size, self.config.yaw_bins
        col, row, yaw = _bin(a[[0, 3]], g), _bin(a[[1, 4]], g), _bin(a[[2, 5]], r)
        cells = row * g + col
        return np.array([cells[0], yaw[0], cells[1], yaw[1]], dtype=np.int64)

    def index_to_action(self, obs: Observation, index: int | np.ndarray) -> np.ndarray:
        """The float32 cell and yaw-bin centres of ``[pick cell, pick yaw, place cell, place yaw]``.

        ``ee_binned``: each dimension's bin action; ``ee_gaussian``: the (sampled) action as float32.
        """
        del obs
        if self.continuous:
            return np.clip(np.asarray(index, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if self.head_kind == "ee_binned":
            return self._bins.to_action(np.asarray(index).reshape(1, -1))[0]
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

    def sb3_action_space(self, num_candidates: int) -> spaces.Space:
        """``MultiDiscrete`` of :meth:`action_components`, or ``Box(-1, 1, (5,))`` for ``ee_gaussian``.

        ``num_candidates`` is not used.
        """
        del num_candidates
        nvec = self.action_components()
        if nvec is None:
            return spaces.Box(-1.0, 1.0, (EE_DELTA_DIM,), np.float32)
        return spaces.MultiDiscrete(nvec)

    def sb3_action_masks(self, obs: Observation, num_candidates: int) -> np.ndarray:
        """Every cell and bin is valid."""
        del obs, num_candidates
        return np.ones(sum(self.action_components() or [EE_DELTA_DIM]), dtype=bool)

    # ------------------------------------------------------------------ ee_delta heads
    @property
    def _bins(self) -> BinnedActionHead:
        head = self.head
        if not isinstance(head, BinnedActionHead):  # pragma: no cover - guarded by head_kind
            raise ConfigError("only the ee_binned head has action bins")
        return head

    def fit_actions(self, actions: Sequence[Action]) -> None:
        """``ee_binned``: set the bins to quantiles of the demonstrations' actions (other heads: nothing)."""
        if self.head_kind == "ee_binned" and len(actions):
            self._bins.fit(np.stack([self._ee_vector(a) for a in actions]))

    def same_action(self, obs: Observation, a: Action, b: Action) -> bool:
        """The Gaussian head: every value within :data:`SAME_ACTION_TOLERANCE`; others: the same bins."""
        if self.continuous:
            return bool(np.all(np.abs(self._ee_vector(a) - self._ee_vector(b)) <= SAME_ACTION_TOLERANCE))
        return super().same_action(obs, a, b)

    def log_prob_entropy(
        self, logits: torch.Tensor, indices: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Categorical log-probabilities and entropy, or the squashed Gaussian's.

        ``ee_gaussian``: the exact log-density of the actions ``[B, 5]`` and the pre-squash entropy.
        """
        if not self.continuous:
            return super().log_prob_entropy(logits, indices)
        dist = SquashedGaussian.from_params(logits)
        return dist.log_prob(indices.reshape(indices.shape[0], -1)), dist.base_entropy()

    def sample_indices(
        self,
        logits: torch.Tensor,
        deterministic: bool,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Discrete bins, or (``ee_gaussian``) actions ``[B, 5]``: ``tanh(mean)`` or a sample.

        ``temperature`` divides categorical logits, and scales the Gaussian's standard deviation.
        """
        if not self.continuous:
            return super().sample_indices(logits, deterministic, generator, temperature)
        dist = SquashedGaussian.from_params(logits)
        return dist.mode() if deterministic else dist.sample(generator, temperature)

    def evaluate_actions(
        self, obs_batch: Sequence[Observation], actions: Sequence[Action]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """As :meth:`AgentPolicy.evaluate_actions`; ``ee_gaussian`` evaluates the real-valued actions.

        The actions are clamped to ``+-TARGET_LIMIT`` first (demonstrations saturate at +-1).
        """
        if not self.continuous:
            return super().evaluate_actions(obs_batch, actions)
        if len(obs_batch) != len(actions):
            raise ConfigError(
                f"evaluate_actions got {len(obs_batch)} observations and {len(actions)} actions."
            )
        params, values = self._forward_obs(obs_batch)
        # Saturated demonstrations are pulled inside tanh's range (TARGET_LIMIT); sampled actions never are.
        target = np.clip(np.stack([self._ee_vector(a) for a in actions]), -TARGET_LIMIT, TARGET_LIMIT)
        target = torch.as_tensor(target, device=params.device)
        log_prob, entropy = self.log_prob_entropy(params, target.float())
        return log_prob, entropy, values.float()

    def sb3_distribution(self, sb3_distribution: Any, logits: torch.Tensor) -> Any:
        """``ee_gaussian``: a :class:`SquashedGaussian` (exact log-probabilities for PPO)."""
        if self.continuous:
            return SquashedGaussian.from_params(logits)
        return super().sb3_distribution(sb3_distribution, logits)

    def kl_divergence(self, logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
        """``ee_gaussian``: the KL of the pre-squash Gaussians (equal to the squashed ones')."""
        if self.continuous:
            return SquashedGaussian.from_params(logits).kl(SquashedGaussian.from_params(ref_logits))
        return super().kl_divergence(logits, ref_logits)
