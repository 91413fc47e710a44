"""Sort and filter a paginated table, then open the row the instruction describes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

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
    Want,
    by_href,
    click_or_home,
    find,
    home,
    next_fill,
    not_found,
    pick,
    scored,
    submit_button,
)
from rlft.envs.web.tasks.forms.content import CITIES, FIRST_NAMES, LAST_NAMES

DEPARTMENTS: tuple[str, ...] = ("Sales", "Research", "Support", "Finance", "Legal", "Design")
PER_PAGE = 6
_ALL = "All departments"
_FILTER = "Filter"
_SORTS = {"age": "age", "salary": "salary"}
_EXTREMES = {
    "youngest": ("age", "asc"),
    "oldest": ("age", "desc"),
    "lowest-paid": ("salary", "asc"),
    "highest-paid": ("salary", "desc"),
}


class TableFamily(FormFamily):
    """Find the youngest / oldest / lowest-paid / highest-paid employee of a department and open them.

    The table lists 24-36 people six per page; a department filter (a GET form) and sort links (by
    age or salary, either direction) narrow it down. Opening any employee ends the episode.
    Reward: 1 for the right employee, else 0.
    """

    key = "table"
    title = "Employees"
    reward_doc = "1 if the opened employee is the one described (extreme of a department), else 0"
    answer_in_page = True

    def generate(self, rng: np.random.Generator) -> Episode:
        """Employees with distinct ages and salaries; the target department has at least three."""
        count = int(rng.integers(24, 37))
        ages = [int(a) for a in rng.choice(np.arange(21, 66), size=count, replace=False)]
        salaries = [int(s) * 500 for s in rng.choice(np.arange(60, 300), size=count, replace=False)]
        people = [
            {
                "id": i,
                "name": f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}",
                "dept": pick(rng, DEPARTMENTS),
                "city": pick(rng, CITIES),
                "age": ages[i],
                "salary": salaries[i],
            }
            for i in range(count)
        ]
        depts = [d for d in DEPARTMENTS if sum(p["dept"] == d for p in people) >= 3]
        dept = pick(rng, depts)
        extreme = pick(rng, sorted(_EXTREMES))
        column, order = _EXTREMES[extreme]
        members = [p for p in people if p["dept"] == dept]
        target = (min if order == "asc" else max)(members, key=lambda p: p[column])
        return {"goal": {"dept": dept, "extreme": extreme, "id": target["id"]}, "people": people}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Open the record of the oldest employee in Research.``."""
        goal = episode["goal"]
        return f"Open the record of the {goal['extreme']} employee in {goal['dept']}."

    def initial_server(self, episode: Episode) -> Server:
        """Nothing opened."""
        del episode
        return {"opened": None}

    def _listing(self, episode: Episode, request: Request) -> Response:
        dept = request.arg("dept")
        dept = dept if dept in DEPARTMENTS else ""
        sort = request.arg("sort") if request.arg("sort") in _SORTS else ""
        order = "desc" if request.arg("order") == "desc" else "asc"
        rows = [p for p in episode["people"] if not dept or p["dept"] == dept]
        if sort:
            rows = sorted(rows, key=lambda p: p[sort], reverse=order == "desc")
        pages = max(1, -(-len(rows) // PER_PAGE))
        page = request.int_arg("page", 1, 1, pages)
        shown = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
        cells = [
            [
                html.link(f"/employee/{p['id']}", p["name"]),
                html.esc(p["dept"]),
                html.esc(p["city"]),
                str(p["age"]),
                f"${p['salary']:,}",
            ]
            for p in shown
        ]
        query = {"dept": dept or None}
        sorts = [
            (html.url("/", **query, sort=column, order=direction), f"Sort by {column} ({word})")
            for column in _SORTS
            for direction, word in (("asc", "low to high"), ("desc", "high to low"))
        ]
        links = []
        if page > 1:
            links.append(
                (
                    html.url("/", **query, sort=sort or None, order=order if sort else None, page=page - 1),
                    "Previous page",
                )
            )
        if page < pages:
            links.append(
                (
                    html.url("/", **query, sort=sort or None, order=order if sort else None, page=page + 1),
                    "Next page",
                )
            )
        body = [
            html.form(
                "/",
                html.select("dept", "Department", [_ALL, *DEPARTMENTS], dept or _ALL),
                html.button(_FILTER),
                method="get",
            ),
            html.nav(sorts, "Sorting"),
            html.para(f"{len(rows)} employees, page {page} of {pages}."),
            html.table(["Name", "Department", "City", "Age", "Salary"], cells),
            html.nav(links, "Pages") if links else "",
        ]
        return Response(html.document(self.title, *body))

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """``/`` the table (``dept``, ``sort``, ``order``, ``page``), ``/employee/N`` opens a record."""
        if request.path == "/":
            return self._listing(episode, request)
        tail = request.path[len("/employee/") :]
        if request.path.startswith("/employee/") and tail.isdigit() and int(tail) < len(episode["people"]):
            person = episode["people"][int(tail)]
            if server["opened"] is None:
                server["opened"] = person["id"]
            text = f"{person['name']}, {person['age']}, {person['dept']} ({person['city']})"
            text += f", salary ${person['salary']:,}."
            return Response(html.document(self.title, html.para(text)))
        return not_found()

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Done once a record is opened."""
        if server["opened"] is None:
            return scored({}, False)
        return scored({"right_employee": server["opened"] == episode["goal"]["id"]}, True)

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Filter by the department, sort by the column in the right direction, open the first row."""
        del server
        goal = episode["goal"]
        column, order = _EXTREMES[goal["extreme"]]
        params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        if urlsplit(page.url).path != "/":
            return home(page)
        if params.get("dept") != goal["dept"]:
            return next_fill(page, [Want("select", "dept", goal["dept"])]) or submit_button(page, _FILTER)
        if params.get("sort") != column or params.get("order") != order or params.get("page", "1") != "1":
            link = by_href(page, html.url("/", dept=goal["dept"], sort=column, order=order))
            return click_or_home(page, link)
        first = find(page, lambda e: e.role == "link" and e.attrs.get("href", "").startswith("/employee/"))
        return click_or_home(page, first)
