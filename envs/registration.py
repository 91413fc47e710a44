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
