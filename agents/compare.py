"""Comparisons for reward models: two episodes of one goal from one start, and which one is better.

``rlft compare ENV_ID`` rolls out pairs of episodes and writes them to a comparison folder
(:mod:`rlft.demos.comparisons`). Pair ``i`` resets the environment with seed ``seed + i`` for both of its
episodes, so both face the same goal from the same start state. Who acts: agent A (``--policy`` or
``--agent``) against agent B (``--policy-b`` or ``--agent-b``), or, without a B, two samples of A (a
policy with ``--sample``, or the random agent), each reseeded with its own sample seed.

The rater judges each pair. ``oracle`` simulates a person from the environment's true score with
Bradley-Terry noise (Christiano et al. 2017): A is preferred with probability
``sigmoid((score_A - score_B) / rater_temperature)`` (temperature 0: always the higher score), and two
scores closer than ``tie_margin`` are a tie. ``human`` stores the pairs unlabelled, in a seeded random
left/right order, for the labelling page (``rlft label DIR``). Every random choice is drawn from seeds
derived from ``(seed, i)``, so a run is reproducible and resuming it (``--resume``, the default) continues
to ``--pairs`` without repeating or changing a pair.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from rlft.agents.config import AgentChoice, EnvConfig, ResumableConfig, check_resume_config
from rlft.agents.episodes import EPISODE_TEXT_CHARS, Episode, episode_text, rollout_episode, save_episode
from rlft.agents.evaluate import PolicyAgent, make_agent
from rlft.agents.policy_io import check_policy_fits, resolve_env
from rlft.demos.comparisons import (
    COMPARISONS_FILE,
    RATERS,
    Comparison,
    read_pairs,
    refresh_comparisons_file,
    write_comparisons,
)
from rlft.demos.envs import make_env
from rlft.errors import ConfigError, check_choice, check_float, check_int

__all__ = ["CompareConfig", "CompareResult", "oracle_preference", "run_compare"]

logger = logging.getLogger(__name__)

PAIRS_PER_PART = 32
"""Pairs buffered before they are appended as one part file (and at the end, or on an interrupt)."""

CONFIG_FILE = "compare_config.json"


@dataclass(kw_only=True)
class CompareConfig(ResumableConfig, EnvConfig, AgentChoice):
    """Roll out pairs of episodes on shared goals and rate them: comparisons for reward models.

    The rlft compare flags are these fields. Pair i resets the env with seed + i for both episodes (same
    goal, same start state). Agent A is policy or agent; agent B is policy_b or agent_b, or (neither
    given) a second sample of A. The oracle rater prefers A with probability sigmoid((score_A - score_B) /
    rater_temperature) and calls scores closer than tie_margin a tie; the human rater leaves the pairs
    for rlft label. Re-running continues to pairs without repeating one.
    """

    policy_b: str | None = None
    """Agent B: a saved policy folder (None: agent_b, or a second sample of agent A)."""
    agent_b: str | None = None
    """Agent B: a baseline, expert or random (None: policy_b, or a second sample of agent A)."""
    pairs: int = 100
    """Number of comparisons in out_dir when the run ends (a re-run continues to this many)."""
    rater: str = "oracle"
    """Who judges: oracle (simulated from the true score) or human (left for rlft label)."""
    rater_temperature: float = 0.05
    """Oracle noise: A is preferred with probability sigmoid((score_A - score_B) / T); 0 = always the
    higher score, large = a coin flip."""
    tie_margin: float = 0.01
    """Oracle: scores closer than this are a tie (0: no ties; equal scores are then a coin flip)."""
    max_text_chars: int = EPISODE_TEXT_CHARS
    """Bound on each episode's text in the chosen / rejected columns (the end is kept)."""

    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = ResumableConfig.RESUMABLE_CHANGES | {"pairs"}
    """A resumed run may ask for more (or fewer) pairs; anything else that changes the pairs may not."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        super().validate()
        self.validate_env()
        self.validate_agent()
        if self.policy_b is not None and self.agent_b is not None:
            raise ConfigError("Pass either --policy-b DIR or --agent-b expert|random, not both.")
        self.agent_b_choice().validate_agent(default="same")
        check_int("pairs", self.pairs)
        check_choice("rater", self.rater, RATERS)
        check_float("rater_temperature", self.rater_temperature, 0.0)
        check_float("tie_margin", self.tie_margin, 0.0, 1.0)
        check_int("max_text_chars", self.max_text_chars, 200)
        if not self.has_agent_b and self.validate_agent() == "expert":
            raise ConfigError(
                "Two episodes of the expert on one goal are identical: pass --agent-b random, --policy-b "
                "DIR, or a stochastic agent A (--agent random, or --policy DIR --sample)."
            )
        if not self.has_agent_b and self.policy is not None and not self.sample:
            raise ConfigError(
                "Two greedy episodes of one policy on one goal are identical: pass --sample (two samples "
                "of the policy), or an agent B (--policy-b DIR or --agent-b expert|random)."
            )

    @property
    def has_agent_b(self) -> bool:
        """Whether agent B is its own agent (else a second sample of A)."""
        return self.policy_b is not None or self.agent_b is not None

    def agent_b_choice(self) -> AgentChoice:
        """Agent B as an :class:`AgentChoice` (sampling as for A)."""
        return AgentChoice(
            policy=self.policy_b, agent=self.agent_b, sample=self.sample, temperature=self.temperature
        )

    def run_tag(self) -> str:
        """A short hash of the settings that make the pairs (pair ids start with it)."""
        free = type(self).RESUMABLE_CHANGES
        identity = {k: v for k, v in self.to_dict().items() if k not in free}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]


@dataclass
class CompareResult:
    """What :func:`run_compare` wrote."""

    out_dir: Path
    """The comparison folder."""
    pairs: int
    """Pairs in the folder now."""
    new_pairs: int
    """Pairs this call rolled out."""
    ties: int
    """Ties among the new pairs (oracle)."""
    unlabelled: int
    """Pairs in the folder that wait for a person's label (human rater)."""
    mean_score_a: float
    """Mean true score of agent A over the new pairs (NaN when none)."""
    mean_score_b: float
    """Mean true score of agent B over the new pairs (NaN when none)."""

    @property
    def comparisons_file(self) -> Path:
        """The consolidated Parquet file (prompt / chosen / rejected first)."""
        return self.out_dir / COMPARISONS_FILE


