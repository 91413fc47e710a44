"""The Chromium backend: the site served over HTTP on 127.0.0.1, browsed by headless Chromium.

How a command runs. The shared :class:`~rlft.envs.web.backends.base.Backend` logic resolves every
command with standard HTML semantics into primitives, exactly as for the text backend; this class carries
the primitives out in the browser:

* a page load (link, form, ``goto``) is a request from the browser to the local server, redirects
  followed by Chromium. With ``page_loads="fetch"`` (default) the page requests it with ``fetch()``,
  parses the answer with the browser's HTML parser and swaps it in as the document (the Turbo/pjax
  technique: no new document, one round trip). With ``page_loads="navigate"`` it is a real
  ``page.goto``; a ``POST`` form is that navigation with its method and body rewritten once by
  Playwright routing. Either way the server receives a genuine browser ``GET`` or ``POST``;
* typing, ticking and selecting change the live DOM (``value``, ``checked``, ``selectedIndex``) with one
  ``evaluate`` and no navigation;
* the observation comes from the live DOM in one round trip: ``outerHTML`` plus the current value of every
  control, rendered by the same :func:`~rlft.envs.web.render.parse_html` /
  :func:`~rlft.envs.web.render.layout_page` as the text backend, so both backends give the same
  observation for the same state;
* ``back`` and :meth:`set_state` show a page *as it was left* (like the back-forward cache): the saved
  document is shown from memory (no request reaches the site) and the saved field values are written
  back into it.

Sandbox: every request not on the server's own origin (other hosts, other local ports, ``file:``) is
aborted by a browser-context route and counted by :class:`Sandbox`. Playwright does not route the
targets of redirects, so each context also sends everything but its own origin to a proxy that refuses
every connection (those refusals are counted too), and Chromium resolves no host names. JavaScript is
disabled (sites do not use it; the backend's own ``evaluate`` calls still run).

Failures: any Playwright error (browser crashed or killed, timeout) raises
:class:`~rlft.envs.web.backends.browser.BackendError` once and leaves the backend *broken*: :meth:`page`
keeps returning the last page, and the next :meth:`restart` (``reset``) starts a fresh context, and a
fresh browser if the old one died.

Nothing heavy happens at construction: the server, Playwright and the browser start on the first
:meth:`restart`, and are dropped from pickles (a copy in another process starts its own).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import numpy as np
import rlft.envs.web.backends.browser as browsers
from rlft.envs.web.backends.base import Backend, Fields
from rlft.envs.web.backends.browser import BackendError
from rlft.envs.web.backends.server import LocalServer
from rlft.envs.web.commands import CommandError
from rlft.envs.web.page import Page
from rlft.envs.web.render import CHECKED, UNCHECKED, Document, layout_page, parse_html
from rlft.envs.web.site import Site
from rlft.errors import ConfigError, check_choice, check_float, check_int, require

logger = logging.getLogger(__name__)

PAGE_LOADS: tuple[str, ...] = ("fetch", "navigate")
"""Values of the ``page_loads`` option (see :class:`ChromiumBackend`)."""

MAX_HISTORY = 100
"""Older history entries are dropped (as in the text backend)."""

# The renderer's controls, in document order: links with href, buttons, fields other than hidden inputs,
# outside the subtrees the renderer skips. Every snippet below numbers controls with this one function.
_PRELUDE_JS = """
const controls = () => Array.from(document.querySelectorAll('a[href],button,input,textarea,select'))
  .filter(e => !(e.tagName === 'INPUT' && (e.getAttribute('type') || '').trim().toLowerCase() === 'hidden')
    && !e.closest('script,style,template,noscript,[hidden],[aria-hidden="true"]'));
const state = e => e.tagName === 'SELECT' ? e.selectedIndex
  : e.tagName === 'TEXTAREA' ? e.value
  : e.tagName !== 'INPUT' ? null
  : ['checkbox', 'radio'].includes(e.type) ? e.checked
  : ['submit', 'button', 'reset', 'image'].includes(e.type) ? null : e.value;
