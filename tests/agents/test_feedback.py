"""The feedback demo (quick budgets, tiny backbone): every stage runs and the report has its shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rlft.agents.evaluate import task_result
from rlft.agents.feedback import FEEDBACK_ROWS, feedback_note, plot_overoptimisation
from rlft.cli import main


def _row(successes: list[bool], returns: list[float]):
    return task_result("e", "test", returns, [1] * len(returns), successes, list(range(len(returns))))


def test_feedback_note_says_which_targets_were_met() -> None:
    rows = {
        "BC": _row([True] + [False] * 9, [0.5] * 10),
        "BC best-of-4 (RM)": _row([True] * 2 + [False] * 8, [0.6] * 10),
        "BC best-of-16 (RM)": _row([True] * 3 + [False] * 7, [0.7] * 10),
        "BC best-of-16 (oracle)": _row([True] * 4 + [False] * 6, [0.8] * 10),
        "BC+RL (RM)": _row([False] * 10, [0.55] * 10),
        "BC+RL (true reward)": _row([False] * 10, [0.7] * 10),
    }
    note = feedback_note(rows, 0.9)
    assert "accuracy 90.0% (target 85%: met)" in note
    assert "10% -> 30% (x3.00; target x1.5: met)" in note
    assert "67% of the oracle best-of-16 gain (target 70%: NOT met)" in note
    assert "25% of the true-reward RL score gain" in note and "target 80%: NOT met" in note


def test_plot_writes_a_png(tmp_path: Path) -> None:
    history = [{"timesteps": 64.0 * i, "true_score": 0.1 * i, "rm_score": 0.2 * i} for i in range(1, 5)]
    path = plot_overoptimisation(
        {"rm": history, "true": [{"timesteps": 64.0, "true_score": 0.3}]}, tmp_path / "p.png"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_feedback_demo_quick_runs_every_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "demo",
        "--suite",
        "feedback",
        "--quick",
        "--backbone",
        "tiny-bert",
        "--out",
        "demo",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    for row in FEEDBACK_ROWS:
        assert f"\n{row} " in out
    report = json.loads((tmp_path / "demo" / "demo_report.json").read_text())
    assert list(report["rows"]) == list(FEEDBACK_ROWS) and "rm_accuracy" in report
    for row in report["rows"].values():
        assert {"success_rate", "success_ci", "mean_reward", "reward_ci", "episodes"} <= set(row)
    assert set(report["seconds"]) == {
        "collect",
        "bc",
        "compare",
        "rm",
        "search",
        "rl_rm",
        "rl_true",
        "eval",
        "total",
    }
    # The BC row is the first sample of each goal: the plain sampled evaluation on the test seeds.
    assert report["rows"]["BC"]["seeds"] == [100_000 + i for i in range(4)]
    assert report["search"]["ns"] == [1, 4, 16] and report["comparisons"]["pairs"] == 6
    assert report["rl_history"]["reward_model"] and (tmp_path / "demo" / "overoptimisation.png").is_file()
    oracle = report["search"]["oracle"]
    assert oracle["16"]["mean_reward"] >= oracle["4"]["mean_reward"] >= oracle["1"]["mean_reward"]
