"""Date picking on a server-rendered calendar: month navigation links and one button per day."""

from __future__ import annotations

import calendar
import datetime as dt
import re

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
    by_name,
    click,
    click_or_home,
    find,
    home,
    not_found,
    scored,
    submit_button,
)

_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
_SUBMIT = "Submit date"
_PREV = "Previous month"
_NEXT = "Next month"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _shift(month: str, delta: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + mon - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class DateFamily(FormFamily):
    """Pick a date written in one of several styles on a calendar that opens on another month.

    The calendar shows one month; "Previous month"/"Next month" links move it, each day is a button
    that picks that date, and "Submit date" sends the pick. Reward at submission: fraction of
    {year, month, day} of the picked date that match.
    """

    key = "date"
    title = "Book an appointment"
    reward_doc = "fraction of {year, month, day} of the submitted date that match the goal"

    def generate(self, rng: np.random.Generator) -> Episode:
        """Return a target date in 2020-2029 and a start month up to eight months away."""
        target = dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3653)))
        start = _shift(f"{target.year:04d}-{target.month:02d}", int(rng.integers(-8, 9)))
        style = int(rng.integers(4))
        return {"goal": {"date": target.isoformat()}, "start": start, "style": style}

    def instruction(self, episode: Episode) -> str:
        """Return the date in one of four styles, e.g. ``Pick March 14th, 2025 and submit it.``."""
        day = dt.date.fromisoformat(episode["goal"]["date"])
        month = calendar.month_name[day.month]
        written = (
            f"{day.day} {month} {day.year}",
            f"{month} {_ordinal(day.day)}, {day.year}",
            day.isoformat(),
            f"{day.day:02d}/{day.month:02d}/{day.year} (day/month/year)",
        )[episode["style"]]
        return f"Pick {written} in the calendar and submit it."

    def initial_server(self, episode: Episode) -> Server:
        """No pick, no submission."""
        del episode
        return {"picked": "", "submitted": None}

    def _calendar(self, month: str, picked: str) -> Response:
        year, mon = int(month[:4]), int(month[5:7])
        days = calendar.monthrange(year, mon)[1]
        buttons = [html.button(str(d), "day", f"{month}-{d:02d}") for d in range(1, days + 1)]
        shown = picked or "none"
        body = [
            html.para(f"Selected date: {shown}"),
            html.nav(
                [
                    (html.url("/", month=_shift(month, -1)), _PREV),
                    (html.url("/", month=_shift(month, 1)), _NEXT),
                ],
                "Months",
            ),
            html.heading(f"{calendar.month_name[mon]} {year}"),
            html.form("/pick", html.hidden("month", month), *buttons),
            html.form("/submit", html.button(_SUBMIT)),
        ]
        return Response(html.document(self.title, *body))

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """``/?month=YYYY-MM`` shows a month, ``/pick`` picks a day, ``/submit`` sends the pick."""
        if request.path == "/pick" and request.method == "POST":
            day = request.arg("day")
            try:
                dt.date.fromisoformat(day)
            except ValueError:
                day = ""
            if day and server["submitted"] is None:
                server["picked"] = day
            return self._calendar(day[:7] if day else episode["start"], server["picked"])
        if request.path == "/submit" and request.method == "POST":
            if server["submitted"] is None:
                server["submitted"] = server["picked"]
            return Response(
                html.document(
                    self.title, html.para(f"Appointment requested for {server['submitted'] or 'no date'}.")
                )
            )
        if request.path == "/":
            match = _MONTH.match(request.arg("month"))
            month = request.arg("month") if match and 1 <= int(match.group(2)) <= 12 else episode["start"]
            return self._calendar(month, server["picked"])
        return not_found()

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Year, month and day checks once submitted (an empty pick fails all three)."""
        sent = server["submitted"]
        if sent is None:
            return scored({}, False)
        goal = episode["goal"]["date"]
        parts = sent.split("-") if sent else ["", "", ""]
        wanted = goal.split("-")
        return scored({k: parts[i] == wanted[i] for i, k in enumerate(("year", "month", "day"))}, True)

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Move month by month towards the goal, click its day, submit."""
        goal = episode["goal"]["date"]
        if server["picked"] == goal:
            return submit_button(page, _SUBMIT)
        button = by_name(page, "day", goal)
        if button is not None:
            return click(button)
        shown = find(page, lambda e: e.attrs.get("name") == "day")
        if shown is None:
            return home(page)
        label = _NEXT if shown.attrs["value"][:7] < goal[:7] else _PREV
        nav = find(page, lambda e: e.role == "link" and e.name == label)
        return click_or_home(page, nav)
