"""Build and load policies of any environment family.

Importing this module imports the built-in family classes (:class:`WebPolicy`, :class:`TabletopPolicy`),
which register themselves in :data:`POLICY_FAMILIES`. :func:`build_policy` detects the family from the
environment's spaces and asks its class to build itself; :func:`load_policy` lets the checkpoint's family
class restore it. ``rlft.policies.AgentPolicy`` resolves through this module, so the families are always
registered when it is used.
"""

from __future__ import annotations

from pathlib import Path

import torch
from gymnasium import spaces
from rlft.errors import ConfigError
from rlft.policies.config import PolicyConfig
from rlft.policies.interface import EnvInterface, detect_interface
from rlft.policies.policy import POLICY_FAMILIES, AgentPolicy, policy_class
from rlft.policies.tabletop import TabletopPolicy
from rlft.policies.web import WebPolicy

__all__ = [
    "POLICY_FAMILIES",
    "AgentPolicy",
    "TabletopPolicy",
    "WebPolicy",
    "build_policy",
    "build_policy_for_interface",
    "load_policy",
    "policy_class",
]


def build_policy_for_interface(
    config: PolicyConfig,
    interface: EnvInterface,
    *,
    seed: int | None = None,
    device: str | torch.device | None = "cpu",
    progress: bool = True,
) -> AgentPolicy:
    """Build a policy from a config and an :class:`EnvInterface` (see :func:`build_policy`)."""
    return policy_class(interface.kind).create(config, interface, seed=seed, device=device, progress=progress)


def build_policy(
    config: PolicyConfig,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    *,
    seed: int | None = None,
    device: str | torch.device | None = "cpu",
    progress: bool = True,
) -> AgentPolicy:
    """Build the :class:`AgentPolicy` for an environment with these (raw, unwrapped) spaces.

    The class follows the environment family (:data:`POLICY_FAMILIES`), the head the backbone's
    modality: web -> ``text_scorer`` (encoders, vision-language text towers) or ``generative_scorer``
    (causal LMs); tabletop -> ``pick_place``. The policy starts in eval mode; call ``.train()`` before
    updating it.

    Args:
        config: The policy configuration.
        observation_space: The raw env's observation space.
        action_space: The raw env's action space.
        seed: Overrides ``config.seed`` (recorded in ``policy.config``): the head's (and LoRA's) initial
            weights depend on it alone, and the global torch RNG is left as it was.
        device: ``"cpu"`` (default), ``"auto"``, ``"cuda"`` or ``"cuda:N"`` (see
            :func:`rlft.policies.resolve_device`).
        progress: Show Hugging Face weight-loading progress bars (``False`` silences them).

    Raises:
        ModalityError: when the backbone does not fit the environment (naming backbones that do), or the
            spaces fit no rlft environment family.
        UnknownBackboneError: for an unknown backbone name.
        ConfigError: for invalid settings (for example LoRA on a backbone without LoRA targets, or a
            CUDA device on a machine without one).
    """
    if not isinstance(config, PolicyConfig):
        raise ConfigError(f"build_policy needs a PolicyConfig; got {type(config).__name__}.")
    interface = detect_interface(observation_space, action_space, config.view)
    return build_policy_for_interface(config, interface, seed=seed, device=device, progress=progress)


def load_policy(
    directory: str | Path, device: str | torch.device | None = "cpu", progress: bool = True
) -> AgentPolicy:
    """Rebuild a policy of any family saved with :meth:`AgentPolicy.save` on ``device`` (no unpickling).

    Raises:
        CheckpointError: for missing/corrupt files, tensors that do not fit the rebuilt policy, or frozen
            backbone weights that differ from those the checkpoint was trained on.
        ConfigError: for a device that does not exist on this machine.
    """
    return AgentPolicy.from_pretrained(directory, device=device, progress=progress)
