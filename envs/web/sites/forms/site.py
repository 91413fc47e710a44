"""The Forms site: one WSGI app that serves whichever MiniWoB-style family it was built for."""

from __future__ import annotations

import copy
import importlib
import json
import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np
from rlft.envs.web.site import SPLITS, Evaluation, Page, Site, StartResponse, Task, Trace, WSGIEnviron
from rlft.envs.web.sites.forms.base import FormFamily, Request, Response
from rlft.envs.web.sites.forms.html import document, para
from rlft.errors import (
    ConfigError,
    RlftError,
    UnknownNameError,
    check_choice,
    check_int,
    unknown_name_message,
)

FAMILIES: dict[str, str] = {
    "login": "rlft.envs.web.sites.forms.login:LoginFamily",
    "contact": "rlft.envs.web.sites.forms.contact:ContactFamily",
    "dropdown": "rlft.envs.web.sites.forms.dropdown:DropdownFamily",
    "checkboxes": "rlft.envs.web.sites.forms.checkboxes:CheckboxesFamily",
    "date": "rlft.envs.web.sites.forms.date:DateFamily",
    "tabs": "rlft.envs.web.sites.forms.tabs:TabsFamily",
    "search": "rlft.envs.web.sites.forms.search:SearchFamily",
    "inbox": "rlft.envs.web.sites.forms.inbox:InboxFamily",
    "checkout": "rlft.envs.web.sites.forms.checkout:CheckoutFamily",
    "password": "rlft.envs.web.sites.forms.password:PasswordFamily",
    "table": "rlft.envs.web.sites.forms.table:TableFamily",
    "survey": "rlft.envs.web.sites.forms.survey:SurveyFamily",
    "menu": "rlft.envs.web.sites.forms.menu:MenuFamily",
    "flight": "rlft.envs.web.sites.forms.flight:FlightFamily",
}
"""Family key -> ``module:Class``; a family's module is imported only when the site is built."""

GOALS: dict[str, int] = {"train": 8000, "validation": 1000, "test": 1000}
"""Goal indices per split: disjoint ranges of one index space; an index fixes the whole episode."""

_MAX_DRAWS = 1000


def load_family(key: str) -> FormFamily:
    """Instantiate the family registered under ``key``.

    Raises:
        UnknownNameError: with a did-you-mean and the list of families.

    """
    if not isinstance(key, str) or key not in FAMILIES:
        raise UnknownNameError(unknown_name_message("form family", str(key), FAMILIES))
    module_name, class_name = FAMILIES[key].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


