"""The agents' side of running environments on Ray: env factories and the episode pools.

The SB3 ``VecEnv`` is :class:`rlft.agents.ray_vec_env.RayVecEnv`. :func:`sb3_env_factory` is the one
factory of an env in SB3's view (local ``DummyVecEnv`` or Ray), and :func:`episode_pool` builds the
pools ``rlft collect --ray`` and ``rlft eval --ray`` spread episodes over. What each worker node needs:
the same Python environment as the driver (rlft with its extras). ``train rl`` sends each worker a CPU
copy of the policy, whose observation encoder and action mapping the SB3 wrapper uses there (its
weights are not used there).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlft.agents.config import DistributedConfig
from rlft.agents.episodes import reads_frames
from rlft.demos.envs import make_env
from rlft.envs.ray_vector import RayEnvPool

__all__ = ["SB3EnvFactory", "episode_pool", "sb3_env_factory"]


@dataclass
class SB3EnvFactory:
    """Makes one env in SB3's view: ``Monitor(make_sb3_env(make_env(...), policy))``; picklable.

    Args:
        env: the run's env record (``env_id``, ``split``, ``env_kwargs``, ``max_steps``).
        policy: the AgentPolicy whose observation encoder and action mapping the wrapper uses.
        reward_model: replaces the env's reward by its terminal score (:mod:`rlft.agents.learned_reward`).
    """

    env: Mapping[str, Any]
    policy: Any
    info_keywords: tuple[str, ...] = field(default=("success",))
    reward_model: Any = None

    def __call__(self) -> Any:
        """A fresh env."""
        from rlft.policies.sb3 import make_sb3_env
        from stable_baselines3.common.monitor import Monitor

        env = self.env
        # An image reward model reads the episode's final rgb_array render (as rlft compare stored it).
        render = {"render_mode": "rgb_array"} if reads_frames(self.reward_model) else {}
        raw = make_env(env["env_id"], env["split"], env["env_kwargs"], max_steps=env["max_steps"], **render)
        if self.reward_model is not None:
            from rlft.agents.learned_reward import LearnedReward

            raw = LearnedReward(raw, self.reward_model)
        return Monitor(make_sb3_env(raw, self.policy), info_keywords=self.info_keywords)


def sb3_env_factory(
    env: Mapping[str, Any], policy: Any, *, remote: bool = False, reward_model: Any = None
) -> SB3EnvFactory:
    """The factory of ``env`` in ``policy``'s SB3 view; ``remote`` sends a CPU copy of the policy.

    In this process the wrapper shares the training policy (as DummyVecEnv always did); Ray workers get a
    copy on CPU, so a GPU policy can feed workers on CPU-only nodes.
    """
    if remote and getattr(getattr(policy, "device", None), "type", "cpu") != "cpu":
        policy = copy.deepcopy(policy).to("cpu")
    return SB3EnvFactory(dict(env), policy, reward_model=reward_model)


def episode_pool(
    distributed: DistributedConfig,
    env_id: str,
    split: str | None,
    env_kwargs: Mapping[str, Any] | None,
) -> Callable[..., RayEnvPool]:
    """A maker of the pool collect / eval spread episodes over: ``make(render_mode=None) -> RayEnvPool``.

    The workers make ``make_env(env_id, split, env_kwargs)`` exactly as the local commands do (with the
    render mode the caller asks for).
    """

    def make(render_mode: str | None = None) -> RayEnvPool:
        extra: dict[str, Any] = {"render_mode": render_mode} if render_mode is not None else {}
        factory = functools.partial(make_env, env_id, split, dict(env_kwargs or {}), **extra)
        return RayEnvPool(
            [factory] * distributed.num_ray_envs, distributed.envs_per_worker, **distributed.pool_kwargs()
        )

    return make