const write = (items) => {
  const all = controls();
  for (const [index, kind, value] of items) {
    const e = all[index];
    if (!e) continue;
    if (kind === 'text') e.value = value;
    else if (kind === 'check') e.checked = value;
    else if (kind === 'select') e.selectedIndex = value;
    else if (kind !== 'default') continue;
    else if (e.tagName === 'SELECT') {
      const chosen = Array.from(e.options).findIndex(o => o.defaultSelected);
      e.selectedIndex = chosen < 0 ? 0 : chosen;
    } else if (e.type === 'checkbox' || e.type === 'radio') e.checked = e.defaultChecked;
    else e.value = e.defaultValue;
  }
  return all.map(state);
};
const show = (url, html) => {
  history.replaceState(null, '', url);
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  document.replaceChild(document.adoptNode(parsed.documentElement), document.documentElement);
  window.scrollTo(0, 0);
};
"""

_READ_JS = f"""() => {{ {_PRELUDE_JS}
  return [document.documentElement.outerHTML, controls().map(state)]; }}"""

_WRITE_JS = f"""(items) => {{ {_PRELUDE_JS} return write(items); }}"""

# page_loads="fetch": the browser requests the page with fetch() (its own network stack, so routing, the
# proxy and redirects apply as to a navigation), parses it with its HTML parser and swaps the document in
# place, then reads it back: one round trip, no new document. Returns null when the request was refused.
_LOAD_JS = f"""async ([url, method, body]) => {{ {_PRELUDE_JS}
  const init = {{method, redirect: 'follow', credentials: 'same-origin', cache: 'no-store'}};
  if (method === 'POST') {{
    init.body = body;
    init.headers = {{'Content-Type': 'application/x-www-form-urlencoded'}};
  }}
  let response;
  try {{ response = await fetch(url, init); }} catch (error) {{ return null; }}
  show(response.url, await response.text());
  return [response.status, response.url, document.documentElement.outerHTML, controls().map(state)]; }}"""

_SHOW_JS = f"""([url, html, items]) => {{ {_PRELUDE_JS} show(url, html); return write(items); }}"""

_SCROLL_JS = """(fraction) => {
  const range = document.documentElement.scrollHeight - window.innerHeight;
  window.scrollTo(0, Math.max(0, Math.round(range * fraction))); }"""


def observed_url(requested: str, final_url: str, origin: str) -> str:
    """The page URL the observation shows: the one the core asked for, unless the browser ended elsewhere.

    This is the one normalisation between the backends. Chromium percent-encodes some characters the
    core leaves as typed (``goto[/search?q=a b]`` becomes ``/search?q=a%20b``); the text backend reports
    the URL as requested. So when the browser's final URL (without its origin) percent-decodes to the
    same string as the requested one, the requested one is kept; otherwise (a redirect) the browser's
    path and query are reported.

    Args:
        requested: path and query the core asked for.
        final_url: the browser's absolute URL after the navigation (redirects followed).
        origin: ``scheme://host:port`` of the local server.

    """
    if not final_url.startswith(origin + "/"):
        return requested
    parts = urlsplit(final_url)
    final = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return requested if unquote(final) == unquote(requested) else final


_PROXY_REFUSALS = ("ERR_PROXY_CONNECTION_FAILED", "ERR_TUNNEL_CONNECTION_FAILED", "ERR_UNSAFE_REDIRECT")


class Sandbox:
    """Counts the requests the browser context's route aborted (kept apart so routes hold no backend)."""

    KEEP = 20

    def __init__(self) -> None:
        self.blocked = 0
        """Requests aborted since the last :meth:`clear`."""
        self.urls: list[str] = []
        """The first :attr:`KEEP` of their URLs (for debugging)."""

    def clear(self) -> None:
        """Start counting again (every ``reset``)."""
        self.blocked, self.urls = 0, []

    def count(self, url: str) -> None:
        """Record one blocked request."""
        self.blocked += 1
        if len(self.urls) < self.KEEP:
            self.urls.append(url[:200])
        logger.info("Sandbox blocked a request to %s", url[:200])

    def block(self, route: Any) -> None:
        """Route handler for every URL off the origin: abort and count."""
        self.count(route.request.url)
        route.abort("blockedbyclient")

    def failed(self, request: Any) -> None:
        """``requestfailed`` listener: count what escaped routing and the black-hole proxy refused.

        Playwright does not route the targets of redirects, so a redirect off the origin is stopped by the
        proxy (or, for ``file:``, by Chromium itself) and counted here.
        """
        try:
            error, url = request.failure or "", request.url
        except Exception as failure:  # the context is going away
            logger.debug("Reading a failed request failed: %s", failure)
            return
        if any(code in error for code in _PROXY_REFUSALS):
            self.count(url)


