"""The one place where every rlft environment id is registered with Gymnasium.

Ids are generated in loops from the tables below; nothing is registered by copy-paste. Each table maps
the id's name to the keyword arguments its entry point receives and a one-line description (shown by
``rlft envs``). Bump an id's ``-vN`` when its behaviour changes.

Every spec sets ``max_episode_steps`` to the env's own default episode length (its ``max_steps``), so the
``TimeLimit`` that ``gym.make`` adds truncates at the same step as the env itself and
``env.spec.max_episode_steps`` tells tools the horizon. When you change the length through ``gym.make``
(``max_steps=N``, or tabletop's ``action_mode="ee_delta"``), pass ``max_episode_steps=N`` as well (or
``-1`` to leave truncation to the env alone): ``TimeLimit`` cannot see the env's kwargs.

Importing this module is cheap: entry points are strings, so no environment module (and none of
torch, pybullet or playwright) is imported until ``gym.make``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

NAMESPACE = "rlft"


@dataclass(frozen=True)
class EnvEntry:
    """What is registered for one environment id."""

    name: str
    """Name inside the namespace, without version (``WebShop``)."""
    version: int
    """The ``-vN`` suffix."""
    entry_point: str
    """``module:Class`` imported lazily by ``gym.make``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments that select the variant; users' ``gym.make`` kwargs override them."""
    description: str = ""
    """One line for ``rlft envs``."""
    max_episode_steps: int | None = None
    """The env's default episode length, registered so ``gym.make``'s ``TimeLimit`` agrees with it."""

    @property
    def id(self) -> str:
        """The full Gymnasium id, ``rlft/<name>-v<version>``."""
        return f"{NAMESPACE}/{self.name}-v{self.version}"


_WEB_ENTRY = "rlft.envs.web.env:WebEnv"
_TABLETOP_ENTRY = "rlft.envs.tabletop.env:TabletopEnv"

# name -> (site, description)
WEB_SITES: dict[str, tuple[str, str]] = {
    "WebShop": ("shop", "Shop: search 5,000 generated products and buy the one the instruction asks for"),
    "WebQA": ("qa", "Encyclopedia QA: browse fictional articles and answer a single- or two-hop question"),
}

# family name (CamelCase, used in the id) -> (family key, description)
WEB_FORM_FAMILIES: dict[str, tuple[str, str]] = {
    "Login": ("login", "Forms: log in with the given credentials; a look-alike sign-up form is a decoy"),
    "Contact": ("contact", "Forms: fill a 7-field contact form, reformatting the phone, with validation"),
    "Dropdown": ("dropdown", "Forms: set the asked drop-down lists (1-3 of 5), leave the others alone"),
    "Checkboxes": ("checkboxes", "Forms: tick exactly the boxes matching a category or a list"),
    "Date": ("date", "Forms: pick a date on a server-rendered calendar with month navigation"),
    "Tabs": ("tabs", "Forms: find a colleague's details on one of several tabs and use them in a form"),
    "Search": ("search", "Forms: search a directory and open the k-th result across result pages"),
    "Inbox": ("inbox", "Forms: reply to, forward or delete the e-mail from a named sender"),
    "Checkout": ("checkout", "Forms: four-step checkout with validation errors and a possibly declined card"),
    "Password": ("password", "Forms: choose a password obeying 3-5 stated rules, confirm it"),
    "Table": ("table", "Forms: filter and sort a paginated table, open the extreme employee"),
    "Survey": ("survey", "Forms: answer a radio-button survey as dictated"),
    "Menu": ("menu", "Forms: navigate a three-level menu tree and choose a page"),
    "Flight": ("flight", "Forms: search flights (route, date, passengers, cabin) and book the asked one"),
}

