"""Evaluation: success rate, mean reward and episode length per task and split, with confidence intervals.

Any :class:`Agent` can be evaluated: :class:`RandomAgent` and :class:`ExpertAgent` are the baselines
(the floor and the ceiling of every table) and :class:`PolicyAgent` wraps a trained
:class:`rlft.policies.AgentPolicy`. Success rates get a Wilson score interval (well-behaved at 0 % and
100 %, where the normal approximation collapses); mean reward and length get a seeded percentile
bootstrap. Episode ``i`` is reset with ``seed + i`` so two agents evaluated with the same seed face the
same goals. Optionally the first episodes are saved: tabletop episodes as animated GIFs, web episodes as
readable Markdown transcripts.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import gymnasium as gym
import numpy as np
from rlft.agents.config import AgentChoice, DistributedConfig, EnvConfig, RunConfig, autocast, provenance
from rlft.agents.episodes import Episode, rollout_episode, write_gif, write_transcript
from rlft.agents.policy_io import check_policy_fits, expand_env_ids, load_agent_policy, resolve_env
from rlft.agents.results import TaskResult, bootstrap_interval, task_result, wilson_interval
from rlft.demos.envs import make_env
from rlft.demos.record import expert_action
from rlft.errors import ConfigError, check_float, check_int

if TYPE_CHECKING:
    from rlft.envs.ray_vector import RayEnvPool

__all__ = [
    "Agent",
    "EvalConfig",
    "EvalReport",
    "ExpertAgent",
    "PolicyAgent",
    "RandomAgent",
    "TaskResult",
    "bootstrap_interval",
    "evaluate",
    "evaluate_agent",
    "make_agent",
    "run_eval",
    "task_result",
    "wilson_interval",
]

logger = logging.getLogger(__name__)


class Agent(Protocol):
    """Anything that picks actions for an environment."""

    name: str

    def reset(self, env: gym.Env, seed: int) -> None:
        """Called after ``env.reset`` at the start of each episode."""

    def act(self, obs: Any, env: gym.Env) -> Any:
        """Return the next action for ``obs``."""


class RandomAgent:
    """Uniform over ``admissible_commands`` when the observation has them, else ``action_space.sample()``."""

    name = "random"

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)
        self._space: gym.Space | None = None

    def reset(self, env: gym.Env, seed: int) -> None:
        """Reseed from the episode seed so the baseline is reproducible."""
        self._rng = np.random.default_rng(seed)
        self._space = env.action_space
        self._space.seed(seed)

    def act(self, obs: Any, env: gym.Env) -> Any:
        """A uniformly random admissible command (or a sample of the action space)."""
        commands = obs.get("admissible_commands") if isinstance(obs, dict) else None
        if commands is not None and len(commands) > 0:
            return str(commands[int(self._rng.integers(len(commands)))])
        return env.action_space.sample()


class ExpertAgent:
    """The environment's privileged solver, ``env.unwrapped.expert_action()``."""

    name = "expert"

    def reset(self, env: gym.Env, seed: int) -> None:
        """Nothing to reset: the expert reads the simulator state."""

    def act(self, obs: Any, env: gym.Env) -> Any:
        """The expert's next action."""
        return expert_action(env)


class PolicyAgent:
    """A trained policy (an :class:`rlft.policies.AgentPolicy`, or anything with its ``act``).

    Args:
        policy: the policy.
        name: row name in reports.
        deterministic: act greedily (argmax). With ``False`` actions are sampled from the policy's
            distribution (what PPO optimises) with a generator seeded from each episode's seed, so
            sampled evaluations are reproducible too.
        temperature: sampling temperature (logits / temperature; 1: the policy's own distribution).
    """

    def __init__(
        self,
        policy: Any,
        name: str = "policy",
        deterministic: bool = True,
        precision: str = "fp32",
        temperature: float = 1.0,
    ) -> None:
        self.policy = policy
        self.name = name
        self.deterministic = deterministic
        self.temperature = temperature
        self.precision = precision
        self._generator: Any = None
        if hasattr(policy, "cache_frozen_encodings"):
            policy.cache_frozen_encodings()

    def reset(self, env: gym.Env, seed: int) -> None:
        """Reseed the sampling generator from the episode seed."""
        if not self.deterministic:
            import torch

            device = getattr(self.policy, "device", "cpu")
            self._generator = torch.Generator(device=device).manual_seed(seed)

    def act(self, obs: Any, env: gym.Env) -> Any:
        """The policy's action for ``obs`` (greedy or sampled)."""
        with autocast(getattr(self.policy, "device", "cpu"), self.precision):
            if self.deterministic:
                return self.policy.act(obs, deterministic=True)
            if self.temperature == 1.0:  # any object with act(obs, deterministic, generator) will do
                return self.policy.act(obs, deterministic=False, generator=self._generator)
            return self.policy.act(
                obs, deterministic=False, generator=self._generator, temperature=self.temperature
            )


