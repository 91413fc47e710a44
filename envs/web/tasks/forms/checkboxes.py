"""Checkboxes matching a description: tick exactly the words of a category (or a listed set).

Some boxes start ticked, so the agent must also untick the wrong ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rlft.envs.web.sites.forms import html
from rlft.envs.web.tasks.forms.base import Episode, Request, Want, pick
from rlft.envs.web.tasks.forms.content import CATEGORIES
from rlft.envs.web.tasks.forms.single import SingleFormFamily


class CheckboxesFamily(SingleFormFamily):
    """Tick every box whose word fits the description and no other, then submit.

    The description is either a category ("every word that names an animal") or an explicit list of
    words. Reward at submission: fraction of the boxes (8-12) in the right state.
    """

    key = "checkboxes"
    title = "Tick the boxes"
    reward_doc = "fraction of all boxes (8-12) in the right state (ticked iff it matches)"
    answer_in_page = True

    def generate(self, rng: np.random.Generator) -> Episode:
        """Words from three categories, the wanted subset, and which boxes start ticked."""
        categories = pick(rng, sorted(CATEGORIES), 3)
        total = int(rng.integers(8, 13))
        target = categories[0]
        n_target = int(rng.integers(1, min(5, total // 2) + 1))
        words = pick(rng, list(CATEGORIES[target]), n_target)
        pool = [w for c in categories[1:] for w in CATEGORIES[c] if w not in CATEGORIES[target]]
        words += pick(rng, pool, total - n_target)
        words = pick(rng, words, len(words))
        by_category = bool(rng.integers(2))
        wanted = [w for w in words if w in CATEGORIES[target]]
        if not by_category:
            # An explicit list may mix categories: any words at all.
            wanted = pick(rng, words, int(rng.integers(1, min(5, total // 2) + 1)))
        initially = [w for w in words if rng.random() < 0.25]
        return {
            "goal": {"ticked": sorted(wanted)},
            "words": words,
            "category": target if by_category else "",
            "initially": initially,
        }

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Tick every word that names one of these: fruits. Untick all others, then press Submit.``."""
        if episode["category"]:
            what = f"every word that belongs to the category {episode['category']}"
        else:
            what = ", ".join(f'"{w}"' for w in episode["goal"]["ticked"])
        return f"Tick {what} and nothing else, then press Submit."

    def fields(self, episode: Episode, sent: Request | None) -> list[str]:
        """One checkbox per word."""
        ticked = set(sent.args("word")) if sent is not None else set(episode["initially"])
        return [html.checkbox("word", w, w, w in ticked) for w in episode["words"]]

    def record(self, episode: Episode, request: Request) -> dict[str, Any]:
        """Return the ticked words."""
        return {"ticked": sorted(set(request.args("word")) & set(episode["words"]))}

    def checks(self, episode: Episode, submitted: dict[str, Any]) -> dict[str, bool]:
        """One check per box."""
        wanted, ticked = set(episode["goal"]["ticked"]), set(submitted["ticked"])
        return {w: (w in wanted) == (w in ticked) for w in episode["words"]}

    def wants(self, episode: Episode) -> list[Want]:
        """Every box's wanted state."""
        wanted = set(episode["goal"]["ticked"])
        return [Want("check", "word", w, w in wanted) for w in episode["words"]]
