"""The live backend: headless Chromium with the page's own JavaScript running, driven by real input events.

Where the ``chromium`` backend carries commands out with HTML-form semantics (links followed, forms
submitted by the backend), this one acts like a user and lets the page decide what happens:

* ``click[N]`` scrolls element N into view and clicks its centre with Playwright's mouse (``mousemove``,
  ``mousedown``, ``mouseup``, ``click``: whatever covers that point receives them, as for a person);
* ``type[N][text]`` clicks the field, selects its content (``Ctrl+A``), deletes it and types ``text`` with
  the keyboard (``keydown``/``keypress``/``input``/``keyup`` per character);
* ``select[N][option]`` chooses the option through the element handle (``input`` and ``change`` fire);
* ``search[query]`` types into the page's search box and presses ``Enter``;
* ``scroll`` moves the text viewport and turns the mouse wheel so the page follows;
* ``goto`` and ``back`` are browser navigations.

After every action the page *settles*: one injected script waits until no ``fetch``/XHR is in flight, no
short ``setTimeout`` is pending and the DOM has not changed for ``quiet_ms`` (a ``MutationObserver``),
at most ``settle_ms``; no fixed sleep. The same script then transcribes the visible DOM (current values,
stable element numbers: see :mod:`rlft.envs.web.backends.live_js`), which the one renderer
(:func:`~rlft.envs.web.render.parse_html`) lays out, and runs the site's probe
(:attr:`~rlft.envs.web.sites.live.LiveSite.probe_js`), whose result the backend hands to the site
(:meth:`~rlft.envs.web.sites.live.LiveSite.observe`) for its task to score. One round trip per
observation.

Element numbers: an element keeps its number for the whole episode while it exists; new elements get
the next numbers, so a page's numbers may have gaps. ``reset`` starts numbering from 1 again.

Sandbox: requests to any origin outside the site's (its own server on ``127.0.0.1``, or the
``allowed_origins`` it names) are aborted by a browser-context route and counted in
``info["blocked_requests"]``; what escapes routing (redirect targets) goes to a proxy that refuses every
connection, host names are not resolved, and ``goto`` refuses other origins and schemes (``file:``...).
Failures (a crash, a killed browser, a page that stops answering) are handled as by the ``chromium``
backend: the step is truncated with ``info["backend_error"]`` and the next ``reset`` starts a fresh
browser. The page's JavaScript state cannot be captured, so :meth:`get_state` raises
:class:`~rlft.errors.ConfigError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import rlft.envs.web.backends.browser as browsers
import rlft.envs.web.backends.live_js as live_js
from rlft.envs.web.backends.base import Fields
from rlft.envs.web.backends.chromium import ChromiumBackend
from rlft.envs.web.commands import CommandError
from rlft.envs.web.page import Element, Page
from rlft.envs.web.render import CHECKED, layout_page, parse_html, renumber
from rlft.envs.web.sites.live import LiveSite, LiveState, check_origin
from rlft.errors import ConfigError, check_float

logger = logging.getLogger(__name__)

_TEXT_ROLES = frozenset(("textbox", "searchbox"))
HOVER_MS = 250.0
"""After the pointer reaches an element, how long a click waits for the element itself to be under it."""
_NAVIGATED = (
    "Execution context was destroyed",
    "navigation",
    "Target page, context or browser has been closed",
)


class LiveBackend(ChromiumBackend):
    """Browse a :class:`~rlft.envs.web.sites.live.LiveSite` with its JavaScript running (module docstring).

    Args:
        site: the live site (served on ``127.0.0.1`` by the backend, or on its ``allowed_origins``).
        executable_path: Chromium executable (as for the ``chromium`` backend).
        viewport: ``(width, height)`` in CSS pixels; default the site's preference, else ``(800, 600)``.
        timeout_s: limit for any single browser operation; past it the episode is truncated.
        quiet_ms: the DOM must stay unchanged this long after an action before the page is read.
        settle_ms: the most an action waits for the page to settle.

    Raises:
        ConfigError: when ``site`` is not a live site, or for a malformed option.
        DependencyError: when Playwright or Chromium is missing.
    """

    name = "live"
    takes_screenshots = True
    # Input events wait for the renderer's next frame: under the default 60 Hz vsync a pointer move costs
    # ~15 ms and the DOM settles a frame later. Uncapped frames halve the step time on MiniWoB (33 -> 15 ms
    # per click, benchmarks/miniwob_throughput.py) for ~40% more browser CPU per step; the server-rendered
    # chromium backend dispatches no input events and is slower with them, so it keeps its own browser.
    launch_args = ("--disable-frame-rate-limit", "--disable-gpu-vsync")

    def __init__(
        self,
        site: LiveSite,
        executable_path: str | None = None,
        viewport: tuple[int, int] | None = None,
        timeout_s: float = 15.0,
        quiet_ms: float = 5.0,
        settle_ms: float = 1500.0,
    ) -> None:
        if not isinstance(site, LiveSite):
            raise ConfigError(
                f"backend='live' browses live sites (MiniWoB, WebBrowser), not {type(site).__name__}: "
                "use backend='text' or 'chromium' for it."
            )
        self.quiet_ms = check_float("quiet_ms", quiet_ms, 0.0, 10_000.0)
        self.settle_ms = check_float("settle_ms", settle_ms, 0.0, 60_000.0)
        super().__init__(
            site, executable_path, viewport or site.viewport or (800, 600), timeout_s, page_loads="navigate"
        )
        self.site: LiveSite = site

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._snapshot_js = live_js.snapshot_js(self.site.probe_js)
        self._hidden = ", ".join(self.site.hidden_selectors)
        self._page_view: Page | None = None
        self._html: str | None = None
        self._urls: list[str] = []
        self._centres: dict[str, list[float]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        return state | {"quiet_ms": self.quiet_ms, "settle_ms": self.settle_ms}

    # -- origins -------------------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        """The site's own origin: where the backend serves it, or its first allowed origin."""
        return self.served_origin

    @property
    def served_origin(self) -> str:
        """``http://127.0.0.1:<port>`` of the backend's server, or the site's first allowed origin."""
        if self.site.serves:
            return self._server.origin
        return self.site.allowed_origins[0]

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """Every origin the browser may reach."""
        return (self.served_origin,) if self.site.serves else self.site.allowed_origins

    def _open_context(self, origin: str) -> None:
        allowed = self.allowed_origins
        width, height = self.viewport
        proxy = {
            "server": f"http://127.0.0.1:{browsers.blackhole_port()}",
            "bypass": ",".join(urlsplit(o).netloc for o in allowed),
        }
        self._context = self._browser.new_context(
            viewport={"width": width, "height": height},
            java_script_enabled=True,
            service_workers="block",
            accept_downloads=False,
            proxy=proxy,
        )
        self._context.set_default_timeout(self.timeout_s * 1000)
        ours = "|".join(re.escape(o + "/") for o in allowed)
        self._context.route(re.compile(f"^(?!(?:{ours}))"), self.sandbox.block)
        self._context.on("requestfailed", self.sandbox.failed)
        self._context.add_init_script(live_js.INIT_JS)
        self._page = self._context.new_page()
        # A page's alert() or confirm() would block it: accept it, as a user would.
        self._page.on("dialog", _accept)
        self._cdp = self._context.new_cdp_session(self._page)

    def shown_url(self, absolute: str) -> str:
        """``absolute`` as the observation shows it: path and query on the site's origin, else unchanged."""
        own = self.served_origin
        if absolute.startswith(own + "/"):
            parts = urlsplit(absolute)
            return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return absolute

    def resolve(self, href: str, base: str | None = None) -> str:
        """Resolve ``href`` against the current page to an absolute URL on an allowed origin.

        Raises:
            CommandError: for any other origin or scheme (the sandbox refuses it).
        """
        current = self._page.url if self._page is not None and self._page.url.startswith("http") else None
        base_url = self.served_origin + base if base is not None else (current or self.served_origin + "/")
        cleaned = href.strip().replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
        target = urljoin(base_url, cleaned)
        try:
            allowed = check_origin(f"{urlsplit(target).scheme}://{urlsplit(target).netloc}")
        except (ConfigError, ValueError):
            allowed = ""
        if allowed not in self.allowed_origins:
            shown = ", ".join(self.allowed_origins)
            raise CommandError(f"Refused to open {href[:100]!r}: only pages of {shown} can be visited.")
        return target

    # -- primitives ----------------------------------------------------------------------------------------
    def restart(self, url: str) -> None:
        """Open a fresh page at ``url`` (path on the site's origin), run the site's start script, read it."""
        self._ensure_open()
        self.sandbox.clear()
        self._urls = []
        with self._guard("opening the start page"):
            self._page.goto(self.resolve(url, base="/"), wait_until="load")
            start = self.site.start_js
            if start:
                self._page.evaluate(start)
            self._observe(fresh=True)
        self.loads += 1

    @property
    def previous_url(self) -> str | None:
        """The URL ``back`` returns to, ``None`` at the first page."""
        return self._urls[-2] if len(self._urls) > 1 else None

    def request(self, method: str, url: str, fields: Fields = ()) -> None:
        """Open ``url`` with a browser navigation (``GET`` only: forms are submitted by the page itself)."""
        if method.upper() != "GET" or fields:
            raise CommandError("On live pages forms are submitted by clicking their buttons.")
        self._act("opening a page", lambda: self._page.goto(self.resolve(url), wait_until="load"))

    def goto(self, href: str) -> None:
        """Navigate to ``href`` (relative, or absolute on an allowed origin)."""
        target = self.resolve(href)
        self._act("opening a page", lambda: self._page.goto(target, wait_until="load"))

    def page(self) -> Page:
        """The current page as the last action left it."""
        if self._page_view is None:
            raise CommandError("No page is loaded yet.")
        return self._page_view

    def back(self) -> None:
        """Go back in the browser's history."""
        if self.previous_url is None:
            raise CommandError("There is no previous page to go back to.")
        self._urls = self._urls[:-2]
        self._act("going back", lambda: self._page.go_back(wait_until="load"))

    def click(self, element_id: int) -> None:
        """Click the centre of element ``element_id`` with the mouse."""
        self.element(element_id)
        self._act("clicking", lambda: self._mouse_click(element_id))

    def type(self, element_id: int, text: str) -> None:
        """Replace the content of text field ``element_id`` by typing ``text`` with the keyboard."""
        element = self.element(element_id)
        if element.role not in _TEXT_ROLES:
            raise CommandError(
                f"Element [{element_id}] is a {element.role}, not a text field: type only into textboxes."
            )
        self._act("typing", lambda: self._type(element, text))

    def select(self, element_id: int, option: str) -> None:
        """Choose ``option`` (label, else value; case-insensitive) of combobox ``element_id``."""
        element = self.element(element_id)
        if element.role != "combobox":
            raise CommandError(f"Element [{element_id}] is a {element.role}, not a combobox.")
        wanted = option.strip().lower()
        index = next((i for i, label in enumerate(element.options) if label.strip().lower() == wanted), None)
        if index is None:
            index = next(
                (i for i, v in enumerate(element.option_values) if v.strip().lower() == wanted), None
            )
        if index is None:
            shown = ", ".join(element.options[:20])
            raise CommandError(
                f"Combobox [{element_id}] has no option {option[:100]!r}; its options: {shown}."
            )
        self._act("selecting", lambda: self._handle(element_id).select_option(index=index))

    def search(self, query: str) -> None:
        """Type ``query`` into the page's first search box and press Enter."""
        box = next((e for e in self.page().elements if e.role == "searchbox" and not e.disabled), None)
        if box is None:
            raise CommandError("This page has no search box: use type[N][text] and click[N] instead.")

        def run() -> None:
            self._type(box, query)
            self._page.keyboard.press("Enter")

        self._act("searching", run)

    def scroll_to(self, fraction: float) -> None:
        """Turn the mouse wheel until the page shows ``fraction`` of its height (0 top, 1 bottom)."""

        def run() -> None:
            delta = self._page.evaluate(live_js.SCROLL_TO_JS, min(1.0, max(0.0, fraction)))
            if delta:
                width, height = self.viewport
                self._page.mouse.move(width / 2, height / 2)
                self._page.mouse.wheel(0, delta)

        self._act("scrolling", run)

    def set_value(self, element_id: int, value: str) -> None:
        """Give field ``element_id`` the value ``value`` with real events (typing, clicking, selecting)."""
        element = self.element(element_id)
        if element.role in ("checkbox", "radio"):
            if (element.value == CHECKED) != (value == CHECKED):
                self.click(element_id)
        elif element.role == "combobox":
            self.select(element_id, value)
        else:
            self.type(element_id, value)

    def reset_values(self, element_ids: Sequence[int]) -> None:
        """Not available: a live page resets its own forms (click its reset button)."""
        raise CommandError("On live pages forms are reset by the page itself: click its reset button.")

    def get_state(self) -> dict[str, Any]:
        """Not available: the page's JavaScript state cannot be captured.

        Raises:
            ConfigError: always.
        """
        raise ConfigError(
            "backend='live' cannot snapshot a page: its JavaScript state lives in the browser. "
            "Search and branching need a served site (backend='text' or 'chromium')."
        )

    def set_state(self, state: dict[str, Any]) -> None:
        """Not available (see :meth:`get_state`).

        Raises:
            ConfigError: always.
        """
        self.get_state()

    # -- internals -----------------------------------------------------------------------------------------
    def _act(self, what: str, action: Any) -> None:
        """Run ``action`` in the browser, then let the page settle and read it."""
        with self._guard(what):
            try:
                action()
            except Exception as error:
                if _is_refusal(error):
                    self._observe()
                    raise CommandError(f"The page tried to open a URL outside {self.origin}.") from error
                raise
            self._observe()

    def _handle(self, element_id: int) -> Any:
        handle = self._page.evaluate_handle(live_js.HANDLE_JS, element_id).as_element()
        if handle is None:
            raise CommandError(f"Element [{element_id}] is no longer on the page.")
        return handle

    def _mouse_click(self, element_id: int) -> None:
        # The last snapshot's centre when it was in view, else scroll the element into view first; either
        # way HIT_JS then clicks where the element is now.
        point = self._centres.get(str(element_id)) or self._page.evaluate(live_js.POINT_JS, element_id)
        if point is None:
            raise CommandError(f"Element [{element_id}] is no longer on the page.")
        mouse = self._page.mouse
        mouse.move(point[0], point[1])
        point = self._page.evaluate(live_js.HIT_JS, [element_id, HOVER_MS]) or point
        mouse.click(point[0], point[1])

    def _type(self, element: Element, text: str) -> None:
        self._mouse_click(element.id)
        keyboard = self._page.keyboard
        if element.value:
            keyboard.press("Control+A")
            keyboard.press("Backspace")
        if text:
            keyboard.type(text)

    def _observe(self, fresh: bool = False) -> None:
        """Wait for the page to settle, transcribe it and run the probe (one round trip)."""
        args = [self.quiet_ms, self.settle_ms, self._hidden, fresh]
        for attempt in range(3):
            try:
                result = self._page.evaluate(self._snapshot_js, args)
                break
            except Exception as error:
                # A click that navigated: read the new document once it has loaded.
                if attempt == 2 or not any(sign in str(error) for sign in _NAVIGATED):
                    raise
                self._page.wait_for_load_state("load")
                args[3] = fresh
        if result is None:  # the document has no bookkeeping (a browser error page)
            result = [self._page.url, "", "", None, {}]
        href, title, html, probe, self._centres = result
        url = self.shown_url(href)
        if not self._urls or self._urls[-1] != url:
            self._urls.append(url)
            self.loads += 0 if fresh else 1
        if html != self._html or self._page_view is None or self._page_view.url != url:
            document = parse_html(html)
            numbers = [int(e.attrs.get("data-rlft-id", "0") or 0) for e in document.elements]
            self._page_view = layout_page(renumber(document, numbers), url)
            if title and title != self._page_view.title:
                self._page_view = Page(url, title, self._page_view.text, self._page_view.elements)
            self._html = html
        self._screenshot = None
        self._scrolled = -1.0
        self.site.observe(LiveState(url=url, title=title, text=self._page_view.text, probe=probe))


def _accept(dialog: Any) -> None:
    try:
        dialog.accept()
    except Exception as error:  # the page went away meanwhile
        logger.debug("Accepting a dialog failed: %s", error)


def _is_refusal(error: Exception) -> bool:
    text = str(error)
    return any(
        code in text for code in ("ERR_BLOCKED_BY_CLIENT", "ERR_PROXY_CONNECTION_FAILED", "ERR_NAME_NOT")
    )
