"""Sites whose pages run their own JavaScript: browsed by the live Chromium backend only.

A :class:`LiveSite` is what the ``live`` backend (:mod:`rlft.envs.web.backends.live`) browses: either a
WSGI application the backend serves on ``127.0.0.1`` (:meth:`LiveSite.__call__`, e.g.
:class:`StaticSite` serving a folder of HTML + JavaScript), or pages of a server the user already runs on
one of :attr:`LiveSite.allowed_origins`. The state that matters lives in the browser (the page's
JavaScript), not on the server: after every action the backend writes what it observed into
:attr:`LiveSite.live` (a :class:`LiveState`: URL, rendered text, and the result of the site's
:attr:`LiveSite.probe_js`), and the site's task reads it from there, as tasks of served sites read
their site's server-side state.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from rlft.envs.web.site import Site
from rlft.envs.web.wsgi import StartResponse, WSGIEnviron
from rlft.errors import ConfigError

__all__ = ["AppSite", "LiveSite", "LiveState", "StaticSite", "check_origin"]


@dataclass(frozen=True)
class LiveState:
    """What the live backend observed after the last action."""

    url: str = ""
    """Path and query of the current page on the site's origin (absolute URL on another allowed origin)."""
    title: str = ""
    text: str = ""
    """The whole rendered page text (as in the ``page`` observation, before the viewport)."""
    probe: Any = None
    """JSON-able result of the site's :attr:`LiveSite.probe_js` on the live page (``None`` without one)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Free for tasks (unused by the backend)."""


def check_origin(origin: str) -> str:
    """Normalise ``scheme://host[:port]`` (lower-case, no path); only ``http``/``https`` are accepted.

    Raises:
        ConfigError: for anything else (a path, ``file:``, a missing host).
    """
    parts = urlsplit(str(origin).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(
            f"Allowed origin {origin!r} is not an origin: use 'http://127.0.0.1:8000' (scheme, host, port)."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"Allowed origin {origin!r} must not carry a query, fragment or credentials.")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = parts.port or default
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + ("" if port == default else f":{port}")


class LiveSite(Site):
    """A site of live pages. Subclasses serve an application, or name :attr:`allowed_origins`.

    Args:
        allowed_origins: origins (``http://127.0.0.1:8000``) of servers the user runs; the first is the
            site's own origin (URLs are shown relative to it). Empty: the backend serves this site
            itself on ``127.0.0.1`` and that is the only origin.
        content_seed: unused by live sites (kept for the common :class:`Site` signature).
    """

    name = "live"
    probe_js: ClassVar[str] = "() => null"
    """A JavaScript function (source) the backend runs on the page after every action; its JSON-able
    result becomes :attr:`LiveState.probe`. Reading the page's own state (a score, a flag) goes here."""
    start_js: ClassVar[str] = ""
    """A JavaScript function (source) run once after each episode's start page has loaded ("" = none)."""
    hidden_selectors: ClassVar[tuple[str, ...]] = ()
    """CSS selectors of page parts that are not rendered (a site's own debugging overlay)."""
    viewport: ClassVar[tuple[int, int] | None] = None
    """Preferred browser viewport ``(width, height)``; ``None``: the backend's default."""

    def __init__(self, allowed_origins: Iterable[str] = (), content_seed: int = 0) -> None:
        super().__init__(content_seed)
        if isinstance(allowed_origins, str):
            allowed_origins = (allowed_origins,)
        self.allowed_origins: tuple[str, ...] = tuple(dict.fromkeys(map(check_origin, allowed_origins)))
        self.live = LiveState()

    @property
    def serves(self) -> bool:
        """Whether the backend must serve this site itself (no external origins were given)."""
        return not self.allowed_origins

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve nothing (a site on external origins); subclasses that serve override this."""
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"This site is served elsewhere."]

    def observe(self, state: LiveState) -> None:
        """Record what the backend observed (called by the backend after every action)."""
        self.live = state

    def get_state(self) -> dict[str, Any]:
        """The last observed state (the page's JavaScript state itself cannot be captured)."""
        state = self.live
        return {"url": state.url, "title": state.title, "text": state.text, "probe": state.probe}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state` data."""
        self.live = LiveState(state["url"], state["title"], state["text"], state["probe"])


class StaticSite(LiveSite):
    """A folder of static files (HTML, JavaScript, CSS, images) served read-only.

    Args:
        root: the folder; nothing outside it is ever served (``..``, symbolic links out of it and
            absolute paths are refused with 404).
    """

    name = "static"

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ConfigError(f"StaticSite root {str(root)!r} is not a folder.")

    def file_for(self, path: str) -> Path | None:
        """The file that URL path ``path`` names inside :attr:`root`, ``None`` when there is none."""
        relative = unquote(path).lstrip("/")
        if "\x00" in relative:
            return None
        candidate = (self.root / relative).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the file the path names (``GET``/``HEAD`` only)."""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        found = self.file_for(str(environ.get("PATH_INFO", "/")))
        if method not in ("GET", "HEAD") or found is None:
            status = "405 Method Not Allowed" if found is not None else "404 Not Found"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [status.encode()]
        body = found.read_bytes()
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "text/javascript"):
            kind += "; charset=utf-8"
        # The files never change while served: let the browser cache them between episodes.
        headers = [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "max-age=3600"),
        ]
        start_response("200 OK", headers)
        return [b"" if method == "HEAD" else body]


class AppSite(LiveSite):
    """A user's own site: a WSGI application the backend serves, or a server already running elsewhere.

    Args:
        app: the WSGI application to serve on ``127.0.0.1`` (``None``: pages come from ``allowed_origins``).
        allowed_origins: origins of servers the user runs (only when ``app`` is ``None``; at least one).
        probe_js: the page probe (see :attr:`LiveSite.probe_js`).

    Raises:
        ConfigError: for neither or both of ``app`` and ``allowed_origins``.
    """

    name = "browser"

    def __init__(
        self, app: Any = None, allowed_origins: Iterable[str] = (), probe_js: str = "() => null"
    ) -> None:
        super().__init__(allowed_origins)
        if (app is None) == (not self.allowed_origins):
            raise ConfigError(
                "A site is either served by rlft (give its WSGI app) or already running (give its "
                "allowed_origins, e.g. ('http://127.0.0.1:8000',)), not both and not neither."
            )
        if app is not None and not callable(app):
            raise ConfigError(f"app must be a WSGI callable, got {type(app).__name__}.")
        self.app = app
        self.probe_js = probe_js  # type: ignore[misc]

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the user's application (or nothing when it runs elsewhere)."""
        if self.app is None:
            return super().__call__(environ, start_response)
        return self.app(environ, start_response)
