"""Fixtures for the policy tests: tiny backbones, synthetic and real env spaces."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import rlft
import torch
from gymnasium import spaces
from rlft.envs.text import text_space


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def web_spaces() -> tuple[spaces.Dict, spaces.Text]:
    obs = spaces.Dict(
        {
            "instruction": text_space(256),
            "url": text_space(256),
            "page": text_space(2048),
            "admissible_commands": spaces.Sequence(text_space(128)),
            "last_action_error": text_space(256),
        }
    )
    return obs, text_space(128)


@pytest.fixture
def tabletop_spaces() -> tuple[spaces.Dict, spaces.Box]:
    obs = spaces.Dict(
        {
            "instruction": text_space(256),
            "rgb": spaces.Box(0, 255, (48, 64, 3), np.uint8),
            "depth": spaces.Box(0.0, 2.5, (48, 64), np.float32),
            "last_action_error": text_space(256),
        }
    )
    return obs, spaces.Box(-1.0, 1.0, (6,), np.float32)


def web_obs(commands: tuple[str, ...], instruction: str = "buy a red cotton shirt") -> dict:
    return {
        "instruction": instruction,
        "url": "/search?q=shirt",
        "page": '# RLFT Shop\n[1] searchbox "Search" [2] button "Search"\n[3] link "Red cotton shirt" $12.00',
        "admissible_commands": commands,
        "last_action_error": "",
    }


def tabletop_obs(seed: int = 0, instruction: str = "put the red block in the green bowl") -> dict:
    rng = np.random.default_rng(seed)
    return {
        "instruction": instruction,
        "rgb": rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
        "depth": rng.uniform(0.5, 1.5, (48, 64)).astype(np.float32),
        "last_action_error": "",
    }


def make_web_env() -> gym.Env:
    return gym.make("rlft/WebShop-v0")


def make_tabletop_env() -> gym.Env:
    """The registered put-block-in-bowl env, or the env class directly while ids are being registered."""
    ids = [i for i in rlft.ENV_IDS if "Bowl" in i]
    if ids:
        return gym.make(ids[0])
    from rlft.envs.tabletop.env import TabletopEnv

    return TabletopEnv()
