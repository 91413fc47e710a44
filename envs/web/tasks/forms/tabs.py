"""Tabs: find a person's details on one of several tabs (links), then use them in the form below."""

from __future__ import annotations

from typing import Any

import numpy as np
from rlft.envs.web.page import Page
from rlft.envs.web.sites.forms import html
from rlft.envs.web.tasks.forms.base import (
    Episode,
    Request,
    Response,
    Server,
    Want,
    by_href,
    click_or_home,
    pick,
    quoted,
    sent_value,
)
from rlft.envs.web.tasks.forms.content import CITIES, FIRST_NAMES, LAST_NAMES, digits
from rlft.envs.web.tasks.forms.single import SingleFormFamily

_CALL = "Call"


class TabsFamily(SingleFormFamily):
    """Switch between tabs (one per colleague) to find someone's extension and office, then act.

    Each tab is a link (``/?tab=N``) showing one colleague's office and four-digit extension; the call
    form below the tabs is the same on every tab. Reward at submission: fraction of {extension,
    office}. Typed-text candidates: the instruction's quoted strings and every extension shown on a
    tab the agent has opened (the server records which tabs were shown).
    """

    key = "tabs"
    title = "Team directory"
    reward_doc = "fraction of {extension typed, office chosen} matching the colleague's tab"
    submit_label = _CALL

    def generate(self, rng: np.random.Generator) -> Episode:
        """3-6 colleagues with distinct names and extensions; the goal is one of them."""
        count = int(rng.integers(3, 7))
        firsts = pick(rng, list(FIRST_NAMES), count)
        people = []
        extensions: set[str] = set()
        for first in firsts:
            extension = digits(rng, 4)
            while extension in extensions:
                extension = digits(rng, 4)
            extensions.add(extension)
            last, office = pick(rng, LAST_NAMES), pick(rng, CITIES)
            people.append({"name": f"{first} {last}", "extension": extension, "office": office})
        target = int(rng.integers(count))
        goal = {"person": people[target]["name"], "extension": people[target]["extension"]}
        return {"goal": {**goal, "office": people[target]["office"]}, "people": people, "target": target}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Find "Ana Silva" in the tabs, enter her extension, choose her office and press Call.``."""
        return (
            f'Find "{episode["goal"]["person"]}" in the tabs, enter that colleague\'s extension and choose '
            f"their office in the call form, then press {_CALL}."
        )

    def initial_server(self, episode: Episode) -> Server:
        """Only the first tab has been shown."""
        del episode
        return {"submitted": None, "rejected": 0, "tab": 0, "seen": [0]}

    def intro(self, episode: Episode, server: Server) -> list[str]:
        """Return the tab strip (links to the other tabs) and the current tab's content."""
        people, current = episode["people"], server["tab"]
        links = [(html.url("/", tab=i), f"Tab {i + 1}") for i in range(len(people)) if i != current]
        person = people[current]
        return [
            html.nav(links, "Tabs"),
            html.heading(f"Tab {current + 1}: {person['name']}"),
            html.para(f"Office: {person['office']}. Extension: {person['extension']}."),
        ]

    def fields(self, episode: Episode, sent: Request | None) -> list[str]:
        """Return the extension field and the office list."""
        del episode
        return [
            html.text_input("extension", "Extension", sent_value(sent, "extension")),
            html.select("office", "Office", CITIES, sent_value(sent, "office"), prompt="Choose..."),
        ]

    def validate(self, episode: Episode, request: Request) -> list[str]:
        """Both fields are required; an extension has four digits."""
        del episode
        problems = []
        extension = request.arg("extension").strip()
        if not (len(extension) == 4 and extension.isdigit()):
            problems.append("The extension must be 4 digits.")
        if not request.arg("office"):
            problems.append("Choose an office.")
        return problems

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """Tabs at ``/?tab=N`` (recorded as seen), the call form posts to ``/submit``."""
        if request.path == "/" and request.method == "GET" and server["submitted"] is None:
            tab = request.int_arg("tab", server["tab"], 0, len(episode["people"]) - 1)
            server["tab"] = tab
            if tab not in server["seen"]:
                server["seen"].append(tab)
        return super().handle(request, episode, server)

    def record(self, episode: Episode, request: Request) -> dict[str, Any]:
        """Extension and office as sent."""
        del episode
        return {"extension": request.arg("extension").strip(), "office": request.arg("office")}

    def checks(self, episode: Episode, submitted: dict[str, Any]) -> dict[str, bool]:
        """Extension and office."""
        goal = episode["goal"]
        return {
            "extension": submitted["extension"] == goal["extension"],
            "office": submitted["office"] == goal["office"],
        }

    def wants(self, episode: Episode) -> list[Want]:
        """Return the colleague's extension and office."""
        goal = episode["goal"]
        return [Want("text", "extension", goal["extension"]), Want("select", "office", goal["office"])]

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Open the tabs in order until the colleague's shows (its details are read there), then fill, call.

        Only what the agent has seen decides: the tab strip names no one, so the expert does not jump to the
        colleague's tab (a policy could not tell from the page which one it is); it opens the next tab it has
        not shown yet, which the current tab's heading and the history tell.
        """
        if episode["target"] not in server["seen"]:
            unseen = next(i for i in range(len(episode["people"])) if i not in server["seen"])
            return click_or_home(page, by_href(page, html.url("/", tab=unseen)))
        return super().expert(episode, server, page)

    def texts(self, episode: Episode, server: dict[str, Any], instruction: str, page: Page) -> list[str]:
        """Quoted strings plus the extensions on the tabs shown so far."""
        del page
        seen = [episode["people"][i]["extension"] for i in server["seen"]]
        return list(dict.fromkeys(quoted(instruction) + seen))
