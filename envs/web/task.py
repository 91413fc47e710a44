"""The task layer of the web family: goals, traces, scores, and the base class every web task implements.

A :class:`WebTask` is what an episode asks of the agent on one :class:`~rlft.envs.web.site.Site`: it
samples a goal from a split (:meth:`WebTask.reset`), scores the site's server-side state and the agent's
:class:`Trace` (:meth:`WebTask.evaluate`), proposes free-text command candidates and acts as a
privileged expert. The site only serves pages and keeps the server-side state (a cart, submitted forms,
an inbox); the task reads that state through the site's own accessors and never serves anything.

Splits are :data:`rlft.envs.contract.SPLITS` (``train`` / ``validation`` / ``test``), fixed, disjoint
and deterministic from the content seed.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from rlft.envs.contract import SPLITS
from rlft.envs.web.page import Page
from rlft.envs.web.site import Site, require_class_attributes

__all__ = ["SPLITS", "Evaluation", "Task", "Trace", "WebTask"]

SiteT = TypeVar("SiteT", bound=Site)


@dataclass(frozen=True)
class Task:
    """One episode's goal."""

    instruction: str
    """The natural-language goal shown in every observation."""
    start_url: str
    """Where the browser starts (path and query)."""
    goal: dict[str, Any]
    """Privileged, JSON-able goal data used by :meth:`WebTask.evaluate` and the expert."""


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (:meth:`from_dict` restores it exactly)."""
        return {
            "answer": self.answer,
            "stopped": self.stopped,
            "quotes": [list(pair) for pair in self.quotes],
            "visited": list(self.visited),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        """Rebuild a trace from :meth:`to_dict` data (lists become tuples again)."""
        return cls(
            answer=data["answer"],
            stopped=bool(data["stopped"]),
            quotes=tuple((str(url), str(text)) for url, text in data["quotes"]),
            visited=tuple(str(url) for url in data["visited"]),
        )


@dataclass(frozen=True)
class Evaluation:
    """The score of the current state."""

    reward: float
    """Partial credit in [0, 1] (final score once ``done``)."""
    success: bool
    done: bool
    """The episode ended (purchase made, answer given, form submitted)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Score breakdown, put in ``info["evaluation"]``."""


class WebTask(abc.ABC, Generic[SiteT]):
    """The tasks of one site: goals, reward, candidates and expert. Subclasses implement the abstract methods.

    A task owns its :attr:`site` (built in the subclass's constructor from the same keyword arguments a
    user passes to ``gym.make``) and is otherwise stateless: everything that changes during an episode
    lives on the site (server-side state) or in the :class:`Trace` the environment keeps.

    Args:
        site: the site whose pages the task's goals are about.
    """

    name: ClassVar[str]
    """Short key, the ``site=`` kwarg of the environment (``shop``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        require_class_attributes(cls, "WebTask", ("name",))

    def __init__(self, site: SiteT) -> None:
        self.site = site

    @abc.abstractmethod
    def reset(self, rng: np.random.Generator, split: str) -> Task:
        """Clear the site's server-side state and sample a goal of ``split`` with ``rng``."""

    @abc.abstractmethod
    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """Score the site's current server-side state and the agent's ``trace`` against ``task``."""

    @abc.abstractmethod
    def candidates(self, task: Task, page: Page) -> list[str]:
        """Free-text commands worth offering on ``page`` (search queries, typed text, answers, quotes).

        Built from the instruction and the page, never from privileged goal data beyond what a reader
        of the instruction could derive; together with the structural commands they must always
        contain at least one path to full reward. Format them with
        :func:`~rlft.envs.web.commands.format_command`.
        """

    @abc.abstractmethod
    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """Return the privileged solver's next command (formatted with ``format_command``)."""

    @abc.abstractmethod
    def num_goals(self, split: str) -> int:
        """How many distinct goals ``split`` holds (for documentation and tests)."""

    def get_state(self) -> dict[str, Any]:
        """All mutable episode state as JSON-able data: by default the site's server-side state."""
        return self.site.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state` data."""
        self.site.set_state(state)
