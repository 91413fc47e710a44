"""The Forms site: every family end to end through gym.make, plus each family's checker."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import urlencode

import gymnasium as gym
import numpy as np
import pytest
import rlft
from rlft.envs.contract import SPLITS
from rlft.envs.registration import WEB_FORM_FAMILIES
from rlft.envs.web.sites.forms.site import FormsSite
from rlft.envs.web.task import Trace
from rlft.envs.web.tasks.forms import FAMILIES
from rlft.envs.web.tasks.forms.contact import format_phone
from rlft.envs.web.tasks.forms.password import build_password, rule_holds
from rlft.envs.web.tasks.forms.task import GOALS, FormTask, load_family
from rlft.errors import ConfigError, UnknownNameError

FORM_IDS = [f"rlft/WebForm{name}-v0" for name in WEB_FORM_FAMILIES]


def make(family: str, **kwargs: Any) -> gym.Env:
    name = next(name for name, (key, _) in WEB_FORM_FAMILIES.items() if key == family)
    return gym.make(f"rlft/WebForm{name}-v0", **kwargs)


def find_seed(env: gym.Env, predicate: Any) -> dict[str, Any]:
    """Reset with seeds 0, 1, ... until the goal satisfies ``predicate``; return the observation."""
    for seed in range(200):
        obs, _ = env.reset(seed=seed)
        if predicate(env.unwrapped.current_task().goal):
            return obs
    raise AssertionError("no seed with such a goal")


def element(env: gym.Env, name: str, value: str | None = None) -> int:
    """Number of the element with HTML ``name`` (and ``value``) on the current page."""
    for e in env.unwrapped.current_page().elements:
        if e.attrs.get("name") == name and (value is None or e.attrs.get("value") == value):
            return e.id
    raise AssertionError(f"no element named {name!r} on {env.unwrapped.current_page().url}")


def button(env: gym.Env, label: str) -> int:
    for e in env.unwrapped.current_page().elements:
        if e.role == "button" and e.name == label:
            return e.id
    raise AssertionError(f"no button {label!r}")


def act(env: gym.Env, *commands: str) -> tuple[dict[str, Any], float, bool, dict[str, Any]]:
    """Step ``commands``; every one must be carried out without an error."""
    result: Any = None
    for command in commands:
        obs, reward, terminated, _truncated, info = env.step(command)
        assert obs["last_action_error"] == "", (command, obs["last_action_error"])
        result = (obs, reward, terminated, info)
    return result


def expert_until_done(env: gym.Env, obs: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    for _ in range(60):
        command = env.unwrapped.expert_action()
        assert command in obs["admissible_commands"], (command, obs["admissible_commands"])
        obs, reward, terminated, truncated, info = env.step(command)
        assert obs["last_action_error"] == ""
        if terminated or truncated:
            return reward, info
    raise AssertionError("expert did not finish in 60 steps")


# -- registry --------------------------------------------------------------------------------------
def test_at_least_twelve_families_are_registered() -> None:
    assert len(WEB_FORM_FAMILIES) >= 12
    assert {key for key, _ in WEB_FORM_FAMILIES.values()} == set(FAMILIES)
    assert set(FORM_IDS) <= set(rlft.ENV_IDS)


def test_unknown_family_is_a_typed_error_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'login'"):
        FormTask("logn")
    with pytest.raises(UnknownNameError):
        gym.make("rlft/WebFormLogin-v0", family="nope")
    with pytest.raises(ConfigError):
        FormTask("login", content_seed=-1)


def test_episodes_are_deterministic_in_content_seed_and_index() -> None:
    site = FormTask("login")
    assert site.episode_for(9000) == FormTask("login").episode_for(9000)
    assert site.episode_for(9000) != site.episode_for(9001)
    assert FormTask("login", content_seed=1).episode_for(9000) != site.episode_for(9000)
    test_range = site.goal_range("test")
    for seed in range(20):
        assert site.reset(np.random.default_rng(seed), "test").goal["goal_index"] in test_range
    with pytest.raises(ConfigError):
        site.reset(np.random.default_rng(0), "dev")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_splits_never_share_a_goal(family: str) -> None:
    site = FormTask(family)
    ranges = [site.goal_range(split) for split in SPLITS]
    assert [len(r) for r in ranges] == [GOALS[s] for s in SPLITS]
    assert not set(ranges[0]) & set(ranges[2]) and not set(ranges[1]) & set(ranges[2])
    keys = {}
    for split, goals in zip(SPLITS, ranges, strict=True):
        episodes = [site.episode_for(index) for index in goals[:15]]
        assert all(site.split_of(episode) == split for episode in episodes)
        keys[split] = {site.family.goal_key(episode) for episode in episodes}
    assert not keys["train"] & keys["test"] and not keys["validation"] & keys["test"]
    assert not keys["train"] & keys["validation"]


def test_num_goals_counts_distinct_goals() -> None:
    site = FormTask("date")
    count = site.num_goals("validation")
    # ~365 of the 3,653 dates hash to validation, and 1,000 draws find most but not all of them.
    assert 250 < count < GOALS["validation"]


# -- experts end to end --------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", FORM_IDS)
def test_expert_solves_test_split_through_admissible_commands(env_id: str) -> None:
    env = gym.make(env_id, split="test")
    rewards = []
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        assert "success" in info and not info["success"]
        reward, info = expert_until_done(env, obs)
        assert info["success"]
        rewards.append(reward)
    assert min(rewards) == 1.0
    env.close()


@pytest.mark.parametrize("env_id", FORM_IDS)
def test_snapshot_restores_site_and_observation_exactly(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=3)
    env.step(env.unwrapped.expert_action())
    state = env.unwrapped.get_state()
    json.dumps(state)  # plain data
    saved = env.unwrapped.observation()
    for _ in range(3):
        _obs, _, terminated, truncated, _ = env.step(env.unwrapped.expert_action())
        if terminated or truncated:
            break
    assert env.unwrapped.get_state() != state
    env.unwrapped.set_state(state)
    assert env.unwrapped.observation() == saved
    assert env.unwrapped.get_state() == state
    reward, info = expert_until_done(env, saved)
    assert info["success"] and reward == 1.0


@pytest.mark.parametrize("env_id", FORM_IDS)
def test_expert_recovers_after_random_admissible_commands(env_id: str) -> None:
    """DAgger-style: a learner wanders first (commands that would end the episode are undone)."""
    env = gym.make(env_id, split="test")
    rng = np.random.default_rng(0)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for _ in range(8):
            commands = [c for c in obs["admissible_commands"] if c != "stop"]
            state = env.unwrapped.get_state()
            obs, _, terminated, truncated, _ = env.step(commands[int(rng.integers(len(commands)))])
            if terminated or truncated:
                env.unwrapped.set_state(state)
                obs = env.unwrapped.observation()
        reward, info = expert_until_done(env, obs)
        assert info["success"] and reward == 1.0


def test_same_seed_same_instruction_and_page() -> None:
    a, b = make("checkout"), make("checkout")
    assert a.reset(seed=11)[0] == b.reset(seed=11)[0]
    assert a.reset(seed=12)[0]["instruction"] != b.reset(seed=11)[0]["instruction"]


def test_stop_before_submitting_scores_zero() -> None:
    env = make("survey")
    env.reset(seed=0)
    _, reward, terminated, info = act(env, "stop")
    assert terminated and reward == 0.0 and not info["success"]


def test_any_free_text_is_accepted_not_only_candidates() -> None:
    env = make("contact")
    obs, _ = env.reset(seed=0)
    command = f"type[{element(env, 'name')}][Somebody Else]"
    assert command not in obs["admissible_commands"]
    obs, *_ = act(env, command)
    assert 'value="Somebody Else"' in obs["page"]


# -- family checkers ------------------------------------------------------------------------------------
def test_login_decoy_form_scores_zero_and_wrong_password_partial() -> None:
    env = make("login")
    env.reset(seed=0)
    goal = env.unwrapped.current_task().goal
    _, reward, terminated, info = act(
        env,
        f"type[{element(env, 'new_user')}][{goal['username']}]",
        f"type[{element(env, 'new_pass')}][{goal['password']}]",
        f"click[{button(env, 'Create account')}]",
    )
    assert terminated and reward == 0.0 and not info["success"]

    env.reset(seed=0)
    commands = [f"type[{element(env, 'user')}][{goal['username']}]", f"type[{element(env, 'pass')}][wrong]"]
    if goal["remember"]:
        commands.append(f"click[{element(env, 'remember')}]")
    _, reward, terminated, info = act(env, *commands, f"click[{button(env, 'Sign in')}]")
    assert terminated and reward == pytest.approx(0.75) and not info["success"]
    assert info["evaluation"]["checks"]["password"] is False


def test_contact_refuses_bad_formats_then_accepts_the_reformatted_phone() -> None:
    env = make("contact")
    obs, _ = env.reset(seed=4)
    goal = env.unwrapped.current_task().goal
    shown = env.unwrapped.site.episode["phone_shown"]
    assert format_phone(shown) == goal["phone"]
    assert f"type[{element(env, 'phone')}][{goal['phone']}]" in obs["admissible_commands"]
    fields = ["name", "email", "street", "postcode", "city"]
    commands = [f"type[{element(env, f)}][{goal[f]}]" for f in fields]
    commands += [
        f"type[{element(env, 'phone')}][{shown}x]",
        f"select[{element(env, 'country')}][{goal['country']}]",
    ]
    obs, reward, terminated, _ = act(env, *commands, f"click[{button(env, 'Save contact')}]")
    assert not terminated and "Phone must be written as NNN-NNN-NNNN" in obs["page"]
    assert f'value="{goal["email"]}"' in obs["page"]  # the form echoes what was sent
    _, reward, terminated, info = act(
        env, f"type[{element(env, 'phone')}][{goal['phone']}]", f"click[{button(env, 'Save contact')}]"
    )
    assert terminated and reward == 1.0 and info["evaluation"]["rejected"] == 1


def test_checkboxes_partial_credit_is_fraction_of_boxes() -> None:
    env = make("checkboxes")
    env.reset(seed=2)
    episode = env.unwrapped.site.episode
    for word in episode["initially"]:  # untick everything, tick nothing
        act(env, f"click[{element(env, 'word', word)}]")
    _, reward, terminated, _ = act(env, f"click[{button(env, 'Submit')}]")
    wanted = len(episode["goal"]["ticked"])
    assert terminated and reward == pytest.approx(1 - wanted / len(episode["words"]))


def test_date_wrong_day_gets_two_thirds() -> None:
    env = make("date")
    env.reset(seed=5)
    goal = env.unwrapped.current_task().goal["date"]
    while True:
        command = env.unwrapped.expert_action()
        page = env.unwrapped.current_page()
        target = page.element(int(command[6:-1]))
        if target.attrs.get("value") == goal:
            break
        act(env, command)
    wrong = goal[:8] + ("02" if goal[8:] != "02" else "03")
    act(env, f"click[{element(env, 'day', wrong)}]")
    _obs, reward, terminated, _ = act(env, f"click[{button(env, 'Submit date')}]")
    assert terminated and reward == pytest.approx(2 / 3)


def test_inbox_wrong_message_loses_credit() -> None:
    env = make("inbox")
    find_seed(env, lambda g: g["action"] == "delete")
    goal = env.unwrapped.current_task().goal
    other = (goal["id"] + 1) % len(env.unwrapped.site.episode["messages"])
    act(env, f"goto[/message/{other}]")
    _, reward, terminated, info = act(env, f"click[{button(env, 'Delete')}]")
    assert terminated and reward == pytest.approx(0.5)
    assert info["evaluation"]["checks"] == {"action": True, "message": False}


def test_checkout_declined_card_needs_the_backup() -> None:
    env = make("checkout")
    site = env.unwrapped.site
    seed = 0
    while not env.reset(seed=seed) or not site.episode["declined"]:
        seed += 1
    first_card = site.episode["cards"][0]["number"]
    while "card" not in {e.attrs.get("name") for e in env.unwrapped.current_page().elements}:
        act(env, env.unwrapped.expert_action())
    card = site.episode["cards"][0]
    obs, *_ = act(
        env,
        f"type[{element(env, 'card')}][{first_card}]",
        f"type[{element(env, 'expiry')}][{card['expiry']}]",
        f"type[{element(env, 'cvc')}][{card['cvc']}]",
        f"click[{button(env, 'Review order')}]",
    )
    assert "declined" in obs["page"] and site.server["payment"] is None
    reward, info = expert_until_done(env, obs)
    assert reward == 1.0 and info["evaluation"]["rejected"] == 1


def test_checkout_validation_messages() -> None:
    env = make("checkout")
    env.reset(seed=0)
    act(env, f"click[{button(env, 'Continue to shipping')}]")
    obs, *_ = act(
        env, f"type[{element(env, 'postcode')}][12ab]", f"click[{button(env, 'Continue to payment')}]"
    )
    assert "Postcode must be 5 digits." in obs["page"] and "Full name is required." in obs["page"]
    assert env.unwrapped.site.server["shipping"] is None


def test_password_candidates_and_rule_checks() -> None:
    env = make("password")
    obs, _ = env.reset(seed=8)
    goal = env.unwrapped.current_task().goal
    good = build_password(goal["rules"], goal["spec"])
    assert all(rule_holds(rule, goal["spec"], good) for rule in goal["rules"])
    for rule in goal["rules"]:
        assert not rule_holds(rule, goal["spec"], build_password(goal["rules"], goal["spec"], rule))
    assert f"type[{element(env, 'password')}][{good}]" in obs["admissible_commands"]
    bad = build_password(goal["rules"], goal["spec"], goal["rules"][0])
    _, reward, terminated, info = act(
        env,
        f"type[{element(env, 'username')}][{goal['username']}]",
        f"type[{element(env, 'password')}][{bad}]",
        f"type[{element(env, 'confirm')}][{bad}]",
        f"click[{button(env, 'Change password')}]",
    )
    assert terminated and not info["success"]
    assert reward == pytest.approx(1 - 1 / (len(goal["rules"]) + 1))


def test_password_mismatch_is_refused() -> None:
    env = make("password")
    env.reset(seed=1)
    obs, _, terminated, _ = act(
        env, f"type[{element(env, 'password')}][abc]", f"type[{element(env, 'confirm')}][abd]",
        f"click[{button(env, 'Change password')}]",
    )  # fmt: skip
    assert not terminated and "do not match" in obs["page"]


def test_table_opening_a_wrong_row_scores_zero() -> None:
    env = make("table")
    env.reset(seed=0)
    goal = env.unwrapped.current_task().goal
    wrong = next(p["id"] for p in env.unwrapped.site.episode["people"] if p["id"] != goal["id"])
    _, reward, terminated, info = act(env, f"goto[/employee/{wrong}]")
    assert terminated and reward == 0.0 and not info["success"]


def test_tabs_candidates_only_offer_extensions_already_seen() -> None:
    env = make("tabs")
    obs = find_seed(env, lambda g: True)
    episode = env.unwrapped.site.episode
    hidden = [p["extension"] for i, p in enumerate(episode["people"]) if i != 0]
    assert not any(ext in command for ext in hidden for command in obs["admissible_commands"])
    obs, *_ = act(env, f"goto[/?tab={len(episode['people']) - 1}]")
    assert any(hidden[-1] in command for command in obs["admissible_commands"])


def test_tabs_expert_opens_the_tabs_in_order_until_the_colleague_shows() -> None:
    """The tab strip names no one: the expert must not jump to the colleague's tab (a policy could not)."""
    env = make("tabs")
    for seed in range(200):
        env.reset(seed=seed)
        if env.unwrapped.site.episode["target"] >= 2:
            break
    target = env.unwrapped.site.episode["target"]
    opened = []
    for _ in range(20):
        obs, reward, terminated, _, _ = env.step(env.unwrapped.expert_action())
        if "tab=" in obs["url"] and (not opened or opened[-1] != obs["url"]):
            opened.append(obs["url"])
        if terminated:
            break
    assert terminated and reward == 1.0
    assert opened == [f"/?tab={i}" for i in range(1, target + 1)]


