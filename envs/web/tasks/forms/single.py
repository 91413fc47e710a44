"""A family whose task is one form: fill it, submit it, fix validation errors, done.

The form is served at ``/`` and posts to ``/submit``. A submission that fails validation re-renders the
form with the submitted values and an alert listing the errors (the episode goes on); a valid one is
recorded in ``server["submitted"]`` and ends the episode. Reward is the fraction of the family's named
checks that hold for the recorded submission.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

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
    scored,
    submit_button,
)


class SingleFormFamily(FormFamily, abc.ABC):
    """Base of the one-form families; subclasses describe the fields, checks and the expert's plan."""

    submit_label: ClassVar[str] = "Submit"
    """Label of the button that submits the form."""

    def intro(self, episode: Episode, server: Server) -> list[str]:
        """HTML shown above the form."""
        del episode, server
        return []

    @abc.abstractmethod
    def fields(self, episode: Episode, sent: Request | None) -> list[str]:
        """Return the form's fields as HTML; ``sent`` is a refused submission to echo back, or ``None``."""

    def validate(self, episode: Episode, request: Request) -> list[str]:
        """Messages for a submission the site refuses (empty when it is accepted)."""
        del episode, request
        return []

    @abc.abstractmethod
    def record(self, episode: Episode, request: Request) -> dict[str, Any]:
        """Return the accepted submission as JSON-able data."""

    @abc.abstractmethod
    def checks(self, episode: Episode, submitted: dict[str, Any]) -> dict[str, bool]:
        """Named conditions of the goal, evaluated on the recorded submission."""

    @abc.abstractmethod
    def wants(self, episode: Episode) -> list[Want]:
        """Return the field values the expert enters before submitting."""

    def initial_server(self, episode: Episode) -> Server:
        """No submission and no rejected attempts yet."""
        del episode
        return {"submitted": None, "rejected": 0}

    def render(
        self, episode: Episode, server: Server, sent: Request | None = None, problems: tuple[str, ...] = ()
    ) -> Response:
        """Return the form page (with ``problems`` listed and ``sent`` echoed after a refused submission)."""
        body = [*self.intro(episode, server), html.errors(problems)]
        body.append(html.form("/submit", *self.fields(episode, sent), html.button(self.submit_label)))
        return Response(html.document(self.title, *body))

    def done_page(self) -> Response:
        """Return the confirmation shown once the form is accepted."""
        return Response(html.document(self.title, html.para("Thank you, your submission was received.")))

    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """Serve the form at ``/`` and take submissions at ``/submit``."""
        if request.path == "/submit" and request.method == "POST":
            if server["submitted"] is not None:
                return self.done_page()
            problems = self.validate(episode, request)
            if problems:
                server["rejected"] += 1
                return self.render(episode, server, request, tuple(problems))
            server["submitted"] = self.record(episode, request)
            return self.done_page()
        if request.path == "/":
            return self.done_page() if server["submitted"] is not None else self.render(episode, server)
        return not_found()

    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Return the fraction of :meth:`checks` that hold, once the form is accepted."""
        submitted = server["submitted"]
        if submitted is None:
            return scored({}, False, rejected=server["rejected"])
        return scored(self.checks(episode, submitted), True, rejected=server["rejected"])

    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Fill every wanted field, then press the submit button."""
        del server
        return next_fill(page, self.wants(episode)) or submit_button(page, self.submit_label)
