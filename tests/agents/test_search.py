"""Best-of-N search and the learned-reward wrapper, on the toy shop (buy the asked colour)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from rlft.agents.evaluate import EvalConfig, RandomAgent, evaluate_agent, run_eval
from rlft.agents.learned_reward import LearnedReward
from rlft.agents.search import best_of_n, curve_ns, pick, sample_episodes, sample_seed
from rlft.errors import ConfigError
from rlft.policies.reward import RewardModel, RewardModelConfig


class ColourJudge:
    """A reward model that reads the text: +1 when the bought colour is the asked one (``sign`` -1: -1)."""

    def __init__(self, sign: float = 1.0) -> None:
        self.sign = sign
        self.calls = 0
        self.metrics = {"score_mean": 0.5, "score_std": 0.5}

    def score(self, instructions: list[str], texts: list[str], batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        out = []
        for instruction, text in zip(instructions, texts, strict=True):
            asked = re.search(r"buy the (\w+) item", instruction)
            bought = re.search(r"buy (\w+)", text)
            out.append(float(bool(asked and bought and asked[1] == bought[1])))
        return self.sign * np.asarray(out)


def test_curve_ns_and_sample_seeds() -> None:
    assert curve_ns(1) == [1] and curve_ns(16) == [1, 4, 16] and curve_ns(10) == [1, 4, 10]
    assert curve_ns(64) == [1, 4, 16, 64]
    assert sample_seed(5, 0) is None
    seeds = {sample_seed(g, j) for g in range(20) for j in range(1, 20)}
    assert len(seeds) == 20 * 19  # distinct per (goal, sample)
    assert pick(np.array([[0.0, 2.0, 2.0], [3.0, 1.0, 0.0]]), 3).tolist() == [1, 0]
    assert pick(np.array([[0.0, 2.0, 2.0], [3.0, 1.0, 0.0]]), 1).tolist() == [0, 0]


def test_best_of_n_picks_by_the_reward_model_and_reports_the_oracle(toy_shop: str) -> None:
    judge = ColourJudge()
    result = best_of_n(RandomAgent(), judge, toy_shop, best_of=16, goals=12, seed=7)
    assert result.ns == [1, 4, 16] and judge.calls == 1  # samples drawn once, scored in one call
    # Best-of-1 is the plain sampled evaluation with the same seeds.
    plain = evaluate_agent(RandomAgent(), toy_shop, episodes=12, seed=7)
    assert result.rm[1].returns == plain.returns and result.oracle[1].returns == plain.returns
    oracle = [result.oracle[n].mean_reward for n in result.ns]
    assert oracle == sorted(oracle) and oracle[-1] > oracle[0]
    # A judge that reads the outcome correctly picks what the oracle picks.
    assert [result.rm[n].success_rate for n in result.ns] == [
        result.oracle[n].success_rate for n in result.ns
    ]
    assert "best-of-N" in result.table() and json.dumps(result.to_dict())
    worst = best_of_n(RandomAgent(), ColourJudge(-1.0), toy_shop, best_of=16, goals=12, seed=7)
    assert worst.rm[16].success_rate == 0.0 < result.rm[16].success_rate


def test_best_of_n_refuses_an_agent_that_does_not_sample(toy_shop: str) -> None:
    from rlft.agents.evaluate import ExpertAgent

    with pytest.raises(ConfigError, match="samples"):
        sample_episodes(ExpertAgent(), toy_shop, samples=4, goals=2)
    with pytest.raises(ConfigError, match="--sample"):
        EvalConfig(env_id=toy_shop, policy="p", best_of=4, reward_model="rm").validate()
    with pytest.raises(ConfigError, match="--reward-model"):
        EvalConfig(env_id=toy_shop, agent="random", best_of=4).validate()


def test_eval_best_of_with_a_saved_reward_model(toy_shop: str, tmp_path: Path) -> None:
    RewardModel(RewardModelConfig(backbone="tiny-bert", head_hidden=8)).save_pretrained(tmp_path / "rm")
    config = EvalConfig(
        env_id=toy_shop,
        agent="random",
        episodes=3,
        best_of=4,
        reward_model=str(tmp_path / "rm"),
        out_dir=str(tmp_path / "eval"),
        progress=False,
    )
    report = run_eval(config)
    saved = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert saved["provenance"]["best_of"] == 4
    (curve,) = saved["search"]
    assert curve["ns"] == [1, 4] and set(curve["rm"]) == {"1", "4"} and set(curve["oracle"]) == {"1", "4"}
    assert saved["results"][0]["success_rate"] == curve["rm"]["4"]["success_rate"]
    assert "oracle" in report.table()


def test_learned_reward_replaces_the_reward_at_the_end(toy_shop: str) -> None:
    env = LearnedReward(gym.make(toy_shop), ColourJudge())
    obs, _ = env.reset(seed=0)
    asked = re.search(r"buy the (\w+) item", obs["instruction"])[1]  # type: ignore[index]
    _, reward, terminated, _, info = env.step("open shop")
    assert reward == 0.0 and not terminated and "rm_score" not in info
    _, reward, terminated, _, info = env.step(f"buy {asked}")
    assert terminated and info["rm_score"] == 1.0 and info["true_score"] == 1.0
    assert reward == pytest.approx((1.0 - 0.5) / 0.5)
    env.reset(seed=0)
    env.step("open shop")
    wrong = next(c for c in ("red", "green", "blue") if c != asked)
    _, reward, _, _, info = env.step(f"buy {wrong}")
    assert info["true_score"] == 0.0 and reward == pytest.approx(-1.0)


class FrameJudge:
    """An image reward model stand-in: scores a frame by its mean red level, and keeps what it saw."""

    reads_frames = True

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []
        self.metrics: dict[str, float] = {}

    def score(self, instructions: list[str], frames: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        assert len(instructions) == len(frames)
        self.seen += frames
        return np.array([float(f[..., 0].mean()) for f in frames])


BOWL = "rlft/TabletopPutBlockInBowl-v0"


def test_best_of_n_gives_an_image_reward_model_each_episodes_final_frame() -> None:
    from rlft.agents.episodes import final_frame, rollout_episode
    from rlft.demos.envs import make_env

    judge = FrameJudge()
    result = best_of_n(RandomAgent(), judge, BOWL, best_of=3, goals=2, seed=3)
    assert len(judge.seen) == 6 and {f.shape for f in judge.seen} == {(240, 320, 3)}
    # Each frame is the rgb_array render of that episode's end (replayed here with the same seeds).
    env = make_env(BOWL, render_mode="rgb_array")
    try:
        rollout_episode(env, RandomAgent(), 4, sample_seed=sample_seed(4, 2))
        np.testing.assert_array_equal(final_frame(env, None), judge.seen[5])
    finally:
        env.close()
    assert result.ns == [1, 3] and 0.0 <= result.rm[3].success_rate <= 1.0
    texts_only = sample_episodes(RandomAgent(), BOWL, samples=2, goals=1, seed=3)
    with pytest.raises(ConfigError, match="frames=True"):
        texts_only.score_with(FrameJudge())


def test_learned_reward_and_rl_envs_read_final_frames_for_an_image_reward_model() -> None:
    from rlft.agents.ray_envs import SB3EnvFactory
    from rlft.demos.envs import make_env
    from rlft.policies import PolicyConfig, build_policy

    judge = FrameJudge()
    env = LearnedReward(make_env(BOWL, render_mode="rgb_array"), judge)
    try:
        env.reset(seed=0)
        _, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        assert terminated or truncated
        assert len(judge.seen) == 1 and judge.seen[0].shape == (240, 320, 3)
        assert info["rm_score"] == reward == pytest.approx(judge.seen[0][..., 0].mean())
        assert info["true_score"] == 1.0
    finally:
        env.close()
    probe = make_env(BOWL)
    policy = build_policy(PolicyConfig(backbone="tiny-clip"), probe.observation_space, probe.action_space)
    probe.close()
    record = {"env_id": BOWL, "split": "train", "env_kwargs": {}, "max_steps": None}
    made = SB3EnvFactory(record, policy, reward_model=judge)()
    assert made.unwrapped.render_mode == "rgb_array"  # the view the comparisons stored
    made.close()
