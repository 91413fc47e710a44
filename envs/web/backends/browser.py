"""Finding, launching and sharing a headless Chromium for the Chromium backend.

One browser per thread and :class:`BrowserKind` (executable and extra launch flags), shared by reference
counting: every
:class:`~rlft.envs.web.backends.chromium.ChromiumBackend` in a thread opens its own *browser context*
(separate cookies, cache and pages) in the same Chromium process, so N environments of a
``SyncVectorEnv`` cost one browser, not N. Playwright's sync API is bound to the thread that started it,
hence one manager per thread; a subprocess (``AsyncVectorEnv``) builds its own lazily.

Playwright is imported only inside the functions that need it, so importing this module is cheap (the
environment imports :class:`BackendError` from here).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import logging
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from rlft.errors import DependencyError, RlftError, require

logger = logging.getLogger(__name__)

ENV_VAR = "RLFT_CHROMIUM"
"""Environment variable naming the Chromium executable (overridden by the ``executable_path`` kwarg)."""

DEFAULT_PATHS: tuple[str, ...] = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
"""Debian's and Ubuntu's Chromium; tried after the kwarg and :data:`ENV_VAR`."""

LAUNCH_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying to reach Google's services in the background.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    # No name resolution at all: the sites are served on 127.0.0.1.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)

INSTALL_HINT = (
    "Install Chromium (Debian/Ubuntu: `apt-get install -y chromium`), or point rlft at a Chromium or "
    f"Chrome executable with the environment variable {ENV_VAR}=/path/to/chromium or the backend option "
    "executable_path, or install Playwright's own browser with `playwright install chromium`."
)

_OWNER_FLAG = "--rlft-owner-pid="
"""A switch Chromium ignores; it marks the browsers this process launched so leftovers can be found."""


class BackendError(RlftError):
    """The browser failed (crashed, was killed, timed out): the episode cannot go on.

    The environment reports it as ``truncated=True`` with ``info["backend_error"]``; the next ``reset``
    starts a fresh browser.
    """


def _playwright_browsers() -> list[str]:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache" / "ms-playwright")
    patterns = ("chromium-*/chrome-linux*/chrome", "chromium_headless_shell-*/chrome-linux*/headless_shell")
    found: list[str] = []
    for pattern in patterns:
        found += sorted(glob.glob(os.path.join(root, pattern)), reverse=True)
    return found


def find_chromium(executable_path: str | None = None) -> str:
    """Return the Chromium executable to use.

    Order: ``executable_path``, then ``$RLFT_CHROMIUM``, then :data:`DEFAULT_PATHS`, then ``chromium`` /
    ``google-chrome`` on ``PATH``, then a browser installed by ``playwright install``.

    Raises:
        DependencyError: when the given path is not an executable or no browser is found (the message
            says how to install one).

    """
    for source, path in (("executable_path", executable_path), (ENV_VAR, os.environ.get(ENV_VAR))):
        if path:
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
            raise DependencyError(f"{source}={path!r} is not an executable file. {INSTALL_HINT}")
    candidates = list(DEFAULT_PATHS)
    candidates += [p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p]
    candidates += _playwright_browsers()
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise DependencyError(f"No Chromium browser found. {INSTALL_HINT}")


_blackhole: socket.socket | None = None
_blackhole_lock = threading.Lock()


def blackhole_port() -> int:
    """A local port bound by this process and never listened on: every connection to it is refused.

    Browser contexts use it as their proxy so that a request escaping the routing layer (Playwright does
    not route the targets of redirects) fails instead of reaching another host or port.
    """
    global _blackhole
    with _blackhole_lock:
        if _blackhole is None:
            _blackhole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            _blackhole.bind(("127.0.0.1", 0))
        return int(_blackhole.getsockname()[1])


# -- processes ------------------------------------------------------------------------------------------
def _read_proc(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def process_group(pid: int) -> int | None:
    """The process group of ``pid``, ``None`` when it does not exist (or is a zombie)."""
    stat = _read_proc(pid, "stat")
    if not stat:
        return None
    # Fields after the parenthesised command name: state ppid pgrp ...
    fields = stat.rsplit(b")", 1)[-1].split()
    return None if fields[0] == b"Z" else int(fields[2])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    return [pid for pid in _pids() if process_group(pid) == pgid]


def owned_browsers(owner_pid: int | None = None) -> list[int]:
    """Main processes of the browsers that process ``owner_pid`` (default: this one) launched."""
    marker = f"{_OWNER_FLAG}{owner_pid or os.getpid()}".encode()
    marked: dict[int, int] = {}  # pid -> parent pid
    for pid in _pids():
        args = _read_proc(pid, "cmdline").split(b"\0")
        if marker in args and not any(a.startswith(b"--type=") for a in args) and process_group(pid):
            stat = _read_proc(pid, "stat").rsplit(b")", 1)[-1].split()
            marked[pid] = int(stat[1]) if len(stat) > 1 else 0
    # Helpers a browser forks keep its command line; the main process is the one not forked by another.
    return [pid for pid, parent in marked.items() if parent not in marked]


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group ``pgid`` (Playwright starts each browser as a group leader)."""
    if pgid <= 1 or pgid == os.getpgrp():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# -- the shared browser ----------------------------------------------------------------------------------
