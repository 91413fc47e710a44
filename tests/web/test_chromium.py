"""The Chromium backend: parity with the text backend, network sandbox, screenshots, crashes, leaks.

Tests that need a browser are marked ``chromium`` and skip, saying how to install one, where none is
found. They share one browser through a module-scoped holder backend (the backends of a thread share
Chromium by reference counting), so each test pays for a browser context, not a browser launch.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import rlft
from rlft.envs.web.backends import browser as browsers
from rlft.envs.web.backends.chromium import PAGE_LOADS, ChromiumBackend, observed_url
from rlft.envs.web.backends.server import LocalServer
from rlft.envs.web.backends.text import TextBackend
from rlft.envs.web.commands import CommandError
from rlft.errors import ConfigError, DependencyError

_spec = importlib.util.spec_from_file_location("toy_site", Path(__file__).with_name("toy_site.py"))
toy_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(toy_site)
ToySite = toy_site.ToySite

# Served sites only: the live-page ids (WebBrowser-v0) run on the live backend alone.
WEB_IDS = [
    i for i in rlft.ENV_IDS if i.startswith("rlft/Web") and gym.spec(i).kwargs.get("backend") != "live"
]
PARITY_SEEDS = (0, 1, 2)
MAX_EXPERT_STEPS = 60

try:
    browsers.find_chromium()
    NO_BROWSER = ""
except DependencyError as error:
    NO_BROWSER = str(error)

needs_browser = [
    pytest.mark.chromium,
    pytest.mark.skipif(bool(NO_BROWSER), reason=f"Chromium backend tests skipped: {NO_BROWSER}"),
]


# -- no browser needed ---------------------------------------------------------------------------------
def test_observed_url_keeps_the_requested_url_unless_redirected() -> None:
    origin = "http://127.0.0.1:5000"
    # Chromium percent-encodes what the core leaves as typed: the requested form is reported.
    assert observed_url("/search?q=a b", f"{origin}/search?q=a%20b", origin) == "/search?q=a b"
    assert observed_url("/p?q=x+y", f"{origin}/p?q=x+y", origin) == "/p?q=x+y"
    # A redirect: the browser's URL, without the origin.
    assert observed_url("/loop", f"{origin}/thanks?id=3", origin) == "/thanks?id=3"
    assert observed_url("/x", f"{origin}/", origin) == "/"
    # Anything off the origin (an error page) never leaks into the observation.
    assert observed_url("/x", "chrome-error://chromewebdata/", origin) == "/x"


def test_find_chromium_reports_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(DependencyError, match="apt-get install -y chromium"):
        browsers.find_chromium(str(tmp_path / "no-such-browser"))
    monkeypatch.setenv(browsers.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(DependencyError, match=browsers.ENV_VAR):
        browsers.find_chromium()
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(browsers.ENV_VAR, str(fake))
    assert browsers.find_chromium() == str(fake)


def test_screenshot_observations_need_a_browser_backend() -> None:
    with pytest.raises(ConfigError, match="backend='chromium'"):
        gym.make("rlft/WebShop-v0", obs_mode="text+screenshot")
    # rgb_array rendering does not: the text backend draws its text page (see test_render_image.py).
    gym.make("rlft/WebShop-v0", render_mode="rgb_array").close()
    with pytest.raises(ConfigError):
        gym.make("rlft/WebShop-v0", obs_mode="pixels")


def test_local_server_serves_the_site_and_releases_its_port() -> None:
    import urllib.request

    server = LocalServer(ToySite())
    origin = server.origin
    with urllib.request.urlopen(origin + "/echo?a=1", timeout=10) as response:
        assert response.status == 200
        assert b"a=1" in response.read()
    assert server.requests == 1
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(OSError):
        urllib.request.urlopen(origin + "/", timeout=5)


# -- with a browser --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_browser() -> Iterator[ChromiumBackend]:
    """Keeps this thread's Chromium alive for the module so tests do not relaunch it."""
    if NO_BROWSER:
        pytest.skip(f"Chromium backend tests skipped: {NO_BROWSER}")
    holder = ChromiumBackend(ToySite())
    holder.restart("/")
    yield holder
    holder.close()


