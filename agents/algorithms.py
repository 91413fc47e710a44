"""The SB3 algorithms that train rlft policies: PPO, or sb3-contrib's MaskablePPO for masked candidates.

The policy classes live in :mod:`rlft.policies.sb3`; this module picks and builds the algorithm around
an :class:`~rlft.policies.AgentPolicy` (the same modules: training the model trains the policy).

Example::

    policy = build_policy(PolicyConfig(backbone="tiny-bert"), env.observation_space, env.action_space)
    model = make_ppo(policy, env, n_steps=64)       # MaskablePPO for web, PPO for tabletop
    model.learn(1_000)
    agent_policy_from_sb3(model).save("ckpt/")     # back to an AgentPolicy (safetensors + JSON)
"""

from __future__ import annotations

from typing import Any

from rlft.errors import ConfigError, check_choice, require

__all__ = ["ALGORITHMS", "make_ppo", "silent_logger", "use_maskable"]

ALGORITHMS: tuple[str, ...] = ("auto", "ppo", "maskable_ppo")
"""``auto``: MaskablePPO when the policy has action masks (web), PPO otherwise (tabletop)."""


def use_maskable(algorithm: str, policy: Any) -> bool:
    """Whether ``algorithm`` means MaskablePPO for ``policy``.

    Raises:
        ConfigError: for an unknown algorithm, or ``maskable_ppo`` on a policy without action masks.
    """
    check_choice("algorithm", algorithm, ALGORITHMS)
    if algorithm == "auto":
        return bool(policy.supports_action_masks)
    if algorithm == "maskable_ppo" and not policy.supports_action_masks:
        raise ConfigError(
            f"maskable_ppo needs a policy with action masks (web admissible commands); "
            f"{type(policy).__name__} has none: use ppo."
        )
    return algorithm == "maskable_ppo"


def make_ppo(
    policy: Any,
    env: Any,
    maskable: bool | None = None,
    num_candidates: int | None = None,
    **ppo_kwargs: Any,
) -> Any:
    """Build an SB3 PPO (or sb3-contrib MaskablePPO) model that trains ``policy`` in place.

    Args:
        policy: The AgentPolicy to train (a BC-trained one warm-starts RL).
        env: A raw rlft env (wrapped with :func:`rlft.policies.sb3.make_sb3_env` here) or an already
            wrapped one / VecEnv.
        maskable: Use MaskablePPO; default: when the policy has action masks (web), not for tabletop.
        num_candidates: K for the web wrapper.
        **ppo_kwargs: Passed to the algorithm (``n_steps``, ``batch_size``, ``learning_rate``, ...);
            ``policy_kwargs`` entries are merged. ``device`` defaults to the policy's device.

    The model logs nothing until given a logger (``model.set_logger``; :func:`rlft.agents.train_rl` gives
    it a TensorBoard one) or a ``tensorboard_log`` folder: left to itself, SB3 would configure its default
    logger on ``learn`` and leave an empty ``SB3-<date>`` folder in the temp directory on every call.

    Raises:
        DependencyError: when stable-baselines3 / sb3-contrib (the ``train`` extra) are missing.
    """
    from rlft.policies.sb3 import (
        RlftActorCriticPolicy,
        RlftMaskablePolicy,
        SB3EnvWrapper,
        make_sb3_env,
        sb3_policy_kwargs,
    )

    maskable_ppo = require("sb3_contrib", "MaskablePPO").MaskablePPO
    ppo = require("stable_baselines3", "PPO").PPO
    vec_env_class = require("stable_baselines3.common.vec_env", "PPO").VecEnv

    if not isinstance(env, (SB3EnvWrapper, vec_env_class)):
        env = make_sb3_env(env, policy, num_candidates)
    if maskable is None:
        maskable = use_maskable("auto", policy)
    policy_kwargs = sb3_policy_kwargs(policy, **ppo_kwargs.pop("policy_kwargs", {}))
    ppo_kwargs.setdefault("device", policy.device)
    algorithm = maskable_ppo if maskable else ppo
    policy_class = RlftMaskablePolicy if maskable else RlftActorCriticPolicy
    model = algorithm(policy_class, env, policy_kwargs=policy_kwargs, **ppo_kwargs)
    if ppo_kwargs.get("tensorboard_log") is None:
        model.set_logger(silent_logger())
    return model


def silent_logger() -> Any:
    """An SB3 logger with no outputs and no folder (SB3's own default creates a temp folder)."""
    logger_module = require("stable_baselines3.common.logger", "PPO")
    return logger_module.Logger(folder=None, output_formats=[])
