"""The live backend: page JavaScript runs, commands are real input events, numbers are stable, the page
settles without sleeps, the sandbox holds, and a killed browser truncates the episode then recovers.

One Chromium serves the whole module (a holder backend keeps it open).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Iterator
from typing import Any

import gymnasium as gym
import pytest
import rlft  # noqa: F401 (registers the ids)
from rlft.envs.web.backends.live import LiveBackend
from rlft.envs.web.commands import CommandError
from rlft.envs.web.sites.live import AppSite, LiveState, StaticSite, check_origin
from rlft.envs.web.tasks.browser import BrowserTask
from rlft.errors import ConfigError

pytestmark = pytest.mark.chromium  # skipped without Chromium (tests/web/conftest.py)

PAGE = """<!DOCTYPE html><html><head><title>Live</title></head><body>
<h1>Live page</h1>
<p id="keys">keys: </p>
<label for="name">Name</label> <input id="name">
<select id="pick" aria-label="Pick"><option>red</option><option>green</option></select>
<p id="picked">none</p>
<span id="plus" class="plus">add one</span>
<p id="count">0</p>
<div hidden><button>Hidden</button></div>
<p style="display:none">Invisible text</p>
<button id="later">Later</button>
<p id="late"></p>
<button id="fetch">Fetch</button>
<p id="fetched"></p>
<button id="leak">Leak</button>
<a href="/second">Second page</a>
<script>
document.getElementById('name').addEventListener('keydown', e => {
  document.getElementById('keys').textContent += e.key; });
document.getElementById('pick').addEventListener('change', e => {
  document.getElementById('picked').textContent = e.target.value; });
let count = 0;
document.getElementById('plus').addEventListener('click', () => {
  count += 1;
  document.getElementById('count').textContent = String(count);
  const item = document.createElement('button');
  item.textContent = 'made ' + count;
  document.body.appendChild(item);
});
document.getElementById('later').addEventListener('click', () => {
  setTimeout(() => { document.getElementById('late').textContent = 'arrived late'; }, 300); });
document.getElementById('fetch').addEventListener('click', async () => {
  const text = await (await fetch('/data')).text();
  document.getElementById('fetched').textContent = text; });
document.getElementById('leak').addEventListener('click', () => {
  fetch('http://127.0.0.1:9/steal').catch(() => {});
  new Image().src = 'http://example.com/pixel.png'; });
