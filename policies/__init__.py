"""rlft.policies: pretrained backbones, adapter heads and stable-baselines3 policy classes.

Importing this package is cheap: the registry (``register_backbone``, ``list_backbones``) has no heavy
imports, and everything that needs torch loads on first attribute access (PEP 562).

Typical use::

    from rlft.policies import PolicyConfig, build_policy, load_policy
    policy = build_policy(PolicyConfig(backbone="minilm", finetune="lora"), env.observation_space,
                          env.action_space)
    action = policy.act(obs)                       # a command string (web) / float32 array (tabletop)
    log_prob, entropy, value = policy.evaluate_actions(obs_batch, actions)
    policy.save_pretrained("ckpt/"); policy = AgentPolicy.from_pretrained("ckpt/", device="auto")

``build_policy`` returns the class of the environment's family (:class:`WebPolicy`,
:class:`TabletopPolicy`, both :class:`AgentPolicy`). Devices and precision: :func:`resolve_device`,
:func:`resolve_precision`, :func:`autocast`. The SB3 policy classes live in :mod:`rlft.policies.sb3`.
A missing ``train`` extra (torch, transformers, ...) raises :class:`~rlft.errors.DependencyError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlft.errors import lazy_attributes
from rlft.policies.config import FINETUNE_CHOICES, FINETUNE_MODES, HEADS, SCORERS, PolicyConfig
from rlft.policies.device import DEVICES, PRECISIONS, autocast, resolve_device, resolve_precision
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
    from rlft.policies.build import (
        POLICY_FAMILIES,
        AgentPolicy,
        TabletopPolicy,
        WebPolicy,
        build_policy,
        load_policy,
        policy_class,
    )
    from rlft.policies.finetune import apply_finetune
    from rlft.policies.interface import EnvInterface, detect_interface
    from rlft.policies.policy import set_torch_threads

# name -> module that defines it (imported on first access because it needs torch)
_LAZY: dict[str, str] = {
    "Backbone": "rlft.policies.backbone",
    "TextVisionPair": "rlft.policies.backbone",
    "AgentPolicy": "rlft.policies.build",
    "POLICY_FAMILIES": "rlft.policies.build",
    "WebPolicy": "rlft.policies.build",
    "TabletopPolicy": "rlft.policies.build",
    "build_policy": "rlft.policies.build",
    "load_policy": "rlft.policies.build",
    "policy_class": "rlft.policies.build",
    "set_torch_threads": "rlft.policies.policy",
    "apply_finetune": "rlft.policies.finetune",
    "EnvInterface": "rlft.policies.interface",
    "detect_interface": "rlft.policies.interface",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "DEVICES",
    "ENTRY_POINT_GROUP",
    "FINETUNE_CHOICES",
    "FINETUNE_MODES",
    "HEADS",
    "MODALITIES",
    "POLICY_FAMILIES",
    "PRECISIONS",
    "SCORERS",
    "AgentPolicy",
    "Backbone",
    "BackboneEntry",
    "EnvInterface",
    "PolicyConfig",
    "TabletopPolicy",
    "TextVisionPair",
    "WebPolicy",
    "apply_finetune",
    "autocast",
    "build_policy",
    "detect_interface",
    "list_backbones",
    "load_backbone",
    "load_policy",
    "policy_class",
    "register_backbone",
    "reload_entry_points",
    "resolve_device",
    "resolve_precision",
    "set_torch_threads",
    "unregister_backbone",
]
