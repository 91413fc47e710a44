"""Your own site as an environment: ``rlft/WebBrowser-v0`` with a small task class.

A task on your site is a subclass of :class:`BrowserTask`: where to start, what to ask, how to score the
live page, and optionally an expert::

    class AddNote(BrowserTask):
        probe_js = "() => Array.from(document.querySelectorAll('li')).map(li => li.textContent)"

        def app(self):                          # or: allowed_origins = ("http://127.0.0.1:8000",)
            return my_wsgi_app

        def instruction(self, goal):
            return 'Add the note "buy milk".'

        def reward(self, goal, page):           # page: LiveState (url, title, text, probe)
            return float("buy milk" in (page.probe or []))

    env = gym.make("rlft/WebBrowser-v0", task=AddNote())        # or task="my_module:AddNote"

The env serves :meth:`BrowserTask.app` on ``127.0.0.1`` (or opens pages of the servers in
:attr:`BrowserTask.allowed_origins`), and browses it with the live backend
(:mod:`rlft.envs.web.backends.live`): the page's JavaScript runs, commands are real input events, and
nothing outside the allowed origins is reachable. After every step the page's :attr:`probe_js` result,
URL and rendered text reach :meth:`BrowserTask.reward`; the episode ends (terminated) when
:meth:`BrowserTask.done` says so (by default: reward 1). :class:`WebBrowserTask` adapts a
:class:`BrowserTask` to the env's :class:`~rlft.envs.web.task.WebTask` contract. The default task,
:class:`NotesTask`, runs on a small JavaScript notes app (:mod:`rlft.envs.web.sites.notes`).
"""

from __future__ import annotations

import abc
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import numpy as np
from rlft.envs.contract import check_split
from rlft.envs.web.commands import Click, Stop, Type, format_command
from rlft.envs.web.page import Page
from rlft.envs.web.render import CHECKED
from rlft.envs.web.sites.live import AppSite, LiveState
from rlft.envs.web.sites.notes import PROBE_JS, notes_app
from rlft.envs.web.task import Evaluation, Task, Trace, WebTask
from rlft.errors import ConfigError, import_target

__all__ = ["DEFAULT_TASK", "BrowserTask", "NotesTask", "WebBrowserTask", "load_task"]

DEFAULT_TASK = "rlft.envs.web.tasks.browser:NotesTask"
"""The task ``rlft/WebBrowser-v0`` runs without a ``task=`` kwarg."""


class BrowserTask(abc.ABC):
    """A task on your own site. Override :meth:`instruction` and :meth:`reward`; the rest is optional."""

    start_url: ClassVar[str] = "/"
    """Where episodes start (a path on the site, or an absolute URL on an allowed origin)."""
    allowed_origins: ClassVar[tuple[str, ...]] = ()
    """Origins of servers you run (``http://127.0.0.1:8000``); empty: rlft serves :meth:`app`."""
    probe_js: ClassVar[str] = "() => null"
    """A JavaScript function run on the page after every step; its JSON-able result is
    :attr:`LiveState.probe` (read the page's state here: a list, a score, a flag)."""

    def app(self) -> Any:
        """The WSGI application rlft serves on ``127.0.0.1``; ``None`` when :attr:`allowed_origins` is set."""
        return None

    def sample(self, rng: np.random.Generator, split: str) -> dict[str, Any]:
        """Draw an episode's goal (JSON-able) with ``rng`` from ``split``; by default one fixed goal."""
        del rng, split
        return {}

    def start(self, goal: dict[str, Any]) -> str:
        """The episode's start URL (may carry the start state in its query); default :attr:`start_url`."""
        del goal
        return self.start_url

    @abc.abstractmethod
    def instruction(self, goal: dict[str, Any]) -> str:
        """The natural-language goal shown to the agent."""

    @abc.abstractmethod
    def reward(self, goal: dict[str, Any], page: LiveState) -> float:
        """Score the live page (URL, text, probe) in [0, 1]."""

    def done(self, goal: dict[str, Any], page: LiveState) -> bool:
        """Whether the episode is over (terminated); by default when the reward reaches 1."""
        return self.reward(goal, page) >= 1.0

    def expert(self, goal: dict[str, Any], page: Page) -> str | None:
        """The next command of a privileged solver on the rendered ``page``; ``None``: no expert."""
        del goal, page
        return None

    def candidates(self, goal: dict[str, Any], page: Page) -> list[str]:
        """Free-text commands worth offering (typed text, answers), besides clicks and selects."""
        del goal, page
        return []


