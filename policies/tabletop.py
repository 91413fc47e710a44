"""``TabletopPolicy``: the policy of the tabletop family (images, instructions, pick-and-place actions).

Actions are float32 ``[pick_x, pick_y, pick_yaw, place_x, place_y, place_yaw]`` in [-1, 1], the centre
of a grid cell / yaw bin chosen by :class:`~rlft.policies.heads.PickPlaceHead`; the discrete view (and
the SB3 action space) is ``MultiDiscrete([G*G, R, G*G, R])``.
"""

from __future__ import annotations

import logging

import numpy as np
from gymnasium import spaces
from rlft.errors import ConfigError, ModalityError
from rlft.policies.backbone import TEXT_MODALITIES, VISION_MODALITIES, Backbone
from rlft.policies.config import PolicyConfig
from rlft.policies.heads import PickPlaceHead
from rlft.policies.interface import PICK_PLACE_DIM, EnvInterface
from rlft.policies.observations import TabletopObservationEncoder
from rlft.policies.policy import Action, AgentPolicy, Observation
from rlft.policies.registry import backbones_with_modality
from torch import nn

__all__ = ["TabletopPolicy"]

logger = logging.getLogger(__name__)


def _grid_centers(n: int) -> np.ndarray:
    return (-1.0 + (2.0 * np.arange(n) + 1.0) / n).astype(np.float32)


def _bin(values: np.ndarray, n: int) -> np.ndarray:
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.floor((np.clip(values, -1.0, 1.0) + 1.0) / 2.0 * n), 0, n - 1).astype(np.int64)


class TabletopPolicy(AgentPolicy):
    """Language-conditioned pick-and-place over a grid of table cells and yaw bins."""

    family = "tabletop"

    def action_components(self) -> list[int]:
        """``[G*G, R, G*G, R]``: pick cell, pick yaw bin, place cell, place yaw bin."""
        g, r = self.config.grid_size, self.config.yaw_bins
        return [g * g, r, g * g, r]

    @classmethod
    def choose_head(cls, config: PolicyConfig, modality: str, spec: str) -> str:
        """``pick_place`` for backbones that see images."""
        if modality not in VISION_MODALITIES:
            fit = backbones_with_modality(VISION_MODALITIES)
            raise ModalityError(
                f"Backbone {spec!r} is {modality}; tabletop environments need a backbone that sees "
                f"images. Backbones that fit: {', '.join(fit)} (or pair a text and a vision backbone: "
                "'<text>+<vision>')."
            )
        if config.head not in ("auto", "pick_place"):
            raise ModalityError(f"head={config.head!r} does not fit tabletop environments; use pick_place.")
        return "pick_place"

    @classmethod
    def build_head(
        cls, config: PolicyConfig, interface: EnvInterface, backbone: Backbone, head_kind: str
    ) -> nn.Module:
        """The pick-and-place head (language-blind for a vision-only backbone)."""
        reads_text = backbone.modality in TEXT_MODALITIES
        if not reads_text:
            logger.warning(
                "backbone %s is vision-only: the policy does not read the instruction", backbone.spec
            )
        return PickPlaceHead(
            backbone.vision_channels,
            backbone.hidden_size if reads_text else 0,
            config.head_hidden,
            config.grid_size,
            config.yaw_bins,
            interface.has_depth,
            pixel_skip=config.pixel_skip,
        )

    def make_encoder(self) -> TabletopObservationEncoder:
        """Stacks the images and tokenizes the instruction."""
        return TabletopObservationEncoder(self.backbone, self.config, self.interface)

    def action_to_index(self, obs: Observation, action: Action) -> np.ndarray:
        """The ``[pick cell, pick yaw bin, place cell, place yaw bin]`` of a pick-and-place action.

        Raises:
            ConfigError: when the action does not have 6 values.
        """
        del obs
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
        """The float32 cell and yaw-bin centres of ``[pick cell, pick yaw, place cell, place yaw]``."""
        del obs
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

    def sb3_action_space(self, num_candidates: int) -> spaces.MultiDiscrete:
        """``MultiDiscrete([G*G, R, G*G, R])`` (``num_candidates`` is not used)."""
        del num_candidates
        return spaces.MultiDiscrete(self.action_components())

    def sb3_action_masks(self, obs: Observation, num_candidates: int) -> np.ndarray:
        """Every cell and bin is valid."""
        del obs, num_candidates
        return np.ones(sum(self.action_components()), dtype=bool)
