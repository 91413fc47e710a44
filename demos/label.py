"""The labelling page: people say which of two episodes is better, in a local web page (``rlft label DIR``).

:func:`serve_labels` serves the pairs that ``rlft compare --rater human`` left in a comparison folder. The
page shows the instruction and the two episodes side by side (web: the transcripts with the pages seen;
tabletop: the GIFs), with buttons and keyboard shortcuts for left, right, tie, skip and undo, and the
progress. Each answer is appended to the folder's label journal and fsynced before the page shows the
next pair (:func:`rlft.demos.comparisons.append_label`), so killing the server loses no saved label, and
a restart resumes at the first unlabelled pair. :func:`rlft.demos.comparisons.read_comparisons` turns
the answers into comparison rows, and ``comparisons.parquet`` is refreshed in the background.

Security (a server rlft starts for a person): it binds 127.0.0.1 only, on a free port unless told one;
every request must carry the per-launch secret token that is in the printed URL; requests with a
foreign ``Host`` (DNS rebinding) or ``Origin`` / ``Sec-Fetch-Site`` (cross-site requests) header are
refused; it serves its own three static files and the episode files the folder's pairs name, resolved
inside the folder, and nothing else. The page loads nothing from outside (no CDN) and its
Content-Security-Policy forbids it.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rlft.demos.comparisons import (
    LABELS,
    UNDO,
    Comparison,
    append_label,
    episode_file,
    live_labels,
    read_label_log,
    read_pairs,
    refresh_comparisons_file,
)
from rlft.errors import ConfigError, DatasetError, RlftError, check_bool, check_int

__all__ = ["LabelConfig", "LabelServer", "LabelSession", "serve_labels"]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
TOKEN_HEADER = "X-Rlft-Token"
MAX_BODY = 4096
MAX_TEXT_BYTES = 400_000
"""A transcript larger than this is cut for the page (the stored file is unchanged)."""

REFRESH_SECONDS = 5.0
"""Least time between two background rewrites of ``comparisons.parquet`` (and one on close)."""

STATIC = {
    "/static/label.js": ("label.js", "text/javascript; charset=utf-8"),
    "/static/label.css": ("label.css", "text/css; charset=utf-8"),
}
IMAGE_TYPES = {".gif": "image/gif", ".png": "image/png"}
TEXT_SUFFIXES = (".md", ".txt")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(kw_only=True)
class LabelConfig:
    """Label pairs of episodes in a local web page; each answer is saved before the next pair is shown.

    The rlft label flags are these fields. The page binds 127.0.0.1 and its URL (printed) carries a
    per-launch secret token. Keys: left arrow or A = left is better, right arrow or D = right is better,
    down arrow or T = tie, S = skip, U or Backspace = undo.
    """

    directory: str
    """The comparison folder (rlft compare --rater human --out DIR)."""
    port: int = 0
    """Port on 127.0.0.1 (0: a free one)."""
    browser: bool = True
    """Open the page in the default web browser."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        if not isinstance(self.directory, str) or not self.directory:
            raise ConfigError("directory is required: the comparison folder (rlft label DIR).")
        check_int("port", self.port, 0, 65535)
        check_bool("browser", self.browser)


def _static_text(name: str) -> str:
    return resources.files("rlft.demos").joinpath("static").joinpath(name).read_text(encoding="utf-8")


