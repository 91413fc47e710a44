"""MiniWoB++'s task pages, served from the ``miniwob`` package's own data files (no Selenium code).

The ``miniwob`` wheel holds the tasks as HTML + JavaScript under ``miniwob/html/`` (``core/``,
``common/``, ``miniwob/<task>.html``, ``flight/``). :class:`MiniWoBSite` serves that folder on
``127.0.0.1`` for the live backend and tells it how to start an episode and read its outcome:

* start (:attr:`MiniWoBSite.start_js`): ``Math.seedrandom(<seed from the URL>)`` (MiniWoB's own seeding,
  as its Selenium env does), the episode time limit from the URL (none by default), then
  ``core.startEpisodeReal()``, which generates the task instance;
* probe (:attr:`MiniWoBSite.probe_js`): MiniWoB's globals ``WOB_DONE_GLOBAL``, ``WOB_RAW_REWARD_GLOBAL``
  (raw reward in [-1, 1]), ``WOB_REWARD_REASON``, and the utterance (``core.getUtterance()``);
* MiniWoB's own overlays (the reward display, the START cover, the click canvas) and the ``#query`` box
  (the utterance, shown as the instruction) are not rendered.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
from pathlib import Path
from urllib.parse import urlencode

from rlft.envs.web.sites.live import StaticSite
from rlft.errors import DependencyError

__all__ = ["MiniWoBSite", "miniwob_html", "task_names"]

SEED_PARAM = "rlft_seed"
TIME_PARAM = "rlft_time_limit_ms"
NO_TIME_LIMIT_MS = 2_000_000_000
"""MiniWoB's episode timer, when disabled: about 23 days (``setTimeout`` delays stop at 2**31 - 1 ms)."""


def miniwob_html() -> Path:
    """The ``html`` folder of the installed ``miniwob`` package (found without importing it).

    Raises:
        DependencyError: when the package is not installed.
    """
    locations: list[Path] = []
    # The installed distribution's own files first: immune to a folder named "miniwob" on sys.path.
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        locations.append(Path(str(importlib.metadata.distribution("miniwob").locate_file("miniwob"))))
    spec = importlib.util.find_spec("miniwob")
    locations += [Path(p) for p in (spec.submodule_search_locations or [])] if spec is not None else []
    for location in locations:
        folder = location / "html"
        if (folder / "core" / "core.js").is_file():
            return folder
    raise DependencyError(
        "The MiniWoB++ environments serve the task files of the 'miniwob' package. "
        "Install it with: pip install 'rlft[web]'."
    )


def task_names() -> list[str]:
    """Every task page of the installed package (``miniwob/html/miniwob/<name>.html``), sorted."""
    return sorted(path.stem for path in (miniwob_html() / "miniwob").glob("*.html"))


class MiniWoBSite(StaticSite):
    """The ``miniwob`` package's ``html`` folder, with MiniWoB's start and reward hooks (module docstring)."""

    name = "miniwob"
    start_js = f"""() => {{
      const query = new URLSearchParams(location.search);
      Math.seedrandom(query.get('{SEED_PARAM}'));
      core.EPISODE_MAX_TIME = +(query.get('{TIME_PARAM}') || {NO_TIME_LIMIT_MS});
      core.startEpisodeReal();
    }}"""
    probe_js = """() => {
      if (typeof WOB_DONE_GLOBAL === 'undefined') return null;
      let utterance = '';
      try {
        const said = core.getUtterance();
        utterance = typeof said === 'object' && said !== null ? String(said.utterance) : String(said);
      } catch (error) { utterance = ''; }
      return {done: WOB_DONE_GLOBAL, raw_reward: WOB_RAW_REWARD_GLOBAL,
              reason: WOB_REWARD_REASON === null ? null : String(WOB_REWARD_REASON),
              utterance: utterance, ready: WOB_TASK_READY !== false};
    }"""
    hidden_selectors = ("#reward-display", "#sync-task-cover", "#click-canvas", "#query")
    viewport = (320, 420)

    def __init__(self) -> None:
        super().__init__(miniwob_html())

    @staticmethod
    def start_url(task: str, seed: str, time_limit_ms: int | None = None) -> str:
        """The URL of one episode of ``task``: its page, with the seed (and time limit) in the query."""
        query = {SEED_PARAM: seed} | ({TIME_PARAM: str(time_limit_ms)} if time_limit_ms else {})
        return f"/miniwob/{task}.html?{urlencode(query)}"
