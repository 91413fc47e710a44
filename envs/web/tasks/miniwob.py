"""MiniWoB++ tasks on live pages: the instruction, reward and seeding are MiniWoB's own.

One :class:`MiniWoBTask` per ``rlft/MiniWoB-<task>-v0`` id, ``task`` being MiniWoB's own task name
(``click-button``). Each episode:

* **Seed**: a number drawn from the env's RNG, prefixed with the split (``train-1234``), is passed to
  MiniWoB's ``Math.seedrandom`` before ``core.startEpisodeReal()`` generates the instance, so the same
  ``reset(seed=...)`` gives the same instance, and the splits draw from disjoint seed strings.
* **Instruction**: the task's utterance (``core.getUtterance()``), read once the start page is shown.
* **Reward**: MiniWoB's raw reward (``WOB_RAW_REWARD_GLOBAL``, in [-1, 1], not discounted by time)
  mapped to [0, 1] as ``max(0, raw)``, earned when the page ends the episode (``WOB_DONE_GLOBAL``).
  ``info["success"]`` is ``raw == 1`` (full reward; some tasks give partial credit, and MiniWoB's own
  ``raw > 0`` would count those as successes). ``info["evaluation"]`` holds ``raw_reward`` and
  ``reason`` (MiniWoB's time-discounted ``WOB_REWARD_GLOBAL`` is not reported: it depends on the wall
  clock, so it would break determinism per seed).
* **Time limit**: MiniWoB's own episode timer (10 s by default in its Selenium env) is disabled unless
  ``time_limit_s`` is given; then the page ends the episode when it runs out (terminated, reward 0,
  reason ``timed out``). The env's ``max_steps`` truncates as for every web id.
* **Expert**: the scripted solvers of :mod:`rlft.envs.web.tasks.miniwob_experts` (MiniWoB ships none), in
  the agent's own commands, reading only the instruction and the rendered page.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from rlft.envs.contract import check_split
from rlft.envs.web.commands import Click, Type, format_command, parse_command
from rlft.envs.web.page import Page
from rlft.envs.web.sites.miniwob import MiniWoBSite, task_names
from rlft.envs.web.task import Evaluation, Task, Trace, WebTask
from rlft.envs.web.tasks.miniwob_experts import EXPERTS, ExpertError
from rlft.errors import ConfigError, UnknownNameError, check_float, unknown_name_message

__all__ = ["MiniWoBTask"]

_QUOTED = re.compile(r'"([^"]+)"')
SEED_SPACE = 2**31
"""Seeds are drawn from ``[0, SEED_SPACE)`` per split."""


class MiniWoBTask(WebTask[MiniWoBSite]):
    """One MiniWoB++ task (module docstring).

    Args:
        task: MiniWoB's task name (a page ``miniwob/html/miniwob/<task>.html`` of the package).
        time_limit_s: MiniWoB's episode timer in seconds; ``None`` (default) disables it.
        content_seed: unused (instances come from the episode seed); kept for the common signature.

    Raises:
        UnknownNameError: for a task the package does not have (with the closest names).
        ConfigError: for a bad ``time_limit_s``.
    """

    name = "miniwob"
    backends = ("live",)

    def __init__(self, task: str = "click-button", time_limit_s: float | None = None, content_seed: int = 0):
        known = task_names()
        if task not in known:
            raise UnknownNameError(unknown_name_message("MiniWoB++ task", str(task), known))
        self.task = task
        self.time_limit_ms = (
            None
            if time_limit_s is None
            else int(1000 * check_float("time_limit_s", time_limit_s, 0.1, 3600.0))
        )
        del content_seed
        super().__init__(MiniWoBSite())

    def reset(self, rng: np.random.Generator, split: str) -> Task:
        """Draw the episode's MiniWoB seed; the page generates the instance when it starts."""
        seed = f"{check_split(split)}-{int(rng.integers(SEED_SPACE))}"
        url = MiniWoBSite.start_url(self.task, seed, self.time_limit_ms)
        return Task(instruction="", start_url=url, goal={"task": self.task, "seed": seed})

    def started(self, task: Task, page: Page) -> Task:
        """Take the utterance the page generated as the instruction."""
        probe = self.site.live.probe
        utterance = str(probe.get("utterance", "")).strip() if isinstance(probe, dict) else ""
        if not utterance:
            raise ConfigError(
                f"MiniWoB++ task {self.task!r} showed no utterance: its page did not start "
                f"(probe {probe!r:.200})."
            )
        return Task(instruction=utterance, start_url=task.start_url, goal=task.goal)

    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """MiniWoB's raw reward, mapped to [0, 1], once the page reports the episode done (success: 1)."""
        probe = self.site.live.probe
        if not isinstance(probe, dict):
            return Evaluation(0.0, False, False, {"raw_reward": 0.0, "reason": None})
        done = bool(probe.get("done"))
        raw = float(probe.get("raw_reward") or 0.0) if done else 0.0
        # MiniWoB's time-discounted WOB_REWARD_GLOBAL is left out: it depends on the wall clock.
        details: dict[str, Any] = {"raw_reward": raw, "reason": probe.get("reason")}
        return Evaluation(min(1.0, max(0.0, raw)), done and raw >= 1.0, done, details)

    def candidates(self, task: Task, page: Page) -> list[str]:
        """Per text field: clicking it, typing each quoted phrase of the instruction; the expert's text."""
        fields = [e for e in page.elements if e.role in ("textbox", "searchbox") and not e.disabled]
        if not fields:
            return []
        phrases = list(dict.fromkeys(_QUOTED.findall(task.instruction)))
        # On a live page clicking a field does something (it focuses it: focus-text asks for just that).
        out = [format_command(Click(e.id)) for e in fields]
        out += [format_command(Type(e.id, p)) for e in fields for p in phrases]
        if self.task in EXPERTS:
            try:
                suggestion = self.expert_action(task, page, Trace())
            except ExpertError:  # a page the expert does not know: no suggestion
                return out
            if isinstance(parse_command(suggestion), Type):
                out.append(suggestion)
        return out

    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """The scripted solver's next command.

        Raises:
            ConfigError: for a task without a scripted expert (listing the ones that have one).
            ExpertError: when the page does not show what the expert expects (a variant it does not know).
        """
        expert = EXPERTS.get(self.task)
        if expert is None:
            raise ConfigError(
                f"MiniWoB++ task {self.task!r} has no scripted expert; "
                f"tasks with one: {', '.join(sorted(EXPERTS))}."
            )
        try:
            return expert(task.instruction, page)
        except ExpertError:
            raise
        except (IndexError, KeyError, ValueError, StopIteration, AttributeError) as error:
            raise ExpertError(
                f"The {self.task} expert cannot read this page ({type(error).__name__}: {error})."
            ) from error

    def num_goals(self, split: str) -> int:
        """Seeds per split (each generates one instance; different seeds may give the same one)."""
        check_split(split)
        return SEED_SPACE
