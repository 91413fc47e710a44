"""Reward-model training: Bradley-Terry with ties, goal-held-out metrics, checkpoints, resume, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from rlft.agents.rm import (
    RMConfig,
    bradley_terry_loss,
    calibration,
    pairwise_metrics,
    split_by_goal,
    train_rm,
)
from rlft.cli import main
from rlft.demos.comparisons import Comparison, write_comparisons
from rlft.errors import ConfigError, DatasetError
from rlft.policies.reward import load_reward_model

COLORS = ("red", "green", "blue", "yellow", "purple", "black")
BOWL = "rlft/TabletopPutBlockInBowl-v0"


def toy_comparisons(goals: int = 24, seed: int = 0) -> list[Comparison]:
    """Two episodes per goal: buying the asked colour (score 1) and another one (score 0); some ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(goals):
        want, other = rng.choice(len(COLORS), 2, replace=False)
        good = f"1. open shop\n2. buy {COLORS[want]}\nFinal page:\nyou bought the {COLORS[want]} item"
        bad = f"1. open shop\n2. buy {COLORS[other]}\nFinal page:\nyou bought the {COLORS[other]} item"
        tie = g % 8 == 7
        rows.append(
            _row(
                f"p{g}",
                "rlft-test/ToyShop-v0",
                g,
                f"buy the {COLORS[want]} item",
                (bad if tie else good, bad),
                ".md",
                chosen_score=0.0 if tie else 1.0,
                confidence=0.5 if tie else 0.9,
                tie=tie,
            )
        )
    return rows


