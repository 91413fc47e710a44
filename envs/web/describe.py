"""What each command acts on, in words: the grounding every admissible command comes with.

:func:`describe_command` turns a command and the browser's state (:class:`View`: the page, the scroll
position, the viewport size and the page ``back`` returns to) into one line naming the target's role,
name or label, value or state, and the text beside it on the page::

    click[6]             link "Acme slip-on canvas sneakers, purple" $35.99, rated 4.2 (31 reviews)
    click[9]             checkbox "Gift wrap" (now unchecked): check it (under "Options")
    select[4][m]         combobox "Size" (now "-- choose --") option "m" (under "Brand: Acme")
    type[2][red shirt]   textbox "Search products": type "red shirt"
    search[red shirt]    search box "Search products": search for "red shirt"
    scroll[down]         scroll down: lines 61-120 of 240
    find[warranty]       find "warranty": line 37 of 240
    back                 back to /search?q=red+shirt
    goto[/cart]          go to /cart
    quote[in 1889]       quote "in 1889" as evidence from /wiki/Eiffel_Tower
    answer[1889]         answer "1889", from the line "Completed | 1889", and end the episode
    stop                 stop: end the episode here

The text beside an element is :attr:`~rlft.envs.web.page.Element.context` (the rest of its line), else
the line above it that holds no element (:attr:`~rlft.envs.web.page.Element.caption`: a heading, a
question) as ``(under "...")``. An element inside prose (:attr:`~rlft.envs.web.page.Element.lead`) is
described by its sentence instead: ``link "Kuo Vramik" in "The Harbour of Remin is a 1850 play by Kuo
Vramik ."``. An element in an ordered list ends with its item's number, the ``5.`` a browser shows beside
it: ``link "Elena Sato" (Malmo) (item 5)``. A command that cannot be carried out is described too
(``click[99]`` -> ``no element [99] on this page``), so every command has a non-empty description.
Pure functions of their arguments: every backend and every caller (the environment, experts, candidate
builders) shares them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rlft.envs.web.commands import (
    Answer,
    Back,
    Click,
    Command,
    CommandError,
    Find,
    Goto,
    Quote,
    Scroll,
    Search,
    Select,
    Stop,
    Type,
    parse_command,
)
from rlft.envs.web.page import Element, Page
from rlft.envs.web.render import CHECKED, quote
from rlft.envs.web.viewport import find_line, normalise, page_lines, scroll_target

MAX_DESCRIPTION_LENGTH = 1024
"""Descriptions are cut to this many characters (the observation's ``Text`` length)."""
MAX_PART_LENGTH = 200
"""Each quoted name, value, argument or context is cut to this many characters."""

_TEXT_ROLES = frozenset(("textbox", "searchbox"))

# Parsing is pure and commands are immutable; the same candidates recur step after step.
_parse = functools.lru_cache(maxsize=4096)(parse_command)


@dataclass(frozen=True)
class View:
    """What a description depends on besides the command: the browser as the agent sees it."""

    page: Page
    """The whole rendered current page."""
    scroll: int = 0
    """Index of the first line shown."""
    size: int = 60
    """Lines shown at once (the env's ``viewport_lines``)."""
    previous_url: str | None = None
    """The URL ``back`` returns to, ``None`` when there is no previous page."""

    @functools.cached_property
    def normalised_text(self) -> str:
        """The page text as :func:`~rlft.envs.web.viewport.normalise` makes it (computed once)."""
        return normalise(self.page.text)

    @functools.cached_property
    def normalised_lines(self) -> tuple[tuple[str, str], ...]:
        """Each page line with its :func:`~rlft.envs.web.viewport.normalise` form (computed once)."""
        return tuple((line, normalise(line)) for line in page_lines(self.page))


def clip(text: str, limit: int = MAX_PART_LENGTH) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``limit`` characters with ``...``."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _quoted(text: str) -> str:
    text = clip(text)
    # JSON quoting (as in page tokens) only changes text holding quotes, backslashes or control characters.
    if '"' in text or "\\" in text or not text.isprintable():
        return quote(text)
    return f'"{text}"'


def name_element(element: Element, limit: int = 60) -> str:
    """``role "name"`` alone, the name cut to ``limit`` characters: what a history line says was acted on."""
    return f"{element.role} {_quoted(clip(element.name, limit))}"


def describe_element(element: Element) -> str:
    """``role "name"`` plus its value or state: ``combobox "Size" (now "m")``, ``radio "XL" (now checked)``.

    Text fields show their value only when they hold one (a password as ``*``).
    """
    head = name_element(element, MAX_PART_LENGTH)
    if element.role in ("checkbox", "radio"):
        head += f" (now {element.value})"
    elif element.role == "combobox" or (element.role in _TEXT_ROLES and element.value):
        value = "*" * len(element.value) if element.attrs.get("type") == "password" else element.value
        head += f" (now {_quoted(value)})"
    if element.disabled:
        head += " (disabled)"
    return head


def clip_start(text: str, limit: int = MAX_PART_LENGTH) -> str:
    """``text`` on one line (whitespace collapsed), its start cut to keep the last ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[len(text) - limit + 3 :].lstrip()


def _beside(element: Element) -> str:
    place = f" (item {element.item})" if element.item else ""
    return _text_beside(element) + place


def _text_beside(element: Element) -> str:
    if element.lead:
        # Inside prose: its sentence, the element's words in their place (`in "... a play by Kuo Vramik ."`).
        # The words next to it matter most: the sentence's start gives way first.
        rest = " ".join(p for p in (clip(element.name, 80), clip(element.context, 80)) if p)
        return f" in {_quoted(clip_start(element.lead, MAX_PART_LENGTH - len(rest) - 1) + ' ' + rest)}"
    if element.context:
        return " " + clip(element.context)
    if element.caption:
        section = f" in {_quoted(element.section)}" if element.section else ""
        return f" (under {_quoted(element.caption)}{section})"
    return ""


def _missing(page: Page, element_id: int) -> str:
    return f"no element [{element_id}] on this page ({page.numbering()})"


def _click(element: Element) -> str:
    if element.role == "checkbox":
        action = ": uncheck it" if element.value == CHECKED else ": check it"
    elif element.role == "radio":
        action = ": already chosen" if element.value == CHECKED else ": choose it"
    elif element.role == "button":
        kind = element.attrs.get("type", "submit").lower()
        action = {"reset": ": reset the form", "button": ": does nothing without scripts"}.get(kind, "")
    elif element.role == "link":
        action = ""
    else:
        action = ": only focuses it"
    return describe_element(element) + action


def _scroll(view: View, direction: str) -> str:
    count = len(page_lines(view.page))
    try:
        target = scroll_target(count, view.scroll, view.size, direction)
    except CommandError:
        return f"scroll {direction}: already at the {'top' if direction == 'up' else 'end'}"
    if count <= view.size:
        return f"scroll {direction}: the whole page ({count} lines) is already shown"
    end = min(count, target + view.size)
    return f"scroll {direction}: lines {target + 1}-{end} of {count}"


def _find(view: View, text: str) -> str:
    lines = page_lines(view.page)
    try:
        index = find_line(lines, view.scroll, text)
    except CommandError:
        return f"find {_quoted(text)}: not on this page"
    return f"find {_quoted(text)}: line {index + 1} of {len(lines)}: {clip(lines[index])}"


def _answer_source(view: View, text: str) -> str:
    """Where an answer's text stands on the page: the first line holding it as whole words.

    Without it ``answer[1616]`` and ``answer[Pounuxesk]`` read alike, and a policy cannot tell the birth
    year from the birthplace unless it finds each value in the page on its own; an infobox row names
    the field (``Birthplace | Pounuxesk``).
    """
    needle = normalise(text)
    if needle and needle in view.normalised_text:
        words = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)")
        lines = [(line, norm) for line, norm in view.normalised_lines if words.search(norm)]
        # A line that is the text alone (a subtitle) says less than one that also names it (a row).
        best = next((line for line, norm in lines if norm != needle), lines[0][0] if lines else None)
        if best is not None:
            return f", from the line {_quoted(best)},"
    return " (not on this page)"


def describe(command: Command, view: View, memo: dict[int, tuple[str, str]] | None = None) -> str:
    """One line saying what ``command`` acts on and does in ``view`` (see the module docstring).

    ``memo`` (element number -> its phrase and the text beside it) saves work when many commands of one
    view act on the same element (every option of a combobox); pass the same dict only with one view.
    """
    page = view.page
    if isinstance(command, (Click, Type, Select)):
        element = page.element(command.element)
        if element is None:
            return _missing(page, command.element)
        if isinstance(command, Click):
            return _click(element) + _beside(element)
        known = memo.get(element.id) if memo is not None else None
        if known is None:
            known = (describe_element(element), _beside(element))
            if memo is not None:
                memo[element.id] = known
        phrase, beside = known
        if isinstance(command, Type):
            return f"{phrase}{beside}: type {_quoted(command.text)}"
        return f"{phrase} option {_quoted(command.option)}{beside}"
    if isinstance(command, Search):
        box = next((e for e in page.elements if e.role == "searchbox" and not e.disabled), None)
        where = f"search box {_quoted(box.name)}" if box is not None else "no search box on this page"
        return f"{where}: search for {_quoted(command.query)}"
    if isinstance(command, Scroll):
        return _scroll(view, command.direction)
    if isinstance(command, Find):
        return _find(view, command.text)
    if isinstance(command, Back):
        if view.previous_url is None:
            return "back: there is no previous page"
        return f"back to {clip(view.previous_url)}"
    if isinstance(command, Goto):
        return f"go to {clip(command.url)}"
    if isinstance(command, Quote):
        shown = normalise(command.text) in view.normalised_text
        where = f"from {clip(page.url)}" if shown else "(not on this page)"
        return f"quote {_quoted(command.text)} as evidence {where}"
    if isinstance(command, Answer):
        return f"answer {_quoted(command.text)}{_answer_source(view, command.text)} and end the episode"
    if isinstance(command, Stop):
        return "stop: end the episode here"
    raise TypeError(f"not a command: {command!r}")


def describe_command(text: str, view: View, memo: dict[int, tuple[str, str]] | None = None) -> str:
    """:func:`describe` for a command's text; an unparsable one is described by why it cannot be parsed."""
    return _describe_text(text, view, memo)[1]


def _describe_text(
    text: str, view: View, memo: dict[int, tuple[str, str]] | None
) -> tuple[Command | None, str]:
    try:
        command = _parse(text)
    except CommandError as error:
        return None, clip(f"not a valid command: {error}", MAX_DESCRIPTION_LENGTH)
    description = describe(command, view, memo)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        description = clip(description, MAX_DESCRIPTION_LENGTH)
    return command, description


def describe_commands(commands: Sequence[str], view: View) -> tuple[str, ...]:
    """The description of each of ``commands``, in order (the env's ``admissible_descriptions``)."""
    memo: dict[int, tuple[str, str]] = {}
    return tuple(describe_command(text, view, memo) for text in commands)


class Describer:
    """:func:`describe_commands` that remembers element commands from one view to the next.

    The description of ``click[N]``, ``type[N][...]`` or ``select[N][...]`` depends on element ``N``
    alone, and a document laid out again after a field change keeps the same object for every element
    whose value did not change (:attr:`~rlft.envs.web.render.Document.variants`); so a command whose
    element is the very object it was described with is not described again.
    Results equal :func:`describe_commands`'s (then ``finish``).

    Args:
        finish: applied to every description before it is returned and remembered (the env's cleaning).
        max_entries: the memory is emptied when it holds more commands than this.
    """

    def __init__(self, finish: Callable[[str], str] | None = None, max_entries: int = 4096) -> None:
        self.finish = finish
        self.max_entries = max_entries
        self._known: dict[str, tuple[int, Element, str]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # A pickled env (a vector env's worker) starts with an empty memory.
        return {"finish": self.finish, "max_entries": self.max_entries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.finish = state["finish"]
        self.max_entries = state["max_entries"]
        self._known = {}

    def __call__(self, commands: Sequence[str], view: View) -> tuple[str, ...]:
        """The (finished) description of each of ``commands`` in ``view``, in order."""
        memo: dict[int, tuple[str, str]] = {}
        known = self._known
        if len(known) > self.max_entries:
            known.clear()
        out: list[str] = []
        for text in commands:
            hit = known.get(text)
            if hit is not None and view.page.element(hit[0]) is hit[1]:
                out.append(hit[2])
                continue
            command, description = _describe_text(text, view, memo)
            if self.finish is not None:
                description = self.finish(description)
            out.append(description)
            element = (
                view.page.element(command.element) if isinstance(command, (Click, Type, Select)) else None
            )
            if element is not None:
                known[text] = (element.id, element, description)
        return tuple(out)
