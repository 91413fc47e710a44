"""Evaluation: intervals, baselines, JSON reports, transcripts and GIFs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rlft.agents import (
    ExpertAgent,
    RandomAgent,
    bootstrap_interval,
    evaluate,
    evaluate_agent,
    wilson_interval,
)

SHOP = "rlft/WebShop-v0"


def test_wilson_interval_matches_reference_values() -> None:
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.1 < high < 0.2  # never the degenerate [0, 0]
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and 0.8 < low < 0.9
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_bootstrap_interval_brackets_the_mean_and_is_seeded() -> None:
    values = np.random.default_rng(0).normal(0.5, 0.1, size=40)
    low, high = bootstrap_interval(values, seed=3)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_interval(values, seed=3)
    assert bootstrap_interval([0.7, 0.7]) == (0.7, 0.7)


def test_expert_and_random_baselines_on_held_out_goals(tmp_path: Path) -> None:
    report = evaluate(
        ExpertAgent(),
        [SHOP],
        ["test"],
        episodes=4,
        seed=50,
        report_path=tmp_path / "r.json",
        record_dir=tmp_path / "rec",
        record_episodes=1,
    )
    result = report.results[0]
    assert result.success_rate == 1.0 and result.mean_reward == pytest.approx(1.0)
    assert result.seeds == [50, 51, 52, 53] and result.split == "test"
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["agent"] == "expert" and saved["results"][0]["episodes"] == 4
    transcript = Path(result.recordings[0]).read_text()
    assert "**Instruction:**" in transcript and "Step 1:" in transcript and "success" in transcript

    random = evaluate_agent(RandomAgent(), SHOP, split="test", episodes=4, seed=50)
    assert random.mean_reward < result.mean_reward
    assert random.returns == evaluate_agent(RandomAgent(), SHOP, split="test", episodes=4, seed=50).returns


def test_image_episodes_are_saved_as_gifs(tmp_path: Path, toy_reach: str) -> None:
    import imageio.v2 as imageio

    result = evaluate_agent(ExpertAgent(), toy_reach, episodes=2, record_dir=tmp_path, record_episodes=1)
    assert result.success_rate == 1.0 and len(result.recordings) == 1
    frames = imageio.mimread(result.recordings[0])
    assert len(frames) >= 2 and frames[0].shape[-1] in (3, 4)