@pytest.fixture(params=PAGE_LOADS)
def chromium(shared_browser: ChromiumBackend, request: pytest.FixtureRequest) -> Iterator[ChromiumBackend]:
    backend = ChromiumBackend(ToySite(), page_loads=request.param)
    backend.restart("/")
    yield backend
    backend.close()


def _name(backend: Any, name: str) -> int:
    return next(e.id for e in backend.page().elements if e.name == name)


def _toy_script(backend: Any) -> list[Any]:
    """Drive a backend through every control, a GET and a POST form, back, redirects and a state restore."""
    seen: list[Any] = [backend.page().text]
    backend.type(_name(backend, "Query"), "hello world, this is long")
    backend.click(_name(backend, "Gift"))
    backend.click(_name(backend, "Medium"))
    backend.select(_name(backend, "Color"), "blue")
    backend.type(_name(backend, "Note"), 'a [note] "quoted"')
    seen.append(backend.page().text)
    backend.click(_name(backend, "Go"))
    seen.append((backend.page().url, backend.page().text))
    backend.back()
    seen.append((backend.page().url, backend.page().text, backend.can_go_back, backend.previous_url))
    backend.click(_name(backend, "Reset"))
    seen.append(backend.page().text)
    for refused in ("Evil", "JS", "File", "Proto-relative", "Other port", "Out", "Loop"):
        with pytest.raises(CommandError):
            backend.click(_name(backend, refused))
        seen.append((refused, backend.page().url, backend.page().text))
    backend.click(_name(backend, "Rel"))
    seen.append(backend.page().url)
    backend.back()
    backend.click(_name(backend, "Post"))
    backend.type(_name(backend, "Name"), "Ada")
    backend.click(_name(backend, "Send"))
    seen.append((backend.page().url, backend.page().text, backend.page().status))
    state = backend.get_state()
    backend.back()
    backend.back()
    seen.append((backend.page().url, backend.page().text))
    backend.set_state(state)
    seen.append((backend.page().url, backend.page().text, backend.can_go_back, backend.previous_url))
    # What descriptions read: every element with the text beside it (the same parse under both backends).
    seen.append([(e.role, e.name, e.value, e.context, e.caption) for e in backend.page().elements])
    return seen


@pytest.mark.chromium
def test_backend_matches_the_text_backend_command_by_command(chromium: ChromiumBackend) -> None:
    text = TextBackend(ToySite())
    text.restart("/")
    expected = _toy_script(text)
    assert _toy_script(chromium) == expected
    # The form really went through the browser as a POST to the server.
    assert chromium.site.submitted == "Ada"
    assert chromium.loads == text.loads
    # Only the external redirect escaped routing; the black-hole proxy refused it and it was counted.
    assert chromium.sandbox.blocked == 1


def _rollout(env: gym.Env, seed: int) -> list[Any]:
    obs, info = env.reset(seed=seed)
    trace: list[Any] = [obs]
    for _ in range(MAX_EXPERT_STEPS):
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        trace.append((obs, reward, terminated, truncated, info["success"]))
        if terminated or truncated:
            break
    return trace


@pytest.mark.chromium
@pytest.mark.parametrize(
    ("env_id", "page_loads"),
    [(env_id, "fetch") for env_id in WEB_IDS]
    + [(env_id, "navigate") for env_id in ("rlft/WebShop-v0", "rlft/WebQA-v0", "rlft/WebFormCheckout-v0")],
)
def test_expert_observations_are_identical_under_both_backends(
    env_id: str, page_loads: str, shared_browser: Any
) -> None:
    text_env = gym.make(env_id)
    chromium_env = gym.make(env_id, backend="chromium", backend_options={"page_loads": page_loads})
    try:
        for seed in PARITY_SEEDS:
            expected = _rollout(text_env, seed)
            got = _rollout(chromium_env, seed)
            assert len(got) == len(expected)
            for step, (want, have) in enumerate(zip(expected, got, strict=True)):
                # Whole observations: the descriptions of the commands and the history included.
                obs = want if step == 0 else want[0]
                assert len(obs["admissible_descriptions"]) == len(obs["admissible_commands"])
                assert have == want, f"{env_id} seed {seed}: observation {step} differs"
            assert expected[-1][2], "the expert finishes the episode"
        assert chromium_env.unwrapped.backend.sandbox.blocked == 0
    finally:
        text_env.close()
        chromium_env.close()