def test_menu_partial_credit_by_level() -> None:
    env = make("menu")
    env.reset(seed=0)
    s, g, p = env.unwrapped.current_task().goal["path"]
    leaves = env.unwrapped.site.episode["tree"][s]["groups"][g]["leaves"]
    other = next(i for i, name in enumerate(leaves) if name != leaves[p])
    act(env, f"goto[/menu/{s}/{g}/{other}]")
    _, reward, terminated, _ = act(env, f"click[{button(env, 'Choose this page')}]")
    assert terminated and reward == pytest.approx(2 / 3)


# -- raw WSGI ---------------------------------------------------------------------------------------------
def call(
    site: FormsSite, method: str, path: str, form: list[tuple[str, str]] | None = None
) -> tuple[str, str]:
    body = urlencode(form or []).encode()
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    status: list[str] = []
    chunks = site(environ, lambda s, headers: status.append(s))
    return status[0], b"".join(chunks).decode()


def test_wsgi_multi_valued_checkbox_post_and_unknown_paths() -> None:
    forms = FormTask("checkboxes")
    task = forms.load_goal(9100)
    wanted = task.goal["ticked"]
    status, page = call(
        forms.site, "POST", "/submit", [("word", w) for w in wanted] + [("word", "not-a-box")]
    )
    assert status.startswith("200") and "Thank you" in page
    evaluation = forms.evaluate(task, Trace())
    assert evaluation.done and evaluation.success and evaluation.reward == 1.0
    for family in FAMILIES:
        forms = FormTask(family)
        forms.load_goal(9000)
        site = forms.site
        assert call(site, "GET", "/no/such/page")[0].startswith("404")
        assert call(site, "GET", "/?tab=-3&month=99-99&page=x&sort=%00")[0].startswith("200")
        assert call(site, "POST", "/submit", [("q", "x" * 10_000)])[0][:3] in ("200", "404")