def _row(
    pair_id: str, env_id: str, g: int, prompt: str, texts: tuple[str, str], suffix: str, **kw: object
) -> Comparison:
    """A comparison of episodes ``e{g}a`` (chosen) and ``e{g}b`` stored as ``episodes/e{g}?{suffix}``."""
    return Comparison(
        pair_id=pair_id,
        env_id=env_id,
        goal_seed=g,
        prompt=prompt,
        chosen=texts[0],
        rejected=texts[1],
        chosen_episode=f"e{g}a",
        rejected_episode=f"e{g}b",
        chosen_path=f"episodes/e{g}a{suffix}",
        rejected_path=f"episodes/e{g}b{suffix}",
        rejected_score=0.0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def prefs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prefs")
    write_comparisons(folder, toy_comparisons())
    return folder


def _config(prefs: Path, out: Path, **kw: object) -> RMConfig:
    base: dict[str, object] = {
        "backbone": "tiny-bert",
        "steps": 40,
        "batch_size": 8,
        "lr": 3e-3,
        "eval_every": 20,
        "checkpoint_every": 20,
        "reward_kwargs": {"head_hidden": 16},
        "progress": False,
    }
    base.update(kw)
    return RMConfig(prefs=str(prefs), out_dir=str(out), **base)  # type: ignore[arg-type]


def test_bradley_terry_loss_with_ties() -> None:
    margin = torch.tensor([2.0, -1.0, 0.5])
    tie = torch.tensor([False, False, True])
    expected = (
        -math.log(1 / (1 + math.exp(-2.0)))
        - math.log(1 / (1 + math.exp(1.0)))
        - 0.5 * (math.log(1 / (1 + math.exp(-0.5))) + math.log(1 / (1 + math.exp(0.5))))
    ) / 3
    assert float(bradley_terry_loss(margin, tie)) == pytest.approx(expected, rel=1e-6)
    # A tie is cheapest at equal rewards; a preference keeps getting cheaper with a wider margin.
    tied = [float(bradley_terry_loss(torch.tensor([m]), torch.tensor([True]))) for m in (-1.0, 0.0, 1.0)]
    assert tied[1] < tied[0] and tied[1] < tied[2]


def test_calibration_of_a_calibrated_and_an_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    # Labels drawn from sigmoid(margin) itself: calibrated; the margin read 10x too large: overconfident.
    margins = rng.normal(0, 2, 20_000)
    labels = rng.random(margins.size) < 1 / (1 + np.exp(-margins))
    oriented = np.where(labels, margins, -margins)  # margin of the rater's chosen episode
    calibrated, bins = calibration(oriented)
    overconfident, _ = calibration(10 * oriented)
    assert calibrated < 0.02 < 0.1 < overconfident
    assert sum(b["count"] for b in bins) == margins.size
    assert all(0.5 <= b["lo"] < b["hi"] <= 1.0 for b in bins)


def test_split_by_goal_keeps_goals_on_one_side() -> None:
    rows = [SimpleNamespace(env_id="e", goal_seed=g // 3) for g in range(30)]  # 10 goals x 3 pairs
    train, val = split_by_goal(rows, 0.2, seed=1)
    assert len(val) == 6 and sorted(train + val) == list(range(30))
    assert not {rows[i].goal_seed for i in train} & {rows[i].goal_seed for i in val}
    assert split_by_goal(rows, 0.2, seed=1) == (train, val)
    assert split_by_goal(rows, 0.0, seed=1) == (list(range(30)), [])


def test_pairwise_metrics_count_only_pairs_with_different_true_scores() -> None:
    rows = [
        SimpleNamespace(tie=False, chosen_score=1.0, rejected_score=0.0),  # right
        SimpleNamespace(tie=False, chosen_score=0.0, rejected_score=1.0),  # noisy label; model right
        SimpleNamespace(tie=False, chosen_score=0.5, rejected_score=0.5),  # equal true scores: skipped
        SimpleNamespace(tie=True, chosen_score=1.0, rejected_score=0.0),  # tie: skipped
        SimpleNamespace(tie=False, chosen_score=float("nan"), rejected_score=0.0),  # unknown: skipped
    ]
    chosen = np.array([2.0, -1.0, 0.0, 0.0, 1.0])
    rejected = np.zeros(5)
    m = pairwise_metrics(chosen, rejected, rows)
    assert m["heldout_scored_pairs"] == 2 and m["heldout_accuracy"] == 1.0
    assert m["heldout_label_accuracy"] == pytest.approx(2 / 4)  # rows 0 and 4 agree with the label


def test_train_rm_learns_holds_out_goals_and_resumes(prefs: Path, tmp_path: Path) -> None:
    result = train_rm(_config(prefs, tmp_path / "rm"))
    report = json.loads(result.report_path.read_text())
    assert result.steps == 40 and result.resumed_from == 0
    assert result.model_dir == tmp_path / "rm" / "best"
    assert report["heldout_goals"] == 5 and report["train_goals"] == 19  # 20% of 24 goals
    metrics = report["metrics"]
    assert metrics["heldout_accuracy"] >= 0.75  # an easy task: colour of the purchase vs the request
    assert 0.0 <= metrics["heldout_ece"] <= 1.0 and metrics["calibration_bins"]
    assert metrics["score_std"] > 0
    model = load_reward_model(tmp_path / "rm")  # the run folder loads its best model
    assert model.metrics["heldout_accuracy"] == metrics["heldout_accuracy"]
    good, bad = model.score(
        ["buy the blue item"] * 2,
        ["2. buy blue\nyou bought the blue item", "2. buy red\nyou bought the red item"],
    )
    assert good > bad
    assert list((tmp_path / "rm" / "tb").rglob("events.out.tfevents.*"))

    again = train_rm(_config(prefs, tmp_path / "rm", steps=60))
    assert again.resumed_from == 40 and again.steps == 60
    with pytest.raises(ConfigError, match="lr"):
        train_rm(_config(prefs, tmp_path / "rm", steps=80, lr=1e-2))
    with pytest.raises(ConfigError, match="resume"):
        train_rm(_config(prefs, tmp_path / "rm", steps=80, resume=False))


def test_resume_refuses_comparisons_that_changed(tmp_path: Path) -> None:
    prefs = tmp_path / "prefs"
    write_comparisons(prefs, toy_comparisons(goals=12))
    train_rm(_config(prefs, tmp_path / "rm", steps=4, eval_every=2, checkpoint_every=2))
    assert train_rm(_config(prefs, tmp_path / "rm", steps=6, eval_every=2)).resumed_from == 4  # same data
    write_comparisons(prefs, toy_comparisons(goals=16, seed=1)[12:])  # four more pairs appended
    with pytest.raises(ConfigError, match=r"comparisons: '12 comparisons, sha256 \w+' -> '16 comparisons"):
        train_rm(_config(prefs, tmp_path / "rm", steps=8, eval_every=2))
    forced = train_rm(_config(prefs, tmp_path / "rm", steps=8, eval_every=2, force_config=True))
    assert forced.resumed_from == 6
    stored = json.loads((tmp_path / "rm" / "rm_config.json").read_text())
    assert stored["comparisons"].startswith("16 comparisons, sha256 ")


def frame_comparisons(folder: Path, goals: int, seed: int = 0) -> list[Comparison]:
    """Tabletop-style pairs: the final frame shows the asked block (score 1) or another one (score 0)."""
    from tests.policies.test_reward import RGB, scene

    rng = np.random.default_rng(seed)
    (folder / "episodes").mkdir(parents=True, exist_ok=True)
    rows = []
    for g in range(goals):
        want, other = rng.choice(sorted(RGB), 2, replace=False)
        for side, colour in (("a", want), ("b", other)):
            np.save(folder / "episodes" / f"e{g}{side}.npy", scene(rng, str(colour)))
        texts = (
            "Steps:\n1. [+0.10, -0.20, +0.00, +0.30, -0.40, +0.00]\n1 steps.",
            "Steps:\n1. [-0.30, +0.20, +0.00, +0.10, +0.40, +0.00]\n1 steps.",
        )
        prompt = f"put the {want} block in the bowl"
        rows.append(_row(f"f{g}", BOWL, g, prompt, texts, ".gif", chosen_score=1.0, confidence=0.9))
    return rows


def test_score_statistics_count_identical_texts_once_and_frames_by_episode() -> None:
    from rlft.agents.rm import Pairs, score_statistics

    class Seen:
        def score(self, prompts: list[str], episodes: list[object], batch_size: int = 32) -> np.ndarray:
            self.episodes = episodes
            return np.arange(len(episodes), dtype=np.float64)

    rows = toy_comparisons(goals=8)  # pair 7 is a tie (one text twice), and goals repeat colours
    model = Seen()
    score_statistics(model, Pairs(rows, [r.chosen for r in rows], [r.rejected for r in rows]), 8)
    distinct = {(r.prompt, text) for r in rows for text in (r.chosen, r.rejected)}
    assert len(model.episodes) == len(distinct) < 16
    frame = np.zeros((2, 2, 3), dtype=np.uint8)
    score_statistics(model, Pairs(rows, [frame] * 8, [frame] * 8), 8)
    assert len(model.episodes) == 16  # frames are told apart by their episode ids


def test_tabletop_comparisons_train_an_image_reward_model(tmp_path: Path) -> None:
    prefs = tmp_path / "prefs"
    write_comparisons(prefs, frame_comparisons(prefs, goals=120))
    config = _config(prefs, tmp_path / "rm", backbone="tiny-clip", steps=400, batch_size=16, eval_every=100)
    result = train_rm(config)
    report = json.loads(result.report_path.read_text())
    assert report["episodes"] == "final frames" and report["heldout_goals"] == 24
    # Which block the frame shows, against the colour the instruction names: ignoring either is 50%, and
    # >= 18 of 24 held-out pairs by chance is about 1%. The accuracy reached differs between machines
    # (CPU numerics): 200 steps gave 92-100% on one and 79% on another, 400 steps 87.5% there.
    assert result.metrics["heldout_accuracy"] >= 0.75
    model = load_reward_model(tmp_path / "rm")
    assert model.reads_frames and model.config.head == "image"
    with pytest.raises(ConfigError, match=r"tabletop episodes.*'grounded'.*head=image"):
        train_rm(_config(prefs, tmp_path / "rm2", backbone="tiny-clip", reward_kwargs={"head": "grounded"}))
    mixed = tmp_path / "mixed"
    write_comparisons(mixed, frame_comparisons(mixed, goals=2) + toy_comparisons(goals=2))
    with pytest.raises(DatasetError, match="mixes text"):
        train_rm(_config(mixed, tmp_path / "rm3", backbone="tiny-clip"))
    (prefs / "episodes" / "e0a.npy").write_bytes(b"damaged")
    with pytest.raises(DatasetError, match=r"e0a\.npy"):
        train_rm(_config(prefs, tmp_path / "rm4", backbone="tiny-clip"))
    text_prefs = tmp_path / "text"
    write_comparisons(text_prefs, toy_comparisons(goals=2))
    with pytest.raises(ConfigError, match=r"text episodes.*'image'"):
        train_rm(_config(text_prefs, tmp_path / "rm5", backbone="tiny-clip", reward_kwargs={"head": "image"}))


def test_train_rm_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DatasetError):
        train_rm(_config(tmp_path / "missing", tmp_path / "a"))
    with pytest.raises(ConfigError, match="head_hiden"):
        train_rm(_config(tmp_path, tmp_path / "b", reward_kwargs={"head_hiden": 3}))
    with pytest.raises(ConfigError, match="finetune"):
        train_rm(_config(tmp_path, tmp_path / "c", finetune="partial"))


def test_cli_train_rm(prefs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "rm", "--prefs", str(prefs), "--backbone", "tiny-bert", "--out", str(tmp_path / "rm")]
    argv += ["--steps", "4", "--eval-every", "2", "--reward-kwarg", "head_hidden=8", "--no-progress"]
    assert main(argv) == 0
    assert "heldout_accuracy" in capsys.readouterr().out
    assert load_reward_model(tmp_path / "rm").config.head_hidden == 8
    assert main(["train", "rm", "--prefs", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    assert "rlft compare" in capsys.readouterr().err
