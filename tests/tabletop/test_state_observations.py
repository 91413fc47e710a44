"""The opt-in ``step`` and ``ee_state`` observation keys of the tabletop envs."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import rlft  # noqa: F401
from rlft.envs.tabletop.env import TabletopEnv
from rlft.envs.tabletop.objects import world_to_uv
from rlft.errors import ConfigError


def test_default_observation_has_neither_key():
    env = TabletopEnv(task="stack_blocks", image_size=(32, 32))
    obs, _ = env.reset(seed=0)
    assert "step" not in obs and "ee_state" not in obs
    assert "step" not in env.observation_space.spaces
    env.close()


def test_step_index_counts_actions_in_each_episode():
    env = gym.make("rlft/TabletopStackBlocks-v0", image_size=(32, 32), step_observation=True)
    obs, _ = env.reset(seed=1)
    assert obs["step"].dtype == np.int64 and obs["step"].tolist() == [0]
    assert obs in env.observation_space
    seen, done = [0], False
    while not done:
        obs, _, terminated, truncated, _ = env.step(env.unwrapped.expert_action())
        seen.append(int(obs["step"][0]))
        assert obs in env.observation_space
        done = terminated or truncated
    assert seen == list(range(len(seen))) and len(seen) >= 3  # a multi-step episode
    obs, _ = env.reset(seed=2)
    assert obs["step"].tolist() == [0]
    env.close()


def test_ee_state_reports_the_cup_target_and_what_it_holds():
    env = TabletopEnv(
        task="put_block_in_bowl", action_mode="ee_delta", image_size=(32, 32), proprioception=True
    )
    obs, _ = env.reset(seed=0)
    robot = env.scene.robot
    u, v = world_to_uv(robot.target_pos[:2])
    assert obs["ee_state"].dtype == np.float32 and obs["ee_state"].shape == (5,)
    assert obs["ee_state"][:3] == pytest.approx([u, v, robot.target_pos[2]], abs=1e-5)
    assert obs["ee_state"][3] == pytest.approx(robot.target_yaw / math.pi, abs=1e-5)
    held = [obs["ee_state"][4]]
    for _ in range(200):
        obs, _, terminated, truncated, _ = env.step(env.expert_action())
        held.append(obs["ee_state"][4])
        if terminated or truncated:
            break
    assert terminated and held[0] == 0.0 and 1.0 in held  # empty at the start, holding on the way
    env.close()


def test_state_kwargs_are_validated():
    with pytest.raises(ConfigError, match="step_observation"):
        TabletopEnv(step_observation="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="proprioception"):
        TabletopEnv(proprioception=1)  # type: ignore[arg-type]
