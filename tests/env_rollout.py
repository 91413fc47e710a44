"""Seeded rollouts reduced to a digest, runnable in-process or as a script in another process.

``python tests/env_rollout.py ENV_ID SEED STEPS`` prints the digest of the same rollout that
:func:`rollout_digest` computes, so a test can compare two processes.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
from rlft.agents.config import update_digest

MINIWOB_CONTRACT_TASKS = ("click-button", "enter-text", "choose-list", "email-inbox-delete")
"""The MiniWoB++ ids the full contract runs on (a click, typing, a select, clickable containers); every
registered MiniWoB++ id gets the cheap reset/render/step smoke of ``tests/web/test_miniwob.py``."""


def contract_ids() -> list[str]:
    """Every registered id, MiniWoB++ ones only for :data:`MINIWOB_CONTRACT_TASKS` (CI time stays bounded)."""
    import rlft

    ids = [i for i in rlft.ENV_IDS if not i.startswith("rlft/MiniWoB-")]
    return ids + [f"rlft/MiniWoB-{task}-v0" for task in MINIWOB_CONTRACT_TASKS]


def served_web_ids() -> list[str]:
    """The web ids on served sites (snapshot-able, any backend): all but the live-page ids."""
    import rlft

    return [
        i for i in rlft.ENV_IDS if i.startswith("rlft/Web") and gym.spec(i).kwargs.get("backend") != "live"
    ]


def hold_browser() -> Iterator[None]:
    """While the generator is suspended, one live-backend page keeps this thread's Chromium open.

    Backends share a thread's browser and the last one to close closes it; a test module that makes many
    live-page envs holds one open so each env only opens a context. Without Chromium it holds nothing.
    """
    from rlft.envs.web.backends.browser import find_chromium
    from rlft.envs.web.backends.live import LiveBackend
    from rlft.envs.web.sites.live import AppSite
    from rlft.envs.web.sites.notes import notes_app
    from rlft.errors import DependencyError

    try:
        find_chromium()
    except DependencyError:
        yield
        return
    holder = LiveBackend(AppSite(notes_app))
    holder.restart("/")
    try:
        yield
    finally:
        holder.close()


def choose_action(env: gym.Env, obs: dict, rng: np.random.Generator, step: int) -> Any:
    """Every third step the expert's action, otherwise an admissible command or a space sample."""
    if step % 3 == 2:
        return env.unwrapped.expert_action()
    commands = obs.get("admissible_commands")
    if commands:
        return commands[int(rng.integers(len(commands)))]
    return env.action_space.sample()


def rollout_digest(env_id: str, seed: int, steps: int, **kwargs: Any) -> str:
    """Run ``steps`` seeded steps of ``env_id`` (resetting on episode end) and hash everything seen.

    Every observation key is hashed (web: the admissible commands, their descriptions and the history
    too); ``kwargs`` go to ``gym.make``.
    """
    import rlft  # noqa: F401  (registers the ids)

    h = hashlib.sha256()
    env = gym.make(env_id, **kwargs)
    try:
        env.action_space.seed(seed)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        update_digest(h, obs)
        for step in range(steps):
            obs, reward, terminated, truncated, _ = env.step(choose_action(env, obs, rng, step))
            update_digest(h, (obs, float(reward), bool(terminated), bool(truncated)))
            if terminated or truncated:
                obs, _ = env.reset()
                update_digest(h, obs)
    finally:
        env.close()
    return h.hexdigest()


if __name__ == "__main__":
    print(rollout_digest(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
