"""The browser abstraction the web environment drives.

A backend holds what a browser holds: the current page, the values typed into its form fields, the
history. Subclasses implement a few primitives (load a URL with a method and fields, read the current
page, set a field value, go back, snapshot and restore); this base class turns element commands into
those primitives with standard HTML semantics, so every backend behaves the same:

* ``click`` on a link opens its ``href``; on a submit button submits the button's form (the button's
  own ``name=value`` is included); on a reset button restores the form's defaults; on a checkbox
  toggles it; on a radio checks it and unchecks the others of its group. Clicking a field or a plain
  ``type="button"`` does nothing (there is no JavaScript).
* A form submits its hidden fields, then its named controls in document order: text fields, checked
  checkboxes and radios (``value`` or ``on``), the chosen option's ``value`` of each combobox. ``get``
  forms put the fields in the query string (replacing the action's own query), ``post`` forms send them
  ``application/x-www-form-urlencoded``.
* Only URLs on the site's own origin can be opened (:meth:`Backend.resolve`).

Failures that are the agent's fault raise :class:`~rlft.envs.web.commands.CommandError`, which the
environment turns into ``last_action_error``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import SplitResult, urlencode, urljoin, urlsplit

import numpy as np
from rlft.envs.web.commands import CommandError
from rlft.envs.web.page import Element, Page
from rlft.envs.web.render import CHECKED, UNCHECKED
from rlft.envs.web.site import Site
from rlft.errors import ConfigError

Fields = Sequence[tuple[str, str]]

_TEXT_ROLES = frozenset(("textbox", "searchbox"))
_URL_DROP = str.maketrans("", "", "\t\n\r")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_key(parts: SplitResult) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` with the scheme's default port filled in (raises ``ValueError``)."""
    return parts.scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme)


