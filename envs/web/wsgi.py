"""Small WSGI helpers the sites share: request parsing, responses, HTML escaping and the page layout.

Sites are plain WSGI callables; these helpers keep them short without a web framework. Every page is
server-rendered HTML with standard form semantics (no JavaScript), so the text backend and a real
browser see the same thing.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urlencode

StartResponse = Callable[..., Any]
"""The WSGI ``start_response`` callable."""
WSGIEnviron = dict[str, Any]
"""A WSGI ``environ`` dict."""
_RequestT = TypeVar("_RequestT", bound="Request")

MAX_BODY = 1 << 20
"""Request bodies larger than this are truncated (sites only receive small forms)."""


def _group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Collect the values of repeated names, keeping their order."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


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
    """``application/x-www-form-urlencoded`` body fields of a ``POST`` (the last value wins)."""
    query_lists: dict[str, list[str]]
    """Every value of each query parameter, in order (a checkbox group repeats its name)."""
    form_lists: dict[str, list[str]]
    """Every value of each body field, in order."""

    max_body: ClassVar[int] = MAX_BODY
    """Bodies are cut at this many bytes; a site that needs less sets a smaller bound in a subclass."""

    @classmethod
    def from_environ(cls: type[_RequestT], environ: Mapping[str, Any]) -> _RequestT:
        """Parse ``environ``; a malformed body or length is treated as empty."""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        query_pairs = parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        form_pairs: list[tuple[str, str]] = []
        stream = environ.get("wsgi.input")
        if method == "POST" and stream is not None:
            try:
                length = min(int(environ.get("CONTENT_LENGTH") or 0), cls.max_body)
            except ValueError:
                length = 0
            body = stream.read(length) if length > 0 else b""
            form_pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        # PEP 3333 hands over the decoded path as latin-1 characters; sites work in UTF-8 text.
        raw_path = str(environ.get("PATH_INFO", "/")) or "/"
        path = raw_path.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
        return cls(
            method=method,
            path=path,
            query=dict(query_pairs),
            form=dict(form_pairs),
            query_lists=_group(query_pairs),
            form_lists=_group(form_pairs),
        )

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
