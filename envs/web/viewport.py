"""The agent's window on a rendered page: the visible lines, scrolling, ``find`` and the page's own commands.

Pure functions of a :class:`~rlft.envs.web.page.Page` (or its lines), the scroll position and the
viewport size, so every backend and task shares them. Failures that are the agent's fault raise
:class:`~rlft.envs.web.commands.CommandError`.
"""

from __future__ import annotations

from rlft.envs.web.commands import Back, Click, CommandError, Scroll, Select, Stop, format_command
from rlft.envs.web.page import Page

_WS_TABLE = str.maketrans({"\n": " ", "\t": " "})


def normalise(text: str) -> str:
    """Lower-case ``text`` with every run of whitespace collapsed to one space (for matching)."""
    return " ".join(text.translate(_WS_TABLE).split()).lower()


def page_lines(page: Page) -> list[str]:
    """The lines of the page's rendered text."""
    return page.text.split("\n") if page.text else []


def viewport_text(lines: list[str], scroll: int, size: int) -> str:
    """``size`` lines from ``scroll`` on, plus a footer saying which lines are shown when not all are."""
    start = min(scroll, max(0, len(lines) - 1))
    shown = lines[start : start + size]
    view = "\n".join(shown)
    if len(lines) > size:
        end = start + len(shown)
        more = []
        if start > 0:
            more.append(format_command(Scroll("up")))
        if end < len(lines):
            more.append(format_command(Scroll("down")))
        view += f"\n(lines {start + 1}-{end} of {len(lines)}; {' or '.join(more)} for more)"
    return view


def scroll_target(count: int, scroll: int, size: int, direction: str) -> int:
    """The scroll position after ``scroll[direction]`` on a page of ``count`` lines.

    Raises:
        CommandError: when scrolling up at the top or down at the end.
    """
    last = max(0, count - size)
    target = {
        "up": max(0, scroll - size),
        "down": min(last, scroll + size),
        "top": 0,
        "bottom": last,
    }[direction]
    if target == scroll and direction in ("up", "down"):
        raise CommandError(
            f"Cannot scroll {direction}: the {'top' if direction == 'up' else 'end'} is shown."
        )
    return target


def find_line(lines: list[str], scroll: int, text: str) -> int:
    """The next line after ``scroll`` (wrapping around) that contains ``text``, case-insensitively.

    Raises:
        CommandError: when ``text`` is blank or on no line.
    """
    needle = normalise(text)
    if not needle:
        raise CommandError("find[text] needs visible text to look for.")
    count = len(lines)
    for offset in range(1, count + 1):
        index = (scroll + offset) % count
        if needle in normalise(lines[index]):
            return index
    raise CommandError(f"Text {text[:100]!r} is not on this page.")


def element_commands(page: Page) -> list[str]:
    """``click`` for every enabled link, button, checkbox and radio; ``select`` for every other option."""
    commands: list[str] = []
    for element in page.elements:
        if element.disabled:
            continue
        if element.role in ("link", "button", "checkbox", "radio"):
            commands.append(format_command(Click(element.id)))
        elif element.role == "combobox":
            commands += [format_command(Select(element.id, o)) for o in element.options if o != element.value]
    return commands


def navigation_commands(count: int, scroll: int, size: int, can_go_back: bool) -> list[str]:
    """``scroll`` when there is more to see, ``back`` when there is history, and ``stop``."""
    commands: list[str] = []
    if scroll > 0:
        commands.append(format_command(Scroll("up")))
    if scroll + size < count:
        commands.append(format_command(Scroll("down")))
    if can_go_back:
        commands.append(format_command(Back()))
    commands.append(format_command(Stop()))
    return commands
