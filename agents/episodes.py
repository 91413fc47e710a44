"""Episodes as records: one shared rollout loop, the text a reward model reads, and the files a person sees.

:func:`rollout_episode` runs any :class:`rlft.agents.evaluate.Agent` for one episode from
``env.reset(seed=seed)`` and returns an :class:`Episode`: the instruction, every step's action (the web
command or the tabletop action vector) with what came back (URL, page text, ``last_action_error``,
reward), and the final true ``score`` (``info["score"]``, in [0, 1]) and ``success``. Two rollouts with
one reset seed face the same goal from the same start; an agent that samples is reseeded with
``sample_seed`` (default: the reset seed), so two samples of one policy on one goal differ when their
sample seeds do, and each is reproducible. Evaluation, comparisons and best-of-N search all use this loop.

:func:`episode_text` is the canonical text of an episode for a reward model (the instruction is left out:
it is the comparison's ``prompt``); it never shows rewards or the score, only what the agent saw.
:func:`save_episode` writes an episode for people and for later training: a JSON record always, plus a
Markdown transcript (web) or an animated GIF with its final frame as ``.npy`` and ``.png`` (tabletop).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from rlft.demos.record import Actor
from rlft.errors import ConfigError, atomic_write_bytes, atomic_write_text, check_int, require

__all__ = [
    "EPISODE_TEXT_CHARS",
    "Episode",
    "EpisodeStep",
    "episode_text",
    "final_frame",
    "load_episode",
    "reads_frames",
    "rollout_episode",
    "save_episode",
    "write_gif",
    "write_transcript",
]

EPISODE_TEXT_CHARS = 4000
"""Default bound on :func:`episode_text` (characters); longer episodes keep their end."""

TRANSCRIPT_PAGE_CHARS = 2000
"""Page text shown per step in Markdown transcripts."""


@dataclass
class EpisodeStep:
    """One step: the action taken and what the environment showed after it."""

    action: str | list[float]
    """The web command as typed, or the action vector (tabletop) as a list of floats."""
    reward: float
    """The step's reward."""
    url: str = ""
    """URL after the step (web; ``""`` elsewhere)."""
    page: str = ""
    """Page text after the step (web; ``""`` elsewhere)."""
    last_action_error: str = ""
    """The env's complaint about the action (``""`` when it was fine)."""


