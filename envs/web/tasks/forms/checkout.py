"""Multi-step checkout: cart, shipping, payment, review; each step posts a form and may be refused.

Validation re-renders a step with its errors (required fields, a 5-digit postcode, a 16-digit card
passing the Luhn check, an unexpired ``MM/YY`` expiry, a 3-digit CVC). In half the episodes the first
card of the instruction is declined and the backup card must be used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
    by_href,
    by_name,
    click_or_home,
    next_fill,
    not_found,
    pick,
    scored,
    submit_button,
)
from rlft.envs.web.tasks.forms.content import CITIES, STREETS, WORDS, digits, person

DELIVERY: tuple[str, ...] = ("Standard", "Express", "Next day")
_GOODS = ("Mug", "Lamp", "Notebook", "Scarf", "Teapot", "Backpack", "Candle", "Poster", "Kettle", "Jacket")
_EXPIRY = re.compile(r"(\d{2})/(\d{2})\Z")
_NOW = (26, 11)  # the shop's "today" (year, month): cards expiring before it are refused
_STEPS = {"cart": "Continue to shipping", "shipping": "Continue to payment", "payment": "Review order"}
_PLACE = "Place order"
_SHIPPING_FIELDS = (("name", "Full name"), ("street", "Street"), ("city", "City"), ("postcode", "Postcode"))
_PAYMENT_FIELDS = (("card", "Card number"), ("expiry", "Expiry (MM/YY)"), ("cvc", "CVC"))
_FIRST_FIELD = {"cart": "qty0", "shipping": "name", "payment": "card"}


def luhn_ok(number: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (card numbers do)."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def make_card(rng: np.random.Generator) -> str:
    """Return a random 16-digit number with a valid Luhn check digit, grouped by four."""
    body = "4" + "".join(str(int(d)) for d in rng.integers(0, 10, size=14))  # Visa-like numbers start with 4
    check = next(str(d) for d in range(10) if luhn_ok(body + str(d)))
    number = body + check
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def _card_digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text)


class CheckoutFamily(FormFamily):
    """Set a cart quantity, then fill shipping and payment over four pages and place the order.

    Reward when the order is placed: fraction of 9 checks (quantity, name, street, city, postcode,
    delivery, card, expiry, CVC). Typed-text candidates: the instruction's quoted strings.
    """

    key = "checkout"
    title = "Checkout"
    reward_doc = "fraction of 9 checks: quantity, name, street, city, postcode, delivery, card, expiry, CVC"

    def generate(self, rng: np.random.Generator) -> Episode:
        """Cart items, shipping and payment details, and whether the first card is declined."""
        names = pick(rng, list(_GOODS), 3)
        items = [
            {
                "name": f"{pick(rng, WORDS).capitalize()} {n}",
                "price": f"{int(rng.integers(5, 90))}.{int(rng.integers(0, 100)):02d}",
            }
            for n in names
        ]
        first, last = person(rng)
        cards = [
            {
                "number": make_card(rng),
                "expiry": f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(27, 32))}",
                "cvc": digits(rng, 3),
            }
            for _ in range(2)
        ]
        declined = bool(rng.integers(2))
        goal = {
            "item": int(rng.integers(3)),
            "quantity": str(int(rng.integers(2, 6))),
            "name": f"{first} {last}",
            "street": f"{int(rng.integers(1, 300))} {pick(rng, STREETS)}",
            "city": pick(rng, CITIES),
            "postcode": digits(rng, 5),
            "delivery": pick(rng, DELIVERY),
            **cards[1 if declined else 0],
        }
        return {"goal": goal, "items": items, "cards": cards, "declined": declined}

    def instruction(self, episode: Episode) -> str:
        """Quantity, address, delivery and the two cards, e.g. ``Buy 3 of "Amber Mug" ...``."""
        g, (card, backup) = episode["goal"], episode["cards"]
        item = episode["items"][g["item"]]["name"]
        return (
            f'Buy {g["quantity"]} of "{item}" (keep the other items at 1) and ship to "{g["name"]}", '
            f'"{g["street"]}", "{g["city"]}", postcode "{g["postcode"]}" with {g["delivery"]} delivery. '
            f'Pay with card "{card["number"]}", expiry "{card["expiry"]}", CVC "{card["cvc"]}"; if it is '
            f'declined, use card "{backup["number"]}", expiry "{backup["expiry"]}", CVC "{backup["cvc"]}".'
        )

    def initial_server(self, episode: Episode) -> Server:
        """Empty steps; no decline yet."""
        del episode
        return {"cart": None, "shipping": None, "payment": None, "order": None, "declines": 0, "rejected": 0}

    # -- pages ------------------------------------------------------------------------------------------
    def _page(self, step: str, server: Server, parts: list[str], problems: tuple[str, ...] = ()) -> Response:
        heading = {"cart": "Your cart", "shipping": "Shipping", "payment": "Payment", "review": "Review"}[
            step
        ]
        # Links back to the steps already passed, so a wrong earlier entry can be corrected.
        links = [("/", "Cart")]
        if server["cart"] is not None:
            links.append(("/shipping", "Shipping"))
        if server["shipping"] is not None:
            links.append(("/payment", "Payment"))
        button = html.button(_STEPS.get(step, _PLACE))
        body = [
            html.nav(links, "Checkout steps"),
            html.heading(f"Step: {heading}"),
            html.errors(problems),
            html.form(f"/{step}", *parts, button),
        ]
        return Response(html.document(self.title, *body))

    def _cart(
        self,
        episode: Episode,
        server: Server,
        values: Mapping[str, str] | None = None,
        problems: tuple[str, ...] = (),
    ) -> Response:
        if values is None:
            saved = server["cart"] or ["1"] * len(episode["items"])
            values = {f"qty{i}": q for i, q in enumerate(saved)}
        parts = [
            html.select(f"qty{i}", f"{item['name']} (${item['price']}) quantity", [str(q) for q in range(6)],
                        values.get(f"qty{i}", "1"))
            for i, item in enumerate(episode["items"])
        ]  # fmt: skip
        return self._page("cart", server, parts, problems)

    def _shipping(
        self, server: Server, values: Mapping[str, str] | None = None, problems: tuple[str, ...] = ()
    ) -> Response:
        values = values if values is not None else server["shipping"] or {}
        parts = [html.text_input(name, label, values.get(name, "")) for name, label in _SHIPPING_FIELDS]
        parts.append(
            html.radio_group("delivery", "Delivery", DELIVERY, values.get("delivery") or DELIVERY[0])
        )
        return self._page("shipping", server, parts, problems)

    def _payment(
        self, server: Server, values: Mapping[str, str] | None = None, problems: tuple[str, ...] = ()
    ) -> Response:
        values = values if values is not None else server["payment"] or {}
        parts = [html.text_input(name, label, values.get(name, "")) for name, label in _PAYMENT_FIELDS]
        return self._page("payment", server, parts, problems)

    def _review(self, episode: Episode, server: Server) -> Response:
        ship, pay = server["shipping"], server["payment"]
        pairs = zip(episode["items"], server["cart"], strict=True)
        lines = [f"{item['name']} x {q}" for item, q in pairs if q != "0"]
        summary = [
            html.para("Items: " + ", ".join(lines) + "."),
            html.para(
                f"Ship to {ship['name']}, {ship['street']}, {ship['postcode']} {ship['city']} "
                f"({ship['delivery']})."
            ),
            html.para(f"Card ending {pay['card'][-4:]}, expiry {pay['expiry']}."),
        ]
        return self._page("review", server, summary)

    # -- steps ------------------------------------------------------------------------------------------
    def _show(self, step: str, episode: Episode, server: Server) -> Response:
        """Return the page of ``step``, or of the first step not passed yet when it cannot be shown."""
        if step == "review" and server["payment"] is not None:
            return self._review(episode, server)
        if step in ("payment", "review") and server["shipping"] is not None:
            return self._payment(server)
        if step in ("shipping", "payment", "review") and server["cart"] is not None:
            return self._shipping(server)
        return self._cart(episode, server)

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """``/`` cart; each step is shown by GET and submitted by POST to ``/cart``, ``/shipping``, ..."""
        if server["order"] is not None:
            return Response(html.document(self.title, html.para("Thank you, your order was placed.")))
        step = "cart" if request.path == "/" else request.path[1:]
        if step not in ("cart", "shipping", "payment", "review"):
            return not_found()
        if request.method != "POST":
            return self._show(step, episode, server)
        if step == "cart":
            sent = {f"qty{i}": request.arg(f"qty{i}", "0") for i in range(len(episode["items"]))}
            quantities = [q if q.isdigit() and int(q) <= 5 else "0" for q in sent.values()]
            if all(q == "0" for q in quantities):
                return self._refuse(server, self._cart(episode, server, sent, ("Your cart is empty.",)))
            server["cart"] = quantities
            return self._shipping(server)
        if step == "shipping" and server["cart"] is not None:
            sent = {k: request.arg(k).strip() for k in (*dict(_SHIPPING_FIELDS), "delivery")}
            problems = self._shipping_problems(request)
            if problems:
                return self._refuse(server, self._shipping(server, sent, tuple(problems)))
            server["shipping"] = sent
            return self._payment(server)
        if step == "payment" and server["shipping"] is not None:
            sent = {k: request.arg(k).strip() for k in dict(_PAYMENT_FIELDS)}
            problems = self._payment_problems(request, episode, server)
            if problems:
                return self._refuse(server, self._payment(server, sent, tuple(problems)))
            server["payment"] = {**sent, "card": _card_digits(sent["card"])}
            return self._review(episode, server)
        if step == "review" and server["payment"] is not None:
            server["order"] = {"cart": server["cart"], **server["shipping"], **server["payment"]}
            return Response(html.document(self.title, html.para("Thank you, your order was placed.")))
        return self._show(step, episode, server)

    @staticmethod
    def _refuse(server: Server, response: Response) -> Response:
        server["rejected"] += 1
        return response

    @staticmethod
    def _shipping_problems(request: Request) -> list[str]:
        problems = [
            f"{label} is required." for key, label in _SHIPPING_FIELDS if not request.arg(key).strip()
        ]
        postcode = request.arg("postcode").strip()
        if postcode and not (len(postcode) == 5 and postcode.isdigit()):
            problems.append("Postcode must be 5 digits.")
        if request.arg("delivery") not in DELIVERY:
            problems.append("Choose a delivery option.")
        return problems

    @staticmethod
    def _payment_problems(request: Request, episode: Episode, server: Server) -> list[str]:
        number = _card_digits(request.arg("card"))
        problems = []
        if not (len(number) == 16 and number.isdigit() and luhn_ok(number)):
            problems.append("Enter a valid 16-digit card number.")
        match = _EXPIRY.match(request.arg("expiry").strip())
        if match is None or not 1 <= int(match.group(1)) <= 12:
            problems.append("Expiry must be written MM/YY.")
        elif (int(match.group(2)), int(match.group(1))) < _NOW:
            problems.append("This card has expired.")
        cvc = request.arg("cvc").strip()
        if not (len(cvc) == 3 and cvc.isdigit()):
            problems.append("CVC must be 3 digits.")
        declined = _card_digits(episode["cards"][0]["number"])
        if not problems and episode["declined"] and number == declined:
            server["declines"] += 1
            problems.append("Your card was declined. Please use another card.")
        return problems

    @staticmethod
    def _wanted(episode: Episode) -> dict[str, Any]:
        """Return what each step must hold for full reward."""
        goal = episode["goal"]
        quantities = ["1"] * len(episode["items"])
        quantities[goal["item"]] = goal["quantity"]
        return {
            "cart": quantities,
            "shipping": {k: goal[k] for k in (*dict(_SHIPPING_FIELDS), "delivery")},
            "payment": {"card": _card_digits(goal["number"]), "expiry": goal["expiry"], "cvc": goal["cvc"]},
        }

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Score the nine checks once the order is placed."""
        order = server["order"]
        if order is None:
            return scored({}, False, rejected=server["rejected"])
        wanted = self._wanted(episode)
        checks = {"quantity": order["cart"] == wanted["cart"]}
        checks.update({k: order[k] == v for k, v in wanted["shipping"].items()})
        checks.update({k: order[k] == v for k, v in wanted["payment"].items()})
        return scored(checks, True, rejected=server["rejected"])

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Fill whichever step is shown, after a decline use the backup card; fix wrong earlier steps."""
        goal, wanted = episode["goal"], self._wanted(episode)
        card = episode["cards"][1 if server["declines"] else 0]
        shown = next((step for step, field in _FIRST_FIELD.items() if by_name(page, field) is not None), "")
        for step, href in (("cart", "/"), ("shipping", "/shipping"), ("payment", "/payment")):
            if server[step] is not None and server[step] != wanted[step] and shown != step:
                return click_or_home(page, by_href(page, href))
        wants = [Want("select", f"qty{i}", q) for i, q in enumerate(wanted["cart"])]
        wants += [Want("text", name, goal[name]) for name, _ in _SHIPPING_FIELDS]
        wants.append(Want("radio", "delivery", goal["delivery"]))
        wants += [
            Want("text", name, card[key])
            for name, key in (("card", "number"), ("expiry", "expiry"), ("cvc", "cvc"))
        ]
        return next_fill(page, wants) or submit_button(page, _STEPS.get(shown, _PLACE))
