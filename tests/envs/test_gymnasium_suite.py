"""Gymnasium's own environment checks, run over every rlft id.

Mirrors ``tests/envs/test_envs.py`` (the env checker with no unexpected warning, the passive checker,
seeded rollout determinism, pickling) and ``tests/envs/test_rendering.py`` (``rgb_array`` is listed and
every listed mode renders, before and after a step, with the right type and shape) of the Gymnasium
repository, with short rollouts so the suite stays fast.
"""

from __future__ import annotations

import importlib.util
import pickle
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

_spec = importlib.util.spec_from_file_location("env_rollout", Path(__file__).parents[1] / "env_rollout.py")
env_rollout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(env_rollout)

SEED = 0
NUM_STEPS = 4
"""Gymnasium runs 50 steps; a few already cover reset, step and the end of the shortest episodes."""

CHECK_ENV_IGNORE_WARNINGS = [
    f"\x1b[33mWARN: {message}\x1b[0m"
    for message in [
        "A Box observation space minimum value is -infinity. This is probably too low.",
        "A Box observation space maximum value is infinity. This is probably too high.",
        "For Box action spaces, we recommend using a symmetric and normalized space (range=[-1, 1] or "
        "[0, 1]). See https://stable-baselines3.readthedocs.io/en/master/guide/rl_tips.html for more "
        "information.",
    ]
]
PASSIVE_CHECK_IGNORE_WARNING = re.compile(
    r"\x1b\[33mWARN: The environment (.*?) is out of date\. "
    r"You should consider upgrading to version `v(\d)`\.\x1b\[0m"
)


@pytest.fixture(scope="module", autouse=True)
def _one_browser() -> Iterator[None]:
    """Keeps one Chromium alive for the module, so live-page ids do not relaunch it per test."""
    yield from env_rollout.hold_browser()


@pytest.fixture(params=env_rollout.contract_ids())
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param


def test_all_env_api(env_id: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(env_id).unwrapped
        try:
            check_env(env, skip_render_check=True)
        finally:
            env.close()
    unexpected = [str(w.message) for w in caught if str(w.message) not in CHECK_ENV_IGNORE_WARNINGS]
    assert not unexpected, f"unexpected warnings: {unexpected}"


def test_all_env_passive_env_checker(env_id: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(env_id)
        try:
            env.reset()
            env.step(env.action_space.sample())
        finally:
            env.close()
    unexpected = [str(w.message) for w in caught if not PASSIVE_CHECK_IGNORE_WARNING.search(str(w.message))]
    assert not unexpected, f"unexpected warnings: {unexpected}"


def test_env_determinism_rollout(env_id: str) -> None:
    assert gym.spec(env_id).nondeterministic is False
    env_1 = gym.make(env_id, disable_env_checker=True)
    env_2 = gym.make(env_id, disable_env_checker=True)
    try:
        obs_1, info_1 = env_1.reset(seed=SEED)
        obs_2, info_2 = env_2.reset(seed=SEED)
        assert data_equivalence(obs_1, obs_2, exact=True)
        assert data_equivalence(info_1, info_2, exact=True)
        env_1.action_space.seed(SEED)
        for step in range(NUM_STEPS):
            action = env_1.action_space.sample()
            obs_1, rew_1, term_1, trunc_1, info_1 = env_1.step(action)
            obs_2, rew_2, term_2, trunc_2, info_2 = env_2.step(action)
            assert data_equivalence(obs_1, obs_2, exact=True), f"[{step}] observations differ"
            assert env_1.observation_space.contains(obs_1)
            assert rew_1 == rew_2 and term_1 == term_2 and trunc_1 == trunc_2, f"[{step}]"
            assert data_equivalence(info_1, info_2, exact=True), f"[{step}] infos differ"
            if term_1 or trunc_1:
                env_1.reset(seed=SEED)
                env_2.reset(seed=SEED)
    finally:
        env_1.close()
        env_2.close()


def test_pickle_env(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        action = env.action_space.sample()
        env_reset = env.reset(seed=123)
        env_step = env.step(action)
        pickled = pickle.loads(pickle.dumps(env))
        try:
            pickle_reset = pickled.reset(seed=123)
            pickle_step = pickled.step(action)
            assert data_equivalence(env_reset, pickle_reset)
            assert data_equivalence(env_step, pickle_step)
        finally:
            pickled.close()
    finally:
        env.close()


def check_rendered(frame: object, mode: str) -> None:
    """Gymnasium's check of one rendered frame, for the modes rlft lists."""
    if mode == "rgb_array":
        assert isinstance(frame, np.ndarray)
        assert frame.ndim == 3 and frame.shape[2] == 3
        assert frame.dtype == np.uint8 and frame.shape[0] > 0 and frame.shape[1] > 0
        assert np.all(frame >= 0) and np.all(frame <= 255)
    elif mode == "ansi":
        assert isinstance(frame, str) and len(frame) > 0
    else:
        raise AssertionError(f"render mode {mode!r} has no check here: add one")


def test_render_modes(env_id: str) -> None:
    env = gym.make(env_id)
    modes = env.metadata["render_modes"]
    env.close()
    assert "rgb_array" in modes
    for mode in modes:
        if mode == "human":
            continue
        env = gym.make(env_id, render_mode=mode)
        try:
            env.reset(seed=SEED)
            check_rendered(env.render(), mode)
            env.step(env.action_space.sample())
            check_rendered(env.render(), mode)
        finally:
            env.close()
