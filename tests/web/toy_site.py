"""A tiny site exercising every form control, redirects and external links, and its task (for web tests)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from rlft.envs.web.commands import Click, Goto, Type, format_command
from rlft.envs.web.page import Page
from rlft.envs.web.site import Site
from rlft.envs.web.task import Evaluation, Task, Trace, WebTask

HOME = """<html><head><title>Toy</title></head><body>
<form action="/echo?dropped=1" method="get">
  <label for="q">Query</label><input id="q" name="q" value="start" maxlength="10">
  <label><input type="checkbox" name="gift" value="yes"> Gift</label>
  <input type="radio" name="size" value="s" aria-label="Small" checked>
  <input type="radio" name="size" value="m" aria-label="Medium">
  <select name="color" aria-label="Color"><option value="r">Red</option>
  <option value="b">Blue</option></select>
  <textarea name="note" aria-label="Note"></textarea>
  <input type="hidden" name="token" value="abc">
  <input name="off" value="x" disabled aria-label="Off">
  <button type="submit" name="go" value="1">Go</button>
  <button type="reset">Reset</button>
  <button type="button">Nothing</button>
</form>
<p><a href="http://evil.example/">Evil</a> <a href="javascript:alert(1)">JS</a> <a href="file:///etc/passwd">File</a>
<a href="/redirect-out">Out</a> <a href="/post">Post</a> <a href="/loop">Loop</a>
<a href="echo?rel=1#frag">Rel</a>
<a href="//evil.example/x">Proto-relative</a> <a href="http://toy.rlft.localhost:8080/">Other port</a></p>
<form action="/search" method="get"><input type="search" name="q" aria-label="Find"></form>
</body></html>"""

POST_PAGE = """<html><body><form action="/submit" method="post"><input name="name" aria-label="Name">
<button>Send</button></form></body></html>"""


class ToySite(Site):
    """A tiny site exercising every form control, redirects and external links."""

    name = "toy"

    def __init__(self, content_seed: int = 0) -> None:
        super().__init__(content_seed)
        self.submitted: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path == "/":
            body = HOME
        elif path in ("/echo", "/search"):
            pairs = parse_qsl(environ["QUERY_STRING"], keep_blank_values=True)
            body = (
                "<html><body><h1>Echo</h1>" + "".join(f"<p>{k}={v}</p>" for k, v in pairs) + "</body></html>"
            )
        elif path == "/post":
            body = POST_PAGE
        elif path == "/submit" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self.submitted = dict(parse_qsl(environ["wsgi.input"].read(length).decode()))["name"]
            start_response("303 See Other", [("Location", "/thanks")])
            return [b""]
        elif path == "/thanks":
            body = f"<html><body><p>Thanks {self.submitted}</p></body></html>"
        elif path == "/redirect-out":
            start_response("302 Found", [("Location", "http://evil.example/steal")])
            return [b""]
        elif path == "/crash":
            raise RuntimeError("a bug in the site")
        elif path == "/loop":
            start_response("302 Found", [("Location", "/loop")])
            return [b""]
        else:
            start_response("404 Not Found", [("Content-Type", "text/html")])
            return [b"<html><body><h1>Not found</h1></body></html>"]
        start_response("200 OK", [("Content-Type", "text/html")])
        return [body.encode()]

    def get_state(self) -> dict[str, Any]:
        return {"submitted": self.submitted}

    def set_state(self, state: dict[str, Any]) -> None:
        self.submitted = state["submitted"]


class ToyTask(WebTask[ToySite]):
    """Send the form on ``/post`` with the name Ada."""

    name = "toy"

    def __init__(self, site: ToySite | None = None) -> None:
        super().__init__(site if site is not None else ToySite())

    def reset(self, rng: np.random.Generator, split: str) -> Task:
        self.site.submitted = None
        return Task(instruction="Send the form with your name.", start_url="/", goal={"name": "Ada"})

    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        if self.site.submitted is None:
            return Evaluation(0.0, False, trace.stopped)
        ok = self.site.submitted == task.goal["name"]
        return Evaluation(float(ok), ok, True, {"submitted": self.site.submitted})

    def candidates(self, task: Task, page: Page) -> list[str]:
        box = next((e for e in page.elements if e.name == "Name"), None)
        return [format_command(Type(box.id, "Ada"))] if box is not None else []

    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        if page.url == "/":
            return format_command(Goto("/post"))
        box = next(e for e in page.elements if e.name == "Name")
        if box.value != "Ada":
            return format_command(Type(box.id, "Ada"))
        return format_command(Click(next(e.id for e in page.elements if e.name == "Send")))

    def num_goals(self, split: str) -> int:
        return 1
