"""Summaries of evaluated episodes: :class:`TaskResult` and its confidence intervals.

Success rates get a Wilson score interval (well-behaved at 0 % and 100 %, where the normal
approximation collapses); mean reward and length get a seeded percentile bootstrap. Evaluation
(:mod:`rlft.agents.evaluate`), best-of-N search and the demos summarise their episodes with
:func:`task_result`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

__all__ = ["TaskResult", "bootstrap_interval", "task_result", "wilson_interval"]


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(0, 1)`` when ``trials == 0``)."""
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean (degenerate for fewer than two values)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return float("nan"), float("nan")
    if data.size == 1 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


@dataclass
class TaskResult:
    """Evaluation of one agent on one environment id and goal split."""

    env_id: str
    split: str | None
    episodes: int
    success_rate: float
    success_ci: tuple[float, float]
    mean_reward: float
    reward_ci: tuple[float, float]
    mean_length: float
    length_ci: tuple[float, float]
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)


def task_result(
    env_id: str,
    split: str | None,
    returns: Sequence[float],
    lengths: Sequence[int],
    successes: Sequence[bool],
    seeds: Sequence[int],
    *,
    confidence: float = 0.95,
    recordings: Sequence[str] = (),
) -> TaskResult:
    """Summarise per-episode outcomes into a :class:`TaskResult`.

    The success rate gets a Wilson interval, mean reward and length a bootstrap interval (resampled with
    the first episode seed).
    """
    episodes = len(returns)
    n_success = int(sum(bool(s) for s in successes))
    boot_seed = int(seeds[0]) if seeds else 0
    return TaskResult(
        env_id=env_id,
        split=split,
        episodes=episodes,
        success_rate=n_success / episodes if episodes else math.nan,
        success_ci=wilson_interval(n_success, episodes, confidence),
        mean_reward=float(np.mean(returns)) if episodes else math.nan,
        reward_ci=bootstrap_interval(list(returns), confidence, seed=boot_seed),
        mean_length=float(np.mean(lengths)) if episodes else math.nan,
        length_ci=bootstrap_interval(list(lengths), confidence, seed=boot_seed),
        returns=[float(r) for r in returns],
        lengths=[int(n) for n in lengths],
        successes=[bool(s) for s in successes],
        seeds=[int(x) for x in seeds],
        recordings=list(recordings),
    )
