"""rlft.policies: pretrained backbones, adapter heads and stable-baselines3 policy classes.

Importing this package is cheap: the registry (``register_backbone``, ``list_backbones``) has no heavy
imports, and everything that needs torch loads on first attribute access (PEP 562).

Typical use::

    from rlft.policies import PolicyConfig, build_policy, load_policy
    policy = build_policy(PolicyConfig(backbone="minilm", finetune="lora"), env.observation_space,
                          env.action_space)
    action = policy.act(obs)                       # a command string (web) / float32 array (tabletop)
    log_prob, entropy, value = policy.evaluate_actions(obs_batch, actions)
    policy.save("ckpt/"); policy = load_policy("ckpt/")

The SB3 bridge lives in :mod:`rlft.policies.sb3`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rlft.policies.config import FINETUNE_MODES, HEADS, PolicyConfig
from rlft.policies.registry import (
    ENTRY_POINT_GROUP,
    MODALITIES,
    BackboneEntry,
    list_backbones,
    load_backbone,
    register_backbone,
    reload_entry_points,
    unregister_backbone,
)

if TYPE_CHECKING:
    from rlft.policies.backbone import Backbone, TextVisionPair
    from rlft.policies.checkpoint import load_policy
    from rlft.policies.finetune import apply_finetune
    from rlft.policies.interface import EnvInterface, detect_interface
    from rlft.policies.policy import AgentPolicy, build_policy, set_torch_threads

# name -> module that defines it (imported on first access because it needs torch)
_LAZY: dict[str, str] = {
    "Backbone": "rlft.policies.backbone",
    "TextVisionPair": "rlft.policies.backbone",
    "AgentPolicy": "rlft.policies.policy",
    "build_policy": "rlft.policies.policy",
    "set_torch_threads": "rlft.policies.policy",
    "load_policy": "rlft.policies.checkpoint",
    "apply_finetune": "rlft.policies.finetune",
    "EnvInterface": "rlft.policies.interface",
    "detect_interface": "rlft.policies.interface",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rlft.policies' has no attribute {name!r}")


__all__ = [
    "ENTRY_POINT_GROUP",
    "FINETUNE_MODES",
    "HEADS",
    "MODALITIES",
    "AgentPolicy",
    "Backbone",
    "BackboneEntry",
    "EnvInterface",
    "PolicyConfig",
    "TextVisionPair",
    "apply_finetune",
    "build_policy",
    "detect_interface",
    "list_backbones",
    "load_backbone",
    "load_policy",
    "register_backbone",
    "reload_entry_points",
    "set_torch_threads",
    "unregister_backbone",
]
