"""Multi-field form: name, e-mail, phone, street, postcode, city and country, with format validation.

The instruction writes the phone number in a random style (``(555) 013 4567``, ``555.013.4567``...)
while the form asks for ``NNN-NNN-NNNN``, so the agent must reformat it. Submissions with a malformed
field are refused with validation messages.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from rlft.envs.web.page import Page
from rlft.envs.web.sites.forms import html
from rlft.envs.web.tasks.forms.base import Episode, Request, Want, pick, quoted, sent_value
from rlft.envs.web.tasks.forms.content import CITIES, COUNTRIES, STREETS, digits, email_of, person
from rlft.envs.web.tasks.forms.single import SingleFormFamily

PHONE_FORMAT = "NNN-NNN-NNNN"
_PHONE = re.compile(r"\d{3}-\d{3}-\d{4}\Z")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}\Z")
_POSTCODE = re.compile(r"\d{5}\Z")
_TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Full name"),
    ("email", "Email"),
    ("phone", f"Phone ({PHONE_FORMAT})"),
    ("street", "Street address"),
    ("postcode", "Postcode (5 digits)"),
    ("city", "City"),
)
_STYLES: tuple[str, ...] = ("({a}) {b} {c}", "{a}.{b}.{c}", "{a} {b} {c}", "{a}{b}{c}", "+1 {a} {b} {c}")


def format_phone(text: str) -> str | None:
    """``text``'s last ten digits as ``NNN-NNN-NNNN`` (``None`` when it holds fewer than ten)."""
    found = re.sub(r"\D", "", text)
    if len(found) < 10:
        return None
    found = found[-10:]
    return f"{found[:3]}-{found[3:6]}-{found[6:]}"


class ContactFamily(SingleFormFamily):
    """Fill a seven-field contact form from a description of a person.

    Reward at acceptance: fraction of the seven fields equal to the goal (the phone in the form's
    format). Typed-text candidates: the instruction's quoted values, plus each phone-like value
    rewritten in the format the form's label asks for.
    """

    key = "contact"
    title = "Contact details"
    reward_doc = "fraction of 7 fields (name, email, phone, street, postcode, city, country) correct"
    submit_label = "Save contact"

    def generate(self, rng: np.random.Generator) -> Episode:
        """Return a person with an address; the phone is shown in a random style."""
        first, last = person(rng)
        a, b, c = (
            digits(rng, 3),
            str(int(rng.integers(0, 1000))).zfill(3),
            str(int(rng.integers(0, 10000))).zfill(4),
        )
        goal = {
            "name": f"{first} {last}",
            "email": email_of(first, last, rng),
            "phone": f"{a}-{b}-{c}",
            "street": f"{int(rng.integers(1, 300))} {pick(rng, STREETS)}",
            "postcode": digits(rng, 5),
            "city": pick(rng, CITIES),
            "country": pick(rng, COUNTRIES),
        }
        return {"goal": goal, "phone_shown": pick(rng, _STYLES).format(a=a, b=b, c=c)}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Save the contact "Ana Silva": email "...", phone "(555) 013 4567", ...``."""
        g = episode["goal"]
        return (
            f'Save the contact "{g["name"]}": email "{g["email"]}", phone "{episode["phone_shown"]}", '
            f'street "{g["street"]}", postcode "{g["postcode"]}", city "{g["city"]}", country {g["country"]}.'
        )

    def fields(self, episode: Episode, sent: Request | None) -> list[str]:
        """Six text fields and the country list."""
        del episode
        parts = [
            html.text_input(name, label, sent_value(sent, name), kind="email" if name == "email" else "text")
            for name, label in _TEXT_FIELDS
        ]
        parts.append(
            html.select("country", "Country", COUNTRIES, sent_value(sent, "country"), prompt="Choose...")
        )
        return parts

    def validate(self, episode: Episode, request: Request) -> list[str]:
        """Check required fields and formats."""
        del episode
        problems = [f"{label} is required." for name, label in _TEXT_FIELDS if not request.arg(name).strip()]
        if not request.arg("country"):
            problems.append("Choose a country.")
        if request.arg("email").strip() and not _EMAIL.match(request.arg("email").strip()):
            problems.append("Email must look like name@example.org.")
        if request.arg("phone").strip() and not _PHONE.match(request.arg("phone").strip()):
            problems.append(f"Phone must be written as {PHONE_FORMAT}.")
        if request.arg("postcode").strip() and not _POSTCODE.match(request.arg("postcode").strip()):
            problems.append("Postcode must be 5 digits.")
        return problems

    def record(self, episode: Episode, request: Request) -> dict[str, Any]:
        """Return the seven values, stripped of surrounding spaces."""
        del episode
        return {name: request.arg(name).strip() for name in [*dict(_TEXT_FIELDS), "country"]}

    def checks(self, episode: Episode, submitted: dict[str, Any]) -> dict[str, bool]:
        """One check per field."""
        return {name: submitted[name] == wanted for name, wanted in episode["goal"].items()}

    def wants(self, episode: Episode) -> list[Want]:
        """Every field as in the goal."""
        goal = episode["goal"]
        return [Want("text", name, goal[name]) for name, _ in _TEXT_FIELDS] + [
            Want("select", "country", goal["country"])
        ]

    def texts(self, episode: Episode, server: dict[str, Any], instruction: str, page: Page) -> list[str]:
        """Quoted values, and phone-like ones reformatted as the form asks."""
        del episode, server, page
        values = quoted(instruction)
        phones = [p for p in (format_phone(v) for v in values if re.search(r"\d{3}\D*\d{3}\D*\d{4}", v)) if p]
        return list(dict.fromkeys(values + phones))