class BrowserKind(NamedTuple):
    """Which browser to share: the executable and the flags added to :data:`LAUNCH_ARGS`."""

    executable: str
    args: tuple[str, ...] = ()


@dataclass
class _Browser:
    browser: Any
    pid: int | None
    """Main process id (also its process group); ``None`` when it could not be identified."""
    users: int = 0


@dataclass
class _Manager:
    """Playwright and the browsers of one thread."""

    playwright: Any = None
    browsers: dict[BrowserKind, _Browser] = field(default_factory=dict)
    pid: int = field(default_factory=os.getpid)
    """The process that started it: a forked child must not touch its parent's browsers."""


_local = threading.local()


def _manager() -> _Manager:
    manager = getattr(_local, "manager", None)
    if manager is None or manager.pid != os.getpid():
        manager = _local.manager = _Manager()
    return manager


def _launch(manager: _Manager, kind: BrowserKind) -> _Browser:
    if manager.playwright is None:
        sync_api = require("playwright.sync_api", "backend='chromium'")
        manager.playwright = sync_api.sync_playwright().start()
    before = set(owned_browsers())
    browser = manager.playwright.chromium.launch(
        executable_path=kind.executable,
        headless=True,
        args=[*LAUNCH_ARGS, *kind.args, f"{_OWNER_FLAG}{os.getpid()}"],
    )
    new = [pid for pid in owned_browsers() if pid not in before]
    if len(new) != 1:
        logger.warning("Could not identify the process of the Chromium just launched (candidates %s).", new)
    return _Browser(browser, new[0] if len(new) == 1 else None)


def acquire(kind: BrowserKind) -> Any:
    """Return this thread's browser of ``kind``, launching (or relaunching) it when needed.

    Every call must be matched by one :func:`release`.
    """
    drain()
    manager = _manager()
    shared = manager.browsers.get(kind)
    if shared is not None and not shared.browser.is_connected():
        # Crashed or killed: clear what is left of it before launching a new one.
        logger.warning("Chromium (pid %s) is gone; launching a new one.", shared.pid)
        _dispose(shared)
        users = shared.users
        shared = manager.browsers[kind] = _launch(manager, kind)
        shared.users = users
    if shared is None:
        shared = manager.browsers[kind] = _launch(manager, kind)
    shared.users += 1
    return shared.browser


def release(kind: BrowserKind) -> None:
    """Drop one user of this thread's browser; the last one closes it (and Playwright with it)."""
    manager = _manager()
    # (No drain() here: close_context calls release; drain runs from acquire and at exit.)
    shared = manager.browsers.get(kind)
    if shared is None:
        return
    shared.users -= 1
    if shared.users <= 0:
        del manager.browsers[kind]
        _dispose(shared)
    if not manager.browsers and manager.playwright is not None:
        _stop(manager)


_orphans: list[tuple[int, Any, BrowserKind, Callable[[], None]]] = []
_orphans_lock = threading.Lock()


def defer_close(context: Any, kind: BrowserKind, cleanup: Callable[[], None]) -> None:
    """Queue a browser context whose owner was garbage collected; :func:`drain` closes it.

    Safe anywhere, including inside Playwright's event loop, because it makes no Playwright call.
    """
    with _orphans_lock:
        _orphans.append((threading.get_ident(), context, kind, cleanup))


def drain() -> None:
    """Close the contexts of this thread queued by :func:`defer_close` (every acquire and release does)."""
    me = threading.get_ident()
    with _orphans_lock:
        mine = [orphan for orphan in _orphans if orphan[0] == me]
        _orphans[:] = [orphan for orphan in _orphans if orphan[0] != me]
    for _, context, kind, cleanup in mine:
        close_context(context, kind, cleanup)


def close_context(context: Any, kind: BrowserKind, cleanup: Callable[[], None]) -> None:
    """Close one backend's context, release its share of the browser, then run ``cleanup``."""
    try:
        if context is not None:
            context.close()
    except Exception as error:  # a crashed browser's contexts cannot be closed politely
        logger.debug("Closing a browser context failed: %s", error)
    release(kind)
    cleanup()


def browser_pid(browser: Any) -> int | None:
    """The main process id of a browser returned by :func:`acquire` in this thread."""
    for shared in _manager().browsers.values():
        if shared.browser is browser:
            return shared.pid
    return None


def _dispose(shared: _Browser) -> None:
    try:
        shared.browser.close()
    except Exception as error:  # a dead browser cannot be closed politely
        logger.debug("Closing Chromium failed: %s", error)
    if shared.pid is not None:
        kill_group(shared.pid)


def _stop(manager: _Manager) -> None:
    playwright, manager.playwright = manager.playwright, None
    try:
        playwright.stop()
    except Exception as error:
        logger.debug("Stopping Playwright failed: %s", error)


@atexit.register
def _close_all() -> None:
    # Environments never closed by user code: close this thread's browsers and kill every browser this
    # process launched, whatever thread started it.
    manager = getattr(_local, "manager", None)
    if manager is not None and manager.pid == os.getpid():
        with _orphans_lock:
            _orphans.clear()  # their browsers are disposed of just below
        for shared in list(manager.browsers.values()):
            _dispose(shared)
        manager.browsers.clear()
        if manager.playwright is not None:
            _stop(manager)
    for pid in owned_browsers():
        kill_group(pid)
