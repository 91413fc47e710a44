"""rlft compare: the oracle rater, same-start pairs, stored episodes, resume, and the CLI's exit codes."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rlft import cli
from rlft.agents import compare as compare_module
from rlft.agents.compare import CompareConfig, oracle_preference, run_compare
from rlft.agents.episodes import load_episode
from rlft.demos.comparisons import COMPARISONS_FILE, episode_file, read_comparisons, read_pairs
from rlft.errors import ConfigError


def _config(out: Path, env_id: str, **kw: object) -> CompareConfig:
    base: dict[str, object] = {"agent": "expert", "agent_b": "random", "pairs": 6, "progress": False}
    base.update(kw)
    return CompareConfig(env_id=env_id, out_dir=str(out), **base)  # type: ignore[arg-type]


def _strip(rows: list) -> list[dict]:
    return [
        {k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in dataclasses.asdict(r).items()}
        for r in rows
    ]


# -- the oracle rater ------------------------------------------------------------------------------------


def _wins(score_a: float, score_b: float, temperature: float, n: int = 4000, margin: float = 0.0) -> float:
    rng = np.random.default_rng(0)
    wins = [oracle_preference(score_a, score_b, temperature, margin, rng)[0] for _ in range(n)]
    return float(np.mean(wins))


def test_oracle_at_temperature_zero_always_prefers_the_higher_score() -> None:
    assert _wins(0.6, 0.5, 0.0, n=500) == 1.0
    assert _wins(0.2, 0.5, 0.0, n=500) == 0.0
    rng = np.random.default_rng(1)
    assert oracle_preference(0.9, 0.1, 0.0, 0.0, rng) == (True, False, 1.0)


def test_oracle_follows_bradley_terry_and_flattens_at_high_temperature() -> None:
    # P(A) = sigmoid(0.1 / 0.1) = 0.731; 4000 seeded draws: the binomial s.d. is 0.007.
    assert _wins(0.6, 0.5, 0.1) == pytest.approx(1 / (1 + math.exp(-1.0)), abs=0.03)
    assert _wins(1.0, 0.0, 100.0) == pytest.approx(0.5, abs=0.03)
    _, tie, confidence = oracle_preference(0.6, 0.5, 0.1, 0.0, np.random.default_rng(2))
    assert not tie and confidence in (pytest.approx(0.731, abs=1e-3), pytest.approx(0.269, abs=1e-3))
    # Extreme differences do not overflow.
    assert oracle_preference(1.0, 0.0, 1e-9, 0.0, np.random.default_rng(0))[0]


def test_oracle_ties_within_the_margin() -> None:
    rng = np.random.default_rng(0)
    assert oracle_preference(0.5, 0.505, 1.0, 0.01, rng) == (True, True, 0.5)
    assert oracle_preference(0.0, 0.0, 0.0, 0.01, rng) == (True, True, 0.5)
    assert not oracle_preference(0.5, 0.52, 1.0, 0.01, rng)[1]
    # No margin: equal scores are a coin flip, never a tie.
    draws = [oracle_preference(0.3, 0.3, 0.0, 0.0, rng) for _ in range(400)]
    assert not any(t for _, t, _ in draws) and 0.4 < np.mean([a for a, _, _ in draws]) < 0.6


# -- run_compare -------------------------------------------------------------------------------------------


def test_pairs_share_goal_and_start_and_store_both_episodes(tmp_path: Path, toy_shop: str) -> None:
    result = run_compare(_config(tmp_path, toy_shop, rater_temperature=0.0))
    assert result.pairs == result.new_pairs == 6 and result.mean_score_a == 1.0
    rows = read_comparisons(tmp_path)
    assert [r.pair_index for r in rows] == list(range(6)) and len({r.pair_id for r in rows}) == 6
    for row in rows:
        chosen = load_episode(episode_file(tmp_path, row.chosen_path))
        rejected = load_episode(episode_file(tmp_path, row.rejected_path))
        assert chosen.goal_seed == rejected.goal_seed == row.goal_seed == row.pair_index
        assert (chosen.instruction, chosen.start_page) == (rejected.instruction, rejected.start_page)
        assert row.prompt == chosen.instruction
        assert (row.chosen_score, row.rejected_score) == (chosen.score, rejected.score)
        if row.tie:
            assert abs(row.chosen_score - row.rejected_score) < 0.01 and row.confidence == 0.5
        else:  # temperature 0: the higher true score is chosen
            assert row.chosen_score > row.rejected_score and row.confidence == 1.0
            assert row.chosen_agent == "expert" and row.rejected_agent == "random"
        assert row.chosen.startswith("Steps:") and row.prompt not in row.chosen
        transcript = (tmp_path / row.chosen_path).read_text()
        assert "reward" not in transcript and "Outcome" not in transcript  # a person must judge
    assert (tmp_path / COMPARISONS_FILE).is_file()


def test_resume_continues_without_duplicates_and_matches_a_single_run(
    tmp_path: Path, toy_shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = run_compare(_config(tmp_path / "full", toy_shop, agent="random", agent_b=None, pairs=7))
    assert full.pairs == 7
    # Interrupted after 3 pairs (a KeyboardInterrupt in the loop): the finished pairs are kept.
    monkeypatch.setattr(compare_module, "PAIRS_PER_PART", 2)
    real = compare_module.rollout_episode
    calls = {"n": 0}

    def interrupt_at_pair_four(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_module, "rollout_episode", interrupt_at_pair_four)
    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        run_compare(_config(part, toy_shop, agent="random", agent_b=None, pairs=7))
    assert len(read_pairs(part)) == 3
    monkeypatch.setattr(compare_module, "rollout_episode", real)
    again = run_compare(_config(part, toy_shop, agent="random", agent_b=None, pairs=5, progress=True))
    assert again.new_pairs == 2 and again.pairs == 5
    done = run_compare(_config(part, toy_shop, agent="random", agent_b=None, pairs=7))
    assert done.new_pairs == 2 and done.pairs == 7
    assert run_compare(_config(part, toy_shop, agent="random", agent_b=None, pairs=7)).new_pairs == 0
    # Same rows as the uninterrupted run, apart from where they are stored.
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_path")} for r in _strip(rows)]  # noqa: E731
    assert strip(read_comparisons(part)) == strip(read_comparisons(tmp_path / "full"))
    # Two samples of the random agent: the episodes of a pair differ somewhere.
    rows = read_pairs(part)
    assert any(r.chosen != r.rejected for r in rows)


def test_changed_settings_do_not_silently_resume(tmp_path: Path, toy_shop: str) -> None:
    run_compare(_config(tmp_path, toy_shop, pairs=2))
    with pytest.raises(ConfigError, match=r"rater_temperature: 0\.05 -> 0\.5"):
        run_compare(_config(tmp_path, toy_shop, pairs=3, rater_temperature=0.5))
    with pytest.raises(ConfigError, match="already holds 2 pairs"):
        run_compare(_config(tmp_path, toy_shop, pairs=3, resume=False))
    forced = run_compare(_config(tmp_path, toy_shop, pairs=3, rater_temperature=0.5, force_config=True))
    assert forced.pairs == 3 and len({r.pair_id for r in read_pairs(tmp_path)}) == 3
    stored = json.loads((tmp_path / "compare_config.json").read_text())
    assert stored["rater_temperature"] == 0.5


def test_human_pairs_wait_unlabelled_in_a_seeded_random_order(tmp_path: Path, toy_shop: str) -> None:
    result = run_compare(_config(tmp_path, toy_shop, rater="human", pairs=8))
    assert result.unlabelled == 8 and read_comparisons(tmp_path) == []
    pairs = read_pairs(tmp_path)
    assert all(p.rater == "human" and not p.labelled and math.isnan(p.confidence) for p in pairs)
    assert {p.chosen_agent for p in pairs} == {"expert", "random"}  # the expert is not always on the left


def test_image_pairs_store_gifs_and_final_frames(tmp_path: Path, toy_reach: str) -> None:
    run_compare(_config(tmp_path, toy_reach, pairs=2))
    for row in read_comparisons(tmp_path):
        assert row.chosen_path.endswith(".gif") and (tmp_path / row.chosen_path).stat().st_size > 0
        frame = np.load(episode_file(tmp_path, row.chosen_path, ".npy"))
        assert frame.dtype == np.uint8 and frame.ndim == 3


def test_invalid_settings_are_typed_errors(tmp_path: Path, toy_shop: str) -> None:
    bad = [
        ({"rater": "robot"}, "rater"),
        ({"rater_temperature": -1.0}, "rater_temperature"),
        ({"tie_margin": 2.0}, "tie_margin"),
        ({"pairs": 0}, "pairs"),
        ({"agent_b": "robot"}, "agent"),
        ({"agent_b": None}, "expert on one goal are identical"),
        ({"policy_b": "x", "agent_b": "random"}, "not both"),
        ({"out_dir": None}, "out_dir is required"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"temperature": 2.0}, "only changes sampled actions"),
    ]
    for changes, message in bad:
        config = dataclasses.replace(_config(tmp_path, toy_shop), **changes)
        with pytest.raises(ConfigError, match=message):
            run_compare(config)
    with pytest.raises(ConfigError, match="greedy episodes of one policy"):
        CompareConfig(policy="p", out_dir="o", pairs=1).validate()


def test_cli_exit_codes(tmp_path: Path, toy_shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    args = ["compare", toy_shop, "--agent", "expert", "--agent-b", "random", "--out", str(out)]
    args.append("--no-progress")
    assert cli.main([*args, "--pairs", "3", "--rater", "human"]) == 0
    printed = capsys.readouterr().out
    assert "3 pairs (3 new" in printed and f"rlft label {out}" in printed
    assert cli.main([*args, "--pairs", "3", "--rater", "oracle"]) == 2
    assert "rater: 'human' -> 'oracle'" in capsys.readouterr().err
    assert cli.main(["compare", toy_shop, "--agent", "expert", "--out", str(tmp_path / "d")]) == 2
    assert cli.main(["compare", "rlft/NoSuchEnv-v0", "--agent", "random", "--out", str(tmp_path / "e")]) == 2
    assert "Unknown" in capsys.readouterr().err
    assert cli.main(["label", str(tmp_path / "missing"), "--no-browser"]) == 2
    assert "rlft compare" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", toy_shop, "--pairs", "many"])
    assert exit_info.value.code == 2


def test_compare_help_keeps_the_cli_conventions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    text = capsys.readouterr().out
    for flag in ("--seed", "--progress, --no-progress", "--out", "--resume, --no-resume", "--policy-b"):
        assert flag in text
    for flag in ("--agent-b", "--pairs", "--rater", "--rater-temperature", "--tie-margin", "--sample"):
        assert flag in text
    assert "``" not in text and ":func:" not in text and "--keep-checkpoints" not in text
    with pytest.raises(SystemExit):
        cli.main(["label", "--help"])
    text = capsys.readouterr().out
    assert "--port" in text and "--browser, --no-browser" in text


def test_two_samples_of_a_policy_are_seeded_and_differ(tmp_path: Path, toy_shop: str) -> None:
    from rlft.agents import BCConfig, CollectConfig, run_collect, train_bc

    demos = tmp_path / "demos"
    run_collect(CollectConfig(env_id=toy_shop, episodes=4, out_dir=str(demos), progress=False))
    bc = BCConfig(dataset=str(demos), out_dir=str(tmp_path / "bc"), backbone="tiny-bert", steps=2)
    bc.progress = False
    policy = str(train_bc(bc).final_dir)
    kw = {"policy": policy, "agent": None, "agent_b": None, "sample": True, "pairs": 6}
    run_compare(_config(tmp_path / "one", toy_shop, **kw))
    run_compare(_config(tmp_path / "two", toy_shop, **kw))
    one, two = read_pairs(tmp_path / "one"), read_pairs(tmp_path / "two")
    assert [(r.chosen, r.rejected) for r in one] == [(r.chosen, r.rejected) for r in two]  # reproducible
    assert any(r.chosen != r.rejected for r in one)  # two samples of one policy on one goal differ
    for row in one:
        a = load_episode(episode_file(tmp_path / "one", row.chosen_path))
        b = load_episode(episode_file(tmp_path / "one", row.rejected_path))
        assert a.sample_seed != b.sample_seed and a.goal_seed == b.goal_seed
        assert a.agent == b.agent == "policy"
    run_compare(_config(tmp_path / "vs", toy_shop, policy=policy, agent=None, pairs=2))  # B: random
    for row in read_pairs(tmp_path / "vs"):
        assert {row.chosen_agent, row.rejected_agent} == {"policy", "random"}