class ChromiumBackend(Backend):
    """Browse a site with headless Chromium through Playwright (see the module docstring).

    Args:
        site: the site to serve and browse.
        executable_path: Chromium executable; default ``$RLFT_CHROMIUM``, then ``/usr/bin/chromium``, then
            ``chromium``/``google-chrome`` on ``PATH``, then Playwright's own browser.
        viewport: ``(width, height)`` of the page in CSS pixels (also the screenshot size).
        timeout_s: limit for any single browser operation; past it the episode is truncated.
        page_loads: how a new page is loaded. ``fetch`` (default): the browser requests it with
            ``fetch()`` through its own network stack (redirects, routing and the proxy as for a
            navigation), parses it with its HTML parser and swaps the document in place, as Turbo/pjax
            sites do; one round trip, about twice as fast. ``navigate``: a full browser navigation
            (``page.goto``; forms that post are sent as a real navigation ``POST``). Both give the same
            observations; the first page of a context is always a navigation.

    Raises:
        DependencyError: when Playwright cannot be imported or no Chromium is found (with how to install).
        ConfigError: for a malformed ``viewport`` or an unknown ``page_loads``.

    """

    name = "chromium"
    takes_screenshots = True
    launch_args: ClassVar[tuple[str, ...]] = ()
    """Chromium flags this backend adds to :data:`~rlft.envs.web.backends.browser.LAUNCH_ARGS` (backends
    with other flags get a browser of their own)."""

    def __init__(
        self,
        site: Site,
        executable_path: str | None = None,
        viewport: tuple[int, int] = (800, 600),
        timeout_s: float = 15.0,
        page_loads: str = "fetch",
    ) -> None:
        super().__init__(site)
        # Fail at construction, not at the first reset, naming the extra to install.
        require("playwright.sync_api", "backend='chromium'")
        self.executable = browsers.find_chromium(executable_path)
        if not (isinstance(viewport, (tuple, list)) and len(viewport) == 2):
            raise ConfigError(f"viewport must be a (width, height) pair, got {viewport!r}.")
        self.viewport = (
            check_int("viewport width", viewport[0], minimum=64, maximum=4096),
            check_int("viewport height", viewport[1], minimum=64, maximum=4096),
        )
        self.timeout_s = check_float("timeout_s", timeout_s, 0.1, 600.0)
        self.page_loads = check_choice("page_loads", page_loads, PAGE_LOADS)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self.sandbox = Sandbox()
        self._server = LocalServer(self.site)
        self._browser: Any = None
        self._context: Any = None
        self._page: Any = None
        self._cdp: Any = None
        self._finalizer: weakref.finalize | None = None
        self._history: list[dict[str, Any]] = []
        self._rendered: Page | None = None
        self._document: tuple[str, Document] | None = None
        self._live: list[Any] | None = None  # the DOM's control states, None when stale
        self._screenshot: np.ndarray | None = None
        self._scrolled = 0.0

    # -- pickling: the browser and the server stay behind -----------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        keep = ("site", "loads", "executable", "viewport", "timeout_s", "page_loads")
        return {key: self.__dict__[key] for key in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.failure = ""
        self._init_runtime()

    # -- browser lifecycle --------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        """``http://<site>.rlft.localhost``, the origin agents see, as in the text backend.

        Commands and error messages use it, so they read the same under both backends; the browser
        itself is pointed at :attr:`served_origin`.
        """
        return f"http://{self.site.name}.rlft.localhost"

    @property
    def served_origin(self) -> str:
        """``http://127.0.0.1:<port>`` where the local server really listens (started on first use)."""
        return self._server.origin

    @property
    def browser_kind(self) -> browsers.BrowserKind:
        """The shared browser this backend opens its context in."""
        return browsers.BrowserKind(self.executable, self.launch_args)

    @property
    def browser_pid(self) -> int | None:
        """Main process id of the (shared) Chromium this backend uses, ``None`` before the first reset."""
        return browsers.browser_pid(self._browser) if self._browser is not None else None

    def _ensure_open(self) -> None:
        """Open the context (and browser) if there is none or the old one failed."""
        if self.failure or self._page is None or not self._browser.is_connected():
            self.close()
            self.failure = ""
            try:
                self._open()
            except Exception as error:
                self.close()
                raise BackendError(f"Could not start Chromium ({self.executable}): {error}") from error

    def _open(self) -> None:
        origin = self.served_origin
        self._browser = browsers.acquire(self.browser_kind)
        try:
            self._open_context(origin)
        except Exception:
            context, self._context = self._context, None
            browsers.close_context(context, self.browser_kind, self._server.stop)
            raise
        # Garbage collection may run inside Playwright's own event loop, where no Playwright call may be
        # made: a backend dropped without close() only hands its context over, to be closed later.
        self._finalizer = weakref.finalize(
            self, browsers.defer_close, self._context, self.browser_kind, self._server.stop
        )

    def _open_context(self, origin: str) -> None:
        width, height = self.viewport
        # Requests that escape routing (redirect targets are not routed) go to a proxy that refuses every
        # connection; only the site's own host:port bypasses it.
        proxy = {"server": f"http://127.0.0.1:{browsers.blackhole_port()}", "bypass": urlsplit(origin).netloc}
        self._context = self._browser.new_context(
            viewport={"width": width, "height": height},
            java_script_enabled=False,
            service_workers="block",
            proxy=proxy,
        )
        self._context.set_default_timeout(self.timeout_s * 1000)
        # Only foreign URLs are intercepted (the pattern is matched inside the browser driver), so the
        # site's own requests never make a round trip through Python.
        self._context.route(re.compile("^(?!" + re.escape(origin + "/") + ")"), self.sandbox.block)
        self._context.on("requestfailed", self.sandbox.failed)
        self._page = self._context.new_page()
        self._cdp = self._context.new_cdp_session(self._page)

    def close(self) -> None:
        """Close this backend's browser context and server; the last backend closes the browser."""
        finalizer, self._finalizer = self._finalizer, None
        self._browser = self._context = self._page = self._cdp = None
        detached = finalizer.detach() if finalizer is not None else None
        if detached is not None:  # (self, defer_close, (context, kind, stop), {})
            browsers.close_context(*detached[2])
        self._server.stop()

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn browser failures into one :class:`BackendError` and mark the backend broken."""
        if self.failure:
            raise BackendError(f"The browser failed earlier ({self.failure}); call reset().")
        if self._page is None:
            raise CommandError("No page is loaded yet.")
        # Playwright's evaluate() has no timeout: a browser that stops answering is killed by a watchdog,
        # which turns the wait into an error below instead of a hang.
        watchdog = threading.Timer(self.timeout_s, _kill_hung, (self.browser_pid, self.timeout_s))
        watchdog.daemon = True
        watchdog.start()
        try:
            yield
        except (CommandError, BackendError):
            raise
        except Exception as error:
            hung = (
                "" if watchdog.is_alive() else f"Timeout: no answer in {self.timeout_s} s, browser killed; "
            )
            self.failure = f"{what}: {hung}{type(error).__name__}: {str(error).splitlines()[0][:300]}"
            logger.warning("Chromium failed: %s", self.failure)
            raise BackendError(self.failure) from error
        finally:
            watchdog.cancel()

    # -- primitives ----------------------------------------------------------------------------------------
    def restart(self, url: str) -> None:
        """Forget the history, then load ``url``; starts (or restarts after a failure) the browser."""
        self._ensure_open()
        self.sandbox.clear()
        self._history = []
        self.request("GET", url)

    @property
    def previous_url(self) -> str | None:
        """The URL of the previous history entry, ``None`` at the first."""
        return self._history[-2]["url"] if len(self._history) > 1 else None

    def request(self, method: str, url: str, fields: Fields = ()) -> None:
        """Load ``url`` in the browser (see ``page_loads``), follow redirects, record the page."""
        with self._guard("loading a page"):
            self._save_current()
            method = method.upper()
            served = self.served_origin
            if self.page_loads == "fetch" and self._page.url.startswith(served + "/"):
                loaded = self._page.evaluate(_LOAD_JS, [served + url, method, _form_body(fields)])
                if loaded is None:  # fetch() failed: the page was not touched
                    raise CommandError(_refused(url, self.origin))
                status, final_url, html, states = loaded
                self._push({"url": observed_url(url, final_url, served), "html": html, "status": status})
                self._apply_states(states)
            else:
                self._navigate(method, url, fields)

    def _navigate(self, method: str, url: str, fields: Fields) -> None:
        target = self.served_origin + url
        if method == "POST":
            body = _form_body(fields)
            self._page.route(_exact(target), lambda route: _post(route, body), times=1)
        try:
            response = self._page.goto(target, wait_until="load")
        except Exception as error:
            if not any(code in str(error) for code in _REFUSALS):
                raise
            # The tab now shows Chromium's error page: put the page back as it was (a no-op command).
            self._settle_error_page()
            if self._history:
                self._replay(self._history[-1], count=False)
            raise CommandError(_refused(url, self.origin)) from error
        status = response.status if response is not None else 200
        final = observed_url(url, self._page.url, self.served_origin)
        self._push({"url": final, "html": "", "status": status})
        self._read()

    def page(self) -> Page:
        """The current page from the live DOM (read once per change); the last one once broken."""
        if self._rendered is None or (self._live is None and not self.failure):
            if not self._history:
                raise CommandError("No page is loaded yet.")
            if self._live is None and not self.failure:
                # A failure is recorded in self.failure and the last known page is shown.
                with contextlib.suppress(BackendError), self._guard("reading the page"):
                    self._read()
            snap = self._history[-1]
            if self._document is None or self._document[0] is not snap["html"]:
                self._document = (snap["html"], parse_html(snap["html"]))
            self._rendered = layout_page(self._document[1], snap["url"], snap["values"], snap["status"])
        return self._rendered

    def set_value(self, element_id: int, value: str) -> None:
        """Write a field's value into the DOM (no navigation)."""
        self.page()  # the current document, parsed
        document = self._document_for(self._history[-1]["html"])
        self._write([[element_id - 1, *_write_item(document, element_id, value)]])

    def reset_values(self, element_ids: Sequence[int]) -> None:
        """Restore the HTML defaults of the given fields in the DOM."""
        self._write([[i - 1, "default", None] for i in element_ids])

    def back(self) -> None:
        """Show the previous page as it was left (from memory, field values included)."""
        if len(self._history) < 2:
            raise CommandError("There is no previous page to go back to.")
        with self._guard("going back"):
            self._save_current()
            self._history.pop()
            self._replay(self._history[-1])

    def get_state(self) -> dict[str, Any]:
        """The history of pages (URL, HTML, status, changed field values); JSON-able."""
        if not self.failure and self._history:
            with self._guard("reading the page"):
                self._save_current()
        return {
            "loads": self.loads,
            "history": [
                {**snap, "values": {str(k): v for k, v in snap["values"].items()}} for snap in self._history
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a history from :meth:`get_state` and show its last page as it was."""
        history = [
            {**snap, "values": {int(k): v for k, v in snap["values"].items()}} for snap in state["history"]
        ]
        self._ensure_open()
        with self._guard("restoring a state"):
            self._history = history
            self._replay(history[-1])
        self.loads = int(state["loads"])

    def status_info(self) -> dict[str, Any]:
        """Put into ``info`` by the env: ``blocked_requests``, and ``backend_error`` after a failure."""
        info: dict[str, Any] = {"blocked_requests": self.sandbox.blocked}
        if self.failure:
            info["backend_error"] = self.failure
        return info

    # -- what only a browser gives -------------------------------------------------------------------------
    def screenshot(self, scroll_fraction: float = 0.0) -> np.ndarray:
        """The viewport as RGB ``uint8`` of shape ``(height, width, 3)``.

        Args:
            scroll_fraction: how far down the page to scroll first (0 = top, 1 = bottom), so the image
                follows the text observation's scroll position.

        Once the browser has failed, the last screenshot (or black) is returned.

        """
        width, height = self.viewport
        if self.failure or self._page is None:
            if self._screenshot is None:
                return np.zeros((height, width, 3), np.uint8)
            return self._screenshot
        fraction = min(1.0, max(0.0, float(scroll_fraction)))
        if self._screenshot is None or fraction != self._scrolled:
            try:
                with self._guard("taking a screenshot"):
                    if fraction != self._scrolled:
                        self._page.evaluate(_SCROLL_JS, fraction)
                        self._scrolled = fraction
                    options = {"format": "png", "optimizeForSpeed": True}
                    shot = self._cdp.send("Page.captureScreenshot", options)
            except BackendError:
                return self.screenshot()
            self._screenshot = _decode_png(base64.b64decode(shot["data"]), height, width)
        return self._screenshot

    # -- internals ----------------------------------------------------------------------------------------
    def _push(self, snap: dict[str, Any]) -> None:
        self._history.append({**snap, "values": {}})
        del self._history[:-MAX_HISTORY]
        self.loads += 1
        self._scrolled = 0.0

    def _read(self) -> None:
        """Read the DOM and the controls' states of the current document in one round trip."""
        html, states = self._page.evaluate(_READ_JS)
        snap = self._history[-1]
        if snap["html"] != html:
            snap["html"] = html
        self._apply_states(states)

    def _apply_states(self, states: list[Any]) -> None:
        snap = self._history[-1]
        if self._document is None or self._document[0] is not snap["html"]:
            self._document = (snap["html"], parse_html(snap["html"]))
        elements = self._document[1].elements
        if len(states) != len(elements):
            message = "The DOM has %d controls, the rendering %d: field values are not shown."
            logger.warning(message, len(states), len(elements))
            states = [None] * len(elements)
        values: dict[int, str] = {}
        for element, raw in zip(elements, states, strict=True):
            if raw is None or element.role in ("link", "button"):
                continue
            if element.role in ("checkbox", "radio"):
                value = CHECKED if raw else UNCHECKED
            elif element.role == "combobox":
                chosen = isinstance(raw, int) and 0 <= raw < len(element.options)
                value = element.options[raw] if chosen else ""
            else:
                value = str(raw)
            if value != element.value:
                values[element.id] = value
        snap["values"] = values
        self._live = states
        self._rendered = None
        self._screenshot = None

    def _write(self, items: list[list[Any]]) -> None:
        with self._guard("changing a field"):
            self._apply_states(self._page.evaluate(_WRITE_JS, items))

    def _settle_error_page(self) -> None:
        """Wait for Chromium's error page after a refused navigation (it would interrupt the next one)."""
        try:
            self._page.wait_for_url(_ERROR_PAGE, timeout=2000)
            self._page.wait_for_load_state("load")
        except Exception as error:  # no error page is shown for some refusals
            logger.debug("No error page after a refused navigation: %s", error)

    def _save_current(self) -> None:
        """Make sure the current page's snapshot holds its latest HTML and values before leaving it."""
        if self._history and self._live is None:
            self._read()

    def _replay(self, snap: dict[str, Any], count: bool = True) -> None:
        """Show a saved page: its HTML from memory at its URL (no request), its field values written back."""
        target = self.served_origin + snap["url"]
        html, status = snap["html"], snap["status"]
        document = self._document_for(html)
        items = [[i - 1, *_write_item(document, i, v)] for i, v in snap["values"].items()]
        if self.page_loads == "fetch" and self._page.url.startswith(self.served_origin + "/"):
            states = self._page.evaluate(_SHOW_JS, [target, html, items])
        else:
            self._page.route(_exact(target), lambda route: _fulfill(route, status, html), times=1)
            self._page.goto(target, wait_until="load")
            states = self._page.evaluate(_WRITE_JS, items)
        self.loads += int(count)
        self._scrolled = 0.0
        self._apply_states(states)

    def _document_for(self, html: str) -> Document:
        if self._document is None or self._document[0] is not html:
            self._document = (html, parse_html(html))
        return self._document[1]


_ERROR_PAGE = re.compile("^chrome-error:")
_REFUSALS = (
    "ERR_BLOCKED_BY_CLIENT",
    "ERR_TOO_MANY_REDIRECTS",
    "ERR_NAME_NOT_RESOLVED",
    *_PROXY_REFUSALS,
)
"""How Chromium reports a navigation the sandbox stopped (route abort, black-hole proxy, file: redirect)."""


def _refused(url: str, origin: str) -> str:
    return f"Could not open {url[:100]!r}: it redirects outside this site ({origin}) or too many times."


def _write_item(document: Document, element_id: int, value: str) -> list[Any]:
    element = document.elements[element_id - 1] if 1 <= element_id <= len(document.elements) else None
    if element is None:
        return ["skip", None]
    if element.role in ("checkbox", "radio"):
        return ["check", value == CHECKED]
    if element.role == "combobox":
        return ["select", element.options.index(value) if value in element.options else -1]
    return ["text", value]


def _exact(url: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(url) + "$")


def _form_body(fields: Fields) -> str:
    from urllib.parse import urlencode

    return urlencode(list(fields))


def _post(route: Any, body: str) -> None:
    request = route.request
    if not request.is_navigation_request() or request.method != "GET":
        route.fallback()
        return
    headers = {**request.headers, "content-type": "application/x-www-form-urlencoded"}
    route.continue_(method="POST", post_data=body, headers=headers)


def _fulfill(route: Any, status: int, html: str) -> None:
    route.fulfill(status=status, body=html, content_type="text/html; charset=utf-8")


def _decode_png(data: bytes, height: int, width: int) -> np.ndarray:
    import imageio.v3 as iio

    image = np.asarray(iio.imread(data, extension=".png"))
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:height, :width, :3], dtype=np.uint8)
    if image.shape != (height, width, 3):
        padded = np.zeros((height, width, 3), np.uint8)
        padded[: image.shape[0], : image.shape[1]] = image
        image = padded
    return image


def _kill_hung(pid: int | None, timeout_s: float) -> None:
    """Watchdog action: a browser that did not answer within ``timeout_s`` is killed (then relaunched)."""
    logger.warning("Chromium (pid %s) gave no answer within %s s: killing it.", pid, timeout_s)
    if pid is not None:
        browsers.kill_group(pid)
