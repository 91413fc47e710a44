"""Search and open: search a directory and open the k-th result (results are paginated)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np
from rlft.envs.web.commands import Search, format_command
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
    find,
    not_found,
    pick,
    quoted,
    scored,
)
from rlft.envs.web.tasks.forms.content import CITIES, FIRST_NAMES, LAST_NAMES

PER_PAGE = 4
_NEXT = "Next page"
_JOBS: tuple[str, ...] = (
    "baker",
    "pilot",
    "nurse",
    "chemist",
    "editor",
    "welder",
    "tutor",
    "florist",
    "judge",
)


class SearchFamily(FormFamily):
    """Search a staff directory for a name or a city and open the k-th result (k up to 10).

    Results are listed four per page with a "Next page" link, so later ranks need paging. Opening any
    profile ends the episode. Reward: 1 for the right profile, else 0. Candidates: ``search[...]`` and
    typed text for every quoted string of the instruction.
    """

    key = "search"
    title = "Staff directory"
    reward_doc = "1 if the opened profile is the k-th result of the asked query, else 0"
    answer_in_page = True

    def generate(self, rng: np.random.Generator) -> Episode:
        """Return a directory of 40 people, a query matching at least 4 of them, and the rank to open."""
        query_kind = int(rng.integers(2))
        key_values = pick(rng, list(FIRST_NAMES if query_kind == 0 else CITIES), 6)
        people = []
        sharing = int(rng.integers(4, 13))
        for i in range(40):
            # The first few records share the query term; the rest draw from the whole lists.
            first, city = pick(rng, FIRST_NAMES), pick(rng, CITIES)
            if i < sharing:
                first, city = (key_values[0], city) if query_kind == 0 else (first, key_values[0])
            people.append(
                {"name": f"{first} {pick(rng, LAST_NAMES)}", "city": city, "job": pick(rng, _JOBS), "id": i}
            )
        people = pick(rng, people, len(people))
        for new_id, person in enumerate(people):
            person["id"] = new_id
        matches = _matches(people, key_values[0])
        rank = int(rng.integers(1, min(len(matches), 10) + 1))
        return {"goal": {"query": key_values[0], "rank": rank, "id": matches[rank - 1]}, "people": people}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Search the directory for "Lima" and open the 6th result.``."""
        goal = episode["goal"]
        rank = goal["rank"]
        suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
        return f'Search the directory for "{goal["query"]}" and open the {rank}{suffix} result.'

    def initial_server(self, episode: Episode) -> Server:
        """Nothing opened."""
        del episode
        return {"opened": None}

    def _search_form(self, query: str) -> str:
        return html.form(
            "/search",
            html.text_input("q", "Search", query, kind="search"),
            html.button("Search"),
            method="get",
        )

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """``/`` search box, ``/search?q=&page=`` results, ``/person/N`` a profile (ends the episode)."""
        people = episode["people"]
        if request.path == "/":
            return Response(
                html.document(self.title, self._search_form(""), html.para(f"{len(people)} people listed."))
            )
        if request.path == "/search":
            query = request.arg("q").strip()
            found = _matches(people, query) if query else []
            pages = max(1, -(-len(found) // PER_PAGE))
            page = request.int_arg("page", 1, 1, pages)
            shown = found[(page - 1) * PER_PAGE : page * PER_PAGE]
            items = [
                f"{html.link(f'/person/{i}', people[i]['name'])} ({html.esc(people[i]['city'])})"
                for i in shown
            ]
            body = [self._search_form(query), html.para(f"{len(found)} results, page {page} of {pages}.")]
            listed = "".join(f"<li>{i}</li>" for i in items)
            body.append(f'<ol start="{(page - 1) * PER_PAGE + 1}">{listed}</ol>')
            if page < pages:
                body.append(html.link(html.url("/search", q=query, page=page + 1), _NEXT))
            return Response(html.document(self.title, *body))
        if (
            request.path.startswith("/person/")
            and request.path[8:].isdigit()
            and int(request.path[8:]) < len(people)
        ):
            person = people[int(request.path[8:])]
            if server["opened"] is None:
                server["opened"] = person["id"]
            details = f"{person['name']}, {person['job']} in {person['city']}."
            return Response(html.document(self.title, html.para(details)))
        return not_found()

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Done once a profile is opened."""
        opened = server["opened"]
        if opened is None:
            return scored({}, False)
        return scored({"right_profile": opened == episode["goal"]["id"]}, True)

    def candidates(self, episode: Episode, server: Server, instruction: str, page: Page) -> list[str]:
        """Typed text as usual plus ``search[q]`` for each quoted string when the page has a search box."""
        commands = super().candidates(episode, server, instruction, page)
        if find(page, lambda e: e.role == "searchbox") is not None:
            commands += [format_command(Search(text)) for text in quoted(instruction)]
        return commands

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Search, page forward to the rank, open it."""
        del server
        goal = episode["goal"]
        if not page.url.startswith("/search") or _query_of(page.url) != goal["query"]:
            return format_command(Search(goal["query"]))
        target = by_href(page, f"/person/{goal['id']}")
        if target is not None:
            return click(target)
        nxt = find(page, lambda e: e.role == "link" and e.name == _NEXT)
        return click(nxt) if nxt is not None else format_command(Search(goal["query"]))


def _matches(people: list[dict], query: str) -> list[int]:
    """Ids of the people whose name words or city equal ``query`` (case-insensitive), in list order."""
    q = query.lower()
    return [p["id"] for p in people if q in p["name"].lower().split() or q == p["city"].lower()]


def _query_of(page_url: str) -> str:
    """Return the ``q`` parameter of a results URL."""
    return parse_qs(urlsplit(page_url).query).get("q", [""])[0].strip()
