"""The small base class every form family implements, plus request parsing and page helpers.

A family is one kind of MiniWoB-style task (log in, fill a form, pick a date, ...). It

* generates an *episode* (page content and goal, JSON-able) from a dedicated generator, so a goal index
  always yields the same episode;
* serves requests (:meth:`FormFamily.handle`), keeping everything mutable in a JSON-able ``server``
  dict held by :class:`~rlft.envs.web.sites.forms.site.FormsSite` (so snapshots are exact);
* scores the final state with named checks (partial credit is the fraction that hold);
* proposes typed-text candidates a reader can derive from the instruction and the pages seen;
* and acts as a privileged expert through the same command grammar as the agent.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from rlft.envs.web.commands import Click, Goto, Select, Type, format_command
from rlft.envs.web.page import Element, Page
from rlft.envs.web.site import require_class_attributes
from rlft.envs.web.sites.forms import html
from rlft.envs.web.sites.forms.site import Episode, Request, Response, Server
from rlft.envs.web.task import Evaluation
from rlft.errors import ConfigError

TEXT_ROLES = frozenset({"textbox", "searchbox"})
"""Element roles that accept ``type[n][text]``."""


def not_found(title: str = "Page not found") -> Response:
    """Return the answer for unknown paths (agents may ``goto`` any URL of the site)."""
    body = (html.para("There is nothing here."), html.link("/", "Back to start"))
    return Response(html.document(title, *body), "404 Not Found")


# -- page helpers used by experts and candidate generators ------------------------------------------
def find(page: Page, predicate: Callable[[Element], bool]) -> Element | None:
    """Return the first element of ``page`` satisfying ``predicate``."""
    return next((element for element in page.elements if predicate(element)), None)


def by_name(page: Page, name: str, value: str | None = None) -> Element | None:
    """Return the element whose HTML ``name`` attribute is ``name`` (and ``value`` attribute, if given)."""
    return find(
        page,
        lambda e: e.attrs.get("name") == name and (value is None or e.attrs.get("value") == value),
    )


def by_href(page: Page, href: str) -> Element | None:
    """Return the link pointing at ``href``."""
    return find(page, lambda e: e.role == "link" and e.attrs.get("href") == href)


def by_label(page: Page, role: str, name: str) -> Element | None:
    """Return the element of ``role`` whose accessible name is ``name``."""
    return find(page, lambda e: e.role == role and e.name == name)


def is_checked(element: Element) -> bool:
    """Whether a checkbox or radio element is currently ticked."""
    return element.value == "checked"


def click(element: Element) -> str:
    """Return the ``click`` command for ``element``."""
    return format_command(Click(element.id))


def type_text(element: Element, text: str) -> str:
    """Return the ``type`` command writing ``text`` into ``element``."""
    return format_command(Type(element.id, text))


def choose(element: Element, option: str) -> str:
    """Return the ``select`` command picking ``option`` in a combobox."""
    return format_command(Select(element.id, option))


@dataclass(frozen=True)
class Want:
    """One field the expert wants in a given state.

    ``kind`` is ``text`` (type ``value``), ``select`` (choose option ``value``), ``check`` (the checkbox
    ``name``/``value`` ticked when ``on``, else unticked) or ``radio`` (pick the radio ``name``/``value``).
    """

    kind: str
    name: str
    value: str
    on: bool = True


def next_fill(page: Page, wants: Iterable[Want]) -> str | None:
    """Return the command fixing the first field of ``page`` that is not as wanted (``None`` when all are).

    Fields missing from the page are skipped, so one plan serves every step of a multi-page form.
    """
    for want in wants:
        if want.kind in ("check", "radio"):
            element = by_name(page, want.name, want.value)
            if element is not None and is_checked(element) != want.on:
                return click(element)
            continue
        element = by_name(page, want.name)
        if element is None or element.value == want.value:
            continue
        return type_text(element, want.value) if want.kind == "text" else choose(element, want.value)
    return None


def submit_button(page: Page, label: str) -> str:
    """Return the command pressing the button labelled ``label``; :func:`home` if it is not here."""
    element = by_label(page, "button", label)
    return click(element) if element is not None else home(page)


def click_or_home(page: Page, element: Element | None) -> str:
    """Return ``click`` on ``element`` when it exists, else :func:`home`."""
    return click(element) if element is not None else home(page)


def home(page: Page) -> str:
    """Return the command that goes back to the start page ``/``.

    The expert only needs it after someone else (a learner, under DAgger) wandered off its path:
    it clicks a link to ``/`` when the page has one, so the command is admissible, else ``goto[/]``.
    """
    link = by_href(page, "/")
    return click(link) if link is not None else format_command(Goto("/"))


QUOTED = re.compile(r"\"([^\"]+)\"")


def quoted(text: str) -> list[str]:
    """Return the double-quoted spans of ``text``, in order, without duplicates."""
    return list(dict.fromkeys(QUOTED.findall(text)))


def scored(checks: Mapping[str, bool], done: bool, **details: Any) -> Evaluation:
    """Return an evaluation whose reward is the fraction of ``checks`` that hold (0 until ``done``)."""
    fraction = sum(checks.values()) / len(checks) if checks else 0.0
    reward = fraction if done else 0.0
    return Evaluation(
        reward=float(reward),
        success=bool(done and fraction == 1.0),
        done=done,
        details={"checks": dict(checks), **details},
    )


def sent_value(sent: Request | None, name: str, default: str = "") -> str:
    """Return the value of ``name`` in a rejected submission (for echoing), else ``default``."""
    return sent.arg(name, default) if sent is not None else default


class FormFamily(abc.ABC):
    """One task family of the Forms site. Subclasses are stateless; all state lives in ``server``."""

    key: ClassVar[str]
    """Family key (``login``), the ``family=`` kwarg of the env."""
    title: ClassVar[str]
    """Site title shown on every page."""
    reward_doc: ClassVar[str]
    """One line describing the reward (documentation)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        require_class_attributes(cls, "Form family", ("key", "title", "reward_doc"))

    start_url: ClassVar[str] = "/"

    answer_in_page: ClassVar[bool] = False
    """Whether the answer depends on the generated page content (a table, a directory, an inbox).

    Goals are assigned to splits by :meth:`goal_key`: the goal alone by default, so one request (say,
    a date) never shows up in two splits; the whole episode when the answer lies in the page, where
    the same words of instruction over a different page are a different task.
    """

    @abc.abstractmethod
    def generate(self, rng: np.random.Generator) -> Episode:
        """Generate one episode's content and goal (``episode["goal"]``) from ``rng``."""

    @abc.abstractmethod
    def instruction(self, episode: Episode) -> str:
        """Return the natural-language goal."""

    def goal_key(self, episode: Episode) -> str:
        """Return what identifies the goal, for the split assignment (see :attr:`answer_in_page`)."""
        return json.dumps(episode if self.answer_in_page else episode["goal"], sort_keys=True)

    def initial_server(self, episode: Episode) -> Server:
        """Mutable server state at the start of an episode."""
        del episode
        return {"submitted": None}

    @abc.abstractmethod
    def handle(self, request: Request, episode: Episode, server: Server) -> Response:
        """Serve one request, updating ``server`` in place."""

    @abc.abstractmethod
    def evaluate(self, episode: Episode, server: Server) -> Evaluation:
        """Score the current server state."""

    def texts(self, episode: Episode, server: Server, instruction: str, page: Page) -> list[str]:
        """Strings worth typing: by default the quoted spans of the instruction.

        Families override this to add what a reader derives from the instruction and from the pages
        the agent has been shown (``server`` records those); never hidden goal data.
        """
        del episode, server, page
        return quoted(instruction)

    def candidates(self, episode: Episode, server: Server, instruction: str, page: Page) -> list[str]:
        """``type[n][text]`` for every text field of ``page`` and every string of :meth:`texts`."""
        fields = [element for element in page.elements if element.role in TEXT_ROLES]
        if not fields:
            return []
        texts = self.texts(episode, server, instruction, page)
        return [type_text(field, text) for field in fields for text in texts if field.value != text]

    @abc.abstractmethod
    def expert(self, episode: Episode, server: Server, page: Page) -> str:
        """Return the privileged solver's next command on ``page``."""


def pick(rng: np.random.Generator, items: Sequence[Any], k: int | None = None) -> Any:
    """One item (or ``k`` distinct items, as a list) drawn uniformly from ``items``."""
    if k is None:
        return items[int(rng.integers(len(items)))]
    if k > len(items):
        raise ConfigError(f"cannot draw {k} distinct items from {len(items)}")
    return [items[int(i)] for i in rng.choice(len(items), size=k, replace=False)]
