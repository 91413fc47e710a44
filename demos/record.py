"""Recording demonstrations into Minari datasets: the expert's, or any actor's (a policy, random).

By default the actor is the environment's own privileged solver, ``env.unwrapped.expert_action()``,
which acts in the agent's action space; any object with ``reset(env, seed)`` and ``act(obs, env)`` (an
:class:`Actor`, such as rlft.agents' policy and random agents) records policy or random data for
offline RL and DAgger-style relabelling, and the dataset id ends in ``-expert``, ``-policy`` or
``-random`` accordingly. Episode ``i`` is reset with seed ``seed + i`` and the seed is stored with it,
so every demonstration can be replayed. As in Ravens, only episodes whose return reaches
``min_return`` (default 0.99: full credit) are kept unless ``keep_failures`` is set. Every step's
``infos`` hold ``success``, ``score`` (the episode's partial credit so far) and ``evaluation`` (the
env's score breakdown as JSON text; :func:`rlft.demos.decode_evaluation` reads it back). The dataset is
built in a temporary folder and moved into place at the end, so an interrupted run never leaves a
half-written dataset, and an existing dataset is only replaced when ``overwrite`` is set.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from rlft.demos.dataset import default_dataset_dir, default_dataset_id, encode_observation, storage_space
from rlft.demos.envs import make_env
from rlft.errors import ConfigError, DatasetError, atomic_dir, check_choice, check_float, check_int

if TYPE_CHECKING:
    from rlft.envs.ray_vector import RayEnvPool

__all__ = [
    "SOURCES",
    "Actor",
    "CollectResult",
    "ExpertEnv",
    "collect_demos",
    "expert_action",
    "rollout",
]

logger = logging.getLogger(__name__)


SOURCES: tuple[str, ...] = ("expert", "policy", "random")
"""Who acted in a dataset; the last part of its default id (``rlft/WebShop-train-random-v0``)."""


class Actor(Protocol):
    """Anything that acts in an environment episode by episode (rlft.agents' agents fit)."""

    def reset(self, env: gym.Env, seed: int) -> None:
        """Called after ``env.reset(seed=seed)`` at the start of each episode."""

    def act(self, obs: Any, env: gym.Env) -> Any:
        """The next action for ``obs``."""


@runtime_checkable
class ExpertEnv(Protocol):
    """An environment that ships a privileged solver (every rlft environment does)."""

    def expert_action(self) -> Any:
        """The solver's next action, in the agent's own action space."""


def expert_action(env: gym.Env) -> Any:
    """The next action of ``env``'s privileged solver, ``env.unwrapped.expert_action()``.

    Raises:
        ConfigError: the environment has no expert.
    """
    solver = env.unwrapped
    if not isinstance(solver, ExpertEnv):
        name = env.spec.id if env.spec is not None else type(solver).__name__
        raise ConfigError(f"{name} has no expert_action(): record or evaluate a policy or random agent.")
    return solver.expert_action()


class _Expert:
    """The environment's privileged solver as an :class:`Actor`."""

    def reset(self, env: gym.Env, seed: int) -> None:
        """Nothing to reset: the expert reads the simulator state."""

    def act(self, obs: Any, env: gym.Env) -> Any:
        """The expert's next action."""
        return expert_action(env)


@dataclass
class CollectResult:
    """What :func:`collect_demos` wrote."""

    path: Path
    """Dataset folder (open it with :class:`rlft.demos.DemoDataset`)."""
    dataset_id: str
    """Minari dataset id."""
    kept: int
    """Episodes written."""
    attempted: int
    """Episodes rolled out (failures beyond ``kept`` were dropped)."""
    steps: int
    """Transitions written."""
    seeds: list[int] = field(default_factory=list)
    """Reset seeds of the kept episodes."""
    mean_return: float = 0.0
    """Mean return over all attempted episodes (the expert's score)."""


@dataclass
class _Episode:
    seed: int
    observations: list[dict[str, Any]]
    actions: list[Any]
    rewards: list[float]
    terminations: list[bool]
    truncations: list[bool]
    successes: list[bool]
    scores: list[float] = field(default_factory=list)
    evaluations: list[str] = field(default_factory=list)

    @property
    def episode_return(self) -> float:
        return float(sum(self.rewards))


def _evaluation(info: Mapping[str, Any]) -> str:
    """The env's score breakdown as JSON text (web: ``evaluation``; tabletop: ``subgoals``)."""
    breakdown = info.get("evaluation")
    if breakdown is None and "subgoals" in info:
        breakdown = {"subgoals": info["subgoals"]}
    return json.dumps(breakdown if breakdown is not None else {}, default=str, sort_keys=True)


def rollout(env: gym.Env, actor: Actor, seed: int, max_steps: int | None = None) -> _Episode:
    """Run ``actor`` for one episode from ``reset(seed=seed)``."""
    obs, _ = env.reset(seed=seed)
    actor.reset(env, seed)
    episode = _Episode(seed, [obs], [], [], [], [], [])
    limit = max_steps if max_steps is not None else 10_000
    for _ in range(limit):
        action = actor.act(obs, env)
        obs, reward, terminated, truncated, info = env.step(action)
        episode.observations.append(obs)
        episode.actions.append(action if isinstance(action, str) else np.asarray(action, dtype=np.float32))
        episode.rewards.append(float(reward))
        episode.terminations.append(bool(terminated))
        episode.truncations.append(bool(truncated))
        episode.successes.append(bool(info.get("success", False)))
        episode.scores.append(float(info.get("score", sum(episode.rewards))))
        episode.evaluations.append(_evaluation(info))
        if terminated or truncated:
            break
    else:
        # Out of budget without the env ending the episode: mark it truncated so the data stays valid.
        episode.truncations[-1] = True
    return episode


def _to_buffer(episode: _Episode, encoded_keys: list[str], split: str | None) -> Any:
    from minari.data_collector import EpisodeBuffer

    observations = [encode_observation(obs, encoded_keys) for obs in episode.observations]
    if isinstance(observations[0], dict):
        stacked: Any = {key: _stack([obs[key] for obs in observations]) for key in observations[0]}
    else:
        stacked = _stack(observations)
    return EpisodeBuffer(
        seed=episode.seed,
        options={"split": split} if split is not None else None,
        observations=stacked,
        actions=_stack(episode.actions),
        rewards=list(episode.rewards),
        terminations=list(episode.terminations),
        truncations=list(episode.truncations),
        infos={
            "success": list(episode.successes),
            "score": list(episode.scores),
            "evaluation": list(episode.evaluations),
        },
    )


def _json_spec(env: gym.Env) -> Any:
    """The env's spec when Gymnasium can serialize it (string entry point), else ``None``."""
    try:
        env.spec.to_json() if env.spec is not None else None
    except ValueError:
        return None
    return env.spec


def _stack(values: list[Any]) -> Any:
    if values and isinstance(values[0], str):
        return list(values)
    return np.stack([np.asarray(v) for v in values])


def collect_demos(
    env_id: str,
    episodes: int,
    *,
    out: str | Path | None = None,
    split: str | None = "train",
    seed: int = 0,
    min_return: float = 0.99,
    keep_failures: bool = False,
    max_attempts: int | None = None,
    max_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = False,
    actor: Actor | None = None,
    source: str = "expert",
    env_pool: Callable[..., RayEnvPool] | None = None,
) -> CollectResult:
    """Record ``episodes`` demonstrations of ``env_id`` (the expert's by default) as a Minari dataset.

    Args:
        env_id: registered environment id, e.g. ``rlft/WebShop-v0``.
        episodes: number of episodes to keep.
        out: dataset folder; default :func:`rlft.demos.default_dataset_dir` (under the Minari root).
        split: goal split passed to ``gym.make`` (``train`` by default: never record on test goals
            you will evaluate on); ``None`` keeps the environment's default.
        seed: episode ``i`` of the attempts is reset with ``seed + i``.
        min_return: episodes whose return is below this are dropped (unless ``keep_failures``).
        keep_failures: keep every episode, successful or not.
        max_attempts: stop after this many rollouts even if fewer episodes were kept
            (default ``3 * episodes``).
        max_steps: cap on steps per episode (default: the environment's own time limit).
        env_kwargs: extra ``gym.make`` keyword arguments, recorded in the dataset.
        overwrite: replace an existing dataset at ``out``.
        progress: show a progress bar.
        actor: who acts (default: the env's expert); see :class:`Actor`.
        source: who ``actor`` is, one of :data:`SOURCES`: the dataset id's suffix and its
            ``algorithm_name``.
        env_pool: makes a :class:`rlft.envs.ray_vector.RayEnvPool` of the same env to run the attempts
            on all its envs at once (each with a shallow copy of ``actor``, which must set all its
            per-episode state in ``reset``); the kept episodes, and so the dataset, are the same as
            without it, since an episode depends on its seed only.

    Returns:
        Where the dataset went and what it holds.

    Raises:
        UnknownEnvError: unknown ``env_id``.
        ConfigError: invalid counts, or ``out`` already holds a dataset and ``overwrite`` is off.
        DatasetError: no episode reached ``min_return`` within ``max_attempts``.

    """
    from tqdm.auto import tqdm

    episodes = check_int("episodes", episodes)
    check_choice("source", source, SOURCES)
    if actor is None and source != "expert":
        raise ConfigError(f"source={source!r} needs the actor that produced the data (actor=...).")
    actor = actor if actor is not None else _Expert()
    min_return = check_float("min_return", min_return)
    max_attempts = check_int("max_attempts", max_attempts if max_attempts is not None else 3 * episodes)
    # Absolute: Minari's size bookkeeping breaks on relative dataset paths.
    path = (Path(out) if out is not None else default_dataset_dir(env_id, split, source)).resolve()
    dataset_id = default_dataset_id(env_id, split, source)
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise ConfigError(
            f"{path} already exists; pass overwrite=True (--overwrite) or choose another --out."
        )
    env = make_env(env_id, split, env_kwargs)
    seeds = range(seed, seed + max_attempts)
    attempts: Generator[_Episode, None, None] = (
        _pool_rollouts(env_pool, actor, seeds, max_steps)
        if env_pool is not None
        else (rollout(env, actor, s, max_steps) for s in seeds)
    )
    try:
        obs_space, encoded_keys = storage_space(env.observation_space)
        kept: list[_Episode] = []
        returns: list[float] = []
        bar = tqdm(total=episodes, desc=f"collect {env_id}", unit="ep", disable=not progress)
        for attempt, episode in enumerate(attempts):
            returns.append(episode.episode_return)
            if keep_failures or episode.episode_return >= min_return:
                kept.append(episode)
                bar.update(1)
            bar.set_postfix(kept=len(kept), tried=attempt + 1)
            if len(kept) == episodes:
                break
        bar.close()
        if not kept:
            raise DatasetError(
                f"None of {len(returns)} {source} episodes on {env_id} reached return {min_return} "
                f"(best {max(returns):.3f}). Lower --min-return or pass --keep-failures."
            )
        if len(kept) < episodes:
            logger.warning(
                "kept %d of %d requested episodes after %d attempts", len(kept), episodes, len(returns)
            )
        stats = {
            "attempted": len(returns),
            "kept": len(kept),
            "min_return": min_return,
            "keep_failures": keep_failures,
            "source": source,
            "expert_mean_return": float(np.mean(returns)),
            "expert_success_rate": float(np.mean([r >= min_return for r in returns])),
        }
        _write_dataset(path, dataset_id, env, kept, obs_space, encoded_keys, split, env_kwargs, stats, source)
    finally:
        attempts.close()  # ends the pool's workers, if any
        env.close()
    steps = sum(len(e.actions) for e in kept)
    logger.info("wrote %d episodes (%d steps) to %s", len(kept), steps, path)
    return CollectResult(
        path=path,
        dataset_id=dataset_id,
        kept=len(kept),
        attempted=len(returns),
        steps=steps,
        seeds=[e.seed for e in kept],
        mean_return=float(np.mean(returns)),
    )


def _pool_rollouts(
    make_pool: Callable[..., RayEnvPool], actor: Actor, seeds: range, max_steps: int | None
) -> Generator[_Episode, None, None]:
    """:func:`rollout` of each seed on a pool's envs at once, in seed order; the pool closes at the end."""
    pool = make_pool()
    actors = [copy.copy(actor) for _ in range(pool.num_envs)]
    try:
        yield from pool.map_episodes(lambda env, slot, s: rollout(env, actors[slot], s, max_steps), seeds)
    finally:
        pool.close()


def _write_dataset(
    path: Path,
    dataset_id: str,
    env: gym.Env,
    kept: list[_Episode],
    obs_space: gym.Space,
    encoded_keys: list[str],
    split: str | None,
    env_kwargs: Mapping[str, Any] | None,
    stats: dict[str, Any],
    source: str = "expert",
) -> None:
    from minari.dataset.minari_dataset import MinariDataset
    from minari.dataset.minari_storage import MinariStorage

    def write(staging: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Minari warns about unset author/permalink fields
            storage = MinariStorage.new(
                staging / "data",
                observation_space=obs_space,
                action_space=env.action_space,
                env_spec=_json_spec(env),
                jpeg_encoding=False,  # lossless images: BC and replay must see what the expert saw
            )
            import minari

            storage.update_metadata(
                {
                    "dataset_id": dataset_id,
                    "algorithm_name": "rlft privileged expert" if source == "expert" else f"rlft {source}",
                    "minari_version": minari.__version__,
                    "rlft_env_id": env.spec.id if env.spec is not None else "",
                    "rlft_env_kwargs": json.dumps(dict(env_kwargs or {})),
                    "rlft_source": source,
                    "rlft_split": split or "",
                    "rlft_encoded_keys": json.dumps(encoded_keys),
                    "rlft_collect_stats": json.dumps(stats),
                }
            )
            storage.update_episodes([_to_buffer(e, encoded_keys, split) for e in kept])
            MinariDataset(storage)  # validates that Minari can open what was written

    # Built in a hidden temporary folder and swapped in whole: a crash never leaves a half-written dataset.
    atomic_dir(path, write)
