"""Log in: fill the sign-in form (not the look-alike sign-up form beside it) and set "Remember me"."""

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
    Want,
    next_fill,
    not_found,
    pick,
    scored,
    submit_button,
)
from rlft.envs.web.tasks.forms.content import FIRST_NAMES, LAST_NAMES, WORDS, digits, email_of, person, token

_SIGN_IN = "Sign in"
_SIGN_UP = "Create account"
_REMEMBER = "Remember me"


class LoginFamily(FormFamily):
    """Log in with a given username and password; a sign-up form with the same labels is a decoy.

    Reward at submission: fraction of {the sign-in form was used, username, password, "Remember me"
    as asked}; submitting the sign-up form scores 0.
    """

    key = "login"
    title = "Members area"
    reward_doc = (
        "fraction of {sign-in form used, username, password, remember-me state}; sign-up form scores 0"
    )

    def generate(self, rng: np.random.Generator) -> Episode:
        """Return a username, a password, whether to tick "Remember me", and the decoy form's order."""
        first, last = person(rng)
        username = f"{first.lower()}{pick(rng, ('', '.', '_'))}{last.lower()}{digits(rng, 2)}"
        password = (
            f"{pick(rng, WORDS)}{token(rng, 4, 'abcdefghjkmnpqrstuvwxyz23456789')}{pick(rng, '!#$%&*')}"
        )
        return {
            "goal": {"username": username, "password": password, "remember": bool(rng.integers(2))},
            "signup_first": bool(rng.integers(2)),
            "prefill": email_of(pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES), rng),
        }

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Log in with username "ana.silva42" and password "ember8kq2!". Tick "Remember me".``."""
        goal = episode["goal"]
        remember = f'Tick "{_REMEMBER}".' if goal["remember"] else f'Leave "{_REMEMBER}" unticked.'
        return f'Log in with username "{goal["username"]}" and password "{goal["password"]}". {remember}'

    def initial_server(self, episode: Episode) -> Server:
        """Nothing submitted yet."""
        del episode
        return {"submitted": None}

    def _home(self, episode: Episode) -> Response:
        sign_in = html.form(
            "/login",
            html.heading("Sign in to your account"),
            html.text_input("user", "Username"),
            html.text_input("pass", "Password", kind="password"),
            html.checkbox("remember", "yes", _REMEMBER),
            html.button(_SIGN_IN),
        )
        # The decoy uses the same visible labels, so only the section heading tells them apart.
        sign_up = html.form(
            "/signup",
            html.heading("New here? Create an account"),
            html.text_input("new_email", "Email", episode["prefill"], kind="email"),
            html.text_input("new_user", "Username"),
            html.text_input("new_pass", "Password", kind="password"),
            html.button(_SIGN_UP),
        )
        forms = [sign_up, sign_in] if episode["signup_first"] else [sign_in, sign_up]
        return Response(html.document(self.title, *forms, html.link("/forgot", "Forgot your password?")))

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """``/`` shows both forms; ``/login`` and ``/signup`` take their submissions."""
        if request.method == "POST" and request.path in ("/login", "/signup"):
            if server["submitted"] is None:
                server["submitted"] = self._record(request)
            message = "You are signed in." if request.path == "/login" else "Your account was created."
            return Response(html.document(self.title, html.para(message)))
        if request.path == "/":
            return self._home(episode)
        if request.path == "/forgot":
            return Response(
                html.document(
                    self.title, html.para("Password resets are sent by e-mail."), html.link("/", "Back")
                )
            )
        return not_found()

    @staticmethod
    def _record(request: Request) -> dict[str, Any]:
        if request.path == "/signup":
            return {
                "form": "signup",
                "username": request.arg("new_user"),
                "password": request.arg("new_pass"),
            }
        return {
            "form": "login",
            "username": request.arg("user"),
            "password": request.arg("pass"),
            "remember": "yes" in request.args("remember"),
        }

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Score the first submission (the site accepts exactly one)."""
        sent = server["submitted"]
        if sent is None:
            return scored({}, False)
        goal = episode["goal"]
        ok = sent["form"] == "login"
        checks = {
            "sign_in_form": ok,
            "username": ok and sent["username"] == goal["username"],
            "password": ok and sent["password"] == goal["password"],
            "remember": ok and sent["remember"] == goal["remember"],
        }
        return scored(checks, True)

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Fill the sign-in fields (found by their form), set the checkbox, press "Sign in"."""
        del server
        goal = episode["goal"]
        wants = [
            Want("text", "user", goal["username"]),
            Want("text", "pass", goal["password"]),
            Want("check", "remember", "yes", goal["remember"]),
        ]
        return next_fill(page, wants) or submit_button(page, _SIGN_IN)
