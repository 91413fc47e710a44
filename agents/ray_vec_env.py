"""stable-baselines3's ``VecEnv`` on Ray actors (:class:`RayVecEnv`), for ``rlft train rl --ray``.

It behaves like ``DummyVecEnv`` / ``SubprocVecEnv``: ``seed(s)`` then ``reset()`` resets env ``i`` with
``s + i``, a finished episode is reset at once with ``info["terminal_observation"]`` and
``info["TimeLimit.truncated"]``, and ``env_method("action_masks")`` serves MaskablePPO. An env whose
worker died mid-step ends its episode as truncated (``TimeLimit.truncated`` true, the last observation as
``terminal_observation``, ``info["worker_restarted"]``) and starts a new one on the restarted worker;
its Monitor does not report the cut episode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from rlft.envs.ray_vector import RayEnvPool
from stable_baselines3.common.vec_env import VecEnv

__all__ = ["RayVecEnv"]


def _stack(observations: Sequence[Any], space: spaces.Space) -> Any:
    """Stack per-env observations like DummyVecEnv's buffers (the space's dtype)."""
    if isinstance(space, spaces.Dict):
        return {key: _stack([obs[key] for obs in observations], sub) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(_stack([obs[j] for obs in observations], sub) for j, sub in enumerate(space.spaces))
    return np.stack([np.asarray(obs) for obs in observations]).astype(space.dtype, copy=False)


class RayVecEnv(VecEnv):
    """An SB3 ``VecEnv`` whose envs run on Ray actors (see the module docstring).

    Args:
        env_fns: one factory per env (they run in the workers; they must pickle).
        envs_per_worker: envs each Ray actor hosts.
        pool_kwargs: :class:`rlft.envs.ray_vector.RayEnvPool` options (``worker_options``,
            ``timeout_s``, ``max_restarts``, ``ray_address``).

    Raises:
        DependencyError: Ray is missing (naming the extra).
    """

    def __init__(self, env_fns: Sequence[Callable[[], Any]], envs_per_worker: int = 1, **pool_kwargs: Any):
        self.pool = RayEnvPool(env_fns, envs_per_worker, **pool_kwargs)
        self._actions: Any = None
        super().__init__(self.pool.num_envs, self.pool.observation_space, self.pool.action_space)

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return [int(i) for i in indices]

    def reset(self) -> Any:
        """Reset every env with the seeds / options given since the last reset (then forget them)."""
        options = [dict(o) if o else None for o in self._options]
        results = self.pool.reset(list(range(self.num_envs)), list(self._seeds), options)
        self.reset_infos = [info for _, info in results]
        self._reset_seeds()
        self._reset_options()
        return _stack([obs for obs, _ in results], self.observation_space)

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions; :meth:`step_wait` sends them."""
        self._actions = actions

    def step_wait(self) -> Any:
        """Step every env on its worker (all workers at once); finished episodes restart at once."""
        ops = [("step", action) for action in self._actions]
        results = self.pool.step(list(range(self.num_envs)), ops, autoreset=True)
        observations, rewards, dones, infos = [], [], [], []
        for i, (obs, reward, terminated, truncated, info, again) in enumerate(results):
            info = dict(info)
            done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:
                info["terminal_observation"] = obs
                obs, self.reset_infos[i] = again
            observations.append(obs)
            rewards.append(reward)
            dones.append(done)
            infos.append(info)
        return (
            _stack(observations, self.observation_space),
            np.asarray(rewards, dtype=np.float32),
            np.asarray(dones, dtype=bool),
            infos,
        )

    def close(self) -> None:
        """End the workers (and the Ray session the pool started)."""
        self.pool.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """``get_wrapper_attr(attr_name)`` of the envs."""
        return self.pool.get_attr(self._indices(indices), attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set ``attr_name`` on the envs."""
        targets = self._indices(indices)
        self.pool.set_attr(targets, attr_name, [value] * len(targets))

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **kwargs: Any
    ) -> list[Any]:
        """Call ``method_name`` on the envs (``action_masks`` for MaskablePPO)."""
        return self.pool.call(self._indices(indices), method_name, *method_args, **kwargs)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """Whether the envs are wrapped in ``wrapper_class``."""
        return self.pool.is_wrapped(self._indices(indices), wrapper_class)

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Every env's frame (``rgb_array`` render mode only, as DummyVecEnv)."""
        if self.render_mode != "rgb_array":
            return [None] * self.num_envs
        return self.pool.call(list(range(self.num_envs)), "render")
