"""The stages of ``rlft demo --suite feedback`` that go beyond imitation, and the over-optimisation plot.

:func:`rlft.agents.demo.run_feedback_demo` runs them in order after behaviour cloning:

1. :func:`compare_stage`: pairs of *sampled* BC episodes on train goals (both from one start), rated by
   the oracle (Bradley-Terry noise on the true score, ties allowed): ``rlft compare``.
2. :func:`rm_stage`: a reward model on those comparisons, goals held out: ``rlft train rm``.
3. best-of-N with the reward model on the test goals (:func:`rlft.agents.search.best_of_n`), and RL from
   the reward model beside RL from the true reward (:func:`rlft.agents.rl.train_rl`).

:func:`plot_overoptimisation` draws the true score and the reward-model score of the RL episodes over
the updates (and the true score of RL from the true reward), where over-optimisation shows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlft.agents.compare import CompareConfig, CompareResult, run_compare
from rlft.agents.config import RunConfig
from rlft.agents.evaluate import TaskResult
from rlft.agents.rm import RMConfig, RMResult, train_rm
from rlft.errors import atomic_write_bytes, require

__all__ = ["FEEDBACK_ROWS", "compare_stage", "feedback_note", "plot_overoptimisation", "rm_stage"]

logger = logging.getLogger(__name__)

FEEDBACK_ROWS: tuple[str, ...] = (
    "BC",
    "BC best-of-4 (RM)",
    "BC best-of-16 (RM)",
    "BC best-of-16 (oracle)",
    "BC+RL (RM)",
    "BC+RL (true reward)",
)
"""The rows of the feedback table, in order."""

COMPARE_SEED_OFFSET = 10_000
"""Comparisons reset goals from ``seed + 10_000 + i``: other train goals than the demonstrations'."""


def compare_stage(
    env_id: str,
    split: str,
    policy_dir: Path,
    out_dir: Path,
    settings: Mapping[str, Any],
    run: RunConfig,
    *,
    max_steps: int | None,
    progress: bool,
) -> CompareResult:
    """Oracle-rated pairs of two sampled episodes of the policy per goal into ``out_dir`` (resumable).

    ``settings["temperature"]`` (default 1) is the sampling temperature of the compared episodes.
    """
    return run_compare(
        CompareConfig(
            env_id=env_id,
            split=split,
            policy=str(policy_dir),
            sample=True,
            temperature=float(settings.get("temperature", 1.0)),
            pairs=int(settings["pairs"]),
            rater="oracle",
            rater_temperature=float(settings.get("rater_temperature", 0.05)),
            tie_margin=float(settings.get("tie_margin", 0.01)),
            max_steps=max_steps,
            out_dir=str(out_dir),
            progress=progress,
            **{**run.run_fields(), "seed": run.seed + COMPARE_SEED_OFFSET},
        )
    )


def rm_stage(
    prefs: Path, out_dir: Path, backbone: str, settings: Mapping[str, Any], run: RunConfig, *, progress: bool
) -> RMResult:
    """A reward model on ``prefs`` into ``out_dir`` (resumed from its checkpoints)."""
    return train_rm(
        RMConfig(
            prefs=str(prefs),
            out_dir=str(out_dir),
            backbone=backbone,
            progress=progress,
            **run.run_fields(),
            **dict(settings.get("rm", {})),
        )
    )


def feedback_note(rows: Mapping[str, TaskResult], rm_accuracy: float | None) -> str:
    """One honest paragraph: each target of the feedback demo, met or not, with the figures."""
    bc, rm16, oracle16 = rows["BC"], rows["BC best-of-16 (RM)"], rows["BC best-of-16 (oracle)"]
    rl_rm, rl_true = rows["BC+RL (RM)"], rows["BC+RL (true reward)"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    parts = []
    if rm_accuracy is not None:
        parts.append(
            f"reward-model held-out accuracy {rm_accuracy:.1%} (target 85%: {verdict(rm_accuracy >= 0.85)})"
        )
    lift = f"x{rm16.success_rate / bc.success_rate:.2f}" if bc.success_rate > 0 else "from 0"
    lift_ok = rm16.success_rate >= 1.5 * bc.success_rate and rm16.success_rate > bc.success_rate
    parts.append(
        f"best-of-16 (RM) success {bc.success_rate:.0%} -> {rm16.success_rate:.0%} "
        f"({lift}; target x1.5: {verdict(lift_ok)})"
    )
    gain = oracle16.success_rate - bc.success_rate
    share = (rm16.success_rate - bc.success_rate) / gain if gain > 0 else float("nan")
    parts.append(
        f"{share:.0%} of the oracle best-of-16 gain (target 70%: {verdict(gain > 0 and share >= 0.7)})"
    )
    true_gain = rl_true.mean_reward - bc.mean_reward
    rl_share = (rl_rm.mean_reward - bc.mean_reward) / true_gain if true_gain > 0 else float("nan")
    parts.append(
        f"RL from the RM reached {rl_share:.0%} of the true-reward RL score gain "
        f"({bc.mean_reward:.3f} -> {rl_rm.mean_reward:.3f} vs {rl_true.mean_reward:.3f}; target 80%: "
        f"{verdict(true_gain > 0 and rl_share >= 0.8)})"
    )
    return "; ".join(parts) + "."


def plot_overoptimisation(
    histories: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path, title: str = ""
) -> Path:
    """Plot true score (and reward-model score) of RL episodes per update; write a PNG to ``path``.

    Args:
        histories: run name -> :attr:`rlft.agents.rl.RLResult.history` (entries with ``timesteps``,
            ``true_score`` and, for a run on a reward model, ``rm_score``).
        path: the PNG to write (atomically).
        title: the figure title.
    """
    import io

    matplotlib = require("matplotlib", "the over-optimisation plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, left = plt.subplots(figsize=(7, 4), dpi=110)
    right = None
    for (name, history), colour in zip(
        histories.items(), ("tab:blue", "tab:green", "tab:purple"), strict=False
    ):
        steps = [h["timesteps"] for h in history if "true_score" in h]
        left.plot(
            steps,
            [h["true_score"] for h in history if "true_score" in h],
            color=colour,
            label=f"{name}: true score",
        )
        rm = [(h["timesteps"], h["rm_score"]) for h in history if "rm_score" in h]
        if rm:
            right = right or left.twinx()
            right.plot(
                *zip(*rm, strict=True), color=colour, linestyle="--", label=f"{name}: reward-model score"
            )
    left.set_xlabel("environment steps")
    left.set_ylabel("true score of rollout episodes (0-1)")
    handles, labels = left.get_legend_handles_labels()
    if right is not None:
        right.set_ylabel("reward-model score (raw)")
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    left.legend(handles, labels, loc="lower right", fontsize=8)
    left.set_title(title or "RL from a learned reward: true score vs reward-model score")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
