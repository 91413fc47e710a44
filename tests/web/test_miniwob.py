"""MiniWoB++ ids: the registered tasks cover the package, every one resets, renders and steps, MiniWoB's
own reward, seed and timer are used, and the scripted experts exist for at least 20 tasks.

The full contract (check_env, determinism across processes, the fuzz, close twice) runs on a
representative subset in tests/test_env_contract.py and tests/envs/test_gymnasium_suite.py; here every
registered id gets a cheap smoke (about 1 minute for all 88 on a loaded 2-core machine).
"""

from __future__ import annotations

import time

import gymnasium as gym
import pytest
import rlft
from rlft.envs.registration import MINIWOB_LEFT_OUT, MINIWOB_MAX_STEPS, MINIWOB_TASKS
from rlft.envs.web.backends.live import LiveBackend
from rlft.envs.web.sites.miniwob import MiniWoBSite, task_names
from rlft.envs.web.tasks.miniwob_experts import EXPERTS
from rlft.errors import UnknownNameError


def _id(task: str) -> str:
    return f"rlft/MiniWoB-{task}-v0"


# -- no browser needed ---------------------------------------------------------------------------------
def test_registered_and_left_out_tasks_cover_the_package_exactly() -> None:
    package = set(task_names())
    registered, left_out = set(MINIWOB_TASKS), set(MINIWOB_LEFT_OUT)
    assert not registered & left_out
    assert registered | left_out == package, "a new package version: try its new tasks, then list them"
    assert len(registered) >= 60
    assert all(reason.strip() for reason in MINIWOB_LEFT_OUT.values())
    assert all(_id(task) in rlft.ENV_IDS for task in MINIWOB_TASKS)
    assert gym.spec(_id("click-button")).max_episode_steps == MINIWOB_MAX_STEPS


def test_experts_cover_at_least_twenty_registered_tasks() -> None:
    assert len(EXPERTS) >= 20
    assert set(EXPERTS) <= set(MINIWOB_TASKS)


def test_unknown_task_names_suggest_the_closest() -> None:
    with pytest.raises(UnknownNameError, match="click-button"):
        gym.make("rlft/MiniWoB-click-button-v0", task="click-buton")


def test_the_site_serves_the_package_files_only() -> None:
    site = MiniWoBSite()
    assert site.file_for("/core/core.js") is not None
    assert site.file_for("/miniwob/click-button.html") is not None
    assert site.file_for("/../__init__.py") is None
    assert MiniWoBSite.start_url("click-button", "train-3").startswith("/miniwob/click-button.html?")


# -- with a browser (the holder fixture of tests/web/conftest.py keeps one open) ------------------------


@pytest.mark.parametrize("task", MINIWOB_TASKS)
@pytest.mark.chromium
def test_every_registered_task_resets_renders_and_steps(holder: LiveBackend, task: str) -> None:
    env = gym.make(_id(task))
    try:
        obs, info = env.reset(seed=1)
        assert env.observation_space.contains(obs)
        assert obs["instruction"].strip() and not info["success"]
        assert obs["page"].strip() or env.unwrapped.current_page().elements, "the task shows something"
        first = (obs["instruction"], obs["page"], obs["admissible_commands"])
        move = next(c for c in obs["admissible_commands"] if c != "stop")
        obs, reward, _, truncated, info = env.step(move)
        assert env.observation_space.contains(obs) and 0.0 <= reward <= 1.0
        assert not truncated and not obs["last_action_error"]
        obs, _ = env.reset(seed=1)
        assert (obs["instruction"], obs["page"], obs["admissible_commands"]) == first, (
            "same seed, same instance"
        )
    finally:
        env.close()


@pytest.mark.chromium
def test_miniwob_reward_seed_and_success(holder: LiveBackend) -> None:
    env = gym.make(_id("click-button"))
    try:
        instances = {
            env.reset(seed=seed)[0]["instruction"] + env.unwrapped.current_page().text for seed in range(4)
        }
        assert len(instances) > 1, "seeds give different instances"
        assert env.unwrapped.current_task().goal["seed"].startswith("train-")
        obs, _ = env.reset(seed=5)
        wanted = obs["instruction"].split('"')[1]
        wrong = next(
            e for e in env.unwrapped.current_page().elements if e.role == "button" and e.name != wanted
        )
        obs, reward, terminated, _, info = env.step(f"click[{wrong.id}]")
        assert terminated and reward == 0.0 and not info["success"]
        assert info["evaluation"]["raw_reward"] == -1.0
        env.reset(seed=5)
        obs, reward, terminated, _, info = env.step(env.unwrapped.expert_action())
        assert terminated and reward == 1.0 and info["success"] and info["evaluation"]["raw_reward"] == 1.0
        test_instruction = gym.make(_id("click-button"), split="test")
        try:
            test_instruction.reset(seed=5)
            assert test_instruction.unwrapped.current_task().goal["seed"].startswith("test-")
        finally:
            test_instruction.close()
    finally:
        env.close()


@pytest.mark.chromium
def test_the_episode_timer_is_off_by_default_and_ends_the_episode_when_set(holder: LiveBackend) -> None:
    env = gym.make(_id("click-button"), time_limit_s=0.2)
    try:
        env.reset(seed=0)
        deadline = time.monotonic() + 20
        terminated = False
        while not terminated and time.monotonic() < deadline:
            time.sleep(0.1)
            # scroll[top] is a no-op that lets the backend read the page again.
            _, reward, terminated, _, info = env.step("scroll[top]")
        assert terminated and reward == 0.0 and info["evaluation"]["reason"] == "timed out"
    finally:
        env.close()
