"""RL from a learned reward: the environment's reward replaced by a reward model's terminal score.

:class:`LearnedReward` wraps an environment for ``rlft train rl --reward-model RM``. It records the
episode as it is played (the same :class:`~rlft.agents.episodes.Episode` record rollouts produce), and
when the episode ends (terminated or truncated) the reward of that last step is the reward model's
score of the episode's text (:func:`~rlft.agents.episodes.episode_text`), or for an image reward model
its final frame (:func:`~rlft.agents.episodes.final_frame`: the env's ``rgb_array`` render, as
``rlft compare`` stored them), for its instruction; every earlier step gets 0. The score is
standardised with the mean and standard deviation of the reward model's scores on its training
comparisons (``score_mean`` / ``score_std`` in its metrics, when it has them), so the terminal reward
has a unit scale whatever the head's logits are.

The true score is never hidden from the logs: the final step's ``info`` holds ``true_score`` (the env's
own ``info["score"]``) next to ``rm_score`` (the raw reward-model score), and RL logs both as
``rollout/true_score`` and ``rollout/rm_score`` at every update. Over-optimisation, the reward model's
score rising while the true score falls, shows there.
"""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from rlft.agents.episodes import Episode, EpisodeStep, episode_text, final_frame, reads_frames
from rlft.errors import ConfigError

__all__ = ["LearnedReward"]


def _text(obs: Any, key: str) -> str:
    value = obs.get(key, "") if isinstance(obs, dict) else ""
    return value if isinstance(value, str) else ""


class LearnedReward(gym.Wrapper):
    """Replace the reward of ``env`` by ``reward_model``'s terminal score (see the module docstring).

    Args:
        env: the environment (made with ``render_mode="rgb_array"`` for an image reward model).
        reward_model: anything with ``score(instructions, texts) -> array`` and optionally a ``metrics``
            dict holding ``score_mean`` and ``score_std``.
    """

    def __init__(self, env: gym.Env, reward_model: Any) -> None:
        super().__init__(env)
        self.reward_model = reward_model
        metrics = getattr(reward_model, "metrics", {}) or {}
        mean, std = metrics.get("score_mean"), metrics.get("score_std")
        usable = isinstance(mean, float | int) and isinstance(std, float | int) and std > 0
        self.shift = float(mean) if usable and mean is not None else 0.0
        self.scale = float(std) if usable and std is not None else 1.0
        self._episode: Episode | None = None

    def _view(self, episode: Episode, obs: Any) -> Any:
        """The finished episode as the reward model reads it: its text, or its final frame.

        Raises:
            ConfigError: an image reward model on an env that renders no frame.
        """
        if not reads_frames(self.reward_model):
            return episode_text(episode)
        frame = final_frame(self.env, obs)
        if frame is None:
            raise ConfigError(
                "This reward model scores final frames; make the env with render_mode='rgb_array' "
                "(rlft train rl does) or give it an 'rgb' observation."
            )
        return frame

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Reset and start recording a new episode."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode = Episode(
            env_id=self.env.spec.id if self.env.spec is not None else type(self.env.unwrapped).__name__,
            goal_seed=-1 if seed is None else int(seed),
            instruction=_text(obs, "instruction"),
            start_url=_text(obs, "url"),
            start_page=_text(obs, "page"),
        )
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; the reward is 0 until the episode ends, then the standardised reward-model score."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        episode = self._episode
        if episode is None:
            raise gym.error.ResetNeeded("Call reset() before step().")
        episode.steps.append(
            EpisodeStep(
                action=action if isinstance(action, str) else str(action),
                reward=float(reward),
                url=_text(obs, "url"),
                page=_text(obs, "page"),
                last_action_error=_text(obs, "last_action_error"),
            )
        )
        episode.total_reward += float(reward)
        if not (terminated or truncated):
            return obs, 0.0, terminated, truncated, info
        raw = float(self.reward_model.score([episode.instruction], [self._view(episode, obs)])[0])
        score = info.get("score")
        true_score = float(score) if score is not None else float(np.clip(episode.total_reward, 0.0, 1.0))
        info = {**info, "rm_score": raw, "true_score": true_score, "true_return": episode.total_reward}
        learned = (raw - self.shift) / self.scale
        return obs, learned if math.isfinite(learned) else 0.0, terminated, truncated, info
