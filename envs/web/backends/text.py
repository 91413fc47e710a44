"""The in-process text backend: calls the site's WSGI application directly, no network, no browser.

Each loaded document is kept as a snapshot (URL, HTML, status, field values). ``back`` returns to the
previous snapshot exactly as it was left, like a browser's back-forward cache, without a new request.
The current document is parsed once (:func:`~rlft.envs.web.render.parse_html`) and laid out again
(:func:`~rlft.envs.web.render.layout_page`) only when a field changes.
"""

from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import unquote_to_bytes, urlencode, urlsplit

from rlft.envs.web.backends.base import Backend, Fields
from rlft.envs.web.commands import CommandError
from rlft.envs.web.page import Page
from rlft.envs.web.render import Document, layout_page, parse_html
from rlft.envs.web.site import Site

MAX_REDIRECTS = 10
MAX_HISTORY = 100
"""Older history entries are dropped (``back`` can go at most this far)."""

_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_SERVER_ERROR = (
    b"<html><head><title>Server error</title></head><body><h1>Internal server error</h1></body></html>"
)

logger = logging.getLogger(__name__)


class TextBackend(Backend):
    """Serve the site in-process and render its HTML with :func:`~rlft.envs.web.render.render_page`."""

    name = "text"

    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self._origin = f"http://{site.name}.rlft.localhost"
        self._history: list[dict[str, Any]] = []
        self._page: Page | None = None
        self._document: tuple[str, Document] | None = None

    @property
    def origin(self) -> str:
        """``http://<site>.rlft.localhost`` (never resolved: requests go straight to the WSGI app)."""
        return self._origin

    # -- primitives ------------------------------------------------------------------------------------
    def restart(self, url: str) -> None:
        """Clear the history, then load ``url``."""
        self._history = []
        self._page = None
        self.request("GET", url)

    @property
    def previous_url(self) -> str | None:
        """The URL of the previous history entry, ``None`` at the first."""
        return self._history[-2]["url"] if len(self._history) > 1 else None

    def request(self, method: str, url: str, fields: Fields = ()) -> None:
        """Call the WSGI application, follow redirects, push the resulting document."""
        method = method.upper()
        body = urlencode(list(fields)).encode() if method == "POST" else b""
        for _ in range(MAX_REDIRECTS + 1):
            status, headers, content = self._call(method, url, body)
            location = headers.get("location")
            if status in _REDIRECTS and location:
                url = self.resolve(location, base=url)
                if status not in (307, 308):
                    method, body = "GET", b""
                continue
            html = content.decode("utf-8", errors="replace")
            self._history.append({"url": url, "html": html, "status": status, "values": {}})
            del self._history[:-MAX_HISTORY]
            self._page = None
            self.loads += 1
            return
        raise CommandError(f"Too many redirects while loading {url[:100]!r}.")

    def page(self) -> Page:
        """Return the current page (rendered once per change)."""
        if self._page is None:
            if not self._history:
                raise CommandError("No page is loaded yet.")
            snap = self._history[-1]
            # Field changes re-render the same document: parse it once, lay it out per change.
            if self._document is None or self._document[0] is not snap["html"]:
                self._document = (snap["html"], parse_html(snap["html"]))
            self._page = layout_page(self._document[1], snap["url"], snap["values"], snap["status"])
        return self._page

    def set_value(self, element_id: int, value: str) -> None:
        """Record a field value on the current snapshot."""
        self._history[-1]["values"][element_id] = value
        self._page = None

    def reset_values(self, element_ids: Any) -> None:
        """Forget the values of ``element_ids`` so their HTML defaults show again."""
        values = self._history[-1]["values"]
        for element_id in element_ids:
            values.pop(element_id, None)
        self._page = None

    def back(self) -> None:
        """Drop the current snapshot."""
        if len(self._history) < 2:
            raise CommandError("There is no previous page to go back to.")
        self._history.pop()
        self._page = None
        self.loads += 1

    def get_state(self) -> dict[str, Any]:
        """Return the history of snapshots (JSON-able: value keys become strings)."""
        return {
            "loads": self.loads,
            "history": [
                {**snap, "values": {str(k): v for k, v in snap["values"].items()}} for snap in self._history
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the history of snapshots."""
        self._history = [
            {**snap, "values": {int(k): v for k, v in snap["values"].items()}} for snap in state["history"]
        ]
        self.loads = int(state["loads"])
        self._page = None

    # -- WSGI ----------------------------------------------------------------------------------------------
    def _call(self, method: str, url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        host = urlsplit(self._origin).netloc
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            # PEP 3333: PATH_INFO is percent-decoded, bytes as latin-1.
            "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
            "QUERY_STRING": parts.query,
            "SERVER_NAME": host,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": host,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if method == "POST":
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["CONTENT_LENGTH"] = str(len(body))
        response: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            response["status"] = int(status.split(" ", 1)[0])
            response["headers"] = {k.lower(): v for k, v in headers}
            return lambda data: None

        try:
            chunks = self.site(environ, start_response)
            try:
                content = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception:
            # What a WSGI server does: the agent sees a 500 page, the developer the traceback.
            logger.exception("%s site failed on %s %s", self.site.name, method, url)
            return 500, {}, _SERVER_ERROR
        return response.get("status", 500), response.get("headers", {}), content
