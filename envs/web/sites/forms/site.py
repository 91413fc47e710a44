"""The Forms site: one WSGI app that serves the pages of whichever form family it was built with.

The site holds the episode's server-side state (the goal index, the generated episode and the mutable
``server`` dict) and delegates each request to its family's :meth:`FormPages.handle`. Which episode is
loaded, how it is scored and solved is the task's business
(:class:`~rlft.envs.web.tasks.forms.task.FormTask`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from rlft.envs.web import wsgi
from rlft.envs.web.site import Site, StartResponse, WSGIEnviron
from rlft.envs.web.sites.forms.html import document, para
from rlft.errors import ConfigError, check_int

Episode = dict[str, Any]
"""Generated content and goal of one episode (JSON-able, never mutated after generation)."""
Server = dict[str, Any]
"""Mutable server-side state of one episode (JSON-able)."""

MAX_BODY_BYTES = 1 << 16
"""POST bodies are cut here: agents can type long strings, the site never needs more."""


class Request(wsgi.Request):
    """One parsed HTTP request, read the way form families need it.

    Parsing is :class:`rlft.envs.web.wsgi.Request`'s; this adds first-value and every-value access
    (a group of checkboxes submits ``word=a&word=b``) and a smaller body bound.
    """

    max_body: ClassVar[int] = MAX_BODY_BYTES

    def arg(self, name: str, default: str = "") -> str:
        """First value of ``name`` from the POST body, else the query string, else ``default``."""
        values = self.form_lists.get(name) or self.query_lists.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """Every value of ``name`` (checkbox groups), POST body first."""
        return list(self.form_lists.get(name) or self.query_lists.get(name) or [])

    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        """``name`` as an integer clamped to ``[lo, hi]``; ``default`` when missing or malformed."""
        try:
            value = int(self.arg(name, str(default)))
        except ValueError:
            return default
        return min(max(value, lo), hi)


@dataclass(frozen=True)
class Response:
    """What a family answers: a status and an HTML document."""

    html: str
    status: str = "200 OK"


class FormPages(Protocol):
    """What the site needs of a form family: its title and a request handler."""

    title: ClassVar[str]

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """Serve one request, updating ``server`` in place."""
        ...


class FormsSite(Site):
    """MiniWoB-style form pages served as plain HTML (no JavaScript), one family per site.

    Args:
        pages: the family whose pages the site serves (a :class:`FormPages`).
        content_seed: seed of the generated content (kept for the task that generates episodes).
    """

    name = "forms"

    def __init__(self, pages: FormPages, content_seed: int = 0) -> None:
        super().__init__(content_seed=check_int("content_seed", content_seed, minimum=0))
        self.pages = pages
        self._state: dict[str, Any] = {}

    # -- server-side state ---------------------------------------------------------------------------
    def load(self, goal_index: int, episode: Episode, server: Server) -> None:
        """Start serving ``episode`` (goal ``goal_index``) from the server state ``server``."""
        self._state = {"goal_index": goal_index, "episode": episode, "server": server}

    @property
    def loaded(self) -> bool:
        """Whether an episode is loaded."""
        return bool(self._state)

    @property
    def goal_index(self) -> int:
        """The loaded episode's goal index."""
        return int(self._require()["goal_index"])

    @property
    def episode(self) -> Episode:
        """The loaded episode (read-only by convention)."""
        return self._require()["episode"]

    @property
    def server(self) -> Server:
        """The loaded episode's mutable server state."""
        return self._require()["server"]

    def _require(self) -> dict[str, Any]:
        if not self._state:
            raise ConfigError("FormsSite has no episode: reset the task first.")
        return self._state

    def get_state(self) -> dict[str, Any]:
        """All episode state (goal index, generated episode, server state) as JSON-able data."""
        return copy.deepcopy(self._state)

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`get_state`."""
        if state and not {"goal_index", "episode", "server"} <= set(state):
            raise ConfigError("FormsSite.set_state expects a dict returned by FormsSite.get_state().")
        # A JSON round trip both copies and proves the snapshot is plain data.
        self._state = json.loads(json.dumps(state))

    # -- serving -----------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request for the current episode."""
        if not self._state:
            response = Response(
                document(self.pages.title, para("No task is loaded yet.")), "503 Service Unavailable"
            )
        else:
            request = Request.from_environ(environ)
            response = self.pages.handle(request, self._state["episode"], self._state["server"])
        body = response.html.encode("utf-8")
        start_response(
            response.status,
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]