@pytest.mark.chromium
@pytest.mark.parametrize(
    "env_id", ["rlft/WebShop-v0", "rlft/WebQA-v0", "rlft/WebFormContact-v0", "rlft/WebFormCheckout-v0"]
)
def test_random_admissible_walks_are_identical_under_both_backends(env_id: str, shared_browser: Any) -> None:
    """Not only the expert's path: random admissible commands, back, scrolling, refused and typed input."""
    rng = np.random.default_rng(7)
    envs = [gym.make(env_id, history_length=8), gym.make(env_id, backend="chromium", history_length=8)]
    try:
        for seed in (0, 1):
            observations = [env.reset(seed=seed)[0] for env in envs]
            for step in range(25):
                assert observations[1] == observations[0], f"{env_id} seed {seed}: step {step} differs"
                # Refused and mistyped commands too: the same error lines in both histories.
                assert observations[1]["history"] == observations[0]["history"]
                assert (
                    observations[1]["admissible_descriptions"] == observations[0]["admissible_descriptions"]
                )
                commands = list(observations[0]["admissible_commands"])
                extra = ["back", "goto[/]", "type[1][Ada Lovelace]", "click[2]", "goto[http://example.com/]"]
                pool = commands + extra
                action = pool[int(rng.integers(len(pool)))]
                results = [env.step(action) for env in envs]
                assert results[1][1:4] == results[0][1:4]
                observations = [result[0] for result in results]
                if results[0][2] or results[0][3]:
                    break
    finally:
        for env in envs:
            env.close()


@pytest.mark.chromium
@pytest.mark.integration
def test_async_vector_env_builds_one_browser_per_subprocess() -> None:
    if NO_BROWSER:
        pytest.skip(NO_BROWSER)
    make = [lambda: gym.make("rlft/WebFormLogin-v0", backend="chromium")] * 2
    envs = gym.vector.AsyncVectorEnv(make, shared_memory=False)
    try:
        obs, _ = envs.reset(seed=[0, 1])
        expected = [gym.make("rlft/WebFormLogin-v0").reset(seed=seed)[0]["page"] for seed in (0, 1)]
        assert list(obs["page"]) == expected
    finally:
        envs.close()


@pytest.mark.chromium
def test_no_command_reaches_another_host_port_or_file(shared_browser: Any) -> None:
    other = LocalServer(ToySite())
    other_origin = other.origin
    env = gym.make("rlft/WebShop-v0", backend="chromium")
    try:
        env.reset(seed=0)
        url = env.unwrapped.observation()["url"]
        for command in (
            "goto[http://example.com/]",
            "goto[file:///etc/passwd]",
            f"goto[{other_origin}/]",
            "goto[http://localhost:1/]",
            "goto[//example.com/x]",
            "goto[javascript:alert(1)]",
            "goto[data:text/html,<p>x</p>]",
        ):
            obs, _, _, truncated, info = env.step(command)
            assert obs["last_action_error"], command
            assert obs["url"] == url and not truncated
            assert "backend_error" not in info
        assert other.requests == 0
    finally:
        env.close()
        other.stop()


class _LeakySite(ToySite):
    """The toy site whose home page embeds resources from elsewhere (what the core sandbox cannot see)."""

    def __init__(self, other_origin: str) -> None:
        super().__init__()
        self.other_origin = other_origin

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] != "/":
            return super().__call__(environ, start_response)
        body = (
            "<html><body><p>Leaky</p>"
            '<img src="http://example.com/pixel.png" alt="ext">'
            f'<img src="{self.other_origin}/other.png" alt="port">'
            '<img src="file:///etc/passwd" alt="file">'
            f'<link rel="stylesheet" href="{self.other_origin}/style.css">'
            f'<iframe src="{self.other_origin}/frame"></iframe>'
            '<iframe src="file:///etc/hostname"></iframe>'
            '<a href="/redirect-out">Out</a></body></html>'
        )
        start_response("200 OK", [("Content-Type", "text/html")])
        return [body.encode()]