class Backend(abc.ABC):
    """A browser on one :class:`~rlft.envs.web.site.Site`.

    Args:
        site: the site to browse; the backend serves or reaches it and never anything else.

    """

    name: ClassVar[str]
    """The ``backend=`` key that selects this class."""
    takes_screenshots: ClassVar[bool] = False
    """Whether :meth:`screenshot` works (a real browser) and :attr:`viewport` is its size."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.loads = 0
        """Incremented by every navigation (new document, ``back``, ``restart``); subclasses keep it."""
        self.failure = ""
        """Why the browser failed (empty while it works); a failed browser truncates the episode."""
        self.viewport: tuple[int, int] = (0, 0)
        """``(width, height)`` of :meth:`screenshot` images (browser backends)."""

    # -- primitives ----------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def origin(self) -> str:
        """``scheme://host[:port]`` the site is served from; nothing else may be opened."""

    @abc.abstractmethod
    def restart(self, url: str) -> None:
        """Forget the history and all field values, then load ``url`` with ``GET``."""

    @property
    @abc.abstractmethod
    def previous_url(self) -> str | None:
        """The URL :meth:`back` returns to (path and query), ``None`` when there is no previous page."""

    @property
    def can_go_back(self) -> bool:
        """Whether :meth:`back` has a page to return to."""
        return self.previous_url is not None

    @abc.abstractmethod
    def request(self, method: str, url: str, fields: Fields = ()) -> None:
        """Load ``url`` (a path on the origin) with ``method``, follow redirects, push the result.

        For ``GET`` the caller has already put any fields into ``url``; for ``POST`` ``fields`` is the
        form body.
        """

    @abc.abstractmethod
    def page(self) -> Page:
        """Return the current page rendered with the current field values."""

    @abc.abstractmethod
    def set_value(self, element_id: int, value: str) -> None:
        """Set the current value of a field of the current page (see :func:`render_page` ``values``)."""

    @abc.abstractmethod
    def reset_values(self, element_ids: Sequence[int]) -> None:
        """Restore the HTML default value of the given fields."""

    @abc.abstractmethod
    def back(self) -> None:
        """Return to the previous page as it was left (fields included).

        Raises:
            CommandError: when there is no previous page.

        """

    @abc.abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Everything needed to restore the browser exactly (JSON-able)."""

    @abc.abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release resources (idempotent)."""

    def screenshot(self, scroll_fraction: float = 0.0) -> np.ndarray:
        """The viewport as ``(height, width, 3)`` ``uint8`` RGB, scrolled to ``scroll_fraction`` of the page.

        Raises:
            ConfigError: on backends without a browser (:attr:`takes_screenshots` is false).
        """
        del scroll_fraction
        raise ConfigError(f"backend={self.name!r} cannot take screenshots: use backend='chromium'.")

    def scroll_to(self, fraction: float) -> None:  # noqa: B027 (optional hook, not abstract)
        """Follow the text viewport's scroll position (``fraction`` of the page, 0 top, 1 bottom).

        A backend whose page reacts to scrolling (live pages) scrolls it; the others need not.
        """

    def status_info(self) -> dict[str, Any]:
        """Backend-specific ``info`` entries (the Chromium backend's blocked requests, failures)."""
        return {}

    # -- URL sandbox ----------------------------------------------------------------------------------
    def resolve(self, href: str, base: str | None = None) -> str:
        """Resolve ``href`` against ``base`` (default: the current page) to a path on the origin.

        Raises:
            CommandError: for any other scheme, host or port (``file:``, ``javascript:``, ``data:``,
                other sites...) or a malformed URL: the sandbox refuses it. Host names compare
                case-insensitively and a scheme's default port equals no port, as in browsers.

        """
        base_url = self.origin + (base if base is not None else self.page().url)
        # As browsers do (WHATWG URL): drop tabs and newlines, read backslashes as slashes.
        cleaned = href.strip().translate(_URL_DROP).replace("\\", "/")
        refused = CommandError(
            f"Refused to open {href[:100]!r}: only pages of this site ({self.origin}) can be visited."
        )
        try:
            parts = urlsplit(urljoin(base_url, cleaned))
            if _origin_key(parts) != _origin_key(urlsplit(self.origin)):
                raise refused
        except ValueError as error:  # malformed host or port
            raise refused from error
        path = parts.path or "/"
        return path + (f"?{parts.query}" if parts.query else "")

    # -- element commands -------------------------------------------------------------------------------
    def goto(self, href: str) -> None:
        """Open ``href`` (relative or absolute on the origin) with ``GET``."""
        self.request("GET", self.resolve(href))

    def element(self, element_id: int) -> Element:
        """Return the element numbered ``element_id`` on the current page.

        Raises:
            CommandError: when there is none or it is disabled.

        """
        page = self.page()
        element = page.element(element_id)
        if element is None:
            raise CommandError(f"No element [{element_id}] on this page ({page.numbering()}).")
        if element.disabled:
            raise CommandError(f"Element [{element_id}] ({element.role} {element.name!r}) is disabled.")
        return element

    def click(self, element_id: int) -> None:
        """Click element ``element_id`` with standard HTML semantics (see the module docstring)."""
        element = self.element(element_id)
        if element.role == "link":
            self.goto(element.attrs.get("href", ""))
        elif element.role == "checkbox":
            self.set_value(element_id, UNCHECKED if element.value == CHECKED else CHECKED)
        elif element.role == "radio":
            self._check_radio(element)
        elif element.role == "button":
            kind = element.attrs.get("type", "submit").lower()
            if kind in ("submit", "image"):
                self.submit(element)
            elif kind == "reset":
                self.reset_values([e.id for e in self.page().elements if e.form == element.form])
        # Clicking a field only focuses it; a type="button" needs JavaScript, which sites do not use.

    def type(self, element_id: int, text: str) -> None:
        """Replace the content of text field ``element_id`` with ``text``."""
        element = self.element(element_id)
        if element.role not in _TEXT_ROLES:
            raise CommandError(
                f"Element [{element_id}] is a {element.role}, not a text field: type only into textboxes."
            )
        limit = element.attrs.get("maxlength", "")
        if limit.isdigit():
            text = text[: int(limit)]
        self.set_value(element_id, text)

    def select(self, element_id: int, option: str) -> None:
        """Choose ``option`` (an option label, else an option value; case-insensitive) of a combobox."""
        element = self.element(element_id)
        if element.role != "combobox":
            raise CommandError(f"Element [{element_id}] is a {element.role}, not a combobox.")
        wanted = option.strip()
        for candidates in (element.options, element.option_values):
            for label, candidate in zip(element.options, candidates, strict=True):
                if candidate.strip().lower() == wanted.lower():
                    self.set_value(element_id, label)
                    return
        shown = ", ".join(element.options[:20])
        raise CommandError(f"Combobox [{element_id}] has no option {option[:100]!r}; its options: {shown}.")

    def search(self, query: str) -> None:
        """Type ``query`` into the page's (first) search box and submit its form."""
        page = self.page()
        box = next((e for e in page.elements if e.role == "searchbox" and not e.disabled), None)
        if box is None or box.form < 0:
            raise CommandError("This page has no search box: use type[N][text] and click[N] instead.")
        self.type(box.id, query)
        self.submit(self.element(box.id))

    def submit(self, submitter: Element) -> None:
        """Submit the form of ``submitter`` (a button, or a field for implicit submission)."""
        page = self.page()
        if not 0 <= submitter.form < len(page.forms):
            raise CommandError(f"Element [{submitter.id}] is not inside a form: there is nothing to submit.")
        form = page.forms[submitter.form]
        fields = list(form.hidden) + form_fields(page, submitter)
        action = self.resolve(form.action or page.url)
        if form.method == "post":
            self.request("POST", action, fields)
        else:
            path = action.split("?", 1)[0]
            self.request("GET", path + ("?" + urlencode(fields) if fields else ""))

    def _check_radio(self, element: Element) -> None:
        group = element.attrs.get("name", "")
        for other in self.page().elements:
            if (
                other.role == "radio"
                and other.id != element.id
                and other.form == element.form
                and group
                and other.attrs.get("name", "") == group
                and other.value == CHECKED
            ):
                self.set_value(other.id, UNCHECKED)
        self.set_value(element.id, CHECKED)


def form_fields(page: Page, submitter: Element | None) -> list[tuple[str, str]]:
    """List the ``(name, value)`` pairs the controls of ``submitter``'s form submit, in document order."""
    fields: list[tuple[str, str]] = []
    form = submitter.form if submitter is not None else -1
    for element in page.elements:
        name = element.attrs.get("name", "")
        if element.form != form or not name or element.disabled:
            continue
        if element.role in _TEXT_ROLES:
            fields.append((name, element.value))
        elif element.role in ("checkbox", "radio"):
            if element.value == CHECKED:
                fields.append((name, element.attrs.get("value", "on")))
        elif element.role == "combobox":
            if element.value in element.options:
                fields.append((name, element.option_values[element.options.index(element.value)]))
        elif element.role == "button" and submitter is not None and element.id == submitter.id:
            fields.append((name, element.attrs.get("value", "")))
    return fields
