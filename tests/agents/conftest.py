"""Small environments that keep the rlft contract, for testing agents before/alongside the real envs.

They are real Gymnasium environments (seeded, typed spaces, privileged expert), only tiny: the agents'
code paths are exercised in milliseconds per episode.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from rlft.envs.text import clean_text, text_space

COLORS = ("red", "green", "blue", "yellow", "purple")


class ToyShopEnv(gym.Env):
    """Instruction names a colour; the agent must `open shop` and then `buy <colour>` (2 steps)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 2}

    def __init__(self, split: str = "train", render_mode: str | None = None) -> None:
        self.split = split
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {
                "instruction": text_space(100),
                "page": text_space(200),
                "admissible_commands": spaces.Sequence(text_space(40)),
                "last_action_error": text_space(100),
            }
        )
        self.action_space = text_space(40)
        self._target = COLORS[0]
        self._opened = False

    def _commands(self) -> tuple[str, ...]:
        return tuple(f"buy {c}" for c in COLORS) if self._opened else ("open shop", "wait")

    def _obs(self, error: str = "") -> dict[str, Any]:
        page = "shop: " + ", ".join(COLORS) if self._opened else "home page"
        return {
            "instruction": clean_text(f"buy the {self._target} item", 100),
            "page": clean_text(page, 200),
            "admissible_commands": self._commands(),
            "last_action_error": clean_text(error, 100),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        colors = COLORS[:3] if self.split == "train" else COLORS[3:]
        self._target = colors[int(self.np_random.integers(len(colors)))]
        self._opened = False
        self._steps = 0
        return self._obs(), {"success": False, "last_action_error": ""}

    def step(self, action: Any):
        self._steps += 1
        action = action if isinstance(action, str) else ""
        reward, terminated, error = 0.0, False, ""
        if action not in self._commands():
            error = f"unknown command {action[:20]!r}"
        elif action == "open shop":
            self._opened = True
        elif action.startswith("buy "):
            terminated = True
            reward = 1.0 if action == f"buy {self._target}" else 0.0
        truncated = not terminated and self._steps >= 6
        info = {"success": reward >= 1.0, "last_action_error": error}
        return self._obs(error), reward, terminated, truncated, info

    def expert_action(self) -> str:
        return f"buy {self._target}" if self._opened else "open shop"

    def render(self) -> str:
        return f"{self._obs()['page']}"


class ToyReachEnv(gym.Env):
    """Image + instruction; the 6-d action's first two numbers must point at the target (1 step)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, split: str = "train", render_mode: str | None = None) -> None:
        self.split = split
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {
                "instruction": text_space(100),
                "rgb": spaces.Box(0, 255, (16, 16, 3), np.uint8),
                "depth": spaces.Box(0.0, 1.0, (16, 16), np.float32),
                "last_action_error": text_space(100),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (6,), np.float32)
        self._target = np.zeros(2, np.float32)
        self._touch: np.ndarray | None = None

    def _obs(self) -> dict[str, Any]:
        rgb = np.zeros((16, 16, 3), np.uint8)
        i, j = ((self._target + 1) * 7.5).astype(int)
        rgb[i, j] = 255
        if self._touch is not None:
            ti, tj = ((np.clip(self._touch, -1, 1) + 1) * 7.5).astype(int)
            rgb[ti, tj, 1] = 200  # where the agent touched, so episode GIFs show the action
        return {
            "instruction": "touch the white pixel",
            "rgb": rgb,
            "depth": np.zeros((16, 16), np.float32),
            "last_action_error": "",
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._target = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self._touch = None
        return self._obs(), {"success": False}

    def step(self, action: Any):
        action = np.nan_to_num(np.asarray(action, dtype=np.float32).reshape(-1)[:6])
        self._touch = action[:2]
        dist = float(np.linalg.norm(action[:2] - self._target))
        reward = float(max(0.0, 1.0 - dist))
        return self._obs(), reward, True, False, {"success": dist < 0.1}

    def expert_action(self) -> np.ndarray:
        return np.concatenate([self._target, np.zeros(4, np.float32)]).astype(np.float32)

    def render(self) -> np.ndarray:
        return np.repeat(np.repeat(self._obs()["rgb"], 4, axis=0), 4, axis=1)


TOY_SHOP = "rlft-test/ToyShop-v0"
TOY_REACH = "rlft-test/ToyReach-v0"
for _id, _cls in ((TOY_SHOP, ToyShopEnv), (TOY_REACH, ToyReachEnv)):
    if _id not in gym.registry:
        gym.register(_id, entry_point=_cls, max_episode_steps=8)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_shop() -> str:
    """Id of the two-step text toy env (admissible commands, Text actions)."""
    return TOY_SHOP


@pytest.fixture(scope="session")
def toy_reach() -> str:
    """Id of the one-step image toy env (rgb + depth, Box(6) actions)."""
    return TOY_REACH