@pytest.mark.chromium
@pytest.mark.parametrize("page_loads", PAGE_LOADS)
def test_routing_aborts_and_counts_what_pages_embed(page_loads: str, shared_browser: Any) -> None:
    other = LocalServer(ToySite())
    backend = ChromiumBackend(_LeakySite(other.origin), page_loads=page_loads)
    try:
        backend.restart("/")
        assert "Leaky" in backend.page().text
        # Images, a stylesheet and a frame from another host or another local port were aborted...
        assert sorted(backend.sandbox.urls) == sorted(
            [
                "http://example.com/pixel.png",
                *(f"{other.origin}/{p}" for p in ("other.png", "style.css", "frame")),
            ]
        )
        assert backend.sandbox.blocked == 4
        # ...and Chromium itself never loads file: resources into an http page.
        assert not any(frame.url.startswith("file:") for frame in backend._page.frames)
        blocked = backend.sandbox.blocked
        with pytest.raises(CommandError, match="outside this site"):
            backend.click(_name(backend, "Out"))
        # The escaped redirect; a refused navigation also shows the page again (its four embeds refused
        # again), a refused fetch() leaves the page as it was.
        assert backend.sandbox.blocked == blocked + 1 + (blocked if page_loads == "navigate" else 0)
        assert other.requests == 0
        assert backend.page().url == "/"
    finally:
        backend.close()
        other.stop()


@pytest.mark.chromium
def test_screenshot_observation_and_rgb_array(shared_browser: Any) -> None:
    env = gym.make(
        "rlft/WebShop-v0",
        backend="chromium",
        obs_mode="text+screenshot",
        render_mode="rgb_array",
        backend_options={"viewport": (320, 240)},
    )
    try:
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        image = obs["screenshot"]
        assert image.shape == (240, 320, 3) and image.dtype == np.uint8
        assert image.min() < 128 < image.max(), "the page's text is drawn"
        assert np.array_equal(env.render(), image)
        obs, *_ = env.step(env.unwrapped.expert_action())  # search: a new page
        assert env.observation_space.contains(obs)
        assert not np.array_equal(obs["screenshot"], image)
        if "scroll[down]" in obs["admissible_commands"]:
            scrolled, *_ = env.step("scroll[down]")
            assert not np.array_equal(scrolled["screenshot"], obs["screenshot"]), "the image follows scroll"
    finally:
        env.close()


@pytest.mark.chromium
def test_bad_backend_options_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        gym.make("rlft/WebShop-v0", backend="chromium", backend_options={"viewport": (10,)})
    with pytest.raises(ConfigError):
        gym.make("rlft/WebShop-v0", backend="chromium", backend_options={"headful": True})


def _alive(pgid: int | None) -> list[int]:
    return browsers.group_members(pgid) if pgid else []


@pytest.mark.chromium
def test_killed_browser_truncates_then_reset_relaunches_and_close_cleans_up(shared_browser: Any) -> None:
    env = gym.make("rlft/WebShop-v0", backend="chromium")
    try:
        env.reset(seed=0)
        first = env.unwrapped.backend.browser_pid
        assert first is not None and _alive(first)
        os.kill(first, signal.SIGKILL)
        start = time.monotonic()
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        assert time.monotonic() - start < 10, "no hang"
        assert truncated and not terminated and reward == 0.0
        assert info["backend_error"]
        assert env.observation_space.contains(obs)
        obs, info = env.reset(seed=1)
        assert "backend_error" not in info
        second = env.unwrapped.backend.browser_pid
        assert second not in (None, first)
        obs, _, _, truncated, info = env.step(env.unwrapped.expert_action())
        assert not truncated and not obs["last_action_error"]
        assert not _alive(first), "the killed browser's helpers are gone"
    finally:
        env.close()
    # The module's holder backend also lost its browser; give it a fresh one for the next tests.
    shared_browser.restart("/")
    assert not _alive(first)


