"""Constrained text entry: choose a new password that satisfies three to five stated rules."""

from __future__ import annotations

from typing import Any

import numpy as np
from rlft.envs.web.page import Page
from rlft.envs.web.sites.forms import html
from rlft.envs.web.tasks.forms.base import Episode, Request, Want, pick, quoted, sent_value
from rlft.envs.web.tasks.forms.content import WORDS, digits, person
from rlft.envs.web.tasks.forms.single import SingleFormFamily

SYMBOLS = "!#$%&*"
RULES: tuple[str, ...] = ("length", "digits", "upper", "symbol", "word", "exclude", "end_digit")
_PAD = "mnrstvwb"  # padding letters; one of them is always allowed by the exclude rule
_UPPER = "QZXKJ"


def rule_text(rule: str, spec: dict[str, Any]) -> str:
    """How the instruction states ``rule``."""
    return {
        "length": f"is {spec['min']} to {spec['max']} characters long",
        "digits": f"has at least {spec['digits']} digits",
        "upper": "has at least one uppercase letter",
        "symbol": f"has at least one of the symbols {' '.join(SYMBOLS)}",
        "word": f'contains the word "{spec["word"]}"',
        "exclude": f'does not contain the letter "{spec["exclude"]}" (in any case)',
        "end_digit": "ends with a digit",
    }[rule]


def rule_holds(rule: str, spec: dict[str, Any], password: str) -> bool:
    """Whether ``password`` satisfies ``rule``."""
    if rule == "length":
        return spec["min"] <= len(password) <= spec["max"]
    if rule == "digits":
        return sum(ch.isdigit() for ch in password) >= spec["digits"]
    if rule == "upper":
        return any(ch.isupper() for ch in password)
    if rule == "symbol":
        return any(ch in SYMBOLS for ch in password)
    if rule == "word":
        return spec["word"] in password
    if rule == "exclude":
        return spec["exclude"] not in password.lower()
    return password[-1:].isdigit()


def build_password(rules: list[str], spec: dict[str, Any], broken: str = "") -> str:
    """Return a password satisfying every rule in ``rules`` except ``broken`` (which it violates, if given).

    This is what a careful reader of the instruction would construct: it uses only the stated rules.
    """
    banned = spec.get("exclude", "") if "exclude" in rules else ""
    pad = next(ch for ch in _PAD if ch != banned)
    upper = next(ch for ch in _UPPER if ch.lower() != banned)
    word = spec["word"] if "word" in rules and broken != "word" else ""
    n_digits = spec.get("digits", 1) if "digits" in rules else 1
    numbers = "2468"[: n_digits - 1 if broken == "digits" else n_digits]
    head = ("" if broken == "upper" else upper) + word + ("" if broken == "symbol" else "#")
    low, high = (spec["min"], spec["max"]) if "length" in rules else (10, 40)
    body = head + pad * max(0, low - len(head) - len(numbers))
    if broken == "length":
        body = head + pad * (high + 1 - len(head) - len(numbers))
    if broken == "exclude":
        body += banned
    return numbers + body if broken == "end_digit" else body + numbers


class PasswordFamily(SingleFormFamily):
    """Set a new password obeying 3-5 rules (length range, digits, uppercase, symbol, a word, ...).

    Reward at submission: fraction of {username right, each rule holds}. The form refuses a
    confirmation that differs from the password. Typed-text candidates: the quoted strings of the
    instruction, a password built to satisfy every stated rule, and one built to break each rule
    (sorted, so position gives nothing away).
    """

    key = "password"
    title = "Change password"
    reward_doc = "fraction of {username right, each of the 3-5 stated rules holds}"
    submit_label = "Change password"

    def generate(self, rng: np.random.Generator) -> Episode:
        """Rules and their parameters; the word never contains the excluded letter."""
        rules = sorted(pick(rng, list(RULES), int(rng.integers(3, 6))), key=RULES.index)
        word = pick(rng, WORDS)
        exclude = pick(rng, [ch for ch in "aeiouylc" if ch not in word])
        low = int(rng.integers(8, 13))
        spec = {
            "min": low,
            "max": low + int(rng.integers(5, 10)),
            "digits": int(rng.integers(1, 4)),
            "word": word,
        }
        spec["exclude"] = exclude
        first, last = person(rng)
        username = f"{first.lower()}.{last.lower()}{digits(rng, 2)}"
        return {"goal": {"username": username, "rules": rules, "spec": spec}}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``For user "ana.silva12", set a new password that has at least 2 digits and ...``."""
        goal = episode["goal"]
        rules = [rule_text(rule, goal["spec"]) for rule in goal["rules"]]
        listed = ", ".join(rules[:-1]) + " and " + rules[-1]
        return f'For user "{goal["username"]}", set a new password that {listed}. Confirm it and submit.'

    def fields(self, episode: Episode, sent: Request | None) -> list[str]:
        """Username, password, confirmation."""
        del episode
        return [
            html.text_input("username", "Username", sent_value(sent, "username")),
            html.text_input("password", "New password", kind="password"),
            html.text_input("confirm", "Confirm new password", kind="password"),
        ]

    def validate(self, episode: Episode, request: Request) -> list[str]:
        """Require a password and a matching confirmation."""
        del episode
        if not request.arg("password"):
            return ["Enter a new password."]
        if request.arg("password") != request.arg("confirm"):
            return ["The two passwords do not match."]
        return []

    def record(self, episode: Episode, request: Request) -> dict[str, Any]:
        """Username and the new password."""
        del episode
        return {"username": request.arg("username").strip(), "password": request.arg("password")}

    def checks(self, episode: Episode, submitted: dict[str, Any]) -> dict[str, bool]:
        """Username, then one check per rule."""
        goal = episode["goal"]
        checks = {"username": submitted["username"] == goal["username"]}
        checks.update({rule: rule_holds(rule, goal["spec"], submitted["password"]) for rule in goal["rules"]})
        return checks

    def wants(self, episode: Episode) -> list[Want]:
        """Username, and the built password twice."""
        goal = episode["goal"]
        password = build_password(goal["rules"], goal["spec"])
        return [
            Want("text", "username", goal["username"]),
            Want("text", "password", password),
            Want("text", "confirm", password),
        ]

    def texts(self, episode: Episode, server: dict[str, Any], instruction: str, page: Page) -> list[str]:
        """Quoted strings, the rule-abiding password and one rule-breaking password per rule."""
        del server, page
        goal = episode["goal"]
        built = {build_password(goal["rules"], goal["spec"], broken) for broken in ["", *goal["rules"]]}
        return list(dict.fromkeys(quoted(instruction) + sorted(built)))
