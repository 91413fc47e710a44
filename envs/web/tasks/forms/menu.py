"""Navigate a three-level menu tree (links) to a leaf and choose it."""

from __future__ import annotations

from typing import Any

import numpy as np
from rlft.envs.web.page import Page
from rlft.envs.web.sites.forms import html
from rlft.envs.web.task import Evaluation
from rlft.envs.web.tasks.forms.base import (
    Episode,
    FormFamily,
    Request,
    Response,
    Server,
    by_href,
    click,
    home,
    not_found,
    pick,
    scored,
    submit_button,
)
from rlft.envs.web.tasks.forms.content import CATEGORIES, WORDS

_CHOOSE = "Choose this page"
_TOP = ("Home", "Garden", "Office", "Kitchen", "Studio", "Garage", "Library", "Workshop")


class MenuFamily(FormFamily):
    """Go down a menu tree (4 sections x 3-4 groups x 3-5 pages, all links) and choose a page.

    Every page has a breadcrumb link back up. Choosing a page ends the episode. Reward: fraction of
    {section, group, page} of the chosen page that match the asked path.
    """

    key = "menu"
    title = "Site menu"
    reward_doc = "fraction of {section, group, page} of the chosen page that match the asked path"
    answer_in_page = True

    def generate(self, rng: np.random.Generator) -> Episode:
        """Return a tree with distinct labels per level; the goal is one leaf."""
        sections = pick(rng, list(_TOP), 4)
        groups = pick(rng, [w.capitalize() for w in WORDS], 16)
        leaves = pick(rng, sorted({w.capitalize() for ws in CATEGORIES.values() for w in ws}), 40)
        tree: list[dict] = []
        for s, section in enumerate(sections):
            kids = []
            for g in range(int(rng.integers(3, 5))):
                count = int(rng.integers(3, 6))
                start = (s * 4 + g) * 5 % (len(leaves) - 5)
                kids.append({"name": groups[s * 4 + g], "leaves": leaves[start : start + count]})
            tree.append({"name": section, "groups": kids})
        s = int(rng.integers(4))
        g = int(rng.integers(len(tree[s]["groups"])))
        leaf = int(rng.integers(len(tree[s]["groups"][g]["leaves"])))
        return {"goal": {"path": [s, g, leaf]}, "tree": tree}

    def names(self, episode: Episode, path: list[int]) -> list[str]:
        """Return the labels along ``path`` (section, group, page)."""
        section = episode["tree"][path[0]]
        names = [section["name"]]
        if len(path) > 1:
            group = section["groups"][path[1]]
            names.append(group["name"])
            if len(path) > 2:
                names.append(group["leaves"][path[2]])
        return names

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Go to Garden > Ember > Otter in the menu and choose that page.``."""
        path = " > ".join(self.names(episode, episode["goal"]["path"]))
        return f"Go to {path} in the menu and choose that page."

    def initial_server(self, episode: Episode) -> Server:
        """Nothing chosen."""
        del episode
        return {"chosen": None}

    @staticmethod
    def _href(path: list[int]) -> str:
        return "/menu/" + "/".join(str(i) for i in path) if path else "/"

    def _path(self, episode: Episode, request: Request) -> list[int] | None:
        if request.path == "/":
            return []
        parts = request.path[len("/menu/") :].split("/") if request.path.startswith("/menu/") else ["x"]
        if not all(p.isdigit() for p in parts) or len(parts) > 3:
            return None
        path = [int(p) for p in parts]
        node: Any = episode["tree"]
        for depth, index in enumerate(path):
            children = node if depth == 0 else node["groups"] if depth == 1 else node["leaves"]
            if index >= len(children):
                return None
            node = children[index]
        return path

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """``/`` sections, ``/menu/s``, ``/menu/s/g`` groups, ``/menu/s/g/p`` a page; POST chooses it."""
        path = self._path(episode, request)
        if path is None:
            return not_found()
        names = self.names(episode, path) if path else []
        crumbs = [("/", "Menu")] + [(self._href(path[: i + 1]), n) for i, n in enumerate(names[:-1])]
        body = [html.nav(crumbs, "Breadcrumb")]
        if len(path) == 3:
            if request.method == "POST" and server["chosen"] is None:
                server["chosen"] = path
            if server["chosen"] is not None:
                body.append(html.para(f"You chose {' > '.join(self.names(episode, server['chosen']))}."))
            else:
                body += [
                    html.para(f"This is the {names[-1]} page."),
                    html.form(self._href(path), html.button(_CHOOSE)),
                ]
            return Response(html.document(names[-1], *body))
        if not path:
            children = [s["name"] for s in episode["tree"]]
        elif len(path) == 1:
            children = [g["name"] for g in episode["tree"][path[0]]["groups"]]
        else:
            children = episode["tree"][path[0]]["groups"][path[1]]["leaves"]
        body.append(html.nav([(self._href([*path, i]), name) for i, name in enumerate(children)], "Menu"))
        return Response(html.document(names[-1] if names else self.title, *body))

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Level-by-level match of the chosen page."""
        chosen = server["chosen"]
        if chosen is None:
            return scored({}, False)
        want = self.names(episode, episode["goal"]["path"])
        got = self.names(episode, chosen)
        return scored(
            {level: got[i] == want[i] for i, level in enumerate(("section", "group", "page"))}, True
        )

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Follow the path one level at a time, then choose."""
        del server
        goal = episode["goal"]["path"]
        if page.url == self._href(goal):
            return submit_button(page, _CHOOSE)
        for depth in range(3, 0, -1):
            link = by_href(page, self._href(goal[:depth]))
            if link is not None and page.url != self._href(goal[:depth]):
                return click(link)
        return home(page)