@dataclass
class Episode:
    """One rolled-out episode (JSON-serializable apart from ``frames``)."""

    env_id: str
    """Environment id."""
    goal_seed: int
    """The ``env.reset`` seed: it fixes the goal and the start state."""
    instruction: str
    """The natural-language instruction."""
    agent: str = ""
    """Name of the agent that acted."""
    sample_seed: int | None = None
    """The seed the agent was reset with (``None``: the goal seed)."""
    split: str | None = None
    """Goal split the env was made with, when known."""
    start_url: str = ""
    """URL of the first observation (web)."""
    start_page: str = ""
    """Page text of the first observation (web)."""
    steps: list[EpisodeStep] = field(default_factory=list)
    """The steps, in order."""
    total_reward: float = 0.0
    """Sum of the step rewards."""
    score: float = math.nan
    """The env's final true score in [0, 1] (``info["score"]``; the return clipped to [0, 1] when the env
    reports none)."""
    success: bool = False
    """``info["success"]`` at the end."""
    terminated: bool = False
    """The env ended the episode (rather than a time limit or the step cap)."""
    frames: list[np.ndarray] | None = field(default=None, repr=False)
    """RGB frames (start + one per step) when recorded; not part of :meth:`to_dict`."""

    @property
    def length(self) -> int:
        """Number of steps."""
        return len(self.steps)

    @property
    def is_text(self) -> bool:
        """Whether this is a text (web) episode: text commands, or pages seen."""
        if self.steps:
            return all(isinstance(s.action, str) for s in self.steps)
        return bool(self.start_url or self.start_page)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (without frames)."""
        data = asdict(self)
        data.pop("frames")
        data["score"] = None if math.isnan(self.score) else self.score
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        """Rebuild an episode from :meth:`to_dict`'s form.

        Raises:
            ConfigError: the mapping lacks a required field.
        """
        try:
            steps = [EpisodeStep(**s) for s in data.get("steps", [])]
            fields = {k: v for k, v in data.items() if k not in ("steps", "frames")}
            score = fields.pop("score", None)
            return cls(**fields, steps=steps, score=math.nan if score is None else float(score))
        except TypeError as err:
            raise ConfigError(f"Not an rlft episode record: {err}.") from err


def final_frame(env: gym.Env, obs: Any) -> np.ndarray | None:
    """An RGB frame of ``env`` now: ``env.render()`` in ``rgb_array`` mode, else the observation's ``rgb``.

    At an episode's end this is what an image reward model reads (``rlft compare`` makes tabletop envs with
    ``render_mode="rgb_array"`` and stores the last one as ``.npy``; search and RL from a learned reward
    make theirs the same way).
    """
    if env.render_mode == "rgb_array":
        frame = env.render()
        if isinstance(frame, np.ndarray):
            return frame
    if isinstance(obs, dict) and isinstance(obs.get("rgb"), np.ndarray):
        return obs["rgb"]
    return None


def reads_frames(reward_model: Any) -> bool:
    """Whether ``reward_model`` scores final frames (the image head) rather than episode texts."""
    return bool(getattr(reward_model, "reads_frames", False))


def _text(obs: Any, key: str) -> str:
    value = obs.get(key, "") if isinstance(obs, dict) else ""
    return value if isinstance(value, str) else ""


def _action_record(action: Any) -> str | list[float]:
    if isinstance(action, str):
        return action
    return [float(x) for x in np.asarray(action, dtype=np.float64).reshape(-1)]


def rollout_episode(
    env: gym.Env,
    agent: Actor,
    seed: int,
    *,
    sample_seed: int | None = None,
    max_steps: int | None = None,
    record_frames: bool = False,
    env_id: str | None = None,
    agent_name: str | None = None,
    split: str | None = None,
) -> Episode:
    """Run ``agent`` for one episode of ``env`` from ``env.reset(seed=seed)``.

    Args:
        env: the environment (reused across episodes).
        agent: anything with ``reset(env, seed)`` and ``act(obs, env)``.
        seed: reset seed: the goal and start state.
        sample_seed: seed the agent is reset with (its sampling RNG); default ``seed``.
        max_steps: cap on steps (default: the env's own time limit; 10,000 at most).
        record_frames: keep an RGB frame per step (``env.render()`` in ``rgb_array`` mode, else the
            observation's ``rgb``) in :attr:`Episode.frames`.
        env_id: id stored in the record (default: ``env.spec.id``).
        agent_name: agent name stored (default: ``agent.name``).
        split: goal split stored in the record.

    Returns:
        The episode.
    """
    limit = 10_000 if max_steps is None else check_int("max_steps", max_steps)
    obs, info = env.reset(seed=seed)
    agent.reset(env, seed if sample_seed is None else sample_seed)
    episode = Episode(
        env_id=env_id or (env.spec.id if env.spec is not None else type(env.unwrapped).__name__),
        goal_seed=int(seed),
        instruction=_text(obs, "instruction"),
        agent=agent_name if agent_name is not None else str(getattr(agent, "name", type(agent).__name__)),
        sample_seed=sample_seed,
        split=split,
        start_url=_text(obs, "url"),
        start_page=_text(obs, "page"),
        success=bool(info.get("success", False)),
    )
    frames: list[np.ndarray] = []
    if record_frames and (frame := final_frame(env, obs)) is not None:
        frames.append(frame)
    while episode.length < limit:
        action = agent.act(obs, env)
        obs, reward, terminated, truncated, info = env.step(action)
        episode.total_reward += float(reward)
        episode.steps.append(
            EpisodeStep(
                action=_action_record(action),
                reward=float(reward),
                url=_text(obs, "url"),
                page=_text(obs, "page"),
                last_action_error=_text(obs, "last_action_error") or str(info.get("last_action_error") or ""),
            )
        )
        if record_frames and (frame := final_frame(env, obs)) is not None:
            frames.append(frame)
        if terminated or truncated:
            episode.terminated = bool(terminated)
            break
    episode.success = bool(info.get("success", False))
    score = info.get("score")
    episode.score = float(score) if score is not None else float(np.clip(episode.total_reward, 0.0, 1.0))
    episode.frames = frames if record_frames else None
    return episode


def _format_action(action: str | list[float]) -> str:
    if isinstance(action, str):
        return action
    return "[" + ", ".join(f"{x:+.2f}" for x in action) + "]"


def episode_text(episode: Episode, max_chars: int = EPISODE_TEXT_CHARS) -> str:
    """The canonical text of ``episode`` that a reward model reads (the instruction excluded).

    Web: the numbered steps ``command -> url`` (with any error), then the final page text. Tabletop: the
    numbered action vectors with any error, and the step count. Rewards and the score are never shown.
    When the text exceeds ``max_chars`` the END is kept (the final page, capped at two thirds of the
    budget, and the latest steps), cut at a line boundary after a ``[... N earlier lines]`` marker.

    Raises:
        ConfigError: ``max_chars`` is below 200.
    """
    max_chars = check_int("max_chars", max_chars, 200)
    lines = []
    for i, step in enumerate(episode.steps, 1):
        line = f"{i}. {_format_action(step.action)}"
        if step.url:
            line += f" -> {step.url}"
        if step.last_action_error:
            line += f" (error: {step.last_action_error})"
        lines.append(line)
    if not lines:
        lines.append("(no steps)")
    final_page = episode.steps[-1].page if episode.steps else episode.start_page
    final_url = episode.steps[-1].url if episode.steps else episode.start_url
    if final_page:
        budget = max_chars * 2 // 3
        page = final_page if len(final_page) <= budget else final_page[: budget - 4] + "\n..."
        tail = f"Final page ({final_url}):\n{page}" if final_url else f"Final page:\n{page}"
    else:
        tail = f"{episode.length} steps."
    text = "\n".join(["Steps:", *lines, tail])
    if len(text) <= max_chars:
        return text
    room = max_chars - len(tail) - 40  # the header and the marker line
    kept: list[str] = []
    for line in reversed(lines):
        room -= len(line) + 1
        if room < 0:
            break
        kept.append(line)
    kept.reverse()
    marker = f"[... {len(lines) - len(kept)} earlier steps]"
    return "\n".join(["Steps:", marker, *kept, tail])[-max_chars:]


def write_transcript(path: str | Path, episode: Episode, outcome: bool = True) -> Path:
    """Write a readable Markdown transcript of a text episode: every step's command, URL and page.

    With ``outcome=False`` the rewards and the outcome are left out (what a person rating the episode
    sees: they judge it, the env's score must not tell them).
    """
    title = f"# {episode.env_id}, seed {episode.goal_seed}"
    lines = [title, "", f"**Instruction:** {episode.instruction}", ""]

    def page_block(url: str, page: str) -> list[str]:
        block = [f"URL: {url}", ""] if url else []
        if page:
            cut = page[:TRANSCRIPT_PAGE_CHARS] + ("\n..." if len(page) > TRANSCRIPT_PAGE_CHARS else "")
            block += ["```text", cut, "```", ""]
        return block

    lines += page_block(episode.start_url, episode.start_page)
    for i, step in enumerate(episode.steps, 1):
        reward = f"  (reward {step.reward:.3f})" if outcome else ""
        lines += [f"## Step {i}: `{_format_action(step.action)}`{reward}", ""]
        if step.last_action_error:
            lines += [f"> error: {step.last_action_error}", ""]
        lines += page_block(step.url, step.page)
    if outcome:
        lines.append(f"**Outcome:** {'success' if episode.success else 'failure'}, {episode.length} steps.")
    else:
        lines.append(f"{episode.length} steps.")
    return atomic_write_text(path, "\n".join(lines))


def write_gif(path: str | Path, frames: list[np.ndarray] | None) -> Path | None:
    """Write ``frames`` as a looping GIF (the last frame held); ``None`` when there are no frames."""
    if not frames:
        return None
    imageio = require("imageio.v2", "saving GIFs")
    import io

    images = [np.asarray(f, dtype=np.uint8) for f in frames]
    buffer = io.BytesIO()
    # Hold the last frame so the outcome is visible when the GIF loops.
    imageio.mimsave(buffer, [*images, images[-1], images[-1]], format="GIF", duration=0.6, loop=0)
    return atomic_write_bytes(path, buffer.getvalue())


def _png_bytes(frame: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def save_episode(episode: Episode, directory: str | Path, stem: str, outcome: bool = True) -> Path:
    """Write ``episode`` under ``directory`` as ``stem.*``; return the file a person looks at.

    Always ``stem.json`` (the full record with the score, :func:`load_episode` reads it). A text episode
    also gets the Markdown transcript ``stem.md`` (returned; rewards and outcome only with ``outcome``);
    an episode with frames gets ``stem.gif`` (returned), its final frame as ``stem.npy`` (uint8
    H x W x 3, what an image reward model reads) and ``stem.png``. Every file is written atomically.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / f"{stem}.json", json.dumps(episode.to_dict()))
    if episode.frames:
        import io

        final = np.asarray(episode.frames[-1], dtype=np.uint8)
        buffer = io.BytesIO()
        np.save(buffer, final, allow_pickle=False)
        atomic_write_bytes(directory / f"{stem}.npy", buffer.getvalue())
        atomic_write_bytes(directory / f"{stem}.png", _png_bytes(final))
        gif = write_gif(directory / f"{stem}.gif", episode.frames)
        if gif is not None:
            return gif
    return write_transcript(directory / f"{stem}.md", episode, outcome=outcome)


def load_episode(path: str | Path) -> Episode:
    """Read an episode saved by :func:`save_episode` (give its ``.json``, or any of its files).

    Frames are not restored; the final frame is in the ``.npy`` beside it.

    Raises:
        ConfigError: no such episode record, or not an episode record.
    """
    path = Path(path).with_suffix(".json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"Cannot read the episode record {path}: {err}.") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not an rlft episode record.")
    return Episode.from_dict(data)