@dataclass
class EvalReport:
    """Results of one agent over several tasks / splits, serializable to JSON."""

    agent: str
    confidence: float
    results: list[TaskResult]
    provenance: dict[str, Any] = field(default_factory=dict)
    """How the report was made: policy path, sampled or greedy, env kwargs, max steps, seeds, rlft
    version, git commit, timestamp (see :func:`rlft.agents.config.provenance`)."""
    search: list[Any] = field(default_factory=list)
    """Best-of-N curves (:class:`rlft.agents.search.BestOfResult`), one per environment, when the
    evaluation searched with a reward model; ``results`` then holds the reward model's picks."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        out = {
            "agent": self.agent,
            "confidence": self.confidence,
            "provenance": self.provenance,
            "results": [asdict(r) for r in self.results],
        }
        if self.search:
            out["search"] = [s.to_dict() for s in self.search]
        return out

    def save(self, path: str | Path) -> Path:
        """Write the JSON report (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def table(self) -> str:
        """A fixed-width text table, one row per task and split."""
        ci = f"[{round(self.confidence * 100)}% CI]"
        rows = [
            f"{'agent':<10} {'env':<28} {'split':<10} {'n':>4}  {'success ' + ci:<24} {'reward ' + ci:<24} "
            f"{'length':>6}"
        ]
        for r in self.results:
            rows.append(
                f"{self.agent:<10} {r.env_id:<28} {r.split or '-':<10} {r.episodes:>4}  "
                f"{r.success_rate:6.1%} [{r.success_ci[0]:.2f}, {r.success_ci[1]:.2f}]{'':<5} "
                f"{r.mean_reward:.3f} [{r.reward_ci[0]:.2f}, {r.reward_ci[1]:.2f}]      {r.mean_length:6.1f}"
            )
        rows += [line for curve in self.search for line in ("", curve.table())]
        return "\n".join(rows)


def evaluate_agent(
    agent: Agent,
    env_id: str,
    *,
    split: str | None = None,
    episodes: int = 20,
    seed: int = 1000,
    max_steps: int | None = None,
    confidence: float = 0.95,
    record_dir: str | Path | None = None,
    record_episodes: int = 2,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    check_fits: bool = True,
    env_pool: Callable[..., RayEnvPool] | None = None,
) -> TaskResult:
    """Evaluate ``agent`` on ``episodes`` episodes of ``env_id`` (goal ``split``).

    Args:
        agent: the agent to run.
        env_id: registered environment id.
        split: goal split (``train`` / ``validation`` / ``test``, the held-out goals); ``None`` keeps
            the env default.
        episodes: number of episodes (episode ``i`` resets with ``seed + i``).
        seed: first reset seed.
        max_steps: cap on steps per episode (default: the environment's time limit).
        confidence: level of the intervals.
        record_dir: where to save the first ``record_episodes`` episodes (GIF or transcript).
        record_episodes: how many episodes to save.
        env_kwargs: extra ``gym.make`` kwargs.
        progress: show a progress bar.
        check_fits: refuse a :class:`PolicyAgent` whose policy cannot read this env's observations.
        env_pool: makes a :class:`rlft.envs.ray_vector.RayEnvPool` of the same env (called with the
            ``render_mode`` to use) to run the episodes on all its envs at once, each with a shallow copy
            of ``agent``; the results are those of a local run (an episode depends on its seed only).

    Raises:
        ModalityError: the policy was trained for another family or view (``check_fits``).

    """
    from tqdm.auto import tqdm

    episodes = check_int("episodes", episodes)
    confidence = check_float("confidence", confidence, 0.5, 0.999)
    env = make_env(env_id, split, env_kwargs)
    if check_fits and isinstance(agent, PolicyAgent):
        try:
            check_policy_fits(agent.policy, agent.name, env.observation_space, env.action_space)
        except BaseException:
            env.close()
            raise
    text_actions = isinstance(env.action_space, gym.spaces.Text)
    if not text_actions and env.render_mode is None and record_dir is not None:
        env.close()
        env = make_env(env_id, split, env_kwargs, render_mode="rgb_array")
    returns, lengths, successes, seeds, recordings = [], [], [], [], []
    out = Path(record_dir) if record_dir is not None else None
    episode_seeds = range(seed, seed + episodes)

    def frames(s: int) -> bool:
        return out is not None and s - seed < record_episodes and not text_actions

    runs: Generator[Episode, None, None] = (
        _pool_episodes(env_pool, env.render_mode, agent, episode_seeds, max_steps, frames)
        if env_pool is not None
        else (
            rollout_episode(env, agent, s, max_steps=max_steps, record_frames=frames(s))
            for s in episode_seeds
        )
    )
    try:
        bar = tqdm(runs, total=episodes, desc=f"eval {agent.name} {env_id}", unit="ep", disable=not progress)
        for i, episode in enumerate(bar):
            ep_seed = seed + i
            record = out is not None and i < record_episodes
            returns.append(episode.total_reward)
            lengths.append(episode.length)
            successes.append(episode.success)
            seeds.append(ep_seed)
            if out is not None and record:
                out.mkdir(parents=True, exist_ok=True)
                saved: Path | None
                stem = f"{agent.name}_{env_id.replace('/', '_')}_{split or 'default'}_seed{ep_seed}"
                if text_actions:
                    saved = write_transcript(out / f"{stem}.md", episode)
                else:
                    saved = write_gif(out / f"{stem}.gif", episode.frames)
                if saved is not None:
                    recordings.append(str(saved))
    finally:
        runs.close()  # ends the pool's workers, if any
        env.close()
    return task_result(
        env_id, split, returns, lengths, successes, seeds, confidence=confidence, recordings=recordings
    )


def _pool_episodes(
    make_pool: Callable[..., RayEnvPool],
    render_mode: str | None,
    agent: Agent,
    seeds: range,
    max_steps: int | None,
    record_frames: Callable[[int], bool],
) -> Generator[Episode, None, None]:
    """:func:`rollout_episode` of each seed on a pool's envs at once, in seed order; the pool closes after."""
    pool = make_pool(render_mode=render_mode)
    agents = [copy.copy(agent) for _ in range(pool.num_envs)]
    try:
        yield from pool.map_episodes(
            lambda env, slot, s: rollout_episode(
                env, agents[slot], s, max_steps=max_steps, record_frames=record_frames(s)
            ),
            seeds,
        )
    finally:
        pool.close()


def evaluate(
    agent: Agent,
    env_ids: Sequence[str],
    splits: Sequence[str | None] = (None,),
    *,
    report_path: str | Path | None = None,
    confidence: float = 0.95,
    provenance_facts: dict[str, Any] | None = None,
    **kwargs: Any,
) -> EvalReport:
    """Evaluate ``agent`` on every pair of ``env_ids`` x ``splits``; optionally write the JSON report.

    ``kwargs`` go to :func:`evaluate_agent` (episodes, seed, max_steps, record_dir, env_kwargs, ...).
    The report's provenance holds ``provenance_facts`` (the policy path, for instance), whether actions
    were sampled, the env kwargs, max steps and seed, the rlft version, git commit and a timestamp.
    """
    results = [
        evaluate_agent(agent, env_id, split=split, confidence=confidence, **kwargs)
        for env_id in env_ids
        for split in splits
    ]
    facts = {
        "agent": agent.name,
        "sampled": isinstance(agent, PolicyAgent) and not agent.deterministic,
        "temperature": agent.temperature if isinstance(agent, PolicyAgent) else None,
        "env_kwargs": dict(kwargs.get("env_kwargs") or {}),
        "max_steps": kwargs.get("max_steps"),
        "seed": kwargs.get("seed", 1000),
        **(provenance_facts or {}),
    }
    report = EvalReport(
        agent=agent.name, confidence=confidence, results=results, provenance=provenance(**facts)
    )
    if report_path is not None:
        report.save(report_path)
    for line in report.table().splitlines():
        logger.info(line)
    return report


@dataclass
class EvalConfig(RunConfig, EnvConfig, AgentChoice, DistributedConfig):
    """Evaluate a saved policy or a baseline: success rate, reward and length with confidence intervals.

    The rlft eval flags are these fields. The environment defaults to the one the policy records,
    with the env kwargs it was trained with (a multi-task policy: every id it was trained on, a row
    each); several ENV_IDs, or groups of them (all-web, all-forms, all-tabletop, trained), give a row per
    id. Episode i resets with seed + i, so agents evaluated with one seed face the same goals. With ray
    the episodes run on num_workers x envs_per_worker remote envs at once (the agent acts in this
    process), with the same results.
    """

    episodes: int = 50
    """Episodes per environment."""
    confidence: float = 0.95
    """Level of the confidence intervals."""
    record_episodes: int = 2
    """Episodes saved per environment into out_dir/episodes (GIF for tabletop, Markdown for web)."""
    name: str | None = None
    """Agent name in the report (default: policy, expert or random)."""
    best_of: int = 1
    """Best-of-N search: sample this many episodes per goal from the same start and keep the one the
    reward model scores highest (needs reward_model, and sample for a policy); the report adds the
    oracle pick (highest true score) and the curve at N = 1, 4, 16, 64 up to this N."""
    reward_model: str | None = None
    """Reward model folder (rlft train rm --out) that best-of-N search ranks episodes with."""

    DEFAULT_SPLIT: ClassVar[str] = "test"
    """Evaluate on held-out goals unless told otherwise."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        super().validate()
        self.validate_env()
        self.validate_distributed()
        kind = self.validate_agent()
        check_int("episodes", self.episodes)
        check_int("record_episodes", self.record_episodes, 0)
        check_float("confidence", self.confidence, 0.5, 0.999)
        check_int("best_of", self.best_of)
        if self.best_of > 1 and self.reward_model is None:
            raise ConfigError("--best-of N ranks samples with a reward model: pass --reward-model RM.")
        if self.best_of > 1 and (kind == "expert" or (kind == "policy" and not self.sample)):
            raise ConfigError(
                "--best-of N needs sampled episodes: add --sample (a greedy policy or the expert plays the "
                "same episode N times)."
            )


def make_agent(
    choice: AgentChoice, run: RunConfig, name: str | None = None, default: str | None = None
) -> Any:
    """The agent ``choice`` names: a loaded :class:`PolicyAgent` (on ``run``'s device), or a baseline."""
    kind = choice.validate_agent(default=default)
    if choice.policy is not None:  # kind == "policy"
        policy = load_agent_policy(choice.policy, device=run.torch_device(), progress=run.show_progress)
        return PolicyAgent(
            policy,
            name or "policy",
            deterministic=not choice.sample,
            precision=run.precision,
            temperature=choice.temperature,
        )
    agent: Any = ExpertAgent() if kind == "expert" else RandomAgent()
    if name:
        agent.name = name
    return agent


def _episode_pool(config: DistributedConfig, env: dict[str, Any]) -> Callable[..., RayEnvPool] | None:
    """The pool maker of ``--ray`` runs (None without ``--ray``)."""
    if config.ray is None:
        return None
    from rlft.agents.ray_envs import episode_pool

    return episode_pool(config, env["env_id"], env["split"], env["env_kwargs"])


def run_eval(config: EvalConfig, env_ids: Sequence[str] = ()) -> EvalReport:
    """Evaluate the agent of ``config`` on ``config.env_id`` (and ``env_ids``); what rlft eval runs.

    ``env_ids`` may hold groups (``all-web``, ``all-forms``, ``all-tabletop``, ``trained``: see
    :func:`rlft.agents.policy_io.expand_env_ids`); with no id at all, a multi-task policy is evaluated on
    every id it was trained on, one row each.

    Raises:
        ConfigError: invalid settings, or no environment given and none recorded by the policy.
        CheckpointError: the policy folder is missing or corrupt.
        ModalityError: the policy does not fit the environment (family or view).
    """
    config.validate()
    agent = make_agent(config, config, config.name)
    ids = expand_env_ids([config.env_id, *env_ids], config.policy)
    results, env_kwargs, curves = [], {}, []
    out = Path(config.out_dir) if config.out_dir is not None else None
    reward_model = None
    if config.reward_model is not None:
        from rlft.policies.reward import load_reward_model

        reward_model = load_reward_model(
            config.reward_model, device=config.torch_device(), progress=config.show_progress
        )
    for env_id in ids:
        env = resolve_env(replace(config, env_id=env_id), config.policy)
        env_kwargs[env["env_id"]] = env["env_kwargs"]
        if reward_model is not None:
            from rlft.agents.search import best_of_n

            curve = best_of_n(
                agent,
                reward_model,
                env["env_id"],
                best_of=config.best_of,
                goals=config.episodes,
                seed=config.seed,
                split=env["split"],
                max_steps=config.max_steps,
                env_kwargs=env["env_kwargs"],
                confidence=config.confidence,
                progress=config.show_progress,
            )
            curves.append(curve)
            results.append(curve.rm[config.best_of])
            continue
        results.append(
            evaluate_agent(
                agent,
                env["env_id"],
                split=env["split"],
                episodes=config.episodes,
                seed=config.seed,
                max_steps=config.max_steps,
                confidence=config.confidence,
                record_dir=out / "episodes" if out is not None and config.record_episodes else None,
                record_episodes=config.record_episodes,
                env_kwargs=env["env_kwargs"],
                progress=config.show_progress,
                env_pool=_episode_pool(config, env),
            )
        )
    facts = {
        "agent": agent.name,
        "policy": str(Path(config.policy).resolve()) if config.policy else None,
        "sampled": bool(config.policy and config.sample),
        "temperature": config.temperature if config.policy and config.sample else None,
        "env_kwargs": env_kwargs,
        "max_steps": config.max_steps,
        "seed": config.seed,
        "episode_seeds": [r.seeds for r in results],
        "device": str(config.torch_device()),
        "precision": config.precision,
        "best_of": config.best_of,
        "reward_model": str(Path(config.reward_model).resolve()) if config.reward_model else None,
    }
    report = EvalReport(agent.name, config.confidence, results, provenance(**facts), curves)
    if out is not None:
        report.save(out / "report.json")
    return report
