"""Best-of-N search: sample N episodes per goal, keep the one a reward model scores highest.

For every goal (reset seed ``seed + i``) the agent plays ``N`` episodes from the *same* start: the same
reset seed, different sample seeds (sample ``0`` uses the goal seed itself, so best-of-1 is exactly the
plain sampled evaluation with that seed; sample ``j > 0`` uses a seed derived from ``(goal seed, j)``).
The reward model scores each episode's text (:func:`rlft.agents.episodes.episode_text`), or for an image
reward model its final frame, against the instruction and the highest-scoring one is kept; its *true*
success and score are what the report shows. The oracle pick (highest true score, the ceiling of any
reward model) is reported beside it.

Samples are drawn once for the largest N and reused: the pick at a smaller ``n`` looks at the first
``n`` samples of each goal, so the curve over N = 1, 4, 16, 64 costs one run of the largest N. Ties
are broken by the earlier sample.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rlft.agents.episodes import episode_text, final_frame, reads_frames, rollout_episode
from rlft.agents.results import TaskResult, task_result
from rlft.demos.envs import make_env
from rlft.errors import ConfigError, check_float, check_int

__all__ = [
    "CURVE_NS",
    "BestOfResult",
    "SearchSamples",
    "best_of_n",
    "curve_ns",
    "pick",
    "sample_episodes",
    "sample_seed",
    "summarize",
]

logger = logging.getLogger(__name__)

CURVE_NS: tuple[int, ...] = (1, 4, 16, 64)
"""The N of the best-of-N curve (those up to the requested N, and that N)."""


def curve_ns(best_of: int) -> list[int]:
    """The curve's N values for a search of ``best_of`` samples: :data:`CURVE_NS` up to it, and it."""
    check_int("best_of", best_of)
    return sorted({n for n in CURVE_NS if n <= best_of} | {best_of})


