"""Dropdown selection: set one to three of five long drop-down lists as asked, leave the rest alone."""

from __future__ import annotations

from typing import Any

import numpy as np
from rlft.envs.web.sites.forms import html
from rlft.envs.web.tasks.forms.base import Episode, Request, Want, pick, sent_value
from rlft.envs.web.tasks.forms.content import CITIES, COUNTRIES, WORDS
from rlft.envs.web.tasks.forms.single import SingleFormFamily

_PROMPT = "Choose..."
_LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "country": ("Country of residence", COUNTRIES),
    "city": ("Nearest office", CITIES),
    "size": ("T-shirt size", ("XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL")),
    "team": ("Team", tuple(f"Team {w.capitalize()}" for w in WORDS)),
    "year": ("Year of joining", tuple(str(y) for y in range(1990, 2027))),
}


class DropdownFamily(SingleFormFamily):
    """Pick the asked option in one to three drop-downs (out of five) and submit.

    Reward at submission: fraction of the asked drop-downs set right plus, as one more check, that
    the others were left at "Choose...".
    """

    key = "dropdown"
    title = "Preferences"
    reward_doc = "fraction of {each asked drop-down right, the other drop-downs untouched}"

    def generate(self, rng: np.random.Generator) -> Episode:
        """Which lists to set (1-3) and to what; the lists' order on the page is shuffled."""
        names = list(_LISTS)
        asked = pick(rng, names, int(rng.integers(1, 4)))
        order = pick(rng, names, len(names))
        return {"goal": {name: pick(rng, _LISTS[name][1]) for name in asked}, "order": order}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Set "T-shirt size" to "M" and "Country of residence" to "Peru", then press Submit.``."""
        parts = [f'"{_LISTS[name][0]}" to "{value}"' for name, value in episode["goal"].items()]
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"Set {joined}, leave the other lists unchanged, then press Submit."

    def fields(self, episode: Episode, sent: Request | None) -> list[str]:
        """Five drop-downs in the episode's order."""
        return [
            html.select(name, _LISTS[name][0], _LISTS[name][1], sent_value(sent, name), prompt=_PROMPT)
            for name in episode["order"]
        ]

    def record(self, episode: Episode, request: Request) -> dict[str, Any]:
        """Return the chosen value of every list ("" when left at the prompt)."""
        del episode
        return {name: request.arg(name) for name in _LISTS}

    def checks(self, episode: Episode, submitted: dict[str, Any]) -> dict[str, bool]:
        """Each asked list, and the untouched rest."""
        goal = episode["goal"]
        checks = {name: submitted[name] == value for name, value in goal.items()}
        checks["others_unchanged"] = all(submitted[name] == "" for name in _LISTS if name not in goal)
        return checks

    def wants(self, episode: Episode) -> list[Want]:
        """Return the asked options, and the prompt for every other list."""
        goal = episode["goal"]
        return [Want("select", name, goal.get(name, _PROMPT)) for name in episode["order"]]
