"""The command grammar shared by every web site, parsed into a closed set of typed commands.

Grammar (one command per step; ``N`` is an element number shown in the page as ``[N]``)::

    click[N]              follow a link, press a button, toggle a checkbox, pick a radio
    type[N][text]         replace the content of a text field with ``text``
    select[N][option]     choose an option of a combobox by its label (case-insensitive)
    search[query]         type ``query`` into the page's search box and submit it
    scroll[up|down|top|bottom]
    find[text]            scroll to the next line containing ``text`` (case-insensitive)
    goto[url]             open a URL of the site itself (paths like ``/search?q=x``)
    back                  go back to the previous page
    quote[text]           record ``text`` (which must be on the page) as evidence
    answer[text]          give a final answer; ends the episode
    stop                  end the episode

Command names are case-insensitive and surrounding whitespace is ignored. The text argument is
everything between the first ``[`` after the name (after ``[N]`` for ``type``/``select``) and the
*last* ``]``, so text may itself contain brackets. Text arguments are kept verbatim (no trimming inside).
Parsing never evaluates anything: unparsable input becomes a :class:`CommandError` whose message the
environment shows in ``last_action_error``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

MAX_COMMAND_LENGTH = 1024
"""Longer commands are refused (the action space's ``max_length``)."""

SCROLL_DIRECTIONS: tuple[str, ...] = ("up", "down", "top", "bottom")


class CommandError(Exception):
    """An agent command that cannot be parsed or carried out (reported, never raised to the user)."""


@dataclass(frozen=True)
class Click:
    """``click[N]``."""

    element: int


@dataclass(frozen=True)
class Type:
    """``type[N][text]``."""

    element: int
    text: str


@dataclass(frozen=True)
class Select:
    """``select[N][option]``."""

    element: int
    option: str


@dataclass(frozen=True)
class Search:
    """``search[query]``."""

    query: str


@dataclass(frozen=True)
class _TextCommand:
    """A command whose one argument is free text."""

    text: str


@dataclass(frozen=True)
class Scroll:
    """``scroll[direction]``."""

    direction: Literal["up", "down", "top", "bottom"]


@dataclass(frozen=True)
class Find(_TextCommand):
    """``find[text]``."""


@dataclass(frozen=True)
class Goto:
    """``goto[url]``."""

    url: str


@dataclass(frozen=True)
class Back:
    """``back``."""


@dataclass(frozen=True)
class Quote(_TextCommand):
    """``quote[text]``."""


@dataclass(frozen=True)
class Answer(_TextCommand):
    """``answer[text]``."""


@dataclass(frozen=True)
class Stop:
    """``stop``."""


Command = Click | Type | Select | Search | Scroll | Find | Goto | Back | Quote | Answer | Stop
"""Every command the environment understands."""

_HEAD = re.compile(r"\s*([^\s\[\]]+)\s*(.*?)\s*\Z", re.DOTALL)
_ONE = re.compile(r"\[(.*)\]\Z", re.DOTALL)
_NUMBER = re.compile(r"\[\s*(\d{1,9})\s*\]\Z")
_NUMBER_TEXT = re.compile(r"\[\s*(\d{1,9})\s*\]\s*\[(.*)\]\Z", re.DOTALL)
_TEXT_COMMANDS: dict[str, Callable[[str], Command]] = {
    "search": Search,
    "find": Find,
    "goto": Goto,
    "quote": Quote,
    "answer": Answer,
}
_USAGE = {
    "click": "click[N]",
    "type": "type[N][text]",
    "select": "select[N][option]",
    "search": "search[query]",
    "scroll": "scroll[up|down|top|bottom]",
    "find": "find[text]",
    "goto": "goto[url]",
    "back": "back",
    "quote": "quote[text]",
    "answer": "answer[text]",
    "stop": "stop",
}
COMMAND_NAMES: tuple[str, ...] = tuple(_USAGE)


def _usage_error(name: str) -> CommandError:
    return CommandError(f"Malformed {name} command: use {_USAGE[name]}.")


def parse_command(text: object) -> Command:
    """Parse one agent command.

    Raises:
        CommandError: with a message for the agent (unknown command, wrong arguments, too long).

    """
    if not isinstance(text, str):
        raise CommandError(f"A command must be a string, got {type(text).__name__}.")
    if len(text) > MAX_COMMAND_LENGTH:
        raise CommandError(f"Command too long ({len(text)} characters; at most {MAX_COMMAND_LENGTH}).")
    head = _HEAD.match(text)
    if head is None or not text.strip():
        raise CommandError("Empty or unparsable command. Commands: " + ", ".join(_USAGE.values()) + ".")
    name, rest = head.group(1).lower(), head.group(2)
    if name not in _USAGE:
        raise CommandError(f"Unknown command {name[:40]!r}. Commands: " + ", ".join(_USAGE.values()) + ".")
    if name in ("back", "stop"):
        if rest:
            raise _usage_error(name)
        return Back() if name == "back" else Stop()
    if name == "click":
        match = _NUMBER.match(rest)
        if match is None:
            raise _usage_error(name)
        return Click(int(match.group(1)))
    if name in ("type", "select"):
        match = _NUMBER_TEXT.match(rest)
        if match is None:
            raise _usage_error(name)
        number, arg = int(match.group(1)), match.group(2)
        return Type(number, arg) if name == "type" else Select(number, arg)
    match = _ONE.match(rest)
    if match is None:
        raise _usage_error(name)
    arg = match.group(1)
    if name == "scroll":
        direction = arg.strip().lower()
        if direction not in SCROLL_DIRECTIONS:
            raise _usage_error(name)
        return Scroll(direction)  # type: ignore[arg-type]
    if not arg.strip() and name != "answer":
        raise CommandError(f"The {name} command needs a non-empty argument: use {_USAGE[name]}.")
    return _TEXT_COMMANDS[name](arg)


def format_command(command: Command) -> str:
    """Return the canonical text of ``command`` (``parse_command(format_command(c)) == c``)."""
    if isinstance(command, Click):
        return f"click[{command.element}]"
    if isinstance(command, Type):
        return f"type[{command.element}][{command.text}]"
    if isinstance(command, Select):
        return f"select[{command.element}][{command.option}]"
    if isinstance(command, Scroll):
        return f"scroll[{command.direction}]"
    if isinstance(command, Back):
        return "back"
    if isinstance(command, Stop):
        return "stop"
    if isinstance(command, Search):
        return f"search[{command.query}]"
    if isinstance(command, Goto):
        return f"goto[{command.url}]"
    if isinstance(command, _TextCommand):
        return f"{type(command).__name__.lower()}[{command.text}]"
    raise TypeError(f"not a command: {command!r}")
