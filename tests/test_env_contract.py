"""The environment contract, checked on every registered id (new ids are picked up automatically)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from rlft.envs.contract import CORE_INFO_KEYS
from rlft.envs.text import text_space

_HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("env_rollout", _HERE / "env_rollout.py")
env_rollout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(env_rollout)

ROLLOUT_STEPS = 12
WEB_IDS = env_rollout.served_web_ids()
CONTRACT_IDS = env_rollout.contract_ids()

# Malformed commands an agent (or an adversary) might emit; none may raise.
TEXT_FUZZ_INVALID = [
    "",
    "   ",
    "\x00\x01\x02\x1b[31m",
    "click[99999999]",
    "click[-1]",
    "click[abc]",
    "type[]",
    "select[1]",
    "__import__('os').system('echo pwned')",
    "'; DROP TABLE products; --",
    "x" * 20000,
    "点击[1]",
    "clíck[1]",
    "click[1",
    "scroll[sideways]",
]
TEXT_FUZZ_OTHER = [
    "<script>alert(1)</script>",
    "search[" + "q" * 5000 + "]",
    "type[1][\u202e\u0000\ud7ff emoji 🤖]",
    "answer[🤖]",
    "find[\n\t]",
    "back",
    "stop",
    "click[1e9]",
    "{{7*7}}",
    "${jndi:ldap://example.com/a}",
]


def box_fuzz(space: spaces.Box) -> tuple[list, list]:
    """(actions that must be reported as errors, other out-of-range actions) for a Box space."""
    shape = space.shape
    invalid = [
        np.full(shape, np.nan, dtype=np.float32),
        np.zeros((*shape, 2), dtype=np.float32),
        np.zeros(max(1, int(np.prod(shape)) + 3), dtype=np.float32),
        None,
        "click[1]",
        [[]],
    ]
    other = [
        np.full(shape, np.inf, dtype=np.float32),
        np.full(shape, -np.inf, dtype=np.float32),
        np.full(shape, 1e9, dtype=np.float64),
        np.full(shape, -1e30, dtype=np.float64),
        np.zeros(shape, dtype=np.int64),
        list(np.ones(shape, dtype=np.float32).ravel()) if len(shape) == 1 else np.ones(shape),
    ]
    return invalid, other


def fuzz_actions(space: spaces.Space) -> tuple[list, list]:
    """Malformed actions for ``space``: (must set last_action_error, must merely not raise)."""
    if isinstance(space, spaces.Text):
        return TEXT_FUZZ_INVALID, TEXT_FUZZ_OTHER
    if isinstance(space, spaces.Box):
        return box_fuzz(space)
    if isinstance(space, spaces.Discrete):
        return [-1, space.n + 10, "x", None, 1.5], [np.int64(0)]
    raise AssertionError(f"no fuzz defined for action space {space}")


@pytest.fixture(scope="module", autouse=True)
def _one_browser() -> Iterator[None]:
    """Keeps one Chromium alive for the module, so live-page ids do not relaunch it per test."""
    yield from env_rollout.hold_browser()


@pytest.fixture(params=CONTRACT_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param


def assert_core_info(info: dict, where: str) -> None:
    """Every info of every id holds the core keys, with their documented types."""
    missing = [key for key in CORE_INFO_KEYS if key not in info]
    assert not missing, f"info after {where} lacks {missing}"
    assert isinstance(info["success"], (bool, np.bool_)), where
    assert info["is_success"] == info["success"], f"is_success mirrors success ({where})"
    assert isinstance(info["score"], float) and 0.0 <= info["score"] <= 1.0, where
    assert isinstance(info["last_action_error"], str), where


def test_ids_are_namespaced_and_registered(env_id: str) -> None:
    assert env_id.startswith("rlft/")
    assert env_id in gym.registry
    code = f"import gymnasium as gym; env = gym.make('rlft:{env_id}'); print(env.spec.id); env.close()"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.split()[-1] == env_id


def test_gymnasium_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        check_env(env.unwrapped)
    finally:
        env.close()


def test_observation_contract(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        space = env.observation_space
        assert isinstance(space, spaces.Dict)
        for key, sub in space.spaces.items():
            assert not isinstance(sub, (spaces.Dict, spaces.Tuple)), f"{key} is nested: observations are flat"
        assert isinstance(space["instruction"], spaces.Text)
        assert isinstance(space["last_action_error"], spaces.Text)
        obs, info = env.reset(seed=3)
        assert space.contains(obs)
        assert obs["instruction"].strip(), "the instruction is in every observation"
        assert obs["last_action_error"] == ""
        assert_core_info(info, "reset")
        assert info["last_action_error"] == ""
        obs, reward, _, _, info = env.step(env.unwrapped.expert_action())
        assert_core_info(info, "step")
        assert info["last_action_error"] == obs["last_action_error"] == ""
        # The expert's move is never penalised, and partial credit lies in [0, 1].
        assert 0.0 <= float(reward) <= 1.0
    finally:
        env.close()


def test_registered_time_limit_is_the_envs_own_episode_length(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        assert env.spec.max_episode_steps is not None
        assert env.spec.max_episode_steps == env.unwrapped.max_steps
    finally:
        env.close()


def test_expert_solves_an_episode(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        obs, info = env.reset(seed=11)
        total = 0.0
        for _ in range(500):
            action = env.unwrapped.expert_action()
            assert env.action_space.contains(action), (
                f"the expert's action {action!r:.80} is outside the space"
            )
            obs, reward, terminated, truncated, info = env.step(action)
            assert obs["last_action_error"] == "", f"the expert made a mistake: {obs['last_action_error']}"
            total += float(reward)
            if terminated or truncated:
                break
        assert terminated, "the expert ends the episode by solving it"
        assert info["success"]
        assert total >= 0.99
    finally:
        env.close()


def test_seeded_rollout_identical_across_processes(env_id: str) -> None:
    here = env_rollout.rollout_digest(env_id, seed=7, steps=ROLLOUT_STEPS)
    again = env_rollout.rollout_digest(env_id, seed=7, steps=ROLLOUT_STEPS)
    other = subprocess.run(
        [sys.executable, str(_HERE / "env_rollout.py"), env_id, "7", str(ROLLOUT_STEPS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.strip()
    assert here == again == other
    assert env_rollout.rollout_digest(env_id, seed=8, steps=ROLLOUT_STEPS) != here
    if env_id in WEB_IDS:
        # The digest covers the history (and every other key): without it the rollout hashes differently.
        assert env_rollout.rollout_digest(env_id, seed=7, steps=ROLLOUT_STEPS, history_length=0) != here


@pytest.mark.parametrize("web_id", WEB_IDS)
def test_web_commands_are_described_and_the_history_is_kept(web_id: str) -> None:
    """Every admissible command has a description (same order); the history grows, caps and restores."""
    length = 3
    env = gym.make(web_id, history_length=length)
    try:
        space = env.observation_space
        assert space["admissible_descriptions"] == spaces.Sequence(text_space(1024), stack=False)
        assert space["history"] == text_space(4096)
        obs, _ = env.reset(seed=4)
        assert obs["history"] == ""
        rng = np.random.default_rng(4)
        snapshot = None
        for step in range(1, 13):
            commands, descriptions = obs["admissible_commands"], obs["admissible_descriptions"]
            assert isinstance(descriptions, tuple) and len(descriptions) == len(commands), step
            assert all(isinstance(d, str) and d.strip() for d in descriptions), step
            assert space.contains(obs), step
            # The expert, a random admissible command, or a mistake (which the history records too).
            moves = [c for c in commands if not c.startswith(("stop", "answer"))] or list(commands)
            random_move = moves[int(rng.integers(len(moves)))]
            action = [env.unwrapped.expert_action(), random_move, "click[0]"][step % 3]
            obs, _, terminated, truncated, _ = env.step(action)
            lines = obs["history"].splitlines()
            assert len(lines) == min(step, length), step
            assert lines[-1].startswith(f"{step}. "), lines[-1]
            if action == "click[0]":
                assert lines[-1] == f"{step}. click[0] -> error: {obs['last_action_error']}"
            else:
                assert lines[-1].endswith(" -> " + obs["url"]), lines[-1]
            if snapshot is None:
                snapshot = (env.unwrapped.get_state(), obs)
            if terminated or truncated:
                break
        assert space.contains(obs)
        env.unwrapped.set_state(snapshot[0])
        assert env.unwrapped.observation() == snapshot[1]
    finally:
        env.close()


def test_malformed_actions_never_raise(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        obs, _ = env.reset(seed=5)
        invalid, other = fuzz_actions(env.action_space)
        for action in [*invalid, *other]:
            obs, reward, terminated, truncated, info = env.step(action)
            assert env.observation_space.contains(obs), f"observation left its space after {action!r:.60}"
            assert np.isfinite(float(reward))
            assert_core_info(info, f"step({action!r:.60})")
            if any(action is bad for bad in invalid):
                assert obs["last_action_error"], f"no error reported for {action!r:.60}"
                assert info["last_action_error"] == obs["last_action_error"]
            if terminated or truncated:
                obs, _ = env.reset()
    finally:
        env.close()


def test_close_twice_is_safe(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.close()
    env.close()
