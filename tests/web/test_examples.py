"""The worked example of examples/live_site: the user's task, expert demonstrations and BC, end to end."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import rlft  # noqa: F401 (registers the ids)
from rlft.cli import main
from rlft.errors import ConfigError

TASK = str(Path(__file__).parents[2] / "examples" / "live_site" / "greeting.py") + ":GreetingTask"


pytestmark = pytest.mark.chromium  # skipped without Chromium (tests/web/conftest.py)


def test_the_example_task_collects_demos_and_trains_bc(tmp_path: Path) -> None:
    env = gym.make("rlft/WebBrowser-v0", task=TASK)
    try:
        obs, _ = env.reset(seed=0)
        assert obs["instruction"].startswith("Make a ") and "Make card" in obs["page"]
        for _ in range(5):
            obs, reward, terminated, _, info = env.step(env.unwrapped.expert_action())
            if terminated:
                break
        assert terminated and reward == 1.0 and info["success"]
    finally:
        env.close()
    demos = tmp_path / "demos"
    collect = ["collect", "rlft/WebBrowser-v0", "--agent", "expert", "--env-kwarg", f"task={TASK}"]
    assert main([*collect, "--episodes", "3", "--out", str(demos), "--no-progress"]) == 0
    bc = ["train", "bc", "--dataset", str(demos), "--backbone", "tiny-bert", "--out", str(tmp_path / "bc")]
    assert main([*bc, "--steps", "4", "--eval-every", "2", "--no-progress"]) == 0
    assert (tmp_path / "bc" / "best").is_dir()


def test_a_task_reference_that_is_not_a_browser_task_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a BrowserTask"):
        gym.make("rlft/WebBrowser-v0", task="rlft.envs.web.tasks.browser:load_task")
    with pytest.raises(ConfigError, match="no file"):
        gym.make("rlft/WebBrowser-v0", task=str(tmp_path / "missing.py") + ":Task")
