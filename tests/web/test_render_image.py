"""``render_mode="rgb_array"`` on the default text backend: frames for videos without a browser."""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np
import pytest
import rlft
from rlft.envs.web.image import CHAR_WIDTH, LINE_HEIGHT, MARGIN, Line, draw_lines, image_shape, wrap
from rlft.errors import DependencyError

WEB_IDS = [env_id for env_id in rlft.ENV_IDS if env_id.startswith("rlft/Web")]


@pytest.mark.parametrize("env_id", WEB_IDS)
def test_frames_follow_the_page_keep_their_shape_and_are_deterministic(env_id: str) -> None:
    envs = [gym.make(env_id, render_mode="rgb_array") for _ in range(2)]
    try:
        for env in envs:
            env.reset(seed=3)
        first = envs[0].render()
        assert np.array_equal(first, envs[1].render()), "same seed, same frame"
        assert first.min() == 0 and first.max() == 255, "text on a white page"
        frames = [first]
        for _ in range(4):
            action = envs[0].unwrapped.expert_action()
            _, _, terminated, truncated, _ = envs[0].step(action)
            frames.append(envs[0].render())
            if terminated or truncated:
                break
        assert all(frame.shape == first.shape and frame.dtype == np.uint8 for frame in frames)
        assert not np.array_equal(frames[0], frames[-1]), "the frame changes when the page changes"
    finally:
        for env in envs:
            env.close()


def test_an_error_and_the_viewport_are_drawn() -> None:
    env = gym.make("rlft/WebFormLogin-v0", render_mode="rgb_array")
    try:
        env.reset(seed=0)
        before = env.render()
        env.step("click[999]")  # an agent mistake: the error row is drawn in red
        after = env.render()
        changed = np.argwhere((before != after).any(axis=2))
        last_row_top = before.shape[0] - MARGIN - LINE_HEIGHT
        assert changed.size and changed[:, 0].min() >= last_row_top
        red = after[last_row_top:, :, 0].astype(int) - after[last_row_top:, :, 2].astype(int)
        assert red.max() > 100
    finally:
        env.close()


def test_record_video_style_capture_of_a_whole_episode() -> None:
    # What gymnasium.wrappers.RecordVideo does with each frame (it needs moviepy only to encode them).
    env = gym.wrappers.RenderCollection(gym.make("rlft/WebShop-v0", render_mode="rgb_array"))
    try:
        env.reset(seed=1)
        terminated = truncated = False
        while not (terminated or truncated):
            _, _, terminated, truncated, _ = env.step(env.unwrapped.expert_action())
        frames = env.render()
        assert len(frames) >= 3 and len({frame.shape for frame in frames}) == 1
        assert len({frame.tobytes() for frame in frames}) == len(frames)
    finally:
        env.close()


def test_draw_lines_size_wrap_and_non_latin_text() -> None:
    shape = image_shape(columns=10, rows=3)
    assert shape == (3 * LINE_HEIGHT + 2 * MARGIN, 10 * CHAR_WIDTH + 2 * MARGIN, 3)
    assert shape[0] % 2 == 0 and shape[1] % 2 == 0
    assert wrap("abcdefghijkl\n\nxy", 5) == ["abcde", "fghij", "kl", "", "xy"]
    blank = draw_lines([], 10, 3)
    assert blank.shape == shape and (blank == 255).all()
    drawn = draw_lines([Line("héllo → 世界"), Line("x" * 50), Line("a"), Line("dropped")], 10, 3)
    assert drawn.shape == shape and (drawn < 255).any()
    assert np.array_equal(drawn, draw_lines([Line("héllo ? ??"), Line("x" * 10), Line("a")], 10, 3))


def test_without_pillow_rendering_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    env = gym.make("rlft/WebFormLogin-v0", render_mode="rgb_array")
    try:
        env.reset(seed=0)
        monkeypatch.setitem(sys.modules, "PIL.Image", None)  # what a missing package looks like
        with pytest.raises(DependencyError, match="pip install pillow"):
            env.render()
    finally:
        env.close()