def oracle_preference(
    score_a: float, score_b: float, temperature: float, tie_margin: float, rng: np.random.Generator
) -> tuple[bool, bool, float]:
    """A simulated rater's judgement of two episodes from their true scores (Bradley-Terry).

    Args:
        score_a: true score of episode A.
        score_b: true score of episode B.
        temperature: noise; A wins with probability ``sigmoid((score_a - score_b) / temperature)``, and
            with 0 the higher score always wins.
        tie_margin: ``|score_a - score_b| < tie_margin`` is a tie.
        rng: the generator of the draw.

    Returns:
        ``(a_preferred, tie, confidence)``: whether A is the chosen episode, whether it is a tie (A is
        then listed first), and the probability the rater's model gives the chosen episode (0.5 for ties).
    """
    diff = float(score_a) - float(score_b)
    if abs(diff) < tie_margin:
        return True, True, 0.5
    if temperature == 0.0:
        p_a = 1.0 if diff > 0 else 0.0 if diff < 0 else 0.5
    else:
        p_a = 0.5 * (1.0 + math.tanh(diff / (2.0 * temperature)))  # sigmoid, without overflow
    a_wins = bool(rng.random() < p_a)
    return a_wins, False, p_a if a_wins else 1.0 - p_a


def _seeds(seed: int, index: int) -> tuple[int, int, np.random.Generator]:
    """Sample seeds of A and B and the rater's generator for pair ``index`` (independent of batching)."""
    sample_a, sample_b, rater = np.random.SeedSequence([seed, index]).generate_state(3)
    return int(sample_a), int(sample_b), np.random.default_rng(int(rater))


def _make_row(
    config: CompareConfig,
    pair_id: str,
    index: int,
    split: str,
    episodes: tuple[Episode, Episode],
    paths: tuple[str, str],
    rng: np.random.Generator,
) -> Comparison:
    a, b = episodes
    texts = (episode_text(a, config.max_text_chars), episode_text(b, config.max_text_chars))
    ids = (f"{pair_id}-a", f"{pair_id}-b")
    if config.rater == "oracle":
        first, tie, confidence = oracle_preference(
            a.score, b.score, config.rater_temperature, config.tie_margin, rng
        )
        labelled = True
    else:  # shown left / right in a seeded random order, so the position says nothing of the agent
        first, tie, confidence, labelled = bool(rng.random() < 0.5), False, math.nan, False
    c, r = (0, 1) if first else (1, 0)
    return Comparison(
        pair_id=pair_id,
        env_id=a.env_id,
        goal_seed=a.goal_seed,
        prompt=a.instruction,
        chosen=texts[c],
        rejected=texts[r],
        chosen_episode=ids[c],
        rejected_episode=ids[r],
        chosen_path=paths[c],
        rejected_path=paths[r],
        chosen_score=episodes[c].score,
        rejected_score=episodes[r].score,
        rater=config.rater,
        confidence=confidence,
        tie=tie,
        labelled=labelled,
        pair_index=index,
        split=split,
        chosen_agent=episodes[c].agent,
        rejected_agent=episodes[r].agent,
    )


