"""Tabletop heads for the continuous ``ee_delta`` action mode, and the state features both modes read.

``ee_delta`` actions are five numbers in [-1, 1] (dx, dy, dz, dyaw, grip), one per control step. Both heads
share :class:`EEDeltaTrunk`: the backbone's image features and the image itself (resized to a small grid)
are conditioned on the instruction (and the cup's state) by FiLM, reduced to spatial-softmax keypoints
(the expected image position of each feature channel) and read out by an MLP. Two readouts:

* :class:`SquashedGaussianHead` (``head="ee_gaussian"``): a diagonal Gaussian over pre-squash values
  ``u``, ``a = tanh(u)``. :func:`squashed_gaussian_log_prob` is its exact log-density (with the tanh
  Jacobian) and :class:`SquashedGaussian` the distribution object the SB3 bridge samples from.
* :class:`BinnedActionHead` (``head="ee_binned"``, RT-1 style): a categorical over ``bins`` per dimension.
  The bin boundaries are quantiles of the demonstrations (:meth:`BinnedActionHead.fit`), so the bins
  are narrow where the expert's actions are dense; each bin acts with the median of its demonstrations.
  Its SB3 action space is ``MultiDiscrete([bins] * 5)``.

:func:`state_features` turns the opt-in ``step`` and ``ee_state`` observation keys into the ``state``
vector the tabletop encoder adds to a batch; the pick-and-place head reads it too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from rlft.policies.backbone import Backbone
from rlft.policies.heads import _film, _standardise, coord_channels, value_mlp
from torch import nn

__all__ = [
    "EE_ACTION_DIM",
    "STATE_KEYS",
    "BinnedActionHead",
    "EEDeltaTrunk",
    "SquashedGaussian",
    "SquashedGaussianHead",
    "fit_quantile_bins",
    "squashed_gaussian_log_prob",
    "state_dim",
    "state_features",
]

EE_ACTION_DIM = 5
"""``ee_delta`` actions: dx, dy, dz, dyaw, grip."""
STATE_KEYS: tuple[str, ...] = ("step", "ee_state")
"""Opt-in tabletop observation keys a policy reads when the env has them (see ``TabletopEnv``)."""
STEP_BUCKETS = 16
"""The step index is one-hot over this many buckets (later steps share the last) plus a log scale."""
EE_STATE_DIM = 5
LOG_STD_MIN, LOG_STD_MAX = -5.0, 1.0
ATANH_LIMIT = 1.0 - 1e-6
"""Actions are clamped to +-this before ``atanh`` (a sample can round to exactly +-1 in float32)."""
TARGET_LIMIT = 0.995
"""Demonstrated actions are clamped to +-this before BC: expert actions saturate at exactly +-1, whose
pre-image under tanh is infinite; at 0.995 (``atanh`` = 3.0) the NLL of a saturated action stays of
the order of the others (the cup then moves 99.5% of a full step)."""
MIN_STD = 1e-4


# ---------------------------------------------------------------------- state features
def state_dim(keys: Sequence[str]) -> int:
    """Length of :func:`state_features` for observation ``keys``."""
    return sum(STEP_BUCKETS + 1 if k == "step" else EE_STATE_DIM for k in keys)


def state_features(observations: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> np.ndarray:
    """The ``state`` rows ``[B, state_dim(keys)]`` (float32) of a batch of observations.

    ``step``: one-hot of ``min(step, STEP_BUCKETS - 1)`` and ``log1p(step) / log1p(1000)``; ``ee_state``:
    the five values as they are (non-finite ones read as 0).
    """
    rows = np.zeros((len(observations), state_dim(keys)), dtype=np.float32)
    for i, obs in enumerate(observations):
        col = 0
        for key in keys:
            value = np.nan_to_num(np.asarray(obs.get(key, 0), dtype=np.float64).reshape(-1))
            if key == "step":
                step = max(float(value[0]) if value.size else 0.0, 0.0)
                rows[i, col + min(int(step), STEP_BUCKETS - 1)] = 1.0
                rows[i, col + STEP_BUCKETS] = math.log1p(step) / math.log1p(1000.0)
                col += STEP_BUCKETS + 1
            else:
                n = min(value.size, EE_STATE_DIM)
                rows[i, col : col + n] = value[:n]
                col += EE_STATE_DIM
    return rows


# ---------------------------------------------------------------------- squashed Gaussian
def _log_one_minus_tanh_sq(u: torch.Tensor) -> torch.Tensor:
    """``log(1 - tanh(u)^2)``, stable for large ``|u|`` (SAC's form)."""
    return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))


