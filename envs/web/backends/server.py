"""A local HTTP server for a site's WSGI application, for backends that drive a real browser.

The server listens on ``127.0.0.1`` at a free port chosen by the kernel and serves each connection in
its own daemon thread (Chromium opens speculative connections that may never send a request; one
thread per connection keeps them from blocking real requests). Calls into the application are
serialised with a lock because sites are not written to be thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # A restarted backend must never find its port held by a socket in TIME_WAIT.
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class LocalServer:
    """Serve ``app`` on ``http://127.0.0.1:<free port>`` from a background thread.

    Args:
        app: the WSGI application (a :class:`~rlft.envs.web.site.Site`).

    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.requests = 0
        """How many requests the application has served (tests and benchmarks read it)."""
        self._lock = threading.Lock()
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, starting the server if needed."""
        server = self.start()
        return f"http://127.0.0.1:{server.server_port}"

    def start(self) -> _ThreadingWSGIServer:
        """Bind a free port and start serving (idempotent)."""
        if self._server is None:
            server = _ThreadingWSGIServer(("127.0.0.1", 0), _QuietHandler)
            server.set_app(self._serve)
            serve = server.serve_forever
            thread = threading.Thread(target=serve, args=(0.1,), name="rlft-site-server", daemon=True)
            thread.start()
            self._server, self._thread = server, thread
        return self._server

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            self.requests += 1
            chunks = self.app(environ, start_response)
            try:
                return [b"".join(chunks)]
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