def _agents(config: CompareConfig) -> tuple[Any, Any]:
    agent_a = make_agent(config, config)
    if not config.has_agent_b:
        return agent_a, agent_a
    agent_b = make_agent(config.agent_b_choice(), config)
    if agent_b.name == agent_a.name:
        agent_a.name, agent_b.name = f"{agent_a.name}_a", f"{agent_b.name}_b"
    return agent_a, agent_b


def _check_fits(agents: tuple[Any, ...], folders: tuple[str | None, ...], env: gym.Env) -> None:
    for agent, folder in zip(agents, folders, strict=True):
        if isinstance(agent, PolicyAgent):
            check_policy_fits(agent.policy, folder or agent.name, env.observation_space, env.action_space)


def run_compare(config: CompareConfig) -> CompareResult:
    """Roll out and rate pairs until ``config.out_dir`` holds ``config.pairs``; what rlft compare runs.

    Raises:
        ConfigError: invalid settings, out_dir holds pairs made with other settings (pass the original
            ones, or --force-config), or it holds pairs and resume is off.
        CheckpointError: a policy folder is missing or corrupt.
        ModalityError: a policy does not fit the environment.
    """
    from tqdm.auto import tqdm

    config.validate()
    out = config.run_dir()
    done = read_pairs(out) if out.is_dir() else []
    if done and not config.resume:
        raise ConfigError(
            f"{out} already holds {len(done)} pairs. Resume (drop --no-resume) to continue them, or use "
            "another --out."
        )
    check_resume_config(config, out / CONFIG_FILE, resuming=bool(done) or (out / CONFIG_FILE).is_file())
    env_spec = resolve_env(config, config.policy or config.policy_b)
    env_id, split = env_spec["env_id"], env_spec["split"]
    done_indices = {row.pair_index for row in done}
    todo = [i for i in range(config.pairs) if i not in done_indices]
    tag = config.run_tag()
    new_rows: list[Comparison] = []
    scores: tuple[list[float], list[float]] = ([], [])
    if todo:
        agent_a, agent_b = _agents(config)
        env = make_env(env_id, split, env_spec["env_kwargs"])
        frames = not isinstance(env.action_space, gym.spaces.Text)
        if frames and env.render_mode is None:
            env.close()
            env = make_env(env_id, split, env_spec["env_kwargs"], render_mode="rgb_array")
        buffer: list[Comparison] = []
        try:
            _check_fits((agent_a, agent_b), (config.policy, config.policy_b or config.policy), env)
            rollout: dict[str, Any] = {
                "max_steps": config.max_steps,
                "record_frames": frames,
                "env_id": env_id,
                "split": split,
            }
            bar = tqdm(todo, desc=f"compare {env_id}", unit="pair", disable=not config.show_progress)
            for index in bar:
                pair_id = f"{tag}-{index:06d}"
                sample_a, sample_b, rng = _seeds(config.seed, index)
                pair = (
                    rollout_episode(env, agent_a, config.seed + index, sample_seed=sample_a, **rollout),
                    rollout_episode(env, agent_b, config.seed + index, sample_seed=sample_b, **rollout),
                )
                stored = out / "episodes"
                paths = (
                    save_episode(pair[0], stored, f"{pair_id}-a", outcome=False).relative_to(out).as_posix(),
                    save_episode(pair[1], stored, f"{pair_id}-b", outcome=False).relative_to(out).as_posix(),
                )
                row = _make_row(config, pair_id, index, split, pair, paths, rng)
                buffer.append(row)
                scores[0].append(pair[0].score)
                scores[1].append(pair[1].score)
                if len(buffer) >= PAIRS_PER_PART:
                    write_comparisons(out, buffer, refresh=False)
                    new_rows += buffer
                    buffer = []
        finally:
            env.close()
            if buffer:  # also on an interrupt: keep every finished pair
                write_comparisons(out, buffer, refresh=False)
                new_rows += buffer
            if new_rows:
                refresh_comparisons_file(out)
    pairs = read_pairs(out) if out.is_dir() else []
    result = CompareResult(
        out_dir=out,
        pairs=len(pairs),
        new_pairs=len(new_rows),
        ties=sum(r.tie for r in new_rows),
        unlabelled=sum(not r.labelled for r in pairs),
        mean_score_a=float(np.mean(scores[0])) if scores[0] else math.nan,
        mean_score_b=float(np.mean(scores[1])) if scores[1] else math.nan,
    )
    logger.info("%d pairs in %s (%d new, %d ties)", result.pairs, out, result.new_pairs, result.ties)
    return result
