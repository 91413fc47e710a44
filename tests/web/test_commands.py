"""The command grammar: a closed set of typed commands, never evaluated."""

from __future__ import annotations

import gymnasium as gym
import pytest
import rlft
from rlft.envs.web.commands import (
    MAX_COMMAND_LENGTH,
    Answer,
    Back,
    Click,
    CommandError,
    Find,
    Goto,
    Quote,
    Scroll,
    Search,
    Select,
    Stop,
    Type,
    format_command,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("click[3]", Click(3)),
        ("  CLICK [ 12 ]  ", Click(12)),
        ("type[4][hello [world]]", Type(4, "hello [world]")),
        ("type[4][]", Type(4, "")),
        ("select[5][Red]", Select(5, "Red")),
        ("search[red shirt]", Search("red shirt")),
        ("scroll[DOWN]", Scroll("down")),
        ("scroll[top]", Scroll("top")),
        ("find[Price:]", Find("Price:")),
        ("goto[/search?q=x]", Goto("/search?q=x")),
        ("back", Back()),
        ("quote[the sky is blue]", Quote("the sky is blue")),
        ("answer[Paris]", Answer("Paris")),
        ("answer[]", Answer("")),
        ("stop", Stop()),
    ],
)
def test_parse_and_format_round_trip(text: str, command: object) -> None:
    assert parse_command(text) == command
    assert parse_command(format_command(command)) == command  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "click",
        "click[]",
        "click[abc]",
        "click[1e9]",
        "click[-1]",
        "click[1",
        "click[1][2]",
        "type[]",
        "type[x][y]",
        "select[1]",
        "scroll[sideways]",
        "search[]",
        "search[   ]",
        "stop now",
        "back[1]",
        "clíck[1]",
        "点击[1]",
        "__import__('os').system('echo pwned')",
        "x" * (MAX_COMMAND_LENGTH + 1),
        None,
        3,
        b"click[1]",
    ],
)
def test_malformed_commands_raise_command_error(text: object) -> None:
    with pytest.raises(CommandError):
        parse_command(text)


def test_error_messages_say_how_to_fix() -> None:
    with pytest.raises(CommandError, match=r"type\[N\]\[text\]"):
        parse_command("type[3]")
    with pytest.raises(CommandError, match="Unknown command 'clik'"):
        parse_command("clik[3]")


@pytest.mark.parametrize("env_id", [i for i in rlft.ENV_IDS if i.startswith("rlft/Web")])
def test_admissible_and_expert_commands_are_canonical(env_id: str) -> None:
    # Everything the env offers or the expert sends comes from format_command: it re-formats to itself.
    env = gym.make(env_id)
    try:
        obs, _ = env.reset(seed=4)
        for _ in range(8):
            action = env.unwrapped.expert_action()
            for command in (*obs["admissible_commands"], action):
                assert format_command(parse_command(command)) == command
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
    finally:
        env.close()
