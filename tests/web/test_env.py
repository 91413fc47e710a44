"""WebEnv on the shop and on a toy site: kwargs, observation, commands, reward, snapshots, vectorisation."""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import rlft  # noqa: F401  (registers the ids)
from rlft.envs.contract import CORE_INFO_KEYS
from rlft.envs.web.env import WebEnv
from rlft.errors import ConfigError, UnknownNameError

_spec = importlib.util.spec_from_file_location("toy_site", Path(__file__).with_name("toy_site.py"))
toy_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(toy_site)

SHOP = "rlft/WebShop-v0"


@pytest.fixture
def env() -> WebEnv:
    made = gym.make(SHOP)
    yield made.unwrapped
    made.close()


def run_expert(env: WebEnv, seed: int, limit: int = 30) -> tuple[float, dict, int]:
    obs, info = env.reset(seed=seed)
    total = 0.0
    for step in range(1, limit + 1):
        action = env.expert_action()
        assert action in obs["admissible_commands"], "the expert only uses admissible commands"
        obs, reward, terminated, truncated, info = env.step(action)
        assert obs["last_action_error"] == ""
        total += reward
        if terminated or truncated:
            return total, info, step
    raise AssertionError("the expert did not finish")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"split": "tset"}, ConfigError, "Did you mean 'test'"),
        ({"max_steps": 0}, ConfigError, "max_steps"),
        ({"invalid_action_penalty": -1.0}, ConfigError, "invalid_action_penalty"),
        ({"invalid_action_penalty": float("nan")}, ConfigError, "invalid_action_penalty"),
        ({"invalid_action_penalty": 1.5}, ConfigError, r"\[0\.0, 1\.0\]"),
        ({"split": "unseen"}, ConfigError, "'validation'"),
        ({"viewport_lines": 1}, ConfigError, "viewport_lines"),
        ({"render_mode": "pixels"}, ConfigError, "ansi"),
        ({"backend": "txt"}, ConfigError, "Did you mean 'text'"),
        ({"site": "shopp"}, UnknownNameError, "Did you mean 'shop'"),
        ({"colour": "red"}, ConfigError, "unknown keyword argument 'colour'"),
        ({"num_products": 5}, ConfigError, "num_products"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*render_mode")
def test_bad_kwargs_raise_typed_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        gym.make(SHOP, **kwargs)


@pytest.mark.parametrize("env_id", [SHOP, "rlft/WebQA-v0", "rlft/WebFormLogin-v0"])
def test_info_holds_the_core_keys_with_the_current_score(env_id: str) -> None:
    env = gym.make(env_id, invalid_action_penalty=0.25).unwrapped
    try:
        _, info = env.reset(seed=2)
        infos = [info]
        rewards = [0.0]
        for action in ("click[9999]", env.expert_action(), env.expert_action()):
            _, reward, terminated, _, info = env.step(action)
            infos.append(info)
            rewards.append(reward)
            if terminated:
                break
        for info in infos:
            assert list(info)[:4] == list(CORE_INFO_KEYS)
            assert info["is_success"] is info["success"]
            assert 0.0 <= info["score"] <= 1.0 and isinstance(info["score"], float)
            assert {"evaluation", "steps"} <= set(info)
        assert infos[1]["last_action_error"] and rewards[1] == -0.25 and infos[1]["score"] == 0.0
        while not terminated:
            _, reward, terminated, _, info = env.step(env.expert_action())
        # The score is the evaluation of the state reached: the reward the finishing step earned.
        assert info["success"] and info["score"] == reward == 1.0
    finally:
        env.close()


def test_first_observation(env: WebEnv) -> None:
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["url"] == "/"
    assert obs["instruction"].startswith(("i need", "i am looking for", "find me", "i want to buy"))
    assert '[1] searchbox "Search products" value=""' in obs["page"]
    commands = obs["admissible_commands"]
    assert isinstance(commands, tuple) and "stop" in commands and "back" not in commands
    assert any(c.startswith("search[") for c in commands)
    assert info["success"] is False and info["last_action_error"] == ""


def test_expert_uses_admissible_commands_and_earns_full_reward(env: WebEnv) -> None:
    env.split = "test"
    for seed in range(15):
        total, info, steps = run_expert(env, seed)
        assert total == pytest.approx(1.0) and info["success"], (seed, info)
        assert info["evaluation"]["purchased"] and steps <= 15


def test_failed_commands_are_no_ops_with_errors_and_penalties() -> None:
    env = gym.make(SHOP, invalid_action_penalty=0.1).unwrapped
    obs, _ = env.reset(seed=1)
    before = obs["page"]
    for action in (
        "click[999]",
        "goto[http://evil.example/]",
        "goto[file:///etc/passwd]",
        "scroll[up]",
        "back",
    ):
        obs, reward, terminated, truncated, info = env.step(action)
        assert obs["last_action_error"] and info["last_action_error"] == obs["last_action_error"]
        assert reward == pytest.approx(-0.1) and not terminated and not truncated
        assert obs["page"] == before and obs["url"] == "/"
    assert "only pages of this site" in env.step("goto[javascript:alert(1)]")[0]["last_action_error"]
    obs, reward, *_ = env.step("goto[/search?q=red+shirt]")
    assert obs["last_action_error"] == "" and reward == 0.0 and obs["url"] == "/search?q=red+shirt"


def test_stop_answer_truncation_and_stepping_after_the_end(env: WebEnv) -> None:
    env.reset(seed=2)
    obs, reward, terminated, truncated, info = env.step("stop")
    assert terminated and not truncated and reward == 0.0 and info["success"] is False
    obs, reward, terminated, _, _ = env.step("click[2]")
    assert terminated and "reset()" in obs["last_action_error"]
    assert env.expert_action() == "stop"
    env.reset(seed=2)
    assert env.step("answer[a red shirt]")[2]
    short = gym.make(SHOP, max_steps=2).unwrapped
    short.reset(seed=0)
    assert short.step("click[3]")[3] is False
    _, reward, terminated, truncated, _ = short.step("back")
    assert truncated and not terminated and reward == 0.0


def test_buying_without_options_is_refused_by_the_site(env: WebEnv) -> None:
    env.reset(seed=3)
    env.step(env.expert_action())  # search
    env.step(env.expert_action())  # open a matching product
    buy = next(e.id for e in env.current_page().elements if e.name == "Buy now")
    obs, reward, terminated, _, _ = env.step(f"click[{buy}]")
    assert not terminated and reward == 0.0 and "Please choose a" in obs["page"]
    assert obs["last_action_error"] == ""  # a site's validation message is a page, not a command error


def test_scroll_find_and_quote() -> None:
    env = gym.make(SHOP, viewport_lines=5).unwrapped
    env.reset(seed=4)
    env.step(env.expert_action())
    obs, *_ = env.step(env.expert_action())  # a product page, longer than 5 lines
    assert "scroll[down]" in obs["admissible_commands"] and "scroll[up]" not in obs["admissible_commands"]
    assert "(lines 1-5 of" in obs["page"]
    obs, *_ = env.step("scroll[down]")
    assert "scroll[up]" in obs["admissible_commands"] and "(lines 6-10 of" in obs["page"]
    obs, *_ = env.step("find[description]")
    assert obs["page"].startswith("## Description")
    obs, *_ = env.step("scroll[top]")
    assert obs["page"].startswith("[1] link")
    price_line = next(line for line in env.current_page().text.split("\n") if line.startswith("Price:"))
    obs, *_ = env.step(f"quote[{price_line.lower()}]")
    assert obs["last_action_error"] == "" and env._trace.quotes[-1][1] == price_line.lower()
    assert "not on this page" in env.step("quote[purple unicorns]")[0]["last_action_error"]
    assert "not on this page" in env.step("find[purple unicorns]")[0]["last_action_error"]


def _replay(env: WebEnv, actions: list[str]) -> list[tuple]:
    """Step through ``actions`` (stopping at the episode's end) and keep everything but ``info``."""
    out = []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        out.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            break
    return out


def test_get_state_set_state_restores_exactly_and_branches(env: WebEnv) -> None:
    env.reset(seed=5)
    env.step(env.expert_action())
    env.step("type[1][something else]")
    state = env.get_state()
    json.dumps(state)  # JSON-able
    saved_obs = env.observation()
    # Branch 1: random admissible commands, then the expert to a purchase.
    rng = np.random.default_rng(0)
    actions = []
    for _ in range(4):
        commands = env.observation()["admissible_commands"]
        actions.append(commands[int(rng.integers(len(commands) - 1))])  # never "stop" (last)
        env.step(actions[-1])
    env.set_state(state)
    first = _replay(env, actions)
    while not env._done:
        actions.append(env.expert_action())
        first += _replay(env, actions[-1:])
    assert first[-1][2] and env.site.get_state()["purchase"] is not None
    # Restore and replay: identical transitions, in this env and in a fresh one.
    env.set_state(state)
    assert env.observation() == saved_obs and env.site.get_state() == {"purchase": None}
    assert _replay(env, actions) == first
    fresh = gym.make(SHOP).unwrapped
    fresh.set_state(json.loads(json.dumps(state)))
    assert fresh.observation() == saved_obs
    assert _replay(fresh, actions) == first


def test_env_pickles_mid_episode_and_renders_ansi() -> None:
    env = gym.make(SHOP, render_mode="ansi").unwrapped
    env.reset(seed=6)
    env.step(env.expert_action())
    clone = pickle.loads(pickle.dumps(env))
    assert clone.observation() == env.observation()
    text = clone.render()
    assert text.startswith("/search?q=") and "[1] searchbox" in text
    while True:
        _, _, terminated, truncated, info = clone.step(clone.expert_action())
        if terminated or truncated:
            break
    assert info["success"]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_vector_envs(asynchronous: bool) -> None:
    fns = [lambda: gym.make(SHOP) for _ in range(2)]
    vec = (
        gym.vector.AsyncVectorEnv(fns, shared_memory=False) if asynchronous else gym.vector.SyncVectorEnv(fns)
    )
    try:
        obs, _ = vec.reset(seed=0)
        assert len(obs["instruction"]) == 2 and obs["instruction"][0] != obs["instruction"][1]
        actions = [obs["admissible_commands"][i][-2] for i in range(2)]  # a search candidate
        obs, _, _, _, info = vec.step(actions)
        assert all(url.startswith("/search") for url in obs["url"])
        assert list(info["success"]) == [False, False]
    finally:
        vec.close()


def test_any_task_instance_plugs_in() -> None:
    env = WebEnv(site=toy_site.ToyTask())
    obs, _ = env.reset(seed=0)
    assert obs["instruction"] == "Send the form with your name."
    total = 0.0
    for _ in range(5):
        obs, reward, terminated, _, info = env.step(env.expert_action())
        total += reward
        if terminated:
            break
    assert terminated and total == 1.0 and info["evaluation"] == {"submitted": "Ada"}
    with pytest.raises(ConfigError, match="WebTask instance"):
        WebEnv(site=toy_site.ToyTask(), family="x")


def test_task_and_site_subclasses_must_name_themselves() -> None:
    with pytest.raises(TypeError, match="WebTask Nameless must set the class attribute 'name'"):

        class Nameless(toy_site.ToyTask):
            name = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="Site Anonymous must set the class attribute 'name'"):

        class Anonymous(toy_site.ToySite):
            name = 3  # type: ignore[assignment]


def test_a_task_that_takes_any_kwargs_receives_unknown_names() -> None:
    from rlft.envs.contract import declared_kwargs
    from rlft.envs.web.env import WebEnv
    from rlft.envs.web.tasks import TASKS
    from rlft.envs.web.tasks.shop import ShopTask

    class OpenShop(ShopTask):
        def __init__(self, content_seed: int = 0, **options: object) -> None:
            self.options = options
            super().__init__(content_seed, num_products=100)

    TASKS.register("open-shop", OpenShop)
    try:
        env = WebEnv(site="open-shop", colour="red")
        assert env.task.options == {"colour": "red"}  # type: ignore[attr-defined]
        env.close()
        declared, open_ended = declared_kwargs(WebEnv, {"site": "open-shop"})
        assert open_ended and "max_steps" in declared
        assert declared_kwargs(WebEnv, {"site": "shop"})[1] is False
    finally:
        TASKS.unregister("open-shop")