</script>
</body></html>"""


def live_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/data":
        time.sleep(0.2)  # a slow server: the settle waits for the request, not a fixed time
        body, kind = b"data from the server", "text/plain"
    elif path == "/second":
        body, kind = b"<html><title>Second</title><body><p>The second page</p></body></html>", "text/html"
    else:
        body, kind = PAGE.encode(), "text/html"
    start_response("200 OK", [("Content-Type", kind + "; charset=utf-8")])
    return [body]


class LiveTask(BrowserTask):
    """Click "add one" twice."""

    probe_js = "() => document.getElementById('count') ? +document.getElementById('count').textContent : -1"

    def app(self) -> Any:
        return live_app

    def instruction(self, goal: dict[str, Any]) -> str:
        return 'Click "add one" twice.'

    def reward(self, goal: dict[str, Any], page: LiveState) -> float:
        return 1.0 if page.probe == 2 else 0.0

    def expert(self, goal: dict[str, Any], page: Any) -> str | None:
        return next(f"click[{e.id}]" for e in page.elements if e.name == "add one")


@pytest.fixture
def live(holder: LiveBackend) -> Iterator[LiveBackend]:
    backend = LiveBackend(AppSite(live_app))
    backend.restart("/")
    yield backend
    backend.close()


def _id(backend: LiveBackend, name: str) -> int:
    return next(e.id for e in backend.page().elements if e.name == name)


def test_the_observation_is_the_visible_live_dom_with_stable_numbers(live: LiveBackend) -> None:
    page = live.page()
    assert "# Live page" in page.text
    assert "Hidden" not in page.text and "Invisible text" not in page.text
    plus = _id(live, "add one")
    before = {e.id: e.name for e in page.elements}
    live.click(plus)
    live.click(plus)
    after = live.page()
    assert "2" in after.text.split("\n")
    # Every element that still exists keeps its number; new ones get new numbers.
    assert {e.id: e.name for e in after.elements if e.id in before} == before
    made = [e for e in after.elements if e.name.startswith("made ")]
    assert [e.name for e in made] == ["made 1", "made 2"]
    assert min(e.id for e in made) > max(before)
    assert after.element(made[1].id) is made[1]


def test_typing_and_selecting_are_real_events(live: LiveBackend) -> None:
    field = _id(live, "Name")
    live.type(field, "Ada")
    assert "keys: Ada" in live.page().text, "keydown fired once per typed character"
    assert live.page().element(field).value == "Ada"
    live.type(field, "Bo")
    assert live.page().element(field).value == "Bo", "typing replaces the content"
    live.select(_id(live, "Pick"), "GREEN")
    assert "green" in live.page().text.split("\n"), "the change listener saw the choice"
    with pytest.raises(CommandError, match="no option"):
        live.select(_id(live, "Pick"), "blue")
    with pytest.raises(CommandError, match="not a text field"):
        live.type(_id(live, "Pick"), "x")


def test_the_page_settles_for_timers_and_requests_without_fixed_sleeps(live: LiveBackend) -> None:
    live.click(_id(live, "Later"))
    assert "arrived late" in live.page().text, "a 300 ms setTimeout is waited for"
    live.click(_id(live, "Fetch"))
    assert "data from the server" in live.page().text, "an in-flight fetch is waited for"


def test_navigation_and_back(live: LiveBackend) -> None:
    live.click(_id(live, "Second page"))
    assert live.page().url == "/second" and "The second page" in live.page().text
    assert live.previous_url == "/"
    live.back()
    assert live.page().url == "/" and "# Live page" in live.page().text


def test_the_sandbox_blocks_other_origins_and_schemes(live: LiveBackend) -> None:
    live.click(_id(live, "Leak"))
    assert live.status_info()["blocked_requests"] >= 2
    for url in ("http://example.com/", "file:///etc/passwd", "http://127.0.0.1:9/", "javascript:alert(1)"):
        with pytest.raises(CommandError, match="Refused"):
            live.goto(url)
    assert check_origin("HTTP://127.0.0.1:80/") == "http://127.0.0.1"
    for bad in ("file:///tmp", "http://127.0.0.1:8000/path", "127.0.0.1:8000"):
        with pytest.raises(ConfigError):
            check_origin(bad)


def test_live_pages_cannot_be_snapshotted_and_refuse_served_sites(live: LiveBackend, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="cannot snapshot"):
        live.get_state()
    with pytest.raises(ConfigError, match="live sites"):
        LiveBackend(object())  # type: ignore[arg-type]
    (tmp_path / "a.html").write_text("<p>hi</p>")
    site = StaticSite(tmp_path)
    assert site.file_for("/a.html") == (tmp_path / "a.html").resolve()
    assert site.file_for("/../etc/passwd") is None and site.file_for("/%2e%2e/x") is None
    with pytest.raises(ConfigError, match="backend='live'"):
        gym.make("rlft/MiniWoB-click-button-v0", backend="text")


def test_a_user_task_on_the_env_and_a_killed_browser(holder: LiveBackend) -> None:
    env = gym.make("rlft/WebBrowser-v0", task=LiveTask())
    try:
        obs, info = env.reset(seed=0)
        assert obs["instruction"] == 'Click "add one" twice.' and info["score"] == 0.0
        obs, reward, terminated, _, _ = env.step(env.unwrapped.expert_action())
        assert not terminated and reward == 0.0
        obs, reward, terminated, _, info = env.step(env.unwrapped.expert_action())
        assert terminated and reward == 1.0 and info["success"]
        # Crash recovery, as on the chromium backend: the step is truncated, reset relaunches.
        env.reset(seed=1)
        pid = env.unwrapped.backend.browser_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        assert truncated and not terminated and reward == 0.0 and info["backend_error"]
        assert env.observation_space.contains(obs)
        obs, info = env.reset(seed=2)
        assert "backend_error" not in info and env.unwrapped.backend.browser_pid not in (None, pid)
        assert not env.step(env.unwrapped.expert_action())[3]
    finally:
        env.close()
        env.close()
    holder.restart("/")  # the holder lost its browser too


def test_live_pages_get_their_own_uncapped_browser_apart_from_served_sites(live: LiveBackend) -> None:
    import psutil

    env = gym.make("rlft/WebFormLogin-v0", backend="chromium")  # a served site on the chromium backend
    try:
        env.reset(seed=0)
        served = env.unwrapped.backend
        other = LiveBackend(AppSite(live_app))
        other.restart("/")
        try:
            assert other.browser_pid == live.browser_pid  # live backends of a thread share one browser
        finally:
            other.close()
        assert served.browser_pid not in (None, live.browser_pid)
        assert live.browser_kind.args == LiveBackend.launch_args and not served.browser_kind.args
        assert set(LiveBackend.launch_args) <= set(psutil.Process(live.browser_pid).cmdline())
        assert not set(LiveBackend.launch_args) & set(psutil.Process(served.browser_pid).cmdline())
    finally:
        env.close()