@pytest.mark.chromium
def test_a_hung_browser_times_out_into_truncation(shared_browser: Any) -> None:
    env = gym.make("rlft/WebShop-v0", backend="chromium", backend_options={"timeout_s": 1.5})
    try:
        env.reset(seed=0)
        pid = env.unwrapped.backend.browser_pid
        os.kill(pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
            assert time.monotonic() - start < 10
            assert truncated and not terminated and "Timeout" in info["backend_error"]
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        obs, info = env.reset(seed=0)
        assert "backend_error" not in info and obs["page"]
    finally:
        env.close()


@pytest.mark.chromium
def test_vector_of_envs_shares_one_browser_and_close_leaves_nothing() -> None:
    if NO_BROWSER:
        pytest.skip(NO_BROWSER)
    before = set(browsers.owned_browsers())
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("rlft/WebShop-v0", backend="chromium")] * 3)
    envs.reset(seed=0)
    pids = {env.unwrapped.backend.browser_pid for env in envs.envs}
    assert len(pids) == 1, "one browser, one context per environment"
    (pid,) = pids
    actions = [env.unwrapped.expert_action() for env in envs.envs]
    obs, *_ = envs.step(actions)
    assert all(not error for error in obs["last_action_error"])
    envs.close()
    if pid not in before:  # no other user (e.g. the module's holder) keeps it alive
        assert not _alive(pid)
    assert set(browsers.owned_browsers()) <= before


def _in_own_thread(body: Any) -> None:
    """Run ``body`` in a fresh thread: it gets its own Playwright and browser (browsers are per thread),
    so no context another test left behind, queued or open, can change what it counts."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the test body hung"
    if errors:
        raise errors[0]


@pytest.mark.chromium
def test_an_env_dropped_without_close_releases_its_context() -> None:
    if NO_BROWSER:
        pytest.skip(NO_BROWSER)

    def body() -> None:
        holder = ChromiumBackend(ToySite())  # this thread's browser, owned by this test alone
        holder.restart("/")
        shared = browsers._manager().browsers[holder.browser_kind]
        assert shared.users == 1
        env = gym.make("rlft/WebFormLogin-v0", backend="chromium")
        env.reset(seed=0)
        backend = weakref.ref(env.unwrapped.backend)
        server = env.unwrapped.backend._server
        assert shared.users == 2
        del env
        # Playwright keeps the stack of its last call (our frames, which hold the env) until the next
        # call; one call from another backend and a collection free it. Bounded, not timed.
        for _ in range(3):
            holder.restart("/")
            gc.collect()
            if backend() is None:
                break
        assert backend() is None, "the dropped env was not collected"
        # The finalizer may have run inside Playwright's event loop: the context waits in a queue...
        assert shared.users == 2 and server.running
        browsers.drain()  # ...that the next acquire (a reset, a new env) or exit empties.
        assert shared.users == 1 and not server.running
        holder.close()
        assert holder.browser_kind not in browsers._manager().browsers

    _in_own_thread(body)


_USER_SCRIPT = textwrap.dedent(
    """
    import sys, gymnasium as gym, rlft
    env = gym.make("rlft/WebFormLogin-v0", backend="chromium")
    env.reset(seed=0)
    print(env.unwrapped.backend.browser_pid, flush=True)
    if sys.argv[1] == "context":
        with env:
            raise RuntimeError("user code failed")
    raise RuntimeError("user code failed, env never closed")
    """
)


@pytest.mark.chromium
@pytest.mark.parametrize("style", ["context", "unclosed"])
def test_exception_in_user_code_leaves_no_browser(style: str) -> None:
    if NO_BROWSER:
        pytest.skip(NO_BROWSER)
    done = subprocess.run(
        [sys.executable, "-c", _USER_SCRIPT, style], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1 and "user code failed" in done.stderr
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "no Chromium process outlives its owner"


@pytest.mark.chromium
def test_env_pickles_without_its_browser(shared_browser: Any) -> None:
    env = gym.make("rlft/WebFormLogin-v0", backend="chromium").unwrapped
    copy = None
    try:
        first, _ = env.reset(seed=3)
        env.step(env.expert_action())
        copy = pickle.loads(pickle.dumps(env))  # what a subprocess of an AsyncVectorEnv would receive
        assert copy.backend.failure == "" and copy.backend.browser_pid is None
        again, _ = copy.reset(seed=3)  # builds its own context and server
        assert again == first
        assert copy.backend.served_origin != env.backend.served_origin
    finally:
        env.close()
        if copy is not None:
            copy.close()