class LabelSession:
    """The labelling state of one comparison folder: the queue of pairs and the answers given.

    Thread-safe; every answer is durable (fsynced to the journal) when :meth:`label` / :meth:`undo`
    return.

    Args:
        directory: the comparison folder.

    Raises:
        DatasetError: ``directory`` is not a comparison folder.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).resolve()
        self._lock = threading.Lock()
        self._parts_seen: tuple[str, ...] = ()
        self._queue: list[Comparison] = []
        self._by_id: dict[str, Comparison] = {}
        self._labels = live_labels(read_label_log(self.directory))
        self._reload_pairs()

    def _reload_pairs(self) -> None:
        """Pick up pairs appended since the last look (another ``rlft compare`` may be adding them)."""
        parts = tuple(sorted(p.name for p in (self.directory / "parts").glob("part-*.parquet")))
        if parts == self._parts_seen and self._queue:
            return
        self._parts_seen = parts
        self._queue = [pair for pair in read_pairs(self.directory) if not pair.labelled]
        self._by_id = {pair.pair_id: pair for pair in self._queue}

    def _live(self) -> dict[str, str]:
        """The standing labels of queued pairs, oldest first."""
        return {pair_id: label for pair_id, label in self._labels.items() if pair_id in self._by_id}

    def state(self) -> dict[str, Any]:
        """Progress, the counts of each answer, and the first unlabelled pair (``None`` when done)."""
        with self._lock:
            self._reload_pairs()
            return self._state()

    def _state(self) -> dict[str, Any]:
        live = self._live()
        position, current = next(
            ((i, p) for i, p in enumerate(self._queue, 1) if p.pair_id not in live), (0, None)
        )
        counts = {label: sum(1 for v in live.values() if v == label) for label in LABELS}
        return {
            "total": len(self._queue),
            "labelled": len(live),
            "counts": counts,
            "can_undo": bool(live),
            "current": self._view(current, position) if current is not None else None,
        }

    def _view(self, pair: Comparison, position: int) -> dict[str, Any]:
        return {
            "pair_id": pair.pair_id,
            "position": position,
            "prompt": pair.prompt,
            "env_id": pair.env_id,
            "goal_seed": pair.goal_seed,
            "left": self._episode_view(pair, "left"),
            "right": self._episode_view(pair, "right"),
        }

    def _episode_view(self, pair: Comparison, side: str) -> dict[str, Any]:
        relative = pair.chosen_path if side == "left" else pair.rejected_path
        try:
            path = episode_file(self.directory, relative)
        except DatasetError as err:
            return {"kind": "missing", "text": str(err)}
        if not path.is_file():
            return {"kind": "missing", "text": f"The episode file {relative} is missing."}
        if path.suffix in IMAGE_TYPES:
            view = {"kind": "image", "src": f"/api/episode?pair={pair.pair_id}&side={side}"}
            if path.suffix != ".png" and path.with_suffix(".png").is_file():
                view["final_src"] = view["src"] + "&final=1"
            return view
        if path.suffix in TEXT_SUFFIXES:
            data = path.read_bytes()[:MAX_TEXT_BYTES]
            return {"kind": "text", "text": data.decode("utf-8", errors="replace")}
        return {"kind": "missing", "text": f"{relative}: not a transcript or an image."}

    def episode_path(self, pair_id: str, side: str, final: bool = False) -> Path:
        """The image of one side of a queued pair (its GIF, or with ``final`` its last frame's PNG).

        Raises:
            DatasetError: unknown pair or side, not an image, missing, or outside the folder.
        """
        with self._lock:
            pair = self._by_id.get(pair_id)
        if pair is None or side not in ("left", "right"):
            raise DatasetError(f"No pair {pair_id!r} side {side!r} in {self.directory}.")
        relative = pair.chosen_path if side == "left" else pair.rejected_path
        path = episode_file(self.directory, relative, ".png" if final else None)
        if path.suffix not in IMAGE_TYPES or not path.is_file():
            raise DatasetError(f"No image for pair {pair_id!r} side {side!r}.")
        return path

    def label(self, pair_id: str, label: str) -> dict[str, Any]:
        """Save ``label`` (one of :data:`rlft.demos.comparisons.LABELS`) for ``pair_id``; return the state.

        Raises:
            ConfigError: unknown label.
            DatasetError: ``pair_id`` is not in the queue or already labelled (the page is out of date).
        """
        if label not in LABELS:
            raise ConfigError(f"label={label!r} is not valid: use one of {', '.join(LABELS)}.")
        with self._lock:
            if pair_id not in self._by_id:
                raise DatasetError(f"No pair {pair_id!r} waits for a label in {self.directory}.")
            if pair_id in self._labels:
                raise DatasetError(f"Pair {pair_id!r} is already labelled; undo it first.")
            append_label(self.directory, pair_id, label)
            self._labels[pair_id] = label
            return self._state()

    def undo(self) -> dict[str, Any]:
        """Withdraw the latest standing label (its pair becomes the current one); return the state.

        Raises:
            DatasetError: nothing to undo.
        """
        with self._lock:
            live = self._live()
            if not live:
                raise DatasetError("Nothing to undo.")
            pair_id = next(reversed(live))
            append_label(self.directory, pair_id, UNDO)
            del self._labels[pair_id]
            return self._state()


class _Refresher:
    """Rewrites ``comparisons.parquet`` in the background after answers (the journal is the record)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rlft-label-refresh", daemon=True)
        self._thread.start()

    def mark(self) -> None:
        self._dirty.set()

    def _refresh(self) -> None:
        try:
            refresh_comparisons_file(self.directory)
        except (OSError, RlftError) as err:
            logger.warning("could not refresh %s: %s", self.directory, err)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._dirty.wait(0.5):
                self._dirty.clear()
                self._refresh()
                self._stop.wait(REFRESH_SECONDS)  # the rewrite reads every row: not after each answer

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._refresh()


def _make_handler(server: LabelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rlft-label"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message})

        def _refused(self, query: dict[str, list[str]]) -> str | None:
            """Why this request is refused (``None``: it may proceed)."""
            if self.headers.get("Host", "") not in server.allowed_hosts:
                return "foreign Host header"
            origin = self.headers.get("Origin")
            if origin is not None and origin not in server.allowed_origins:
                return "foreign Origin header"
            if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                return "cross-site request"
            token = self.headers.get(TOKEN_HEADER) or (query.get("token") or [""])[0]
            if not hmac.compare_digest(token.encode(), server.token.encode()):
                return "missing or wrong token"
            return None

        def _route(self) -> tuple[str, dict[str, list[str]]] | None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/favicon.ico":  # browsers ask on their own, without the token: no icon
                self._error(HTTPStatus.NOT_FOUND, "Not found.")
                return None
            reason = self._refused(query)
            if reason is not None:
                logger.warning("refused %s %s: %s", self.command, url.path, reason)
                self._error(HTTPStatus.FORBIDDEN, f"Forbidden: {reason}.")
                return None
            return url.path, query

        def do_GET(self) -> None:
            routed = self._route()
            if routed is None:
                return
            path, query = routed
            if path == "/":
                page = _static_text("label.html").replace("__TOKEN__", server.token)
                self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
            elif path in STATIC:
                name, content_type = STATIC[path]
                self._send(HTTPStatus.OK, _static_text(name).encode(), content_type)
            elif path == "/api/state":
                self._json(HTTPStatus.OK, server.session.state())
            elif path == "/api/episode":
                try:
                    file = server.session.episode_path(
                        (query.get("pair") or [""])[0],
                        (query.get("side") or [""])[0],
                        final=(query.get("final") or [""])[0] == "1",
                    )
                except DatasetError as err:
                    self._error(HTTPStatus.NOT_FOUND, str(err))
                    return
                self._send(HTTPStatus.OK, file.read_bytes(), IMAGE_TYPES[file.suffix])
            else:
                self._error(HTTPStatus.NOT_FOUND, "Not found.")

        def do_POST(self) -> None:
            routed = self._route()
            if routed is None:
                return
            path, _ = routed
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Send JSON.")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Body too large.")
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._error(HTTPStatus.BAD_REQUEST, "Body is not JSON.")
                return
            if not isinstance(body, dict):
                self._error(HTTPStatus.BAD_REQUEST, "Body must be a JSON object.")
                return
            try:
                if path == "/api/label":
                    state = server.session.label(str(body.get("pair_id", "")), str(body.get("label", "")))
                elif path == "/api/undo":
                    state = server.session.undo()
                else:
                    self._error(HTTPStatus.NOT_FOUND, "Not found.")
                    return
            except ConfigError as err:
                self._error(HTTPStatus.BAD_REQUEST, str(err))
                return
            except DatasetError as err:
                self._json(HTTPStatus.CONFLICT, {"error": str(err), "state": server.session.state()})
                return
            server.refresher.mark()
            self._json(HTTPStatus.OK, state)

    return Handler


class LabelServer:
    """The labelling page's HTTP server for one comparison folder (127.0.0.1 only).

    Args:
        directory: the comparison folder.
        port: port to bind (0: a free one).

    Raises:
        DatasetError: ``directory`` is not a comparison folder.
        ConfigError: the port cannot be bound.
    """

    def __init__(self, directory: str | Path, port: int = 0) -> None:
        self.session = LabelSession(directory)
        self.token = secrets.token_urlsafe(24)
        try:
            self._httpd = ThreadingHTTPServer((HOST, check_int("port", port, 0, 65535)), _make_handler(self))
        except OSError as err:
            raise ConfigError(f"Cannot listen on {HOST}:{port} ({err}); pass another --port, or 0.") from err
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.allowed_hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}
        self.allowed_origins = {f"http://{host}" for host in self.allowed_hosts}
        self.refresher = _Refresher(self.session.directory)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's URL, token included."""
        return f"http://{HOST}:{self.port}/?token={self.token}"

    def serve_forever(self) -> None:
        """Serve until :meth:`close` (or a KeyboardInterrupt in this thread)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> LabelServer:
        """Serve from a background thread; return self."""
        self._thread = threading.Thread(target=self.serve_forever, name="rlft-label", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and write ``comparisons.parquet`` with every answer."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
        self.refresher.close()

    def __enter__(self) -> LabelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_labels(config: LabelConfig, announce: Callable[[str], object] | None = None) -> LabelServer:
    """Serve the labelling page for ``config.directory`` until interrupted (Ctrl-C); what rlft label runs.

    Args:
        config: the folder, port and whether to open a browser.
        announce: called with the lines a person needs (the URL, the progress); default: logging.

    Returns:
        The (closed) server, once interrupted.

    Raises:
        DatasetError: the folder is not a comparison folder.
        ConfigError: invalid settings, no pair waits for a label, or the port cannot be bound.
    """
    config.validate()
    say = announce or logger.info
    server = LabelServer(config.directory, config.port)
    state = server.session.state()
    if state["total"] == 0:
        server.close()
        raise ConfigError(
            f"No pair in {config.directory} waits for a person's label: make some with "
            f"rlft compare ENV_ID --rater human --out {config.directory}."
        )
    say(f"{state['labelled']} of {state['total']} pairs labelled; label the rest at:")
    say(server.url)
    say("(keys: left/A, right/D, tie: down/T, skip: S, undo: U; Ctrl-C stops, every answer is saved)")
    if config.browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped; answers saved in " + str(server.session.directory / "labels.jsonl"))
    finally:
        server.close()
    return server
