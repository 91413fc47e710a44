"""The text backend: standard HTML form semantics over a WSGI app, history, and the URL sandbox."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from rlft.envs.web.backends import make_backend
from rlft.envs.web.backends.text import TextBackend
from rlft.envs.web.commands import CommandError
from rlft.errors import ConfigError, DependencyError

_spec = importlib.util.spec_from_file_location("toy_site", Path(__file__).with_name("toy_site.py"))
toy_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(toy_site)
ToySite = toy_site.ToySite


@pytest.fixture
def browser() -> TextBackend:
    backend = TextBackend(ToySite())
    backend.restart("/")
    return backend


def element_id(backend: TextBackend, name: str) -> int:
    return next(e.id for e in backend.page().elements if e.name == name)


def echoed(backend: TextBackend) -> list[str]:
    return [line for line in backend.page().text.split("\n") if "=" in line]


def test_get_form_submits_fields_in_document_order(browser: TextBackend) -> None:
    browser.type(element_id(browser, "Query"), "hello world, this is long")  # maxlength=10
    browser.click(element_id(browser, "Gift"))
    browser.click(element_id(browser, "Medium"))
    browser.select(element_id(browser, "Color"), "blue")  # case-insensitive label
    browser.type(element_id(browser, "Note"), "a [note]")
    browser.click(element_id(browser, "Go"))
    assert browser.page().url.startswith("/echo?token=abc&q=hello+worl")
    assert echoed(browser) == [
        "token=abc",
        "q=hello worl",
        "gift=yes",
        "size=m",
        "color=b",
        "note=a [note]",
        "go=1",
    ]


def test_checkbox_toggles_radio_is_exclusive_and_reset_restores(browser: TextBackend) -> None:
    gift, small, medium = (element_id(browser, n) for n in ("Gift", "Small", "Medium"))
    browser.click(gift)
    browser.click(gift)
    assert browser.page().element(gift).value == "unchecked"
    browser.click(medium)
    assert browser.page().element(small).value == "unchecked"
    assert browser.page().element(medium).value == "checked"
    browser.type(element_id(browser, "Query"), "changed")
    browser.click(element_id(browser, "Reset"))
    assert browser.page().element(element_id(browser, "Query")).value == "start"
    assert browser.page().element(small).value == "checked"
    browser.click(element_id(browser, "Nothing"))  # type="button" does nothing without JavaScript
    assert browser.page().url == "/"


def test_agent_mistakes_raise_command_error(browser: TextBackend) -> None:
    with pytest.raises(CommandError, match="No element"):
        browser.click(999)
    with pytest.raises(CommandError, match="disabled"):
        browser.type(element_id(browser, "Off"), "x")
    with pytest.raises(CommandError, match="not a text field"):
        browser.type(element_id(browser, "Gift"), "x")
    with pytest.raises(CommandError, match="no option"):
        browser.select(element_id(browser, "Color"), "green")
    with pytest.raises(CommandError, match="not a combobox"):
        browser.select(element_id(browser, "Query"), "x")
    with pytest.raises(CommandError, match="no previous page"):
        browser.back()
    with pytest.raises(CommandError, match="Too many redirects"):
        browser.click(element_id(browser, "Loop"))


@pytest.mark.parametrize("name", ["Evil", "JS", "File", "Out", "Proto-relative", "Other port"])
def test_sandbox_refuses_other_origins_and_schemes(browser: TextBackend, name: str) -> None:
    with pytest.raises(CommandError, match="only pages of this site"):
        browser.click(element_id(browser, name))
    assert browser.page().url == "/"


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/html,<p>x</p>",
        "ftp://toy/",
        "java\nscript:alert(1)",
        "https://toy.rlft.localhost/",
        "http://toy.rlft.localhost:99999/",
        "http://[::1",
        "\\\\evil.example\\x",
        "/\\evil.example",
    ],
)
def test_goto_sandbox(browser: TextBackend, url: str) -> None:
    with pytest.raises(CommandError, match="only pages of this site"):
        browser.goto(url)
    assert browser.page().url == "/"


def test_same_origin_is_compared_like_a_browser(browser: TextBackend) -> None:
    browser.goto("HTTP://TOY.RLFT.LOCALHOST:80/echo?x=1")
    assert browser.page().url == "/echo?x=1"
    browser.goto("/ech%6F?y=%C3%A9")  # the path reaches the app percent-decoded (PEP 3333)
    assert echoed(browser) == ["y=é"]


def test_relative_links_post_redirect_get_back_and_404(browser: TextBackend) -> None:
    browser.click(element_id(browser, "Rel"))
    assert browser.page().url == "/echo?rel=1"  # fragment dropped
    browser.back()
    browser.click(element_id(browser, "Post"))
    browser.type(element_id(browser, "Name"), "Ada")
    browser.click(element_id(browser, "Send"))
    assert browser.page().url == "/thanks"
    assert "Thanks Ada" in browser.page().text
    browser.back()
    # The back-forward cache returns the page as it was left.
    assert browser.page().element(element_id(browser, "Name")).value == "Ada"
    browser.goto("/missing")
    assert browser.page().status == 404


def test_a_crashing_site_serves_a_500_page(browser: TextBackend, caplog: pytest.LogCaptureFixture) -> None:
    browser.goto("/crash")
    assert browser.page().status == 500 and "Internal server error" in browser.page().text
    assert "a bug in the site" in caplog.text


def test_search_types_into_the_search_box_and_submits(browser: TextBackend) -> None:
    browser.search("blue shoes")
    assert browser.page().url == "/search?q=blue+shoes"
    with pytest.raises(CommandError, match="no search box"):
        browser.search("again")


def test_state_round_trip(browser: TextBackend) -> None:
    browser.type(element_id(browser, "Query"), "saved")
    browser.click(element_id(browser, "Rel"))
    state = browser.get_state()
    other = TextBackend(browser.site)
    other.set_state(state)
    assert other.page() == browser.page()
    other.back()
    assert other.page().element(element_id(other, "Query")).value == "saved"


def test_backend_selection() -> None:
    assert isinstance(make_backend("text", ToySite()), TextBackend)
    with pytest.raises(ConfigError, match="Did you mean 'text'"):
        make_backend("txt", ToySite())
    with pytest.raises(ConfigError, match="does not accept"):
        make_backend("text", ToySite(), viewport=(1, 2))


def test_chromium_without_playwright_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # what a missing package looks like
    with pytest.raises(DependencyError, match=r"rlft\[web\]"):
        make_backend("chromium", ToySite())


def test_the_text_backend_takes_no_screenshots() -> None:
    backend = TextBackend(ToySite())
    assert not backend.takes_screenshots and backend.failure == "" and backend.status_info() == {}
    with pytest.raises(ConfigError, match="backend='chromium'"):
        backend.screenshot()
