"""The ``history`` observation: the episode's last steps, their results, restored by snapshots and pickles."""

from __future__ import annotations

import json
import pickle

import gymnasium as gym
import pytest
import rlft  # noqa: F401  (registers the ids)
from rlft.envs.web.env import MAX_HISTORY_LENGTH, WebEnv
from rlft.errors import ConfigError

SHOP = "rlft/WebShop-v0"


def _env(**kwargs) -> WebEnv:
    return gym.make(SHOP, **kwargs).unwrapped


@pytest.mark.parametrize("bad", [-1, 65, 2.5, "4", None])
def test_history_length_is_validated(bad: object) -> None:
    with pytest.raises(ConfigError, match="history_length"):
        gym.make(SHOP, history_length=bad)


def test_history_lists_the_last_steps_with_their_urls_or_errors() -> None:
    env = _env(history_length=3)
    obs, _ = env.reset(seed=0)
    assert obs["history"] == "" and env.observation_space["history"].contains(obs["history"])
    search = env.expert_action()
    obs, *_ = env.step(search)
    assert obs["history"] == f"1. {search} -> {obs['url']}"
    obs, *_ = env.step("click[999]")
    assert obs["history"].splitlines()[1] == f"2. click[999] -> error: {obs['last_action_error']}"
    link = env.current_page().element(3)
    obs, *_ = env.step("  CLICK[ 3 ]  ")  # recorded in canonical form, naming what it clicked
    lines = obs["history"].splitlines()
    assert lines[2] == f'3. click[3] {link.role} "{link.name}" -> {obs["url"]}'
    assert link.role == "link" and link.name
    obs, *_ = env.step("dance")
    lines = obs["history"].splitlines()
    assert len(lines) == 3 and lines[0].startswith("2. click[999]"), "capped, oldest first"
    assert lines[2].startswith("4. dance -> error: Unknown command 'dance'")
    obs, *_ = env.step(None)
    assert obs["history"].splitlines()[2].startswith("5. <NoneType> -> error: A command must be a string")
    obs, _ = env.reset(seed=1)
    assert obs["history"] == "", "a new episode starts with no history"


def test_history_length_zero_and_steps_after_the_end() -> None:
    env = _env(history_length=0)
    env.reset(seed=0)
    obs, *_ = env.step(env.expert_action())
    assert obs["history"] == ""
    env = _env(history_length=4)
    env.reset(seed=0)
    obs, _, terminated, *_ = env.step("stop")
    assert terminated and obs["history"] == f"1. stop -> {obs['url']}"
    obs, *_ = env.step("stop")  # the episode is over: reported, not recorded
    assert obs["last_action_error"] and obs["history"] == f"1. stop -> {obs['url']}"


def test_history_lines_and_the_whole_text_are_bounded() -> None:
    env = _env(history_length=64)
    env.reset(seed=0)
    for _ in range(40):
        obs, *_ = env.step("type[1][" + "very long text " * 60 + "]")
    lines = obs["history"].splitlines()
    assert len(obs["history"]) <= MAX_HISTORY_LENGTH and env.observation_space.contains(obs)
    assert all(len(line) < 400 for line in lines)
    assert lines[-1].startswith("40. type[1][very long text") and lines[-1].endswith(obs["url"])
    assert 1 < len(lines) < 40, "the oldest lines make room"
    assert [int(line.split(".")[0]) for line in lines] == list(range(41 - len(lines), 41))


def test_set_state_and_pickling_restore_the_history_exactly() -> None:
    env = _env(history_length=2)
    env.reset(seed=3)
    env.step(env.expert_action())
    env.step("click[999]")
    state = env.get_state()
    saved = env.observation()
    env.step(env.expert_action())
    env.step("scroll[sideways]")
    assert env.observation()["history"] != saved["history"]
    env.set_state(state)
    assert env.observation() == saved
    fresh = _env(history_length=2)
    fresh.set_state(json.loads(json.dumps(state)))
    assert fresh.observation()["history"] == saved["history"]
    clone = pickle.loads(pickle.dumps(env))
    assert clone.observation() == saved
    # Branches from the snapshot continue the same numbering in the restored env and the clone.
    assert env.step("back")[0]["history"] == clone.step("back")[0]["history"]
    assert env.observation()["history"].splitlines()[-1].startswith("3. back -> ")


def test_history_names_the_element_each_step_acted_on_as_it_was_then() -> None:
    # On the tabs page element 1 is the first link of the strip, which leaves out the tab shown: "Tab 2" on
    # the first tab and "Tab 1" on the second. The history line says which one each click opened.
    env = gym.make("rlft/WebFormTabs-v0", history_length=4).unwrapped
    env.reset(seed=0)
    env.step("click[1]")
    env.step("click[1]")
    obs, *_ = env.step("type[999][1234]")
    lines = obs["history"].splitlines()
    assert lines[0] == '1. click[1] link "Tab 2" -> /?tab=1'
    assert lines[1] == '2. click[1] link "Tab 1" -> /?tab=0'
    assert lines[2] == f"3. type[999][1234] -> error: {obs['last_action_error']}", "no element: nothing named"
    field = next(e for e in env.current_page().elements if e.role == "textbox")
    obs, *_ = env.step(f"type[{field.id}][{'9' * 200}]")
    assert obs["history"].splitlines()[-1].startswith(f"4. type[{field.id}][{'9' * 140}")
    assert f'textbox "{field.name}" -> /?tab=0' in obs["history"].splitlines()[-1]
