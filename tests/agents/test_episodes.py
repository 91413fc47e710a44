"""The shared episode loop: same start for one seed, seeded samples, the reward model's text, saved files."""

from __future__ import annotations

import numpy as np
import pytest
from rlft.agents import ExpertAgent, RandomAgent
from rlft.agents.episodes import (
    Episode,
    EpisodeStep,
    episode_text,
    load_episode,
    rollout_episode,
    save_episode,
)
from rlft.demos import make_env
from rlft.errors import ConfigError

SHOP = "rlft/WebShop-v0"


class _FirstObs:
    """An agent that remembers what it saw first, then defers to another agent."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.first = None

    def reset(self, env, seed) -> None:
        self.first = None
        self.inner.reset(env, seed)

    def act(self, obs, env):
        if self.first is None:
            self.first = obs
        return self.inner.act(obs, env)


def test_two_agents_with_one_seed_see_the_same_goal_and_start() -> None:
    env = make_env(SHOP, "train")
    try:
        expert, random = _FirstObs(ExpertAgent()), _FirstObs(RandomAgent())
        a = rollout_episode(env, expert, 11)
        b = rollout_episode(env, random, 11, sample_seed=99)
        assert a.instruction == b.instruction and a.instruction
        assert (a.start_url, a.start_page) == (b.start_url, b.start_page)
        for key in ("instruction", "url", "page", "admissible_commands"):
            assert expert.first[key] == random.first[key]
        other = rollout_episode(env, ExpertAgent(), 12)
        assert other.instruction != a.instruction  # another seed is another goal
        assert a.score == 1.0 and a.success and a.terminated and a.goal_seed == 11
        assert b.sample_seed == 99 and b.agent == "random" and a.env_id == SHOP
    finally:
        env.close()


def test_samples_are_seeded_and_differ_across_sample_seeds() -> None:
    env = make_env(SHOP, "train")
    try:

        def actions(sample_seed: int) -> list:
            return [s.action for s in rollout_episode(env, RandomAgent(), 5, sample_seed=sample_seed).steps]

        runs = {seed: actions(seed) for seed in range(6)}
        assert actions(3) == runs[3]  # reproducible
        assert len({tuple(a) for a in runs.values()}) > 1  # two sample seeds give two episodes
    finally:
        env.close()


def test_image_episodes_keep_frames_and_the_same_first_frame(tmp_path, toy_reach: str) -> None:
    env = make_env(toy_reach, None, render_mode="rgb_array")
    try:
        a = rollout_episode(env, ExpertAgent(), 4, record_frames=True)
        b = rollout_episode(env, RandomAgent(), 4, record_frames=True)
        assert a.frames is not None and b.frames is not None and len(a.frames) == a.length + 1
        np.testing.assert_array_equal(a.frames[0], b.frames[0])
        assert isinstance(a.steps[0].action, list) and len(a.steps[0].action) == 6
        assert not a.is_text and a.score == pytest.approx(a.total_reward)
        main = save_episode(a, tmp_path, "ep")
        assert main.suffix == ".gif"
        final = np.load(tmp_path / "ep.npy")
        np.testing.assert_array_equal(final, a.frames[-1])
        assert (tmp_path / "ep.png").stat().st_size > 0
        text = episode_text(a)
        assert "1. [" in text and "1 steps." in text
    finally:
        env.close()


def test_saved_episode_round_trips(tmp_path) -> None:
    env = make_env(SHOP, "train")
    try:
        episode = rollout_episode(env, ExpertAgent(), 2)
    finally:
        env.close()
    main = save_episode(episode, tmp_path, "web")
    assert main.suffix == ".md" and "**Instruction:**" in main.read_text()
    back = load_episode(main)
    assert back.to_dict() == episode.to_dict() and back.is_text
    (tmp_path / "bad.json").write_text('{"nope": 1}')
    with pytest.raises(ConfigError, match="episode record"):
        load_episode(tmp_path / "bad.json")


def test_episode_text_leaves_out_instruction_and_score_and_keeps_the_end() -> None:
    steps = [EpisodeStep(f"click[{i}]", 0.0, url=f"/page/{i}", page=f"page {i}") for i in range(300)]
    steps[-1] = EpisodeStep("click[last]", 1.0, url="/order", page="Thank you for your order " * 10)
    steps[5] = EpisodeStep("bogus", 0.0, url="/page/5", page="p", last_action_error="unknown command")
    episode = Episode("rlft/WebShop-v0", 0, "buy the red shoes", steps=steps, score=1.0, success=True)
    short = Episode("rlft/WebShop-v0", 0, "buy the red shoes", steps=steps[:8], score=1.0)
    text = episode_text(short)
    assert "buy the red shoes" not in text and "reward" not in text and "score" not in text
    assert "6. bogus -> /page/5 (error: unknown command)" in text
    assert text.endswith("page 7")
    long = episode_text(episode, max_chars=1000)
    assert len(long) <= 1000
    assert long.endswith("Thank you for your order " * 9 + "Thank you for your order ")
    assert "300. click[last] -> /order" in long and "[... " in long and "1. click[0]" not in long
    assert episode_text(episode, max_chars=1000) == long  # deterministic
    with pytest.raises(ConfigError):
        episode_text(episode, max_chars=10)
