"""An e-mail inbox: open the right message, then reply, forward or delete as the instruction says."""

from __future__ import annotations

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
    Want,
    by_href,
    click_or_home,
    next_fill,
    not_found,
    pick,
    quoted,
    scored,
    sent_value,
    submit_button,
)
from rlft.envs.web.tasks.forms.content import FIRST_NAMES, LAST_NAMES, WORDS, email_of, person

ACTIONS: tuple[str, ...] = ("reply", "forward", "delete")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}\Z")
_SUBJECTS = ("Lunch on {d}?", "Invoice {n}", "Notes from the {w} meeting", "Re: {w} project", "Tickets: {d}",
             "Your {w} order", "Question about {w}", "Draft {n} attached")  # fmt: skip
_BODIES = ("Could you have a look before {d}?", "The {w} files are ready.", "See the numbers for {w} below.",
           "Let me know what you think about {w}.", "We moved the {w} review to {d}.")  # fmt: skip
_REPLIES = ("Thanks, see you {d}", "Sounds good to me", "I will check the {w} numbers", "Yes, {d} works",
            "Please send the {w} draft", "Count me in")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_SEND = "Send"
_DELETE = "Delete"


def _fill(template: str, rng: np.random.Generator) -> str:
    return template.format(d=pick(rng, _DAYS), w=pick(rng, WORDS), n=int(rng.integers(100, 1000)))


