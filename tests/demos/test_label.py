"""The labelling page's server: token, Host / Origin checks, no file outside the folder, durable labels.

The last test drives the real page in Chromium through Playwright with the keyboard, kills the server
process with SIGKILL half-way, restarts it and checks every label; it skips where no Chromium is found.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rlft.demos.comparisons import Comparison, read_comparisons, read_labels, read_pairs, write_comparisons
from rlft.demos.label import LabelConfig, LabelServer, serve_labels
from rlft.errors import ConfigError, DependencyError

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _pairs(directory: Path, n: int = 4, outside: Path | None = None) -> list[Comparison]:
    episodes = directory / "episodes"
    episodes.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        for side in "ab":
            (episodes / f"p{i}-{side}.md").write_text(f"## Step 1: `click[{i}]`\n\nepisode {i}{side}\n")
        rows.append(
            Comparison(
                pair_id=f"p{i}",
                env_id="rlft/WebShop-v0",
                goal_seed=i,
                prompt=f"buy thing {i}",
                chosen=f"text {i}a",
                rejected=f"text {i}b",
                chosen_episode=f"p{i}-a",
                rejected_episode=f"p{i}-b",
                chosen_path=f"episodes/p{i}-a.md",
                rejected_path=f"episodes/p{i}-b.md",
                rater="human",
                labelled=False,
                pair_index=i,
            )
        )
    if outside is not None:  # a folder whose rows point outside it (a hostile or broken dataset)
        (episodes / "img.gif").write_bytes(GIF)
        (episodes / "img.png").write_bytes(b"\x89PNG final frame")
        rows.append(
            Comparison(
                pair_id="evil",
                env_id="rlft/TabletopPutBlockInBowl-v0",
                goal_seed=99,
                prompt="look",
                chosen="",
                rejected="",
                chosen_episode="e-a",
                rejected_episode="e-b",
                chosen_path=os.path.relpath(outside, directory),
                rejected_path="episodes/img.gif",
                rater="human",
                labelled=False,
                pair_index=n,
            )
        )
    write_comparisons(directory, rows)
    return rows


def _request(
    server: LabelServer,
    method: str,
    path: str,
    *,
    token: str | None = "auto",
    host: str | None = None,
    headers: dict[str, str] | None = None,
    body: object = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.port}")
    if token is not None:
        conn.putheader("X-Rlft-Token", server.token if token == "auto" else token)
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        conn.putheader("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data or None)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, payload


@pytest.fixture
def server(tmp_path: Path):
    outside = tmp_path / "secret.gif"
    outside.write_bytes(GIF + b"SECRET")
    folder = tmp_path / "cmp"
    _pairs(folder, outside=outside)
    with LabelServer(folder).start() as running:
        yield running


def test_binds_localhost_with_a_token_in_the_url(server: LabelServer) -> None:
    assert server._httpd.server_address[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}" and len(server.token) >= 32
    with LabelServer(server.session.directory) as other:
        assert other.token != server.token and other.port != server.port  # per launch


def test_requests_without_the_token_are_refused(server: LabelServer) -> None:
    for path in ("/", "/api/state", "/static/label.js", "/api/episode?pair=evil&side=right"):
        assert _request(server, "GET", path, token=None)[0] == 403
        assert _request(server, "GET", path, token="wrong" * 8)[0] == 403
    status, _ = _request(server, "POST", "/api/label", token=None, body={"pair_id": "p0", "label": "left"})
    assert status == 403 and read_labels(server.session.directory) == {}
    assert _request(server, "GET", "/api/state")[0] == 200
    assert _request(server, "GET", f"/api/state?token={server.token}", token=None)[0] == 200


def test_foreign_host_and_origin_are_refused(server: LabelServer) -> None:
    for host in ("evil.example", f"evil.example:{server.port}", f"127.0.0.1:{server.port + 1}"):
        assert _request(server, "GET", "/api/state", host=host)[0] == 403  # DNS rebinding
    assert _request(server, "GET", "/api/state", host=f"localhost:{server.port}")[0] == 200
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        status, _ = _request(
            server, "POST", "/api/label", headers=headers, body={"pair_id": "p0", "label": "left"}
        )
        assert status == 403
    assert read_labels(server.session.directory) == {}
    same = {"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"}
    assert (
        _request(server, "POST", "/api/label", headers=same, body={"pair_id": "p0", "label": "left"})[0]
        == 200
    )


def test_no_file_outside_the_folder_is_served(server: LabelServer) -> None:
    for path in (
        "/../../../../etc/passwd",
        "/static/../label.py",
        "/static/label.py",
        "/%2e%2e/secret.gif",
        "/api/episode?pair=evil&side=left",
        "/api/episode?pair=evil&side=left&final=1",
        "/api/episode?pair=evil&side=../../secret.gif",
        "/api/episode?pair=p0&side=left",  # a transcript is shown inline, never served as a file
        "/parts/",
    ):
        status, payload = _request(server, "GET", path)
        assert status == 404, path
        assert b"SECRET" not in payload
    status, payload = _request(server, "GET", "/api/episode?pair=evil&side=right")
    assert status == 200 and payload == GIF
    final = _request(server, "GET", "/api/episode?pair=evil&side=right&final=1")
    assert final == (200, b"\x89PNG final frame")
    # The state names the hostile row as missing, and leaks nothing of the file it points at.
    for label in ("left", "left", "left", "left"):
        _request(server, "POST", "/api/label", body={"pair_id": _current(server)["pair_id"], "label": label})
    current = _current(server)
    assert current["pair_id"] == "evil" and current["left"]["kind"] == "missing"
    assert "outside the comparison folder" in current["left"]["text"]
    assert current["right"] == {
        "kind": "image",
        "src": "/api/episode?pair=evil&side=right",
        "final_src": "/api/episode?pair=evil&side=right&final=1",
    }


def _current(server: LabelServer) -> dict:
    return json.loads(_request(server, "GET", "/api/state")[1])["current"]


def test_the_page_loads_nothing_from_outside(server: LabelServer) -> None:
    status, page = _request(server, "GET", f"/?token={server.token}", token=None)
    assert status == 200 and server.token.encode() in page
    for path in ("/static/label.js", "/static/label.css"):
        code, body = _request(server, "GET", f"{path}?token={server.token}", token=None)
        assert code == 200 and b"://" not in body
    assert b"http" not in page.replace(b"http-equiv", b"")


def test_labels_are_saved_undone_and_resumed_after_a_restart(tmp_path: Path) -> None:
    _pairs(tmp_path, n=4)
    with LabelServer(tmp_path).start() as server:
        state = json.loads(_request(server, "GET", "/api/state")[1])
        assert (state["total"], state["labelled"], state["current"]["pair_id"]) == (4, 0, "p0")
        assert state["current"]["left"] == {"kind": "text", "text": "## Step 1: `click[0]`\n\nepisode 0a\n"}
        status, body = _request(server, "POST", "/api/label", body={"pair_id": "p0", "label": "right"})
        assert status == 200 and json.loads(body)["current"]["pair_id"] == "p1"
        assert read_labels(tmp_path) == {"p0": "right"}  # on disk before the answer came back
        status, body = _request(server, "POST", "/api/label", body={"pair_id": "p0", "label": "left"})
        assert status == 409 and json.loads(body)["state"]["current"]["pair_id"] == "p1"
        assert _request(server, "POST", "/api/label", body={"pair_id": "p1", "label": "maybe"})[0] == 400
        assert _request(server, "POST", "/api/label", body={"pair_id": "nope", "label": "left"})[0] == 409
        assert _request(server, "POST", "/api/label", body={"pair_id": "p1", "label": "tie"})[0] == 200
        status, body = _request(server, "POST", "/api/undo", body={})
        assert status == 200 and json.loads(body)["current"]["pair_id"] == "p1"
        assert _request(server, "POST", "/api/label", body={"pair_id": "p1", "label": "skip"})[0] == 200
        raw = _request(server, "POST", "/api/label", headers={"Content-Type": "text/plain"}, body=None)
        assert raw[0] == 415
        big = {"pair_id": "p2", "label": "left", "pad": "x" * 5000}
        assert _request(server, "POST", "/api/label", body=big)[0] == 413
    with LabelServer(tmp_path).start() as server:  # a restart resumes at the first unlabelled pair
        state = json.loads(_request(server, "GET", "/api/state")[1])
        assert (state["labelled"], state["current"]["pair_id"], state["counts"]["skip"]) == (2, "p2", 1)
    rows = {r.pair_id: r for r in read_comparisons(tmp_path)}
    assert list(rows) == ["p0"] and rows["p0"].chosen == "text 0b" and rows["p0"].rater == "human"
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "comparisons.parquet").column("pair_id").to_pylist() == ["p0"]


def test_serve_labels_refuses_a_folder_with_nothing_to_label(tmp_path: Path) -> None:
    write_comparisons(tmp_path, [])
    with pytest.raises(ConfigError, match="--rater human"):
        serve_labels(LabelConfig(directory=str(tmp_path), browser=False))
    with pytest.raises(ConfigError, match="port"):
        LabelConfig(directory=str(tmp_path), port=70000).validate()


# -- the real page, in Chromium ----------------------------------------------------------------------


def _chromium() -> str:
    try:
        import playwright.sync_api  # noqa: F401
        from rlft.envs.web.backends.browser import find_chromium

        return find_chromium()
    except (ImportError, DependencyError) as error:
        pytest.skip(f"labelling page browser test skipped: {error}")


def _start_label_process(folder: Path) -> tuple[subprocess.Popen, str, queue.Queue[str]]:
    """``rlft label FOLDER`` in a subprocess, once it printed its URL; the queue gets its later output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}  # SIGABRT dumps every thread
    process = subprocess.Popen(
        [sys.executable, "-m", "rlft.cli", "label", str(folder), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:  # closed at the process's end: no unclosed pipe for a later test's warnings
            for line in process.stdout:
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=120)
        except queue.Empty:
            process.kill()
            raise AssertionError(f"rlft label printed no URL: {seen}") from None
        seen.append(line)
        if line.startswith("http://127.0.0.1:"):
            return process, line.strip(), lines


def _stop_label_process(process: subprocess.Popen, lines: queue.Queue[str]) -> None:
    """Ctrl-C, as a person stops ``rlft label``; a process that does not exit shows where it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler prints each thread's stack, then it dies
        process.wait(timeout=30)
        time.sleep(1)  # the pump thread drains what it printed
        output = "".join(lines.get_nowait() for _ in range(lines.qsize()))
        raise AssertionError(f"rlft label did not exit on Ctrl-C within 60 s:\n{output}") from None


MOVED_ON = "id => document.body.dataset.state !== 'saving' && document.body.dataset.pairId !== id"
"""The page saved the answer and shows another pair (or the end)."""
SHOWS = "id => document.body.dataset.state === 'ready' && document.body.dataset.pairId === id"
"""The page shows pair ``id``, ready for an answer."""


def _wait_until(page: Any, predicate: str, arg: Any = None, timeout: float = 60.0) -> None:
    """Poll ``predicate`` from the test side until it holds.

    Playwright's ``wait_for_function`` re-evaluates a string predicate with ``eval`` inside the page once
    its first check fails, which the page's strict Content-Security-Policy (no ``unsafe-eval``) refuses;
    ``page.evaluate`` goes through the DevTools protocol, which the page's CSP does not govern.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never satisfied {predicate!r} (arg {arg!r})")
        page.wait_for_timeout(20)


@pytest.mark.chromium
@pytest.mark.integration
def test_label_twenty_pairs_with_the_keyboard_across_a_kill(tmp_path: Path) -> None:
    executable = _chromium()
    from playwright.sync_api import sync_playwright
    from rlft.agents.compare import CompareConfig, run_compare
    from rlft.envs.web.backends.browser import LAUNCH_ARGS

    folder = tmp_path / "cmp"
    config = CompareConfig(
        env_id="rlft/WebShop-v0",
        agent="expert",
        agent_b="random",
        rater="human",
        pairs=20,
        out_dir=str(folder),
    )
    run_compare(config)
    queue_ids = [p.pair_id for p in read_pairs(folder)]
    assert len(queue_ids) == 20
    keys = ["ArrowLeft", "d", "t", "s", "ArrowRight", "a", "ArrowDown", "S", "D", "A"] * 2
    names = {"ArrowLeft": "left", "a": "left", "A": "left", "d": "right", "D": "right", "ArrowRight": "right"}
    names |= {"t": "tie", "ArrowDown": "tie", "s": "skip", "S": "skip"}
    expected = {pair_id: names[key] for pair_id, key in zip(queue_ids, keys, strict=True)}

    def label(page, pair_id: str, key: str) -> None:
        assert page.evaluate("document.body.dataset.pairId") == pair_id
        page.keyboard.press(key)
        _wait_until(
            page,
            "id => document.body.dataset.state !== 'saving' && document.body.dataset.pairId !== id",
            pair_id,
        )

    process, url, lines = _start_label_process(folder)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=list(LAUNCH_ARGS), headless=True
        )
        try:
            page = browser.new_page()
            page.goto(url)
            _wait_until(page, "() => document.body.dataset.state === 'ready'")
            assert page.locator("#instruction").inner_text() != ""
            for i in range(10):
                if i == 4:  # a wrong answer, undone with the keyboard, then answered again
                    label(page, queue_ids[i], "ArrowLeft")
                    page.keyboard.press("u")
                    _wait_until(page, SHOWS, queue_ids[i])
                label(page, queue_ids[i], keys[i])
            process.send_signal(signal.SIGKILL)  # no chance to flush anything
            process.wait(timeout=30)
            assert read_labels(folder) == {k: expected[k] for k in queue_ids[:10]}

            process, url, lines = _start_label_process(folder)
            page.goto(url)
            _wait_until(page, "() => document.body.dataset.state === 'ready'")
            assert page.evaluate("document.body.dataset.pairId") == queue_ids[10]  # the first unlabelled
            assert "10 of 20 labelled" in page.locator("#progress-text").inner_text()
            for i in range(10, 20):
                label(page, queue_ids[i], keys[i])
            assert page.evaluate("document.body.dataset.state") == "done"
        except BaseException:
            process.kill()  # the failure, not a shutdown wait, is what the report should show
            raise
        finally:
            browser.close()
            _stop_label_process(process, lines)
    assert process.returncode == 0
    assert read_labels(folder) == expected
    rows = {r.pair_id: r for r in read_comparisons(folder)}
    assert set(rows) == {k for k, v in expected.items() if v != "skip"}
    shown = {r.pair_id: r for r in read_pairs(folder)}  # left = stored chosen, right = stored rejected
    for pair_id, row in rows.items():
        left, right = shown[pair_id].chosen_episode, shown[pair_id].rejected_episode
        assert row.tie == (expected[pair_id] == "tie")
        assert row.chosen_episode == (right if expected[pair_id] == "right" else left)
        assert row.rejected_episode == (left if expected[pair_id] == "right" else right)
    import pyarrow.parquet as pq

    assert pq.read_table(folder / "comparisons.parquet").num_rows == len(rows)
