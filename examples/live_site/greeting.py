"""A worked example: your own small web app, a task on it, demonstrations and behaviour cloning.

The app (:func:`app`) is one page whose behaviour lives in JavaScript: type a name, pick a colour, press
"Make card" and the page draws a greeting card. The task (``GreetingTask``) asks for a card for a given
person in a given colour, scores the live page through a probe that reads the card, and ships an
expert. Use it from the command line (see README.md next to this file)::

    rlft collect rlft/WebBrowser-v0 --agent expert \
        --env-kwarg task=examples/live_site/greeting.py:GreetingTask --episodes 30 --out runs/greeting/demos
    rlft train bc --dataset runs/greeting/demos --backbone minilm --out runs/greeting/bc

or from Python: ``gym.make("rlft/WebBrowser-v0", task=GreetingTask())``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from rlft.envs.web.commands import Click, Select, Type, format_command
from rlft.envs.web.page import Page
from rlft.envs.web.sites.live import LiveState
from rlft.envs.web.tasks.browser import BrowserTask

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Greeting cards</title></head>
<body>
<h1>Greeting cards</h1>
<label for="name">Name</label> <input id="name">
<label for="colour">Colour</label>
<select id="colour">
<option>red</option><option>green</option><option>blue</option><option>gold</option>
</select>
<button id="make">Make card</button>
<div id="card"></div>
<script>
document.getElementById('make').addEventListener('click', () => {
  const name = document.getElementById('name').value.trim();
  const colour = document.getElementById('colour').value;
  const card = document.getElementById('card');
  card.textContent = name ? 'Dear ' + name + ', greetings!' : 'Please type a name first.';
  card.dataset.name = name;
  card.dataset.colour = colour;
  card.style.color = colour;
});
</script>
</body></html>
"""

NAMES = {
    "train": ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John"),
    "validation": ("Radia", "Ken"),
    "test": ("Margaret", "Dennis", "Shafi"),
}
COLOURS = ("red", "green", "blue", "gold")


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The app: one page at ``/``."""
    body = PAGE.encode()
    start_response(
        "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


class GreetingTask(BrowserTask):
    """Make a greeting card for a named person in a named colour."""

    probe_js = """() => {
      const card = document.getElementById('card');
      return card && card.dataset.name !== undefined ? [card.dataset.name, card.dataset.colour] : null;
    }"""

    def app(self) -> Any:
        """The app above, served by rlft on 127.0.0.1."""
        return app

    def sample(self, rng: np.random.Generator, split: str) -> dict[str, Any]:
        """A name of the split and a colour."""
        names = NAMES[split]
        return {
            "name": names[int(rng.integers(len(names)))],
            "colour": COLOURS[int(rng.integers(len(COLOURS)))],
        }

    def instruction(self, goal: dict[str, Any]) -> str:
        """What to make, for whom."""
        return f'Make a {goal["colour"]} greeting card for "{goal["name"]}".'

    def reward(self, goal: dict[str, Any], page: LiveState) -> float:
        """Half for the right name on the card, half for the right colour."""
        if not page.probe:
            return 0.0
        name, colour = page.probe
        return (0.5 * (name == goal["name"])) + (0.5 * (colour == goal["colour"]))

    def done(self, goal: dict[str, Any], page: LiveState) -> bool:
        """Over once a card was made, right or wrong."""
        return page.probe is not None and page.probe[0] != ""  # a card was made: right or wrong

    def expert(self, goal: dict[str, Any], page: Page) -> str | None:
        """Type the name, pick the colour, press the button."""
        field = next(e for e in page.elements if e.name == "Name")
        colour = next(e for e in page.elements if e.name == "Colour")
        if field.value != goal["name"]:
            return format_command(Type(field.id, goal["name"]))
        if colour.value != goal["colour"]:
            return format_command(Select(colour.id, goal["colour"]))
        return format_command(Click(next(e for e in page.elements if e.name == "Make card").id))

    def candidates(self, goal: dict[str, Any], page: Page) -> list[str]:
        """Typing the quoted name."""
        field = next((e for e in page.elements if e.name == "Name"), None)
        return [format_command(Type(field.id, goal["name"]))] if field is not None else []