def test_site_state_round_trip_and_bad_state() -> None:
    forms = FormTask("date")
    forms.load_goal(9001)
    site = forms.site
    call(site, "POST", "/pick", [("day", "2024-02-29")])
    state = site.get_state()
    other = FormTask("date").site
    other.set_state(state)
    assert other.get_state() == state and other.get_state()["server"]["picked"] == "2024-02-29"
    with pytest.raises(ConfigError):
        other.set_state({"nonsense": 1})


def test_every_family_class_declares_its_docs() -> None:
    for key in FAMILIES:
        family = load_family(key)
        assert family.key == key and family.reward_doc and family.title


def test_flight_wants_iso_dates_and_scores_each_search_field() -> None:
    env = make("flight")
    obs, _ = env.reset(seed=6)
    goal = env.unwrapped.current_task().goal
    assert f"type[{element(env, 'date')}][{goal['date']}]" in obs["admissible_commands"]
    written = obs["instruction"].split(" on ")[1].split(" for ")[0]
    base = [
        f"select[{element(env, 'from')}][{goal['from']}]",
        f"select[{element(env, 'to')}][{goal['to']}]",
        f"select[{element(env, 'pax')}][{goal['pax']}]",
    ]
    obs, _, terminated, _ = act(env, *base, f"type[{element(env, 'date')}][{written}]")
    obs, _, terminated, _ = act(env, f"click[{button(env, 'Search flights')}]")
    assert not terminated and "Write the date as YYYY-MM-DD." in obs["page"]
    wrong_cabin = next(c for c in ("Economy", "Premium", "Business") if c != goal["cabin"])
    act(env, f"type[{element(env, 'date')}][{goal['date']}]", f"click[{element(env, 'cabin', wrong_cabin)}]")
    obs, *_ = act(env, f"click[{button(env, 'Search flights')}]")
    first_book = element(env, "flight")
    _, reward, terminated, info = act(env, f"click[{first_book}]")
    checks = info["evaluation"]["checks"]
    assert terminated and checks["cabin"] is False and checks["date"] and checks["from"] and checks["to"]
    assert reward == pytest.approx(sum(checks.values()) / 6) and not checks["flight"]


def _chromium_available() -> bool:
    try:
        from rlft.envs.web.backends.browser import find_chromium

        find_chromium()
    except ImportError:
        return False
    return True


@pytest.mark.integration
@pytest.mark.chromium
@pytest.mark.skipif(not _chromium_available(), reason="needs the Chromium backend and a Chromium browser")
@pytest.mark.parametrize("env_id", FORM_IDS)
def test_chromium_backend_sees_the_same_pages_as_the_text_backend(env_id: str) -> None:
    text, browser = gym.make(env_id, split="test"), gym.make(env_id, split="test", backend="chromium")
    try:
        assert text.reset(seed=1)[0] == browser.reset(seed=1)[0]
        done = False
        while not done:
            command = text.unwrapped.expert_action()
            a, reward_a, terminated, truncated, _ = text.step(command)
            b, reward_b, *_ = browser.step(command)
            assert a == b and reward_a == reward_b, command
            done = terminated or truncated
        assert reward_a == 1.0
    finally:
        text.close()
        browser.close()
