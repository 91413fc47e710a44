"""Small WSGI helpers the sites share: request parsing, responses, HTML escaping and the page layout.

Sites are plain WSGI callables; these helpers keep them short without a web framework. Every page is
server-rendered HTML with standard form semantics (no JavaScript), so the text backend and a real
browser see the same thing.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

StartResponse = Callable[..., Any]

MAX_BODY = 1 << 20
"""Request bodies larger than this are truncated (sites only receive small forms)."""


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes included, so it is safe in attribute values too)."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Request:
    """A parsed WSGI request."""

    method: str
    path: str
    query: dict[str, str]
    """Query parameters (the last value wins for repeated names)."""
    form: dict[str, str]
    """``application/x-www-form-urlencoded`` body fields of a ``POST``."""

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        """Parse ``environ``; a malformed body or length is treated as empty."""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        form: dict[str, str] = {}
        if method == "POST":
            try:
                length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        # PEP 3333 hands over the decoded path as latin-1 characters; sites work in UTF-8 text.
        raw_path = str(environ.get("PATH_INFO", "/")) or "/"
        path = raw_path.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
        return cls(method=method, path=path, query=query, form=form)

    def param(self, name: str, default: str = "") -> str:
        """Return a form field, else a query parameter, else ``default``."""
        return self.form.get(name, self.query.get(name, default))

    def int_param(self, name: str, default: int, minimum: int = 1, maximum: int = 10**6) -> int:
        """Return an integer parameter clamped to ``[minimum, maximum]``, ``default`` if absent or bad."""
        raw = self.param(name, "")
        if not raw.strip().isdigit():
            return default
        return max(minimum, min(maximum, int(raw.strip())))


def url(path: str, **params: object) -> str:
    """``path`` with ``params`` as a query string (parameters that are ``None`` or ``""`` are left out)."""
    items = [(k, str(v)) for k, v in params.items() if v is not None and v != ""]
    return path + ("?" + urlencode(items) if items else "")


def respond_html(start_response: StartResponse, body: str, status: str = "200 OK") -> list[bytes]:
    """Send an HTML document."""
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def redirect(start_response: StartResponse, location: str) -> list[bytes]:
    """``303 See Other`` to ``location`` (a path on the same site): the post/redirect/get pattern."""
    start_response("303 See Other", [("Location", location), ("Content-Length", "0")])
    return [b""]


def layout(title: str, body: str) -> str:
    """Wrap ``body`` (already HTML) in a complete HTML document."""
    head = f"<title>{esc(title)}</title>"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'
    )


def not_found(start_response: StartResponse, path: str) -> list[bytes]:
    """Send a ``404`` page with a link home."""
    body = f'<h1>Page not found</h1><p>There is no page at {esc(path)}.</p><p><a href="/">Home</a></p>'
    return respond_html(start_response, layout("Not found", body), "404 Not Found")


def hidden_fields(pairs: Iterable[tuple[str, str]]) -> str:
    """Hidden ``<input>`` fields for ``(name, value)`` pairs."""
    return "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in pairs)
