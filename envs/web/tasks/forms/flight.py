"""Book a flight: fill the search form (route, date, passengers, cabin), then book the asked flight."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zlib
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
    Want,
    by_name,
    click,
    home,
    next_fill,
    not_found,
    pick,
    quoted,
    scored,
    submit_button,
)
from rlft.envs.web.tasks.forms.content import CITIES

CABINS: tuple[str, ...] = ("Economy", "Premium", "Business")
PASSENGERS: tuple[str, ...] = tuple(str(n) for n in range(1, 7))
CRITERIA: dict[str, str] = {"cheapest": "price", "earliest": "departure", "shortest": "minutes"}
_SEARCH = "Search flights"
_BOOK = "Book"
_PROMPT = "Choose..."
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_WRITTEN = re.compile(r"\b(\d{1,2}) (" + "|".join(calendar.month_name[1:]) + r") (\d{4})\b")
_FIELDS = ("from", "to", "date", "pax", "cabin")


def iso_dates(text: str) -> list[str]:
    """Every ``D Month YYYY`` date of ``text`` rewritten as ``YYYY-MM-DD`` (what the form asks for)."""
    found = []
    for day, month, year in _WRITTEN.findall(text):
        month_number = list(calendar.month_name).index(month)
        found.append(f"{int(year):04d}-{month_number:02d}-{int(day):02d}")
    return found


def flights(
    salt: int, origin: str, destination: str, date: str, cabin: str, pax: int
) -> list[dict[str, Any]]:
    """Return the flights listed for a search, deterministic in the search and the episode's ``salt``.

    Departures, durations and prices are drawn without replacement, so every criterion has exactly
    one best flight.
    """
    key = zlib.crc32(f"{origin}|{destination}|{date}".encode())
    rng = np.random.default_rng([salt, key])
    count = int(rng.integers(4, 8))
    departures = sorted(int(m) for m in rng.choice(np.arange(6 * 12, 22 * 12), size=count, replace=False) * 5)
    minutes = [int(m) * 5 for m in rng.choice(np.arange(12, 120), size=count, replace=False)]
    fares = [int(p) for p in rng.choice(np.arange(59, 900), size=count, replace=False)]
    factor = {"Economy": 1, "Premium": 2, "Business": 4}[cabin] * pax
    order = rng.permutation(count)
    rows = []
    for i in order:
        code = f"{origin[:2].upper()}{destination[:1].upper()}{100 + int(rng.integers(900))}"
        rows.append(
            {
                "code": f"{code}{i}",
                "departure": departures[i],
                "minutes": minutes[i],
                "stops": int(minutes[i] > 240) + int(minutes[i] > 420),
                "price": fares[i] * factor,
            }
        )
    return rows


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class FlightFamily(FormFamily):
    """Search flights for a route, date, passenger count and cabin; book the cheapest/earliest/shortest.

    The instruction writes the date as ``14 March 2026``; the form wants ``YYYY-MM-DD`` (validated).
    Results list 4-7 flights, each with its own "Book" button. Reward at booking: fraction of
    {from, to, date, passengers, cabin, the asked flight of that route}. Typed-text candidates: the
    quoted strings and the instruction's dates rewritten as ``YYYY-MM-DD``.
    """

    key = "flight"
    title = "Book a flight"
    reward_doc = (
        "fraction of {from, to, date, passengers, cabin, the asked (cheapest/earliest/shortest) flight}"
    )

    def generate(self, rng: np.random.Generator) -> Episode:
        """Route, date in 2026-2027, passengers, cabin, the criterion and the salt of the listings."""
        origin, destination = pick(rng, list(CITIES), 2)
        date = dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 730)))
        goal = {
            "from": origin,
            "to": destination,
            "date": date.isoformat(),
            "pax": pick(rng, PASSENGERS),
            "cabin": pick(rng, CABINS),
            "criterion": pick(rng, sorted(CRITERIA)),
        }
        salt = int(rng.integers(2**31))
        listing = flights(salt, origin, destination, goal["date"], goal["cabin"], int(goal["pax"]))
        best = min(listing, key=lambda f: f[CRITERIA[goal["criterion"]]])
        return {"goal": {**goal, "flight": best["code"]}, "salt": salt}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Book the cheapest flight from Lisbon to Oslo on 14 March 2026 for 2 passengers in ...``.

        Dates are written out in words; the form wants them as ``YYYY-MM-DD``.
        """
        g = episode["goal"]
        day = dt.date.fromisoformat(g["date"])
        written = f"{day.day} {calendar.month_name[day.month]} {day.year}"
        people = "1 passenger" if g["pax"] == "1" else f"{g['pax']} passengers"
        route = f"from {g['from']} to {g['to']} on {written}"
        return f"Book the {g['criterion']} flight {route} for {people} in {g['cabin']}."

    def initial_server(self, episode: Episode) -> Server:
        """Nothing booked."""
        del episode
        return {"booked": None, "rejected": 0}

    def _search_form(self, values: dict[str, str], problems: list[str]) -> list[str]:
        fields = [
            html.select("from", "From", CITIES, values.get("from", ""), prompt=_PROMPT),
            html.select("to", "To", CITIES, values.get("to", ""), prompt=_PROMPT),
            html.text_input("date", "Date (YYYY-MM-DD)", values.get("date", "")),
            html.select("pax", "Passengers", PASSENGERS, values.get("pax", "1")),
            html.radio_group("cabin", "Cabin", CABINS, values.get("cabin", CABINS[0])),
            html.button(_SEARCH),
        ]
        return [html.errors(problems), html.form("/results", *fields, method="get")]

    @staticmethod
    def _problems(values: dict[str, str]) -> list[str]:
        problems = []
        if values["from"] not in CITIES or values["to"] not in CITIES:
            problems.append("Choose where you fly from and to.")
        elif values["from"] == values["to"]:
            problems.append("From and To must differ.")
        try:
            day = dt.date.fromisoformat(values["date"]) if _ISO.match(values["date"]) else None
        except ValueError:
            day = None
        if day is None:
            problems.append("Write the date as YYYY-MM-DD.")
        elif not dt.date(2026, 1, 1) <= day <= dt.date(2027, 12, 31):
            problems.append("We only sell flights for 2026 and 2027.")
        if values["pax"] not in PASSENGERS:
            problems.append("Choose 1 to 6 passengers.")
        if values["cabin"] not in CABINS:
            problems.append("Choose a cabin.")
        return problems

    def _results(self, episode: Episode, values: dict[str, str], server: Server) -> Response:
        problems = self._problems(values)
        if problems:
            server["rejected"] += 1
            return Response(html.document(self.title, *self._search_form(values, problems)))
        listing = flights(
            episode["salt"], values["from"], values["to"], values["date"], values["cabin"], int(values["pax"])
        )
        hidden = [html.hidden(k, values[k]) for k in _FIELDS]
        rows = [
            [
                html.esc(f["code"]),
                _clock(f["departure"]),
                f"{f['minutes'] // 60}h {f['minutes'] % 60:02d}m",
                "direct" if not f["stops"] else f"{f['stops']} stop{'s' if f['stops'] > 1 else ''}",
                f"${f['price']:,}",
                html.form("/book", *hidden, html.button(_BOOK, "flight", f["code"])),
            ]
            for f in listing
        ]
        summary = (
            f"{values['from']} to {values['to']} on {values['date']}, {values['pax']} x {values['cabin']}."
        )
        body = [
            html.para(summary),
            html.table(["Flight", "Departs", "Duration", "Stops", "Total price", ""], rows),
            html.link("/", "New search"),
        ]
        return Response(html.document(self.title, *body))

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """``/`` search form, ``/results?...`` listing, POST ``/book`` books a flight (ends the episode)."""
        values = {k: request.arg(k).strip() for k in _FIELDS}
        if request.path == "/":
            return Response(html.document(self.title, *self._search_form({}, [])))
        if request.path == "/results":
            return self._results(episode, values, server)
        if request.path == "/book" and request.method == "POST" and not self._problems(values):
            listing = flights(
                episode["salt"],
                values["from"],
                values["to"],
                values["date"],
                values["cabin"],
                int(values["pax"]),
            )
            code = request.arg("flight")
            if code in {f["code"] for f in listing}:
                if server["booked"] is None:
                    server["booked"] = {**values, "flight": code}
                return Response(html.document(self.title, html.para(f"Flight {code} is booked.")))
        return not_found()

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Search fields and the flight, once booked."""
        booked = server["booked"]
        if booked is None:
            return scored({}, False, rejected=server["rejected"])
        goal = episode["goal"]
        checks = {k: booked[k] == goal[k] for k in _FIELDS}
        checks["flight"] = booked["flight"] == goal["flight"]
        return scored(checks, True, rejected=server["rejected"])

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Fill the search form, search, book the asked flight."""
        del server
        goal = episode["goal"]
        book = by_name(page, "flight", goal["flight"])
        if book is not None:
            return click(book)
        if by_name(page, "from") is None:
            return home(page)
        wants = [
            Want("select", "from", goal["from"]),
            Want("select", "to", goal["to"]),
            Want("text", "date", goal["date"]),
            Want("select", "pax", goal["pax"]),
            Want("radio", "cabin", goal["cabin"]),
        ]
        return next_fill(page, wants) or submit_button(page, _SEARCH)

    def texts(self, episode: Episode, server: Server, instruction: str, page: Page) -> list[str]:
        """Quoted strings and the instruction's dates in ``YYYY-MM-DD``."""
        del episode, server, page
        return list(dict.fromkeys(quoted(instruction) + iso_dates(instruction)))