def sample_seed(goal_seed: int, index: int) -> int | None:
    """The sample seed of sample ``index`` of a goal: ``None`` (the goal seed) for 0, else derived."""
    if index == 0:
        return None
    return int(np.random.SeedSequence([int(goal_seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


@dataclass
class SearchSamples:
    """Outcomes of ``N`` sampled episodes on each of ``G`` goals (arrays are ``[G, N]``)."""

    env_id: str
    split: str | None
    goal_seeds: list[int]
    """The reset seed of each goal."""
    instructions: list[str]
    """Each goal's instruction."""
    texts: list[list[str]]
    """Each episode's text, as the reward model reads it."""
    scores: np.ndarray
    """True env scores in [0, 1]."""
    returns: np.ndarray
    """Episode returns."""
    successes: np.ndarray
    """True successes."""
    lengths: np.ndarray
    """Episode lengths."""
    rm_scores: np.ndarray | None = None
    """Reward-model scores (``None`` until scored)."""
    frames: list[list[np.ndarray]] | None = None
    """Each episode's final frame (:func:`~rlft.agents.episodes.final_frame`), when sampled with
    ``frames=True``: what an image reward model reads."""

    def score_with(self, reward_model: Any, batch_size: int = 32) -> SearchSamples:
        """Fill :attr:`rm_scores` with ``reward_model.score`` (any object with that method); returns self.

        Raises:
            ConfigError: an image reward model, and the samples kept no frames.
        """
        views: list[list[Any]] = self.texts
        if reads_frames(reward_model):
            if self.frames is None:
                raise ConfigError(
                    "This reward model scores final frames; sample the episodes with frames=True."
                )
            views = self.frames
        flat_prompts = [p for p, row in zip(self.instructions, views, strict=True) for _ in row]
        flat = [view for row in views for view in row]
        scores = reward_model.score(flat_prompts, flat, batch_size=batch_size)
        self.rm_scores = np.asarray(scores, dtype=np.float64).reshape(self.scores.shape)
        return self


def sample_episodes(
    agent: Any,
    env_id: str,
    *,
    samples: int,
    goals: int = 20,
    seed: int = 1000,
    split: str | None = None,
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    frames: bool = False,
) -> SearchSamples:
    """Play ``samples`` episodes on each of ``goals`` goals (reset seeds ``seed + i``); see the module doc.

    ``agent`` is any :class:`rlft.agents.evaluate.Agent` (``reset(env, seed)`` and ``act(obs, env)``).
    ``frames`` renders each episode's end (``render_mode="rgb_array"``) and keeps that final frame.

    Raises:
        ConfigError: a greedy policy or the expert with ``samples > 1`` (every sample would be the same).
    """
    from tqdm.auto import tqdm

    samples = check_int("samples", samples)
    goals = check_int("goals", goals)
    deterministic = bool(getattr(agent, "deterministic", False))
    if samples > 1 and (deterministic or getattr(agent, "name", "") == "expert"):
        raise ConfigError(
            "Best-of-N needs an agent that samples: a greedy policy or the expert plays the same episode "
            "N times. Pass --sample (PolicyAgent(deterministic=False))."
        )
    env = make_env(env_id, split, env_kwargs, render_mode="rgb_array" if frames else None)
    shape = (goals, samples)
    scores, returns = np.zeros(shape), np.zeros(shape)
    successes, lengths = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.int64)
    instructions: list[str] = []
    texts: list[list[str]] = []
    finals: list[list[np.ndarray]] = []
    seeds = [seed + i for i in range(goals)]
    bar = tqdm(total=goals * samples, desc=f"best-of-{samples} {env_id}", unit="ep", disable=not progress)
    try:
        for g, goal_seed in enumerate(seeds):
            row: list[str] = []
            row_frames: list[np.ndarray] = []
            for j in range(samples):
                episode = rollout_episode(
                    env,
                    agent,
                    goal_seed,
                    sample_seed=sample_seed(goal_seed, j),
                    max_steps=max_steps,
                )
                if j == 0:
                    instructions.append(episode.instruction)
                row.append(episode_text(episode))
                # The env still shows the episode's end: render just that frame.
                if frames and (frame := final_frame(env, None)) is not None:
                    row_frames.append(frame)
                scores[g, j], returns[g, j] = episode.score, episode.total_reward
                successes[g, j], lengths[g, j] = episode.success, episode.length
                bar.update(1)
            texts.append(row)
            finals.append(row_frames)
    finally:
        bar.close()
        env.close()
    kept = finals if frames and all(len(row) == samples for row in finals) else None
    return SearchSamples(
        env_id, split, seeds, instructions, texts, scores, returns, successes, lengths, frames=kept
    )


def pick(values: np.ndarray, n: int) -> np.ndarray:
    """Per goal, the index of the highest of the first ``n`` values (the earliest on ties)."""
    check_int("n", n, 1, values.shape[1])
    return np.argmax(values[:, :n], axis=1)


@dataclass
class BestOfResult:
    """The best-of-N curve of one agent on one environment and split."""

    env_id: str
    split: str | None
    goals: int
    samples: int
    """N: episodes sampled per goal."""
    ns: list[int]
    """The curve's N values."""
    rm: dict[int, TaskResult] = field(default_factory=dict)
    """N -> the true outcomes of the reward model's picks."""
    oracle: dict[int, TaskResult] = field(default_factory=dict)
    """N -> the true outcomes of the oracle's picks (highest true score)."""
    rm_pick_scores: dict[int, float] = field(default_factory=dict)
    """N -> mean reward-model score of the reward model's picks (it rises with N by construction)."""
    mean_true_score: dict[str, dict[int, float]] = field(default_factory=dict)
    """``{"rm": {N: mean true score}, "oracle": {...}}`` of the picks (partial credit, in [0, 1])."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (N keys as strings)."""
        return {
            "env_id": self.env_id,
            "split": self.split,
            "goals": self.goals,
            "samples": self.samples,
            "ns": self.ns,
            "rm": {str(n): asdict(r) for n, r in self.rm.items()},
            "oracle": {str(n): asdict(r) for n, r in self.oracle.items()},
            "rm_pick_scores": {str(n): v for n, v in self.rm_pick_scores.items()},
            "mean_true_score": {
                k: {str(n): v for n, v in d.items()} for k, d in self.mean_true_score.items()
            },
        }

    def table(self) -> str:
        """The curve as text: success and reward with 95% intervals of each pick, per N."""
        lines = [
            f"best-of-N on {self.env_id} ({self.split or 'default'} goals, {self.goals} goals)",
            f"{'N':>4}  {'pick':<7} {'success [CI]':<24} {'reward [CI]':<24}",
        ]
        for n in self.ns:
            for name, result in (("rm", self.rm[n]), ("oracle", self.oracle[n])):
                lines.append(
                    f"{n:>4}  {name:<7} {result.success_rate:6.1%} "
                    f"[{result.success_ci[0]:.2f}, {result.success_ci[1]:.2f}]{'':<5} "
                    f"{result.mean_reward:.3f} [{result.reward_ci[0]:.2f}, {result.reward_ci[1]:.2f}]"
                )
        return "\n".join(lines)


def summarize(samples: SearchSamples, ns: Sequence[int], confidence: float = 0.95) -> BestOfResult:
    """The curve over ``ns`` of scored ``samples`` (reward-model and oracle picks).

    Raises:
        ConfigError: the samples were not scored (:meth:`SearchSamples.score_with`).
    """
    check_float("confidence", confidence, 0.5, 0.999)
    if samples.rm_scores is None:
        raise ConfigError("Score the samples first: samples.score_with(reward_model).")
    goals, n_max = samples.scores.shape
    result = BestOfResult(samples.env_id, samples.split, goals, n_max, list(ns))
    rows = np.arange(goals)
    true_means: dict[str, dict[int, float]] = {"rm": {}, "oracle": {}}
    for n in ns:
        for name, values in (("rm", samples.rm_scores), ("oracle", samples.scores)):
            chosen = pick(values, n)
            outcome = task_result(
                samples.env_id,
                samples.split,
                samples.returns[rows, chosen].tolist(),
                samples.lengths[rows, chosen].tolist(),
                samples.successes[rows, chosen].tolist(),
                samples.goal_seeds,
                confidence=confidence,
            )
            getattr(result, name)[n] = outcome
            true_means[name][n] = float(samples.scores[rows, chosen].mean())
            if name == "rm":
                result.rm_pick_scores[n] = float(samples.rm_scores[rows, chosen].mean())
    result.mean_true_score = true_means
    return result


def best_of_n(
    agent: Any,
    reward_model: Any,
    env_id: str,
    *,
    best_of: int,
    goals: int = 20,
    seed: int = 1000,
    split: str | None = None,
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    confidence: float = 0.95,
    progress: bool = False,
) -> BestOfResult:
    """Sample ``best_of`` episodes per goal, score them with ``reward_model``, and return the curve.

    Args:
        agent: a sampling agent (a :class:`PolicyAgent` with ``deterministic=False``, or random).
        reward_model: anything with ``score(instructions, episodes) -> array``
            (:class:`rlft.policies.reward.RewardModel`); one that ``reads_frames`` gets final frames.
        env_id: environment id.
        best_of: the largest N; the curve covers :func:`curve_ns` of it.
        goals: goals (reset seeds ``seed + i``).
        seed: first reset seed.
        split: goal split.
        max_steps: cap on steps per episode.
        env_kwargs: extra ``gym.make`` kwargs.
        confidence: level of the intervals.
        progress: show a progress bar.
    """
    samples = sample_episodes(
        agent,
        env_id,
        samples=best_of,
        goals=goals,
        seed=seed,
        split=split,
        max_steps=max_steps,
        env_kwargs=env_kwargs,
        progress=progress,
        frames=reads_frames(reward_model),
    ).score_with(reward_model)
    result = summarize(samples, curve_ns(best_of), confidence)
    for line in result.table().splitlines():
        logger.info(line)
    return result
