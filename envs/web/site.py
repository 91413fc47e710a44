"""The contract between a local website and the web environment.

A :class:`Site` is a WSGI application (so the in-process text backend and the Chromium backend serve
exactly the same bytes) plus the episode logic around it: sampling a goal from a split, scoring the
site's server-side state, proposing free-text command candidates, and a privileged expert.

Sites hold all their server-side state (cart, submitted forms, inbox, ...) in plain JSON-able data so
that :meth:`Site.get_state` / :meth:`Site.set_state` restore it exactly. Content (products, articles,
form contents) is generated from ``content_seed``; each episode samples its goal with the
environment's ``np_random`` only.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

StartResponse = Callable[..., Any]
WSGIEnviron = dict[str, Any]

SPLITS: tuple[str, ...] = ("train", "validation", "test")
"""Goal splits every site offers (fixed, disjoint, deterministic from the content seed)."""


@dataclass(frozen=True)
class Element:
    """One interactive element of a rendered page, numbered in document order."""

    id: int
    """The number shown in the page text and used by commands (``click[id]``)."""
    role: str
    """``link``, ``button``, ``textbox``, ``checkbox``, ``radio``, ``combobox`` (select), ``searchbox``..."""
    name: str
    """Accessible name: link text, button label, the field's label or placeholder."""
    value: str = ""
    """Current value (text fields, selected option) or state (``checked``/``unchecked``)."""
    options: tuple[str, ...] = ()
    """Option labels of a ``combobox``."""
    attrs: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """The raw HTML attributes (``href``, ``name``, ``type``, ...) the backend needs to act on it."""
    option_values: tuple[str, ...] = ()
    """The submitted ``value`` of each entry of :attr:`options` (same order)."""
    form: int = -1
    """Index into :attr:`Page.forms` of the form this element belongs to; ``-1`` when none."""
    disabled: bool = False
    """The element carries the HTML ``disabled`` attribute: commands on it are refused."""


@dataclass(frozen=True)
class Form:
    """A ``<form>`` of a rendered page: where and how it submits, and its hidden fields."""

    action: str
    """The ``action`` attribute as written (resolved against the page URL when submitted)."""
    method: str = "get"
    """``get`` or ``post`` (lower case)."""
    hidden: tuple[tuple[str, str], ...] = ()
    """``(name, value)`` of its ``<input type="hidden">`` fields, in document order."""


@dataclass(frozen=True)
class Page:
    """A page as the agent sees it: text with numbered elements, plus the element table."""

    url: str
    """Path and query on the site's own origin, e.g. ``/search?q=red+shirt``."""
    title: str
    text: str
    """The whole rendered text (the observation shows a viewport of it)."""
    elements: tuple[Element, ...]
    forms: tuple[Form, ...] = ()
    """The page's forms; :attr:`Element.form` indexes this tuple."""
    status: int = 200
    """The HTTP status the page was served with."""

    def element(self, element_id: int) -> Element | None:
        """Return the element numbered ``element_id`` (numbers start at 1), or ``None``."""
        if 1 <= element_id <= len(self.elements):
            return self.elements[element_id - 1]
        return None


@dataclass(frozen=True)
class Task:
    """One episode's goal."""

    instruction: str
    """The natural-language goal shown in every observation."""
    start_url: str
    """Where the browser starts (path and query)."""
    goal: dict[str, Any]
    """Privileged, JSON-able goal data used by :meth:`Site.evaluate` and the expert."""


@dataclass(frozen=True)
class Trace:
    """What the agent did that is not site state: its answer, quotes, visited pages."""

    answer: str | None = None
    """The text of the agent's ``answer[...]`` command, once given."""
    stopped: bool = False
    """The agent issued ``stop``."""
    quotes: tuple[tuple[str, str], ...] = ()
    """``(url, quoted text)`` pairs the agent collected with ``quote[...]``."""
    visited: tuple[str, ...] = ()
    """URLs visited, in order."""


@dataclass(frozen=True)
class Evaluation:
    """The score of the current state."""

    reward: float
    """Partial credit in [0, 1] (final score once ``done``)."""
    success: bool
    done: bool
    """The episode ended (purchase made, answer given, form submitted)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Score breakdown, put in ``info``."""


class Site(abc.ABC):
    """A local website with tasks. Subclasses set :attr:`name` and implement the abstract methods."""

    name: ClassVar[str]
    """Short key, e.g. ``shop``."""

    def __init__(self, content_seed: int = 0) -> None:
        self.content_seed = content_seed

    # -- serving -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one HTTP request (WSGI). HTML only refers to this site's own origin."""

    # -- episodes ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def reset(self, rng: np.random.Generator, split: str) -> Task:
        """Clear server-side state and sample a goal from ``split`` (one of :data:`SPLITS`)."""

    @abc.abstractmethod
    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """Score the current server-side state and the agent's trace against ``task``."""

    @abc.abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Return all mutable server-side state as JSON-able data."""

    @abc.abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Restore state returned by :meth:`get_state`."""

    # -- helping agents ----------------------------------------------------------------------------
    @abc.abstractmethod
    def candidates(self, task: Task, page: Page) -> list[str]:
        """Free-text commands worth offering on ``page`` (search queries, typed text, answers, quotes).

        Built from the instruction and the page, never from privileged goal data beyond what a
        reader of the instruction could derive; together with the structural commands they must
        always contain at least one path to full reward.
        """

    @abc.abstractmethod
    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """Return the privileged solver's next command (in the agent's command grammar)."""

    @abc.abstractmethod
    def num_goals(self, split: str) -> int:
        """How many distinct goals ``split`` holds (for documentation and tests)."""
