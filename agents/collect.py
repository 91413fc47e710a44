"""``rlft collect``: record demonstrations of the expert, a saved policy or the random agent.

The dataset is an ordinary Minari dataset (see :mod:`rlft.demos.record`); its default id ends in
``-expert``, ``-policy`` or ``-random``. Policy and random data are for offline RL and DAgger-style
relabelling, so they keep failed episodes too unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlft.agents.config import AgentChoice, DistributedConfig, EnvConfig, RunConfig
from rlft.agents.evaluate import make_agent
from rlft.agents.policy_io import check_policy_fits
from rlft.demos.envs import check_env_id, make_env
from rlft.demos.record import CollectResult, collect_demos
from rlft.errors import ConfigError, check_float, check_int

__all__ = ["CollectConfig", "run_collect"]


@dataclass
class CollectConfig(RunConfig, EnvConfig, AgentChoice, DistributedConfig):
    """Record demonstrations of the expert, a saved policy or the random agent as a Minari dataset.

    The rlft collect flags are these fields. Episode i of the attempts resets with seed + i; the seed is
    stored with each episode. With ray the attempts run on num_workers x envs_per_worker remote envs at
    once (the agent acts in this process) and the dataset is the same as a local collect's.
    """

    episodes: int = 100
    """Episodes to keep."""
    min_return: float = 0.99
    """Keep episodes whose return reaches this (unless keep_failures)."""
    keep_failures: bool | None = None
    """Keep unsuccessful episodes too (None: only for policy and random data)."""
    max_attempts: int | None = None
    """Give up after this many episodes (None: 3 x episodes)."""
    overwrite: bool = False
    """Replace an existing dataset at out_dir."""

    DEFAULT_SPLIT: ClassVar[str] = "train"
    """Record on train goals: never on the test goals you evaluate on."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        super().validate()
        self.validate_env()
        self.validate_distributed()
        self.collect_env_id()
        self.validate_agent(default="expert")
        check_int("episodes", self.episodes)
        check_float("min_return", self.min_return)
        if self.max_attempts is not None:
            check_int("max_attempts", self.max_attempts)

    def collect_env_id(self) -> str:
        """The environment to record (collect has no policy record to take it from).

        Raises:
            ConfigError: no environment id given.
            UnknownEnvError: unknown environment id.
        """
        if self.env_id is None:
            raise ConfigError("collect needs an environment id: rlft collect ENV_ID.")
        return check_env_id(self.env_id)


def run_collect(config: CollectConfig) -> CollectResult:
    """Record the demonstrations ``config`` describes; what rlft collect runs.

    Raises:
        UnknownEnvError: unknown environment id.
        ConfigError: invalid settings, unknown env kwargs, or an existing dataset without overwrite.
        CheckpointError: the policy folder is missing or corrupt.
        ModalityError: the policy does not fit the environment.
        DatasetError: no episode was good enough to keep.
    """
    config.validate()
    env_id = config.collect_env_id()
    source = config.validate_agent(default="expert")
    agent = make_agent(config, config, default="expert")
    kwargs = config.make_kwargs()
    if config.policy is not None:  # source == "policy"
        env = make_env(env_id, config.goal_split, kwargs)
        try:
            check_policy_fits(agent.policy, config.policy, env.observation_space, env.action_space)
        finally:
            env.close()
    keep = config.keep_failures if config.keep_failures is not None else source != "expert"
    env_pool = None
    if config.ray is not None:
        from rlft.agents.ray_envs import episode_pool

        env_pool = episode_pool(config, env_id, config.goal_split, kwargs)
    return collect_demos(
        env_id,
        config.episodes,
        out=config.out_dir,
        split=config.goal_split,
        seed=config.seed,
        min_return=config.min_return,
        keep_failures=keep,
        max_attempts=config.max_attempts,
        max_steps=config.max_steps,
        env_kwargs=kwargs,
        overwrite=config.overwrite,
        progress=config.show_progress,
        actor=None if source == "expert" else agent,
        source=source,
        env_pool=env_pool,
    )