def squashed_gaussian_log_prob(
    mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor
) -> torch.Tensor:
    """Log-density of ``action = tanh(u)``, ``u ~ N(mean, exp(log_std)^2)`` per dimension, summed: ``[B]``.

    ``log p(a) = log N(atanh(a)) - log(1 - a^2)`` (the change of variables through tanh). Actions are
    clamped to ``+-ATANH_LIMIT`` first, so saturated expert actions have a finite density.
    """
    a = action.clamp(-ATANH_LIMIT, ATANH_LIMIT)
    u = torch.atanh(a)
    normal = torch.distributions.Normal(mean, log_std.exp().clamp(min=MIN_STD))
    return (normal.log_prob(u) - _log_one_minus_tanh_sq(u)).sum(-1)


class SquashedGaussian:
    """A tanh-squashed diagonal Gaussian with the methods SB3's PPO calls on a distribution.

    ``entropy()`` returns ``None``: the squashed distribution has no closed form, and PPO then uses
    ``-log_prob`` of the taken actions as its entropy estimate.
    """

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.mean = mean
        self.log_std = log_std
        self.base = torch.distributions.Normal(mean, log_std.exp().clamp(min=MIN_STD))

    @classmethod
    def from_params(cls, params: torch.Tensor) -> SquashedGaussian:
        """From the head's output ``[B, 2 * D]`` = ``[mean | log_std]``."""
        mean, log_std = params.float().chunk(2, dim=-1)
        return cls(mean, log_std)

    def sample(self, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """A sample ``tanh(mean + temperature * std * eps)`` (``eps`` from ``generator`` when given)."""
        eps = torch.randn(
            self.mean.shape, generator=generator, device=generator.device if generator else None
        )
        return torch.tanh(self.mean + temperature * self.base.stddev * eps.to(self.mean.device))

    def mode(self) -> torch.Tensor:
        """``tanh(mean)`` (the greedy action)."""
        return torch.tanh(self.mean)

    def get_actions(self, deterministic: bool = False) -> torch.Tensor:
        """SB3's name: the mode, or a sample."""
        return self.mode() if deterministic else self.sample()

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Exact log-density ``[B]`` (see :func:`squashed_gaussian_log_prob`)."""
        return squashed_gaussian_log_prob(self.mean, self.log_std, actions.float())

    def entropy(self) -> None:
        """No closed form (PPO falls back to ``-log_prob``)."""
        return None

    def base_entropy(self) -> torch.Tensor:
        """Entropy ``[B]`` of the pre-squash Gaussian (what BC logs)."""
        return self.base.entropy().sum(-1)

    def kl(self, other: SquashedGaussian) -> torch.Tensor:
        """``KL(self || other)`` ``[B]``: that of the pre-squash Gaussians (tanh is a bijection)."""
        return torch.distributions.kl_divergence(self.base, other.base).sum(-1)


# ---------------------------------------------------------------------- quantile bins
def fit_quantile_bins(actions: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantile boundaries ``[D, bins - 1]`` and bin actions ``[D, bins]`` of ``actions`` ``[N, D]``.

    Boundary k is the k/bins quantile of each dimension, so every bin holds about the same number of
    demonstrations (point masses such as a saturated +-1 make boundaries coincide: those bins stay
    empty). A bin acts with the median of its demonstrations, an empty bin with its boundaries' midpoint.
    """
    a = np.clip(np.nan_to_num(np.asarray(actions, dtype=np.float64)), -1.0, 1.0)
    d = a.shape[1]
    edges = np.quantile(a, np.arange(1, bins) / bins, axis=0).T  # [D, bins - 1]
    centres = np.zeros((d, bins))
    for j in range(d):
        index = np.searchsorted(edges[j], a[:, j], side="right")
        bounds = np.concatenate([[-1.0], edges[j], [1.0]])
        for k in range(bins):
            members = a[index == k, j]
            centres[j, k] = np.median(members) if len(members) else 0.5 * (bounds[k] + bounds[k + 1])
    return edges.astype(np.float32), centres.astype(np.float32)


def uniform_bins(bins: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-width boundaries and centres over [-1, 1] (before :meth:`BinnedActionHead.fit`)."""
    bounds = np.linspace(-1.0, 1.0, bins + 1)
    edges = np.tile(bounds[1:-1], (dim, 1))
    centres = np.tile(0.5 * (bounds[1:] + bounds[:-1]), (dim, 1))
    return edges.astype(np.float32), centres.astype(np.float32)


# ---------------------------------------------------------------------- trunk and heads
def spatial_softmax(x: torch.Tensor) -> torch.Tensor:
    """Expected (x, y) in [-1, 1] of each channel's softmax over positions: ``[B, C, H, W] -> [B, 2C]``."""
    b, c, h, w = x.shape
    weights = x.flatten(2).softmax(-1).view(b, c, h, w)
    coords = coord_channels(1, h, w, x.device)[0]  # [2, H, W]
    ex = (weights * coords[0]).sum((2, 3))
    ey = (weights * coords[1]).sum((2, 3))
    return torch.cat([ex, ey], dim=1)


class EEDeltaTrunk(nn.Module):
    """Image + instruction (+ state) -> a feature vector for ``ee_delta`` readouts, and a value.

    The backbone's image features are projected, FiLM-conditioned on the instruction (plus a projection
    of the state vector), upsampled to ``grid`` and joined with the image (and standardised depth)
    resized to the grid and coordinate channels; two convolutions (the second FiLM-conditioned again)
    end in ``keypoints`` channels whose spatial-softmax positions, with the pooled features and the
    state, go through an MLP. With a top-down view the keypoints are where things are on the table.
    """

    def __init__(
        self,
        vision_channels: int,
        text_hidden: int,
        state_size: int,
        width: int,
        has_depth: bool,
        grid: int = 32,
        keypoints: int = 16,
    ) -> None:
        super().__init__()
        self.has_depth = has_depth
        self.grid = grid
        self.state_size = state_size
        cond = text_hidden or (width if state_size else 0)
        self.cond_size = cond
        self.state_proj = (
            nn.Sequential(nn.Linear(state_size, cond), nn.Tanh()) if state_size and cond else None
        )
        self.proj = nn.Sequential(nn.Conv2d(vision_channels, width, 1), nn.ReLU())
        self.film = nn.Linear(cond, 2 * width) if cond else None
        channels = max(width // 4, 16)
        pixels = 3 + int(has_depth)
        self.fuse = nn.Sequential(nn.Conv2d(width + pixels + 2, channels, 3, padding=1), nn.ReLU())
        self.grid_film = nn.Linear(cond, 2 * channels) if cond else None
        self.refine = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.keypoints = nn.Conv2d(channels, keypoints, 1)
        self.mlp = nn.Sequential(
            nn.Linear(2 * keypoints + channels + state_size + cond, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
        )
        self.value_head = value_mlp(width, width)
        self.out_size = width

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(features [B, width], value [B])``."""
        image = batch["rgb"]
        text = backbone.encode_text(batch["instr_ids"], batch["instr_mask"]) if "instr_ids" in batch else None
        state = batch.get("state") if self.state_size else None
        cond = text
        if self.state_proj is not None and state is not None:
            extra = self.state_proj(state)
            cond = extra if cond is None else cond + extra.to(cond.dtype)
        features = _film(self.film, self.proj(backbone.encode_image(image)), cond)
        g = self.grid
        x = F.interpolate(features, size=(g, g), mode="bilinear", align_corners=False)
        if self.has_depth:
            image = torch.cat([image, _standardise(batch["depth"].unsqueeze(1))], dim=1)
        pixels = F.interpolate(image, size=(g, g), mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([x, pixels.to(x.dtype), coord_channels(x.shape[0], g, g, x.device)], dim=1))
        x = self.refine(_film(self.grid_film, x, cond))
        parts = [spatial_softmax(self.keypoints(x)), x.mean(dim=(2, 3))]
        if state is not None:
            parts.append(state.to(x.dtype))
        if cond is not None:
            parts.append(cond.to(x.dtype))
        h = self.mlp(torch.cat(parts, dim=1))
        return h, self.value_head(h).squeeze(-1)


class SquashedGaussianHead(nn.Module):
    """``ee_gaussian``: the trunk, then ``[mean | log_std]`` ``[B, 2 * D]`` of a tanh-squashed Gaussian.

    ``log_std`` depends on the state (clamped to ``[LOG_STD_MIN, LOG_STD_MAX]``), so BC can be precise
    where the expert is and RL explores where it is not.
    """

    def __init__(
        self, trunk: EEDeltaTrunk, action_dim: int = EE_ACTION_DIM, init_log_std: float = -1.0
    ) -> None:
        super().__init__()
        self.trunk = trunk
        self.mean = nn.Linear(trunk.out_size, action_dim)
        self.log_std = nn.Linear(trunk.out_size, action_dim)
        nn.init.zeros_(self.log_std.weight)
        nn.init.constant_(self.log_std.bias, init_log_std)

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(params [B, 2 * D], value [B])``."""
        h, value = self.trunk(backbone, batch)
        log_std = self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)
        return torch.cat([self.mean(h), log_std], dim=1), value


class BinnedActionHead(nn.Module):
    """``ee_binned``: the trunk, then logits ``[B, D * bins]`` (``MultiDiscrete([bins] * D)``), RT-1 style.

    Buffers ``edges [D, bins - 1]`` and ``centres [D, bins]`` (saved in checkpoints) hold the bins;
    they start equal-width and :meth:`fit` sets them to quantiles of the demonstrations.
    """

    edges: torch.Tensor
    centres: torch.Tensor
    fitted: torch.Tensor

    def __init__(self, trunk: EEDeltaTrunk, bins: int, action_dim: int = EE_ACTION_DIM) -> None:
        super().__init__()
        self.trunk = trunk
        self.bins = bins
        self.action_dim = action_dim
        self.logits = nn.Linear(trunk.out_size, action_dim * bins)
        edges, centres = uniform_bins(bins, action_dim)
        self.register_buffer("edges", torch.as_tensor(edges))
        self.register_buffer("centres", torch.as_tensor(centres))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit(self, actions: np.ndarray) -> None:
        """Set the bins to quantiles of ``actions`` ``[N, D]`` (see :func:`fit_quantile_bins`)."""
        edges, centres = fit_quantile_bins(actions, self.bins)
        self.edges.copy_(torch.as_tensor(edges))
        self.centres.copy_(torch.as_tensor(centres))
        self.fitted.fill_(True)

    def to_index(self, actions: np.ndarray) -> np.ndarray:
        """Bin indices ``[N, D]`` (int64) of actions ``[N, D]``."""
        a = np.clip(np.nan_to_num(np.asarray(actions, dtype=np.float64)), -1.0, 1.0)
        edges = self.edges.detach().cpu().numpy()
        return np.stack(
            [np.searchsorted(edges[j], a[:, j], side="right") for j in range(self.action_dim)], axis=1
        ).astype(np.int64)

    def to_action(self, indices: np.ndarray) -> np.ndarray:
        """Bin actions ``[N, D]`` (float32) of indices ``[N, D]``."""
        idx = np.clip(np.asarray(indices, dtype=np.int64), 0, self.bins - 1)
        centres = self.centres.detach().cpu().numpy()
        return np.stack([centres[j, idx[:, j]] for j in range(self.action_dim)], axis=1).astype(np.float32)

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(logits [B, D * bins], value [B])``."""
        h, value = self.trunk(backbone, batch)
        return self.logits(h), value