class FormsSite(Site):
    """MiniWoB-style form tasks served as plain HTML (no JavaScript), one family per site.

    Goals: each split owns a fixed range of goal indices (:data:`GOALS`); the episode for an index is
    generated from ``(content_seed, family, index)``, so the same index always gives the same page
    content and instruction, and ``reset`` only draws the index from the environment's RNG. Every goal
    belongs to exactly one split, by a hash of its family's :meth:`FormFamily.goal_key`, so the
    splits never share a goal.

    Args:
        family: the family key (see :data:`FAMILIES`).
        content_seed: seeds the content of every goal; a different seed gives a different task set.

    """

    name = "forms"

    def __init__(self, family: str, content_seed: int = 0) -> None:
        super().__init__(content_seed=check_int("content_seed", content_seed, minimum=0))
        self.family_key = family
        self.family = load_family(family)
        self._state: dict[str, Any] = {}
        self._num_goals: dict[str, int] = {}

    # -- serving -----------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request for the current episode."""
        if not self._state:
            response = Response(
                document(self.family.title, para("No task is loaded yet.")), "503 Service Unavailable"
            )
        else:
            request = Request.from_environ(environ)
            response = self.family.handle(request, self._state["episode"], self._state["server"])
        body = response.html.encode("utf-8")
        start_response(
            response.status,
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    # -- episodes ----------------------------------------------------------------------------------
    def goal_range(self, split: str) -> range:
        """Return the goal indices of ``split``."""
        check_choice("split", split, SPLITS)
        start = sum(GOALS[s] for s in SPLITS[: SPLITS.index(split)])
        return range(start, start + GOALS[split])

    def split_of(self, episode: dict[str, Any]) -> str:
        """Return the split that owns ``episode``'s goal: a fixed hash of the family's goal key.

        The hash ignores the content seed, so a goal belongs to the same split whatever the seed.
        """
        bucket = zlib.crc32(self.family.goal_key(episode).encode("utf-8")) % 10
        return "train" if bucket < 8 else "validation" if bucket == 8 else "test"

    def episode_for(self, goal_index: int) -> dict[str, Any]:
        """Generate the episode of ``goal_index`` (deterministic in content seed, family and index).

        Episodes are drawn until one whose goal belongs to the index's split comes up, so no goal of
        one split ever appears in another (about 1.25 draws for train, 10 for validation and test).
        """
        check_int("goal_index", goal_index, minimum=0, maximum=sum(GOALS.values()) - 1)
        split = next(s for s in SPLITS if goal_index in self.goal_range(s))
        family_code = zlib.crc32(self.family_key.encode("utf-8"))
        for attempt in range(_MAX_DRAWS):
            episode = self.family.generate(
                np.random.default_rng([self.content_seed, family_code, goal_index, attempt])
            )
            if self.split_of(episode) == split:
                return episode
        raise RlftError(f"form family {self.family_key!r} found no {split} goal in {_MAX_DRAWS} draws")

    def reset(self, rng: np.random.Generator, split: str) -> Task:
        """Draw a goal index from ``split`` with ``rng`` and load its episode."""
        goals = self.goal_range(split)
        return self.load_goal(goals[int(rng.integers(len(goals)))])

    def load_goal(self, goal_index: int) -> Task:
        """Start the episode of a specific goal index (tests and evaluation sweeps use this)."""
        episode = self.episode_for(goal_index)
        self._state = {
            "goal_index": goal_index,
            "episode": episode,
            "server": self.family.initial_server(episode),
        }
        return self.task()

    def task(self) -> Task:
        """Return the current episode's task."""
        if not self._state:
            raise ConfigError("FormsSite has no episode: call reset() first.")
        episode = self._state["episode"]
        goal = {"family": self.family_key, "goal_index": self._state["goal_index"], **episode["goal"]}
        return Task(instruction=self.family.instruction(episode), start_url=self.family.start_url, goal=goal)

    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """Score the server state; stopping before the task ends it with reward 0."""
        del task
        if not self._state:
            return Evaluation(reward=0.0, success=False, done=trace.stopped)
        evaluation = self.family.evaluate(self._state["episode"], self._state["server"])
        if trace.stopped and not evaluation.done:
            return Evaluation(0.0, False, True, {**evaluation.details, "stopped": True})
        return evaluation

    def get_state(self) -> dict[str, Any]:
        """All episode state (goal index, generated episode, server state) as JSON-able data."""
        return copy.deepcopy(self._state)

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`get_state`."""
        if state and not {"goal_index", "episode", "server"} <= set(state):
            raise ConfigError("FormsSite.set_state expects a dict returned by FormsSite.get_state().")
        # A JSON round trip both copies and proves the snapshot is plain data.
        self._state = json.loads(json.dumps(state))

    # -- helping agents ----------------------------------------------------------------------------
    def candidates(self, task: Task, page: Page) -> list[str]:
        """Typed-text commands for ``page`` (see each family's ``texts``)."""
        if not self._state:
            return []
        return self.family.candidates(self._state["episode"], self._state["server"], task.instruction, page)

    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """Return the family's scripted solver; ``stop`` once the episode is over."""
        if not self._state or self.evaluate(task, trace).done:
            return "stop"
        return self.family.expert(self._state["episode"], self._state["server"], page)

    def num_goals(self, split: str) -> int:
        """Return the number of distinct goals among the goal indices of ``split``.

        Families whose goals live in a small space (dates, for instance) repeat goals across
        indices. This generates every episode of the split once (a few seconds for ``train``) and
        caches the count.
        """
        if split not in self._num_goals:
            self._num_goals[split] = len(
                {self.family.goal_key(self.episode_for(i)) for i in self.goal_range(split)}
            )
        return self._num_goals[split]