# name -> (task key, description)
TABLETOP_TASKS: dict[str, tuple[str, str]] = {
    "TabletopPutBlockInBowl": ("put_block_in_bowl", "Tabletop: put the named block in the named bowl"),
    "TabletopPackObjectInBox": ("pack_object_in_box", "Tabletop: pack the named object in the box"),
    "TabletopPlaceInZone": ("place_in_zone", "Tabletop: move an object to a named table region"),
    "TabletopPutBlockOnBlock": ("put_block_on_block", "Tabletop: put one named block on another"),
    "TabletopPlaceNextTo": ("place_next_to", "Tabletop: put an object beside another, on a named side"),
    "TabletopStackBlocks": ("stack_blocks", "Tabletop: stack 3-4 blocks in a named colour order"),
    "TabletopStackPyramid": ("stack_pyramid", "Tabletop: build a 3-2-1 pyramid, rows by colour, in a region"),
    "TabletopTowersOfHanoi": ("towers_of_hanoi", "Tabletop: move a three-disk tower between coloured pads"),
    "TabletopSortByColour": ("sort_by_colour", "Tabletop: put every block on the pad of its colour"),
    "TabletopSeparatePiles": ("separate_piles", "Tabletop: split a two-colour pile into two named regions"),
    "TabletopAlignBlocks": ("align_blocks", "Tabletop: line up blocks in a colour order along a named row"),
}


MINIWOB_TASKS: tuple[str, ...] = (
    "ascending-numbers",
    "book-flight",
    "book-flight-nodelay",
    "buy-ticket",
    "choose-date",
    "choose-date-easy",
    "choose-date-medium",
    "choose-date-nodelay",
    "choose-list",
    "click-button",
    "click-button-sequence",
    "click-checkboxes",
    "click-checkboxes-large",
    "click-checkboxes-soft",
    "click-checkboxes-transfer",
    "click-collapsible",
    "click-collapsible-2",
    "click-collapsible-2-nodelay",
    "click-collapsible-nodelay",
    "click-dialog",
    "click-dialog-2",
    "click-link",
    "click-menu",
    "click-menu-2",
    "click-option",
    "click-pie",
    "click-pie-nodelay",
    "click-tab",
    "click-tab-2",
    "click-tab-2-easy",
    "click-tab-2-hard",
    "click-tab-2-medium",
    "click-test",
    "click-test-2",
    "click-test-transfer",
    "click-widget",
    "copy-paste",
    "copy-paste-2",
    "daily-calendar",
    "email-inbox",
    "email-inbox-delete",
    "email-inbox-forward",
    "email-inbox-forward-nl",
    "email-inbox-forward-nl-turk",
    "email-inbox-important",
    "email-inbox-nl-turk",
    "email-inbox-noscroll",
    "email-inbox-reply",
    "email-inbox-star-reply",
    "enter-date",
    "enter-password",
    "enter-text",
    "enter-text-2",
    "enter-text-dynamic",
    "enter-time",
    "find-greatest",
    "find-word",
    "focus-text",
    "focus-text-2",
    "form-sequence-2",
    "form-sequence-3",
    "generate-number",
    "guess-number",
    "login-user",
    "login-user-popup",
    "multi-layouts",
    "multi-orderings",
    "navigate-tree",
    "odd-or-even",
    "order-food",
    "phone-book",
    "read-table",
    "read-table-2",
    "scroll-text",
    "search-engine",
    "sign-agreement",
    "simple-algebra",
    "simple-arithmetic",
    "social-media",
    "social-media-all",
    "social-media-some",
    "text-transform",
    "tic-tac-toe",
    "unicode-test",
    "use-autocomplete",
    "use-autocomplete-nodelay",
    "use-spinner",
)
"""The MiniWoB++ tasks registered as ``rlft/MiniWoB-<task>-v0`` (MiniWoB's own names): every task page of
the ``miniwob`` 1.1.0 package that can be done with the text commands. The others are in
:data:`MINIWOB_LEFT_OUT` with the reason; tests check that the two cover the package exactly."""

