"""The form tasks: draw a goal index, generate its episode, load it on the site, score, solve."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from rlft.envs.contract import SPLITS, check_split
from rlft.envs.web.commands import Stop, format_command
from rlft.envs.web.page import Page
from rlft.envs.web.sites.forms.site import Episode, FormsSite
from rlft.envs.web.task import Evaluation, Task, Trace, WebTask
from rlft.envs.web.tasks.forms import FAMILIES
from rlft.envs.web.tasks.forms.base import FormFamily
from rlft.errors import RlftError, check_int

GOALS: dict[str, int] = {"train": 8000, "validation": 1000, "test": 1000}
"""Goal indices per split: disjoint ranges of one index space; an index fixes the whole episode."""

_MAX_DRAWS = 1000


def load_family(key: str) -> FormFamily:
    """Instantiate the family registered under ``key``.

    Raises:
        UnknownNameError: with a did-you-mean and the list of families.
    """
    return FAMILIES.get(key if isinstance(key, str) else str(key))()


class FormTask(WebTask[FormsSite]):
    """MiniWoB-style form tasks, one family per task, served as plain HTML by a :class:`FormsSite`.

    Goals: each split owns a fixed range of goal indices (:data:`GOALS`); the episode for an index is
    generated from ``(content_seed, family, index)``, so the same index always gives the same page
    content and instruction, and ``reset`` only draws the index from the environment's RNG. Every goal
    belongs to exactly one split, by a hash of its family's :meth:`FormFamily.goal_key`, so the
    splits never share a goal.

    Args:
        family: the family key (see :data:`~rlft.envs.web.tasks.forms.FAMILIES`).
        content_seed: seeds the content of every goal; a different seed gives a different task set.
    """

    name = "forms"

    def __init__(self, family: str, content_seed: int = 0) -> None:
        self.family = load_family(family)
        self.family_key = family
        super().__init__(FormsSite(self.family, content_seed=content_seed))
        self._num_goals: dict[str, int] = {}

    @property
    def content_seed(self) -> int:
        """The site's content seed."""
        return self.site.content_seed

    # -- goals -------------------------------------------------------------------------------------
    def goal_range(self, split: str) -> range:
        """Return the goal indices of ``split``."""
        split = check_split(split)
        start = sum(GOALS[s] for s in SPLITS[: SPLITS.index(split)])
        return range(start, start + GOALS[split])

    def split_of(self, episode: Episode) -> str:
        """Return the split that owns ``episode``'s goal: a fixed hash of the family's goal key.

        The hash ignores the content seed, so a goal belongs to the same split whatever the seed.
        """
        bucket = zlib.crc32(self.family.goal_key(episode).encode("utf-8")) % 10
        return "train" if bucket < 8 else "validation" if bucket == 8 else "test"

    def episode_for(self, goal_index: int) -> Episode:
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
        self.site.load(goal_index, episode, self.family.initial_server(episode))
        return self.task()

    def task(self) -> Task:
        """Return the loaded episode's task."""
        episode = self.site.episode
        goal: dict[str, Any] = {
            "family": self.family_key,
            "goal_index": self.site.goal_index,
            **episode["goal"],
        }
        return Task(instruction=self.family.instruction(episode), start_url=self.family.start_url, goal=goal)

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

    # -- scoring and helping agents ----------------------------------------------------------------
    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """Score the server state; stopping before the task ends it with reward 0."""
        del task
        if not self.site.loaded:
            return Evaluation(reward=0.0, success=False, done=trace.stopped)
        evaluation = self.family.evaluate(self.site.episode, self.site.server)
        if trace.stopped and not evaluation.done:
            return Evaluation(0.0, False, True, {**evaluation.details, "stopped": True})
        return evaluation

    def candidates(self, task: Task, page: Page) -> list[str]:
        """Typed-text commands for ``page`` (see each family's ``texts``)."""
        if not self.site.loaded:
            return []
        return self.family.candidates(self.site.episode, self.site.server, task.instruction, page)

    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """Return the family's scripted solver; ``stop`` once the episode is over."""
        if not self.site.loaded or self.evaluate(task, trace).done:
            return format_command(Stop())
        return self.family.expert(self.site.episode, self.site.server, page)
