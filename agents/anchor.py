"""Keeping an RL-fine-tuned policy close to its behaviour-cloned start (imitation's and LeRobot's ask).

Two anchors, each added to PPO's loss as ``coef * anchor_loss``:

* ``bc``: the negative log-likelihood of expert actions on a minibatch of demonstrations (DAPG /
  "PPO + BC" style). It pulls toward the *expert*, so it never fights a correct improvement.
* ``kl``: ``KL(pi_theta || pi_BC)`` on states from the current rollout, against a frozen copy of the
  policy taken before RL started (the RL4LMs / RLHF style). It pulls toward the *BC policy*.

How it is wired: :class:`AnchorHook` is registered with ``optimizer.register_step_pre_hook`` on the SB3
policy's optimizer. SB3's ``train()`` computes the PPO loss, calls ``backward()`` and clips the
gradient; just before ``optimizer.step()`` the hook computes the anchor loss on its own minibatch and
*adds* its gradient (clipped to the same norm) to the parameters' ``.grad``. The step therefore
follows ``grad(PPO loss) + coef * grad(anchor loss)`` for every PPO minibatch, without copying SB3's
``train()`` and for PPO and MaskablePPO alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rlft.errors import check_choice, check_float

__all__ = ["ANCHORS", "AnchorHook"]

logger = logging.getLogger(__name__)

ANCHORS: tuple[str, ...] = ("none", "bc", "kl")
"""Valid values of ``RLConfig.anchor``."""


class AnchorHook:
    """An optimizer pre-step hook that adds ``coef * grad(anchor loss)`` (see the module docstring).

    Args:
        kind: ``bc`` or ``kl``.
        coef: weight of the anchor loss.
        params: the parameters the optimizer updates (the anchor's gradient is clipped over them).
        max_grad_norm: clip norm of the anchor gradient.
        bc_loss: ``kind="bc"``: callable ``(obs_batch, action_batch) -> loss tensor``.
        demos: ``kind="bc"``: ``(observation, action)`` pairs.
        kl_loss: ``kind="kl"``: callable ``(indices) -> loss tensor`` on rollout-buffer rows.
        rollout_size: ``kind="kl"``: callable returning how many rows the rollout buffer holds.
        batch_size: anchor minibatch size.
        seed: seeds the minibatch sampling.

    """

    def __init__(
        self,
        kind: str,
        coef: float,
        params: Sequence[Any],
        max_grad_norm: float,
        *,
        bc_loss: Callable[[list[Any], list[Any]], Any] | None = None,
        demos: Sequence[tuple[Any, Any]] = (),
        kl_loss: Callable[[np.ndarray], Any] | None = None,
        rollout_size: Callable[[], int] | None = None,
        batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        self.kind = check_choice("anchor", kind, ANCHORS[1:])
        self.coef = check_float("anchor_coef", coef, 0.0)
        self.params = [p for p in params if p.requires_grad]
        self.max_grad_norm = max_grad_norm
        self.bc_loss, self.demos = bc_loss, list(demos)
        self.kl_loss, self.rollout_size = kl_loss, rollout_size
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.last_loss = float("nan")
        self.calls = 0
        if kind == "bc" and (bc_loss is None or not self.demos):
            raise ValueError("anchor='bc' needs bc_loss and demonstrations")
        if kind == "kl" and (kl_loss is None or rollout_size is None):
            raise ValueError("anchor='kl' needs kl_loss and rollout_size")

    def anchor_loss(self) -> Any:
        """The anchor loss on a fresh minibatch (a scalar tensor with a graph)."""
        if self.kind == "bc":
            idx = self.rng.integers(0, len(self.demos), size=min(self.batch_size, len(self.demos)))
            return self.bc_loss([self.demos[i][0] for i in idx], [self.demos[i][1] for i in idx])  # type: ignore[misc]
        n = self.rollout_size()  # type: ignore[misc]
        idx = self.rng.integers(0, n, size=min(self.batch_size, n))
        return self.kl_loss(idx)  # type: ignore[misc]

    def __call__(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        """Optimizer pre-step hook: add the anchor's gradient to the PPO gradient already in ``.grad``."""
        import torch

        if self.coef == 0.0:
            return
        loss = self.anchor_loss()
        grads = torch.autograd.grad(self.coef * loss, self.params, allow_unused=True)
        pairs = [(p, g) for p, g in zip(self.params, grads, strict=True) if g is not None]
        total = torch.norm(torch.stack([g.norm() for _, g in pairs])) if pairs else torch.tensor(0.0)
        scale = min(1.0, self.max_grad_norm / (float(total) + 1e-6))
        for p, g in pairs:
            p.grad = g * scale if p.grad is None else p.grad + g * scale
        self.last_loss = loss.item()
        self.calls += 1
