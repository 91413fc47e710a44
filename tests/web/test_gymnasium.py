"""Gymnasium's own environment checks (``tests/envs/test_envs.py``, ``test_rendering.py``) on every web id."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
import rlft
from gymnasium.utils.env_checker import check_env, data_equivalence

WEB_IDS = [env_id for env_id in rlft.ENV_IDS if env_id.startswith("rlft/Web")]


def test_every_web_id_is_covered() -> None:
    assert len(WEB_IDS) == 16


@pytest.mark.parametrize("env_id", WEB_IDS)
def test_gymnasium_check_env_renders_every_listed_mode(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array")
    try:
        assert "rgb_array" in env.metadata["render_modes"]
        # Not skipping the render check: check_env renders every mode of metadata["render_modes"].
        check_env(env.unwrapped)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", WEB_IDS)
def test_every_listed_mode_renders_like_gymnasiums_rendering_test(env_id: str) -> None:
    # What gymnasium's tests/envs/test_rendering.py asserts, mode by mode.
    for mode in gym.spec(env_id).make().metadata["render_modes"]:
        env = gym.make(env_id, render_mode=mode)
        try:
            env.reset(seed=0)
            frame = env.render()
            if mode == "rgb_array":
                assert isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
                assert frame.dtype == np.uint8
            else:
                assert isinstance(frame, str) and frame
        finally:
            env.close()


@pytest.mark.parametrize("env_id", WEB_IDS)
def test_pickled_env_continues_identically(env_id: str) -> None:
    # gymnasium's test_pickle_env: a pickled copy resets and steps to the same data.
    env = gym.make(env_id)
    copy = pickle.loads(pickle.dumps(env))
    try:
        assert data_equivalence(env.reset(seed=42), copy.reset(seed=42))
        for _ in range(3):
            action = env.unwrapped.expert_action()
            assert action == copy.unwrapped.expert_action()
            assert data_equivalence(env.step(action), copy.step(action))
    finally:
        env.close()
        copy.close()
