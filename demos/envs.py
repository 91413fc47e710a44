"""Making environments by id for recording, training and evaluation, with typed errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
from rlft.errors import UnknownEnvError, unknown_name_message

__all__ = ["check_env_id", "is_text_env", "make_env"]


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if Gymnasium knows it.

    Raises:
        UnknownEnvError: naming the closest registered rlft id.

    """
    import rlft  # registers the ids

    if env_id not in gym.registry:
        raise UnknownEnvError(unknown_name_message("environment id", env_id, rlft.ENV_IDS))
    return env_id


def make_env(
    env_id: str, split: str | None = None, env_kwargs: Mapping[str, Any] | None = None, **extra: Any
) -> gym.Env:
    """``gym.make(env_id, split=split, **env_kwargs, **extra)``; ``split=None`` keeps the env's default.

    Raises:
        UnknownEnvError: for an unregistered id. Bad kwargs raise the environment's own typed errors.

    """
    kwargs = dict(env_kwargs or {})
    kwargs.update(extra)
    if split is not None:
        kwargs["split"] = split
    return gym.make(check_env_id(env_id), **kwargs)


def is_text_env(env: gym.Env) -> bool:
    """Whether the environment's actions are text commands (web) rather than arrays (tabletop)."""
    return isinstance(env.action_space, gym.spaces.Text)