_DRAG = "needs dragging the mouse (the commands click, type and select; there is no drag)"
_POINT = "needs clicking or moving to a computed point of a drawing (no coordinates in the text)"
_MOTION = "needs hovering or timing against motion or a clock (no hover or wait command)"
_VISUAL = "the information is only in colours or shapes drawn on the page (not in its text)"
_SELECTION = "needs selecting text or scrolling inside a text area (no text-selection command)"
MINIWOB_LEFT_OUT: dict[str, str] = {
    **dict.fromkeys(
        (
            "drag-box",
            "drag-circle",
            "drag-cube",
            "drag-items",
            "drag-items-grid",
            "drag-shapes",
            "drag-shapes-2",
            "drag-single-shape",
            "drag-sort-numbers",
            "resize-textarea",
            "use-slider",
            "use-slider-2",
            "form-sequence",
        ),
        _DRAG,
    ),
    **dict.fromkeys(
        (
            "bisect-angle",
            "circle-center",
            "draw-circle",
            "draw-line",
            "find-midpoint",
            "right-angle",
            "hot-cold",
            "use-colorwheel",
            "use-colorwheel-2",
        ),
        _POINT,
    ),
    **dict.fromkeys(("chase-circle", "hover-shape", "moving-items", "button-delay", "stock-market"), _MOTION),
    **dict.fromkeys(
        (
            "click-color",
            "click-shades",
            "click-shape",
            "count-shape",
            "count-sides",
            "identify-shape",
            "grid-coordinate",
            "visual-addition",
            "simon-says",
            "number-checkboxes",
        ),
        _VISUAL,
    ),
    **dict.fromkeys(("highlight-text", "highlight-text-2", "text-editor", "scroll-text-2"), _SELECTION),
    "terminal": "needs typing into a terminal that is not a text field (type only fills text fields)",
    "click-scroll-list": "needs choosing several options of one list (select chooses one)",
}
"""MiniWoB++ task pages left out, with why. All 130 pages reset, render and step (checked by
``tests/envs/web/test_miniwob.py``); these need an action or information the text interface lacks."""

MINIWOB_MAX_STEPS = 30
"""Default ``max_steps`` of every MiniWoB++ id (its tasks take 1-15 commands)."""

WEB_MAX_STEPS = 50
"""Default ``max_steps`` of every web id (``WebEnv``'s default)."""

TABLETOP_MAX_STEPS: dict[str, int] = {
    "put_block_in_bowl": 4,
    "pack_object_in_box": 4,
    "place_in_zone": 4,
    "put_block_on_block": 4,
    "place_next_to": 4,
    "stack_blocks": 8,
    "stack_pyramid": 10,
    "towers_of_hanoi": 14,
    "sort_by_colour": 9,
    "separate_piles": 9,
    "align_blocks": 8,
}
"""Default ``pick_place`` episode length of each tabletop task (its ``Task.max_steps``; kept here so that
registering does not import pybullet, and checked against the tasks by the tests)."""


def _entries() -> list[EnvEntry]:
    entries = [
        EnvEntry(name, 0, _WEB_ENTRY, {"site": site}, desc, WEB_MAX_STEPS)
        for name, (site, desc) in WEB_SITES.items()
    ]
    entries += [
        EnvEntry(f"WebForm{name}", 0, _WEB_ENTRY, {"site": "forms", "family": family}, desc, WEB_MAX_STEPS)
        for name, (family, desc) in WEB_FORM_FAMILIES.items()
    ]
    entries += [
        EnvEntry(
            f"MiniWoB-{task}",
            0,
            _WEB_ENTRY,
            {"site": "miniwob", "task": task, "backend": "live", "max_steps": MINIWOB_MAX_STEPS},
            f"MiniWoB++ {task}: its own page, utterance and reward on live Chromium",
            MINIWOB_MAX_STEPS,
        )
        for task in MINIWOB_TASKS
    ]
    entries.append(
        EnvEntry(
            "WebBrowser",
            0,
            _WEB_ENTRY,
            {"site": "browser", "backend": "live"},
            "Your own local site on live Chromium: a task class gives the start URL, instruction and reward",
            WEB_MAX_STEPS,
        )
    )
    entries += [
        EnvEntry(name, 0, _TABLETOP_ENTRY, {"task": task}, desc, TABLETOP_MAX_STEPS[task])
        for name, (task, desc) in TABLETOP_TASKS.items()
    ]
    return entries


ENTRIES: tuple[EnvEntry, ...] = tuple(_entries())
ENV_IDS: tuple[str, ...] = tuple(entry.id for entry in ENTRIES)


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` with Gymnasium (idempotent)."""
    for entry in ENTRIES:
        if entry.id not in gym.registry:
            gym.register(
                id=entry.id,
                entry_point=entry.entry_point,
                kwargs=dict(entry.kwargs),
                max_episode_steps=entry.max_episode_steps,
            )


def describe_envs() -> dict[str, str]:
    """Map every registered id to its one-line description."""
    return {entry.id: entry.description for entry in ENTRIES}
