"""The web environment: one text browser over any local site, one command grammar for all of them."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from rlft.envs.contract import check_penalty, check_split, core_info, signature_kwargs
from rlft.envs.text import clean_text, text_space
from rlft.envs.web.backends import make_backend
from rlft.envs.web.backends.browser import BackendError
from rlft.envs.web.commands import (
    MAX_COMMAND_LENGTH,
    Answer,
    Back,
    Click,
    Command,
    CommandError,
    Find,
    Goto,
    Quote,
    Scroll,
    Search,
    Select,
    Stop,
    Type,
    format_command,
    parse_command,
)
from rlft.envs.web.describe import MAX_DESCRIPTION_LENGTH, Describer, View, clip, name_element
from rlft.envs.web.image import text_frame
from rlft.envs.web.page import Page
from rlft.envs.web.task import Evaluation, Task, Trace, WebTask
from rlft.envs.web.tasks import TASKS
from rlft.envs.web.viewport import (
    element_commands,
    find_line,
    navigation_commands,
    normalise,
    page_lines,
    scroll_target,
    viewport_text,
)
from rlft.errors import ConfigError, check_choice, check_int, unknown_kwarg_message

MAX_INSTRUCTION_LENGTH = 1024
MAX_URL_LENGTH = 1024
MAX_ERROR_LENGTH = 512
MAX_HISTORY_LENGTH = 4096
"""Length of the ``history`` observation; its oldest lines are dropped to fit."""
MAX_HISTORY_STEPS = 64
"""Largest ``history_length``."""
HISTORY_COMMAND_LENGTH = 160
"""A command, a URL and an error are each cut to this many characters in a ``history`` line."""

OBS_MODES: tuple[str, ...] = ("text", "text+screenshot")


class WebEnv(gym.Env[dict[str, Any], str]):
    """A text web browser on a local, generated website (``rlft/Web*-v0``).

    **Observation** (flat ``spaces.Dict``; every string is cleaned to the rlft charset):

    * ``instruction`` (``Text``, <= 1024): the goal in natural language.
    * ``url`` (``Text``, <= 1024): path and query of the current page on the site.
    * ``page`` (``Text``, <= ``viewport_chars``): ``viewport_lines`` lines of the rendered page starting at
      the scroll position; interactive elements appear as numbered tokens (``[3] link "Next >"``, see
      :mod:`rlft.envs.web.render`). When the page is longer than the viewport a last line says which
      lines are shown.
    * ``admissible_commands`` (``Sequence(Text(<= 1024))``, a tuple): the commands valid now: ``click``
      for every link, button, checkbox and radio, ``select`` for every other option of every combobox,
      the site's free-text candidates (search queries, typed text, answers), ``scroll`` when there is
      more to see, ``back`` when there is history, and ``stop``. It always holds a path to full reward.
      Any other well-formed command is accepted too.
    * ``admissible_descriptions`` (``Sequence(Text(<= 1024))``, a tuple of the same length and order as
      ``admissible_commands``): for each command, one line saying what it acts on and does: the
      element's role, name or label, value or state, and the text beside it on the page (the rest of
      its line, else ``(under "<the nearest line above without elements>")``). For example
      ``click[6]`` -> ``link "Acme slip-on canvas sneakers, purple" $35.99, rated 4.2 (31 reviews)``,
      ``select[4][m]`` -> ``combobox "Size" (now "-- choose --") option "m" (under ...)``,
      ``search[red shirt]`` -> ``search box "Search products": search for "red shirt"``,
      ``scroll[down]`` -> ``scroll down: lines 61-120 of 240``, ``back`` -> ``back to /search?q=red+shirt``,
      ``stop`` -> ``stop: end the episode here``. Never empty; the same under both backends. Built by
      :func:`rlft.envs.web.describe.describe_commands` (its module docstring lists every kind).
    * ``history`` (``Text``, <= 4096): the last ``history_length`` steps of the episode, oldest first,
      one line each: ``<step>. <command> -> <url after the step>``, or ``<step>. <command> -> error:
      <message>`` when the command failed (the command in its canonical form when it parsed; command,
      URL and message each cut to 160 characters). A ``click``, ``type`` or ``select`` of an element
      that was on the page also names it, as it was before the step: ``3. click[1] link "Tab 2" ->
      /?tab=1`` (role and name, the name cut to 60 characters), since an element number means nothing
      on the next page. ``""`` after ``reset`` (and always with ``history_length=0``). Steps sent after
      the episode ended are not recorded.
    * ``last_action_error`` (``Text``, <= 512): why the last command failed, ``""`` when it worked.

    **Action**: one command string (``Text``, <= 1024) in the grammar of :mod:`rlft.envs.web.commands`:
    ``click[N]``, ``type[N][text]``, ``select[N][option]``, ``search[query]``, ``scroll[up|down|top|bottom]``,
    ``find[text]``, ``goto[url]``, ``back``, ``quote[text]``, ``answer[text]``, ``stop``. Element numbers
    are page-wide (scrolling only changes which text is shown). A command that cannot be parsed or
    carried out (unknown element, a URL outside the site, ...) changes nothing, sets
    ``last_action_error`` and costs ``invalid_action_penalty``.

    **Reward**: sparse. The step that ends the episode (the task reports it done, e.g. a purchase or a
    submitted form, or the agent sends ``answer``/``stop``) earns the task's score in [0, 1]; every other
    step earns 0. A failed command additionally earns ``-invalid_action_penalty``.

    **Info** (after ``reset`` and every ``step``; :data:`rlft.envs.contract.CORE_INFO_KEYS` first):
    ``success`` (the task's verdict), ``is_success`` (the same, for Stable-Baselines3's ``Monitor`` and
    ``EvalCallback``), ``score`` (the current evaluation's reward in [0, 1], i.e. what the episode would
    earn if it ended now), ``last_action_error``, then ``evaluation`` (the score breakdown), ``steps``
    and, on the Chromium backend, ``blocked_requests`` (and ``backend_error`` after a crash).

    **Termination**: ``terminated`` when the site reports the episode done or after ``answer``/``stop``;
    ``truncated`` after ``max_steps`` steps (no reward). Stepping a finished episode is a no-op that
    reports an error until :meth:`reset`.

    **Search and branching**: :meth:`get_state` / :meth:`set_state` snapshot and restore the site's
    server-side state, the browser (history, field values, scroll position), the trace, the step
    count and the ``history`` observation exactly.

    **Composition**: the env is thin. A :class:`~rlft.envs.web.task.WebTask` (chosen by ``site=`` from
    :data:`rlft.envs.web.tasks.TASKS`) owns the goals, reward, candidates and expert and builds its
    :class:`~rlft.envs.web.site.Site`; a backend (:mod:`rlft.envs.web.backends`) browses that site.

    Args:
        site: site key (``shop``, ``qa``, ``forms``, ``miniwob``, ``browser``; see
            :data:`rlft.envs.web.tasks.TASKS`), or a
            :class:`~rlft.envs.web.task.WebTask` instance (then ``family`` and ``site_kwargs`` must be
            empty).
        family: task family, forwarded to tasks that have families (forms).
        backend: ``text`` (in-process, default) or ``chromium`` (headless Chromium through Playwright;
            see :mod:`rlft.envs.web.backends.chromium`); live-page sites (``miniwob``, ``browser``) run
            on ``live`` only (Chromium with the page's JavaScript and real input events; see
            :mod:`rlft.envs.web.backends.live`; their ``get_state`` raises ``ConfigError``). If a
            browser crashes or is killed, the step returns ``truncated=True`` with
            ``info["backend_error"]`` and the next ``reset`` starts a fresh one;
            ``info["blocked_requests"]`` counts the requests its network sandbox aborted.
        backend_options: keyword arguments of the backend class (chromium: ``executable_path``,
            ``viewport=(width, height)``, ``timeout_s``; live also ``quiet_ms``, ``settle_ms``).
        obs_mode: ``text`` (default), or ``text+screenshot`` to add ``screenshot``, the browser viewport as
            ``Box(0, 255, (height, width, 3), uint8)`` (needs a browser backend).
        split: goal split, one of :data:`rlft.envs.contract.SPLITS` (``train``, ``validation``, ``test``).
        max_steps: steps before truncation.
        invalid_action_penalty: subtracted from the reward of a failed command (in [0, 1]).
        viewport_lines: lines of page text shown at once.
        viewport_chars: maximum length of the ``page`` observation.
        render_mode: ``None``, ``ansi`` (:meth:`render` returns the page as text) or ``rgb_array``
            (:meth:`render` returns an RGB ``uint8`` frame: the browser's screenshot on the Chromium
            backend; on the text backend the instruction, URL, visible page text and last error drawn
            with a built-in bitmap font, so ``gymnasium.wrappers.RecordVideo`` works without a browser).
        content_seed: seed of the site's generated content (products, articles, ...).
        history_length: how many past steps the ``history`` observation shows (0 to 64).
        **site_kwargs: forwarded to the task's constructor (which builds the site).

    Raises:
        ConfigError: for an invalid kwarg (the message names the valid values).
        UnknownNameError: for an unknown ``site`` or ``family`` (listing the known ones).

    Version history: v0, first release (``admissible_descriptions``, ``history`` and
    ``history_length`` were added before it).

    """

    # Annotated like gym.Env's (an instance variable there): the type checker rejects a ClassVar override.
    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    @classmethod
    def declared_kwargs(cls, registered: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """The keyword arguments an id registered with ``registered`` accepts, and whether it takes others.

        Names map to annotations: the env's own, plus those of the task its ``site`` key names
        (``require_quote`` for ``qa``, ``num_products`` for ``shop``); open-ended when that task takes
        ``**kwargs``.
        :func:`rlft.envs.contract.declared_kwargs` calls this.
        """
        declared, _ = signature_kwargs(cls.__init__)
        site = registered.get("site")
        if not isinstance(site, str) or site not in TASKS:
            return declared, False
        task_kwargs, open_ended = signature_kwargs(TASKS.get(site).__init__)
        return declared | {k: v for k, v in task_kwargs.items() if k not in declared}, open_ended

    def __init__(
        self,
        site: str | WebTask,
        family: str | None = None,
        backend: str = "text",
        split: str = "train",
        max_steps: int = 50,
        invalid_action_penalty: float = 0.0,
        viewport_lines: int = 60,
        viewport_chars: int = 8000,
        render_mode: str | None = None,
        content_seed: int = 0,
        obs_mode: str = "text",
        backend_options: dict[str, Any] | None = None,
        history_length: int = 4,
        **site_kwargs: Any,
    ) -> None:
        self.split = check_split(split)
        self.max_steps = check_int("max_steps", max_steps, minimum=1, maximum=100_000)
        self.invalid_action_penalty = check_penalty(invalid_action_penalty)
        self.viewport_lines = check_int("viewport_lines", viewport_lines, minimum=5, maximum=100_000)
        self.viewport_chars = check_int("viewport_chars", viewport_chars, minimum=200, maximum=1_000_000)
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        check_int("content_seed", content_seed, minimum=0)
        self.history_length = check_int(
            "history_length", history_length, minimum=0, maximum=MAX_HISTORY_STEPS
        )
        if isinstance(site, WebTask):
            if family is not None or site_kwargs:
                raise ConfigError(
                    "Pass family and site arguments to the WebTask itself when site is a WebTask instance."
                )
            self.task: WebTask = site
        else:
            self.task = _make_task(site, family, dict(site_kwargs, content_seed=content_seed))
        self.site = self.task.site
        self.obs_mode = check_choice("obs_mode", obs_mode, OBS_MODES)
        supported = self.task.backends
        if supported is not None and backend not in supported:
            raise ConfigError(
                f"backend={backend!r} cannot run site={self.task.name!r}: use backend="
                + " or ".join(map(repr, supported))
                + "."
            )
        self.backend = make_backend(backend, self.site, **(backend_options or {}))
        if obs_mode != "text" and not self.backend.takes_screenshots:
            self.backend.close()
            raise ConfigError(
                f"obs_mode={obs_mode!r} needs screenshots, which backend={backend!r} cannot take: use "
                "backend='chromium' (without a browser: obs_mode='text')."
            )

        self.observation_space = spaces.Dict(
            {
                "instruction": text_space(MAX_INSTRUCTION_LENGTH),
                "url": text_space(MAX_URL_LENGTH),
                "page": text_space(self.viewport_chars),
                "admissible_commands": spaces.Sequence(text_space(MAX_COMMAND_LENGTH), stack=False),
                "admissible_descriptions": spaces.Sequence(text_space(MAX_DESCRIPTION_LENGTH), stack=False),
                "history": text_space(MAX_HISTORY_LENGTH),
                "last_action_error": text_space(MAX_ERROR_LENGTH),
            }
        )
        if self.obs_mode == "text+screenshot":
            width, height = self.backend.viewport
            self.observation_space["screenshot"] = spaces.Box(0, 255, (height, width, 3), np.uint8)
        self.action_space = text_space(MAX_COMMAND_LENGTH)

        self._episode: Task | None = None
        self._trace = Trace()
        self._steps = 0
        self._scroll = 0
        self._loads_seen = -1
        self._error = ""
        self._done = False
        self._evaluation = Evaluation(0.0, False, False)
        self._closed = False
        self._history: tuple[str, ...] = ()
        self._describer = Describer(_clean_description)
        self._admissible_cache: (
            tuple[Page, tuple[int, str | None], tuple[str, ...], tuple[str, ...]] | None
        ) = None

    # -- Gymnasium API --------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Sample a goal from the split and open its start page."""
        super().reset(seed=seed)
        self._episode = self.task.reset(self.np_random, self.split)
        self.backend.restart(self._episode.start_url)
        self._episode = self.task.started(self._episode, self.backend.page())
        self._trace = Trace(visited=(self.backend.page().url,))
        self._steps = 0
        self._scroll = 0
        self._loads_seen = self.backend.loads
        self._error = ""
        self._done = False
        self._history = ()
        self._admissible_cache = None
        self._evaluation = self.task.evaluate(self._episode, self._trace)
        return self.observation(), self._info()

    def step(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Carry out one command (see the class docstring for reward and termination)."""
        task = self._require_task()
        if self._done:
            self._error = "The episode is over: call reset() to start a new one."
            return self.observation(), 0.0, True, False, self._info()
        self._steps += 1
        self._error = ""
        command: Command | None = None
        target = ""
        try:
            command = parse_command(action)
            target = self._target(command)
            self._execute(command)
        except CommandError as error:
            self._error = str(error)
        except BackendError:
            pass  # the backend records the failure; the episode is truncated below
        if self.backend.loads != self._loads_seen:
            self._loads_seen = self.backend.loads
            self._scroll = 0
            self._trace = replace(self._trace, visited=(*self._trace.visited, self.backend.page().url))
        self._evaluation = self.task.evaluate(task, self._trace)
        terminated = self._evaluation.done or isinstance(command, (Answer, Stop))
        failed = bool(self.backend.failure)
        truncated = not terminated and (self._steps >= self.max_steps or failed)
        reward = float(self._evaluation.reward) if terminated else 0.0
        if self._error:
            reward -= self.invalid_action_penalty
        self._done = terminated or truncated
        self._record(action, command, target)
        return self.observation(), reward, terminated, truncated, self._info()

    def render(self) -> str | np.ndarray | None:
        """Render the current state for ``render_mode`` (``None`` before the first reset).

        ``ansi``: the URL, the visible page text and the last error. ``rgb_array``: the browser's
        screenshot on a browser backend, else that text drawn into an image of a fixed size.
        """
        if self.render_mode is None or self._episode is None:
            return None
        obs = self.observation()
        if self.render_mode == "rgb_array":
            if self.backend.takes_screenshots:
                return obs["screenshot"] if "screenshot" in obs else self._screenshot()
            return text_frame(
                obs["instruction"], obs["url"], obs["page"], obs["last_action_error"], self.viewport_lines
            )
        error = f"\n! {obs['last_action_error']}" if obs["last_action_error"] else ""
        return f"{obs['url']}\n{obs['page']}{error}\n"

    def close(self) -> None:
        """Release the backend (safe to call more than once)."""
        if not self._closed:
            self._closed = True
            self.backend.close()

    # -- agents' helpers ---------------------------------------------------------------------------------
    def expert_action(self) -> str:
        """Return the site's privileged solver's next command for the current state."""
        task = self._require_task()
        if self._done:
            return format_command(Stop())
        return self.task.expert_action(task, self.backend.page(), self._trace)

    def current_task(self) -> Task:
        """Return the current episode's goal (privileged: instruction, start URL and goal data)."""
        return self._require_task()

    def current_page(self) -> Page:
        """Return the whole rendered current page (the observation shows a viewport of it)."""
        return self.backend.page()

    def observation(self) -> dict[str, Any]:
        """Return the observation of the current state (what the last ``reset``/``step`` returned)."""
        task = self._require_task()
        page = self.backend.page()
        commands, descriptions = self._admissible(page)
        return {
            "instruction": clean_text(task.instruction, MAX_INSTRUCTION_LENGTH),
            "url": clean_text(page.url, MAX_URL_LENGTH),
            "page": clean_text(
                viewport_text(page_lines(page), self._scroll, self.viewport_lines), self.viewport_chars
            ),
            "admissible_commands": commands,
            "admissible_descriptions": descriptions,
            "history": self._history_text(),
            "last_action_error": clean_text(self._error, MAX_ERROR_LENGTH),
        } | ({"screenshot": self._screenshot()} if self.obs_mode == "text+screenshot" else {})

    def get_state(self) -> dict[str, Any]:
        """Return a deep, JSON-able snapshot of the episode: site, browser, trace, counters, RNG."""
        task = self._require_task()
        return copy.deepcopy(
            {
                "site": self.task.get_state(),
                "backend": self.backend.get_state(),
                "task": asdict(task),
                "trace": self._trace.to_dict(),
                "steps": self._steps,
                "scroll": self._scroll,
                "error": self._error,
                "done": self._done,
                "history": list(self._history),
                "rng": self.np_random.bit_generator.state,
            }
        )

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`get_state`; the next observation is identical to the saved one."""
        state = copy.deepcopy(state)
        self.task.set_state(state["site"])
        self.backend.set_state(state["backend"])
        self._episode = Task(**state["task"])
        self._trace = Trace.from_dict(state["trace"])
        self._steps = int(state["steps"])
        self._scroll = int(state["scroll"])
        self._error = str(state["error"])
        self._done = bool(state["done"])
        self._history = tuple(str(line) for line in state.get("history", ()))
        self.np_random.bit_generator.state = state["rng"]
        self._loads_seen = self.backend.loads
        self._admissible_cache = None
        self._evaluation = self.task.evaluate(self._episode, self._trace)

    # -- internals --------------------------------------------------------------------------------------
    def _require_task(self) -> Task:
        if self._episode is None:
            raise gym.error.ResetNeeded("Call reset() before using the environment.")
        return self._episode

    def _info(self) -> dict[str, Any]:
        status = self.backend.status_info()
        return core_info(
            success=self._evaluation.success,
            score=self._evaluation.reward,
            last_action_error=clean_text(self._error, MAX_ERROR_LENGTH),
            evaluation=dict(self._evaluation.details),
            steps=self._steps,
            **status,
        )

    def _execute(self, command: Command) -> None:
        backend = self.backend
        if isinstance(command, Click):
            backend.click(command.element)
        elif isinstance(command, Type):
            backend.type(command.element, command.text)
        elif isinstance(command, Select):
            backend.select(command.element, command.option)
        elif isinstance(command, Search):
            backend.search(command.query)
        elif isinstance(command, Goto):
            backend.goto(command.url)
        elif isinstance(command, Back):
            backend.back()
        elif isinstance(command, Scroll):
            self._scroll_to(command.direction)
        elif isinstance(command, Find):
            self._find(command.text)
        elif isinstance(command, Quote):
            self._quote(command.text)
        elif isinstance(command, Answer):
            self._trace = replace(self._trace, answer=command.text)
        elif isinstance(command, Stop):
            self._trace = replace(self._trace, stopped=True)

    def _screenshot(self) -> np.ndarray:
        # The image follows the text viewport: scrolled by the same fraction of the page.
        return self.backend.screenshot(self._scroll_fraction())

    def _scroll_to(self, direction: str) -> None:
        count = len(page_lines(self.backend.page()))
        self._scroll = scroll_target(count, self._scroll, self.viewport_lines, direction)
        self.backend.scroll_to(self._scroll_fraction())

    def _find(self, text: str) -> None:
        self._scroll = find_line(page_lines(self.backend.page()), self._scroll, text)
        self.backend.scroll_to(self._scroll_fraction())

    def _scroll_fraction(self) -> float:
        """How far down the page the text viewport is (0 top, 1 bottom)."""
        last = max(1, len(page_lines(self.backend.page())) - self.viewport_lines)
        return min(1.0, self._scroll / last)

    def _quote(self, text: str) -> None:
        page = self.backend.page()
        needle = normalise(text)
        if not needle or needle not in normalise(page.text):
            raise CommandError(f"Cannot quote {text[:100]!r}: that text is not on this page.")
        self._trace = replace(self._trace, quotes=(*self._trace.quotes, (page.url, " ".join(text.split()))))

    def _admissible(self, page: Page) -> tuple[tuple[str, ...], tuple[str, ...]]:
        task = self._require_task()
        # Candidates and descriptions cost a little; they only change with the page, scroll and history.
        previous = self.backend.previous_url
        key = (self._scroll, previous)
        cache = self._admissible_cache
        if cache is not None and cache[0] is page and cache[1] == key:
            return cache[2], cache[3]
        commands = element_commands(page) + self.task.candidates(task, page)
        commands += navigation_commands(
            len(page_lines(page)), self._scroll, self.viewport_lines, previous is not None
        )
        cleaned = tuple(dict.fromkeys(clean_text(c, MAX_COMMAND_LENGTH) for c in commands if c.strip()))
        view = View(page, self._scroll, self.viewport_lines, previous)
        descriptions = self._describer(cleaned, view)
        self._admissible_cache = (page, key, cleaned, descriptions)
        return cleaned, descriptions

    def _target(self, command: Command) -> str:
        """What an element command acts on, named before it runs (``link "Tab 2"``); ``""`` otherwise.

        A history line's element number only means something on the page it was taken on: ``click[1]``
        is "Tab 2" on one tab and "Tab 1" on the next, so the line names the element as well.
        """
        if not self.history_length or not isinstance(command, (Click, Type, Select)):
            return ""
        element = self.backend.page().element(command.element)
        return "" if element is None else name_element(element)

    def _record(self, action: object, command: Command | None, target: str = "") -> None:
        """Append the step just taken to the ``history`` observation's lines."""
        if not self.history_length:
            return
        if command is not None:
            text = format_command(command)
        else:
            text = action if isinstance(action, str) else f"<{type(action).__name__}>"
        failure = self._error or self.backend.failure
        if failure:
            result = "error: " + clip(failure, HISTORY_COMMAND_LENGTH)
        else:
            result = clip(self.backend.page().url, HISTORY_COMMAND_LENGTH)
        acted_on = f" {target}" if target else ""
        line = f"{self._steps}. {clip(text, HISTORY_COMMAND_LENGTH)}{acted_on} -> {result}"
        self._history = (*self._history, clean_text(line, MAX_HISTORY_LENGTH))[-self.history_length :]

    def _history_text(self) -> str:
        lines = list(self._history)
        # At most history_length lines; the oldest go first when even those are too long together.
        while lines and sum(map(len, lines)) + len(lines) - 1 > MAX_HISTORY_LENGTH:
            lines.pop(0)
        return "\n".join(lines)


def _clean_description(text: str) -> str:
    # Descriptions are single lines, nearly always printable ASCII: inside the charset and already NFC.
    if text.isascii() and text.isprintable():
        return text[:MAX_DESCRIPTION_LENGTH]
    return clean_text(text, MAX_DESCRIPTION_LENGTH)


def _make_task(key: str, family: str | None, kwargs: dict[str, Any]) -> WebTask:
    """Build the task registered as ``key`` (which builds its site) from the env's keyword arguments."""
    task_class = TASKS.get(key)
    if family is not None:
        kwargs["family"] = family
    accepted, open_ended = signature_kwargs(task_class.__init__)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown and not open_ended:
        own = [k for k in accepted if k not in ("content_seed", "family")]
        hint = f"site={key!r} also takes: {', '.join(own) or 'nothing'}."
        raise ConfigError(unknown_kwarg_message("WebEnv", unknown[0], accepted, hint))
    try:
        inspect.signature(task_class).bind(**kwargs)
    except TypeError as error:
        raise ConfigError(f"site={key!r} does not accept these arguments ({error}).") from error
    return task_class(**kwargs)