def load_task(task: str | BrowserTask | type[BrowserTask]) -> BrowserTask:
    """A :class:`BrowserTask` from an instance, a class, ``"package.module:Class"`` or ``"file.py:Class"``.

    Raises:
        ConfigError: when the reference is malformed or is not a :class:`BrowserTask`.
    """
    found: Any = task
    if isinstance(task, str):
        location, sep, attr = task.rpartition(":")
        if sep and location.endswith(".py"):
            path = Path(location).expanduser().resolve()
            if not path.is_file():
                raise ConfigError(f"task={task!r}: no file {str(path)!r}.")
            name = f"rlft_user_task_{abs(hash(str(path)))}"
            module = sys.modules.get(name)
            if module is None:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise ConfigError(f"task={task!r}: cannot load {str(path)!r} as a Python module.")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            if not hasattr(module, attr):
                raise ConfigError(f"task={task!r}: {str(path)!r} has no {attr!r}.")
            found = getattr(module, attr)
        else:
            found = import_target(task)
    if isinstance(found, type) and issubclass(found, BrowserTask):
        found = found()
    if not isinstance(found, BrowserTask):
        raise ConfigError(
            f"task={task!r} is not a BrowserTask (subclass rlft.envs.web.tasks.browser.BrowserTask)."
        )
    return found


class WebBrowserTask(WebTask[AppSite]):
    """The env-side adapter of a :class:`BrowserTask` (``site="browser"``).

    Args:
        task: the :class:`BrowserTask` (instance, class, ``"module:Class"`` or ``"file.py:Class"``).
        content_seed: unused (kept for the common signature).
    """

    name = "browser"
    backends = ("live",)

    def __init__(self, task: str | BrowserTask | type[BrowserTask] = DEFAULT_TASK, content_seed: int = 0):
        del content_seed
        self.user = load_task(task)
        app = self.user.app()
        origins = () if app is not None else self.user.allowed_origins
        super().__init__(AppSite(app, origins, self.user.probe_js))

    def reset(self, rng: np.random.Generator, split: str) -> Task:
        """Draw the user's goal; its instruction and start URL."""
        goal = self.user.sample(rng, check_split(split))
        return Task(self.user.instruction(goal), self.user.start(goal), goal)

    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """The user's reward on the live page, clipped to [0, 1]; success is a reward of 1."""
        page = self.site.live
        reward = min(1.0, max(0.0, float(self.user.reward(task.goal, page))))
        return Evaluation(reward, reward >= 1.0, bool(self.user.done(task.goal, page)), {"reward": reward})

    def candidates(self, task: Task, page: Page) -> list[str]:
        """The user's candidates, and the expert's typed text when there is an expert."""
        out = list(self.user.candidates(task.goal, page))
        suggestion = self.user.expert(task.goal, page)
        if suggestion is not None and suggestion.startswith("type["):
            out.append(suggestion)
        return out

    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """The user's expert.

        Raises:
            ConfigError: when the task has none.
        """
        command = self.user.expert(task.goal, page)
        if command is None:
            raise ConfigError(f"{type(self.user).__name__} has no expert: override BrowserTask.expert.")
        return command

    def num_goals(self, split: str) -> int:
        """Unknown for user tasks: reported as 1 unless the task says otherwise."""
        check_split(split)
        return int(getattr(self.user, "num_goals", 1))


# -- the default task: the notes app --------------------------------------------------------------------
_NOTES: dict[str, tuple[str, ...]] = {
    "train": ("buy milk", "call mom", "water the plants", "pay the rent", "walk the dog", "fix the bike",
              "book a dentist", "clean the kitchen", "send the invoice", "return the books"),
    "validation": ("renew the passport", "bake bread", "wash the car", "plan the trip"),
    "test": ("mow the lawn", "email the landlord", "buy stamps", "charge the drill"),
}  # fmt: skip
"""Note texts per split; the note to add is always one the split owns."""


