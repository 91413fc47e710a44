"""rlft/WebQA-v0 end to end through gym.make: expert success, candidates, snapshots, agent mistakes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import rlft  # noqa: F401  (registers the ids)
from rlft.envs.web.tasks.wiki_questions import questions

ENV_ID = "rlft/WebQA-v0"


def run_expert(env: gym.Env, seed: int) -> tuple[float, dict, int]:
    """One episode of the expert, checking that each of its commands is admissible and valid."""
    obs, _ = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        action = env.unwrapped.expert_action()
        assert action in obs["admissible_commands"], (action, obs["admissible_commands"])
        obs, reward, terminated, truncated, info = env.step(action)
        assert obs["last_action_error"] == ""
        total, steps = total + float(reward), steps + 1
        if terminated or truncated:
            return total, info, steps


@pytest.mark.parametrize(("kwargs", "seeds"), [({}, 200), ({"require_quote": True}, 100)])
def test_expert_solves_test_split(kwargs: dict, seeds: int) -> None:
    env = gym.make(ENV_ID, split="test", **kwargs)
    results = [run_expert(env, seed) for seed in range(seeds)]
    env.close()
    success = np.mean([info["success"] for _, info, _ in results])
    assert success >= 0.99
    assert np.mean([total for total, _, _ in results]) >= 0.99
    assert max(steps for _, _, steps in results) <= 5


def test_other_content_seed_and_depth_are_solvable() -> None:
    env = gym.make(ENV_ID, content_seed=1, hops="two", split="validation")
    obs, _ = env.reset(seed=0)
    assert obs["instruction"] not in {q["question"] for q in questions(0)["validation"]}
    results = [run_expert(env, seed) for seed in range(10)]
    assert all(info["success"] and info["evaluation"]["hops"] == 2 for _, info, _ in results)
    env.close()


def test_admissible_commands_stay_modest_and_valid_under_a_random_policy() -> None:
    env = gym.make(ENV_ID)
    rng = np.random.default_rng(0)
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        for _ in range(15):
            commands = obs["admissible_commands"]
            assert len(commands) <= 60
            assert env.observation_space.contains(obs)
            obs, reward, terminated, truncated, _ = env.step(commands[int(rng.integers(len(commands)))])
            assert obs["last_action_error"] == "" or obs["last_action_error"].startswith("Cannot scroll")
            assert 0.0 <= reward <= 1.0
            if terminated or truncated:
                break
    env.close()


def test_snapshot_and_restore_mid_episode() -> None:
    env = gym.make(ENV_ID, require_quote=True, hops="two")
    obs, _ = env.reset(seed=4)
    for _ in range(3):  # search, open the subject, follow the link
        obs, *_ = env.step(env.unwrapped.expert_action())
    state = env.unwrapped.get_state()
    saved = obs
    env.step("back")
    env.step("answer[somebody else]")
    env.unwrapped.set_state(state)
    assert env.unwrapped.observation() == saved
    total = 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        total += reward
        if terminated or truncated:
            break
    assert info["success"] and total == 1.0 and info["evaluation"]["supported"]
    env.close()


def test_agent_mistakes_and_wrong_answers_are_observations() -> None:
    env = gym.make(ENV_ID, invalid_action_penalty=0.1)
    obs, _ = env.reset(seed=2)
    obs, reward, terminated, _, info = env.step("click[999]")
    assert obs["last_action_error"] and reward == pytest.approx(-0.1) and not terminated
    obs, reward, terminated, _, info = env.step("quote[words that are not on this page]")
    assert obs["last_action_error"] and not terminated
    obs, reward, terminated, _, info = env.step("answer[Nobody In Particular]")
    assert terminated and reward == 0.0 and not info["success"] and info["evaluation"]["answered"]
    obs, _ = env.reset(seed=2)
    obs, reward, terminated, _, info = env.step("stop")
    assert terminated and reward == 0.0 and not info["success"]
    env.close()


def test_observations_do_not_reveal_the_answer_before_it_is_given() -> None:
    env = gym.make(ENV_ID, split="test")
    obs, info = env.reset(seed=9)
    answer = env.unwrapped.current_task().goal["answer"]
    assert answer not in repr(info) and answer not in obs["instruction"]
    env.close()