class InboxFamily(FormFamily):
    """Reply to, forward or delete the message from a named sender in an inbox of 4-8 messages.

    Reward when the action is taken: reply = fraction of {replied, right message, body equals the
    asked text}; forward = {forwarded, right message, recipient}; delete = {deleted, right message}.
    The first reply, forward or delete ends the episode.
    """

    key = "inbox"
    title = "Inbox"
    reward_doc = "fraction of {right action, right message, right reply text or forward recipient}"
    answer_in_page = True

    def generate(self, rng: np.random.Generator) -> Episode:
        """Messages from distinct senders, the action, the target and its text or recipient."""
        count = int(rng.integers(4, 9))
        firsts = pick(rng, list(FIRST_NAMES), count)
        messages = []
        for first in firsts:
            last = pick(rng, LAST_NAMES)
            messages.append({
                "sender": f"{first} {last}",
                "email": email_of(first, last, rng),
                "subject": _fill(pick(rng, _SUBJECTS), rng),
                "body": _fill(pick(rng, _BODIES), rng),
            })  # fmt: skip
        action = pick(rng, ACTIONS)
        goal = {"action": action, "id": int(rng.integers(count)), "text": ""}
        if action == "reply":
            goal["text"] = _fill(pick(rng, _REPLIES), rng)
        elif action == "forward":
            goal["text"] = email_of(*person(rng), rng)
        return {"goal": goal, "messages": messages}

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Forward the email from Ana Silva to "bo.ito@mail.test".``."""
        goal = episode["goal"]
        sender = episode["messages"][goal["id"]]["sender"]
        if goal["action"] == "reply":
            return f'Reply to the email from {sender} with the text "{goal["text"]}".'
        if goal["action"] == "forward":
            return f'Forward the email from {sender} to "{goal["text"]}".'
        return f"Delete the email from {sender}."

    def initial_server(self, episode: Episode) -> Server:
        """No action taken."""
        del episode
        return {"done": None, "rejected": 0}

    @staticmethod
    def _message_id(raw: str, episode: Episode) -> int | None:
        if raw.isdigit() and int(raw) < len(episode["messages"]):
            return int(raw)
        return None

    def _list(self, episode: Episode) -> Response:
        rows = [
            f"<li>{html.link(f'/message/{i}', m['subject'])} from {html.esc(m['sender'])}</li>"
            for i, m in enumerate(episode["messages"])
        ]
        return Response(html.document(self.title, f"<ul>{''.join(rows)}</ul>"))

    def _message(self, episode: Episode, index: int) -> Response:
        message = episode["messages"][index]
        body = [
            html.para(f"From: {message['sender']} <{message['email']}>"),
            html.para(f"Subject: {message['subject']}"),
            html.para(message["body"]),
            html.nav(
                [
                    (html.url("/compose", mode="reply", id=index), "Reply"),
                    (html.url("/compose", mode="forward", id=index), "Forward"),
                    ("/", "Back to inbox"),
                ],
                "Message actions",
            ),
            html.form("/delete", html.hidden("id", index), html.button(_DELETE)),
        ]
        return Response(html.document(message["subject"], *body))

    def _compose(
        self, episode: Episode, index: int, mode: str, sent: Request | None, problems: list[str]
    ) -> Response:
        message = episode["messages"][index]
        to = message["email"] if mode == "reply" else ""
        text = "" if mode == "reply" else f"Forwarded message from {message['sender']}: {message['body']}"
        prefix = "Re: " if mode == "reply" else "Fwd: "
        fields = [
            html.hidden("mode", mode),
            html.hidden("id", index),
            html.text_input("to", "To", sent_value(sent, "to", to), kind="email"),
            html.para(f"Subject: {prefix}{message['subject']}"),
            html.para(f"Original message from {message['sender']} <{message['email']}>."),
            html.textarea("body", "Message", sent_value(sent, "body", text)),
            html.button(_SEND),
        ]
        title = "Reply" if mode == "reply" else "Forward"
        body = [html.errors(problems), html.form("/send", *fields), html.link("/", "Back to inbox")]
        return Response(html.document(title, *body))

    def texts(self, episode: Episode, server: Server, instruction: str, page: Page) -> list[str]:
        """Return the quoted strings of the instruction and the e-mail addresses on the page."""
        del episode, server
        return list(dict.fromkeys(quoted(instruction) + _ADDRESS.findall(page.text)))

    def _done(self, message: str) -> Response:
        return Response(html.document(self.title, html.para(message), html.link("/", "Back to inbox")))

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """Inbox, message, compose pages; ``/send`` and ``/delete`` take the action."""
        if request.path == "/":
            return self._list(episode)
        if request.path.startswith("/message/"):
            index = self._message_id(request.path[len("/message/") :], episode)
            return self._message(episode, index) if index is not None else not_found()
        index = self._message_id(request.arg("id"), episode)
        mode = request.arg("mode")
        if index is None:
            return not_found()
        if request.path == "/compose" and mode in ("reply", "forward"):
            return self._compose(episode, index, mode, None, [])
        if request.path == "/send" and request.method == "POST" and mode in ("reply", "forward"):
            to = request.arg("to").strip()
            if not _EMAIL.match(to):
                server["rejected"] += 1
                return self._compose(episode, index, mode, request, ["Enter a valid recipient address."])
            if server["done"] is None:
                server["done"] = {"action": mode, "id": index, "to": to, "body": request.arg("body").strip()}
            return Response(
                html.document(self.title, html.para("Message sent."), html.link("/", "Back to inbox"))
            )
        if request.path == "/delete" and request.method == "POST":
            if server["done"] is None:
                server["done"] = {"action": "delete", "id": index, "to": "", "body": ""}
            return Response(
                html.document(self.title, html.para("Message deleted."), html.link("/", "Back to inbox"))
            )
        return not_found()

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Score the first action taken."""
        done = server["done"]
        if done is None:
            return scored({}, False)
        goal = episode["goal"]
        checks = {"action": done["action"] == goal["action"], "message": done["id"] == goal["id"]}
        if goal["action"] == "reply":
            checks["text"] = done["action"] == "reply" and done["body"] == goal["text"]
        elif goal["action"] == "forward":
            checks["recipient"] = done["action"] == "forward" and done["to"] == goal["text"]
        return scored(checks, True)

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Open the message, take the action, fill the compose form and send."""
        del server
        goal = episode["goal"]
        index, action = goal["id"], goal["action"]
        compose = html.url("/compose", mode=action, id=index)
        # A compose page is recognised by its form's hidden fields (also after a refused send).
        if any(
            f.action == "/send" and set(f.hidden) == {("mode", action), ("id", str(index))}
            for f in page.forms
        ):
            sender = episode["messages"][index]["email"]
            wants = (
                [Want("text", "to", goal["text"])]
                if action == "forward"
                else [Want("text", "to", sender), Want("text", "body", goal["text"])]
            )
            return next_fill(page, wants) or submit_button(page, _SEND)
        if page.url == f"/message/{index}":
            if action == "delete":
                return submit_button(page, _DELETE)
            target = by_href(page, compose)
            return click_or_home(page, target)
        target = by_href(page, f"/message/{index}")
        return click_or_home(page, target)