class NotesTask(BrowserTask):
    """On the notes app: add a note, tick one as done, or remove one (one to three of these per goal).

    The start page holds three notes of the split; the goal asks to add a new one, mark an existing one
    as done and/or remove another. Reward: the fraction of the asked changes visible on the live page
    (and no other note changed); done when all are.
    """

    probe_js = PROBE_JS

    def app(self) -> Any:
        """The notes app (served by rlft on ``127.0.0.1``)."""
        return notes_app

    def sample(self, rng: np.random.Generator, split: str) -> dict[str, Any]:
        """Three start notes and one to three changes, drawn from the split's notes."""
        pool = list(_NOTES[split])
        picked = [pool[i] for i in rng.permutation(len(pool))[:4]]
        start, new = picked[:3], picked[3]
        kinds = [k for k in ("add", "done", "remove") if rng.random() < 0.6] or ["add"]
        goal: dict[str, Any] = {"start": start}
        if "add" in kinds:
            goal["add"] = new
        if "done" in kinds:
            goal["done"] = start[0]
        if "remove" in kinds:
            goal["remove"] = start[1]
        return goal

    def start(self, goal: dict[str, Any]) -> str:
        """The app with the start notes in its URL."""
        return "/?notes=" + quote("|".join(goal["start"]))

    def instruction(self, goal: dict[str, Any]) -> str:
        """The asked changes in one sentence.

        For example ``Add the note "buy milk", mark "call mom" as done and remove "pay the rent".``
        """
        parts = []
        if "add" in goal:
            parts.append(f'add the note "{goal["add"]}"')
        if "done" in goal:
            parts.append(f'mark "{goal["done"]}" as done')
        if "remove" in goal:
            parts.append(f'remove "{goal["remove"]}"')
        text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return text[0].upper() + text[1:] + "."

    def _wanted(self, goal: dict[str, Any]) -> dict[str, bool]:
        wanted = {text: False for text in goal["start"]}
        if "done" in goal:
            wanted[goal["done"]] = True
        if "remove" in goal:
            del wanted[goal["remove"]]
        if "add" in goal:
            wanted[goal["add"]] = False
        return wanted

    def reward(self, goal: dict[str, Any], page: LiveState) -> float:
        """Fraction of the asked changes made, 0 when any other note changed."""
        notes = {str(text): bool(done) for text, done in (page.probe or [])}
        untouched = {
            k: v for k, v in self._wanted(goal).items() if k not in (goal.get("add"), goal.get("done"))
        }
        if any(notes.get(text) != done for text, done in untouched.items()):
            return 0.0
        checks = []
        if "add" in goal:
            checks.append(goal["add"] in notes)
        if "done" in goal:
            checks.append(notes.get(goal["done"]) is True)
        if "remove" in goal:
            checks.append(goal["remove"] not in notes)
        return sum(checks) / len(checks)

    def expert(self, goal: dict[str, Any], page: Page) -> str | None:
        """Remove, tick, then type the new note and press Add."""
        elements = [e for e in page.elements if not e.disabled]
        if "remove" in goal:
            remove = next((e for e in elements if e.name == f"Remove {goal['remove']}"), None)
            if remove is not None:
                return format_command(Click(remove.id))
        if "done" in goal:
            box = next((e for e in elements if e.role == "checkbox" and e.name.strip() == goal["done"]), None)
            if box is not None and box.value != CHECKED:
                return format_command(Click(box.id))
        if "add" in goal and not any(
            e.role == "checkbox" and e.name.strip() == goal["add"] for e in elements
        ):
            field = next(e for e in elements if e.role == "textbox")
            if field.value != goal["add"]:
                return format_command(Type(field.id, goal["add"]))
            return format_command(Click(next(e for e in elements if e.name == "Add").id))
        return format_command(Stop())

    def candidates(self, goal: dict[str, Any], page: Page) -> list[str]:
        """Typing each quoted phrase of the instruction into the note field."""
        field = next((e for e in page.elements if e.role == "textbox"), None)
        if field is None:
            return []
        return [format_command(Type(field.id, p)) for p in re.findall(r'"([^"]+)"', self.instruction(goal))]
