"""The stable-baselines3 bridge: a fixed-shape env wrapper and PPO / MaskablePPO policy classes.

SB3 cannot consume Text spaces or variable candidate sets, so :class:`SB3EnvWrapper` turns an rlft env
into one with a Dict-of-Box observation (the policy's own encoded arrays: token ids and masks, images)
and the discrete action space of the policy's family (``policy.sb3_action_space``): ``Discrete(K)``
over the first K admissible commands for web policies (with ``action_masks()`` for sb3-contrib's
MaskablePPO), ``MultiDiscrete([G*G, R, G*G, R])`` over pick/place cells and yaw bins for tabletop ones.

:class:`RlftActorCriticPolicy` (PPO, A2C) and :class:`RlftMaskablePolicy` (MaskablePPO) are custom SB3
policy classes, passed the usual way (``PPO(RlftActorCriticPolicy, env, policy_kwargs=
sb3_policy_kwargs(policy))``). They are built through SB3's public constructor arguments and
compute everything with the AgentPolicy's own modules, as they are: no MLP or orthogonal
re-initialisation touches the pretrained weights, actor and critic share the backbone, and the
optimizer only gets trainable parameters. Picking and building the algorithm (PPO or MaskablePPO, with
its hyper-parameters) is the agents' job, outside this package.

Use ``DummyVecEnv`` (SB3's default): the wrapper holds the policy's tokenizer, and subprocess vector
envs would copy the whole model into every worker.
"""

from __future__ import annotations

import logging
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from rlft.errors import ConfigError, DependencyError, extra_hint
from rlft.policies.policy import AgentPolicy

try:
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing = getattr(exc, "name", None) or "stable_baselines3"
    raise DependencyError(f"The SB3 bridge needs {missing}.{extra_hint(missing)}") from exc

__all__ = [
    "RlftActorCriticPolicy",
    "RlftMaskablePolicy",
    "SB3EnvWrapper",
    "agent_policy_from_sb3",
    "make_sb3_env",
    "sb3_policy_kwargs",
]

logger = logging.getLogger(__name__)


class SB3EnvWrapper(gym.Wrapper):
    """An rlft env seen through a policy's observation encoder, with a discrete action space.

    Observations are ``policy.encode_observations([obs], K)`` (one row); actions are indices mapped back
    with ``policy.index_to_action``. The latest raw observation (with its Text fields) is kept in
    :attr:`last_raw_observation`.

    Args:
        env: A web or tabletop rlft env (raw, as made by ``gym.make``).
        policy: The AgentPolicy whose encoder and action mapping to use.
        num_candidates: K for web envs (default ``policy.config.max_candidates``); commands beyond the
            first K are not selectable (a warning is logged once per wrapper).
    """

    def __init__(self, env: gym.Env, policy: AgentPolicy, num_candidates: int | None = None) -> None:
        super().__init__(env)
        self.policy = policy
        self.num_candidates = num_candidates or policy.config.max_candidates
        self.observation_space = policy.sb3_observation_space(self.num_candidates)
        self.action_space = policy.sb3_action_space(self.num_candidates)
        self.last_raw_observation: dict[str, Any] | None = None
        self._warned = False

    def _encode(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        self.last_raw_observation = obs
        if not self._warned:
            dropped = self.policy.unselectable_actions(obs, self.num_candidates)
            if dropped:
                self._warned = True
                logger.warning(
                    "%d actions beyond K=%d are not selectable; raise max_candidates",
                    dropped,
                    self.num_candidates,
                )
        arrays = self.policy.encode_observations([obs], self.num_candidates)
        return {key: value[0] for key, value in arrays.items()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Reset the env and encode its first observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        return self._encode(obs), info

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """Map the discrete action to an env action, step, and encode the observation."""
        if self.last_raw_observation is None:
            raise ConfigError("Call reset() before step().")
        env_action = self.policy.index_to_action(self.last_raw_observation, np.asarray(action))
        obs, reward, terminated, truncated, info = self.env.step(env_action)
        return self._encode(obs), float(reward), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """MaskablePPO's valid actions for the latest observation (see ``policy.sb3_action_masks``)."""
        return self.policy.sb3_action_masks(self.last_raw_observation or {}, self.num_candidates)


def make_sb3_env(env: gym.Env, policy: AgentPolicy, num_candidates: int | None = None) -> SB3EnvWrapper:
    """Wrap a raw rlft env for SB3 with ``policy``'s encoder (see :class:`SB3EnvWrapper`)."""
    return SB3EnvWrapper(env, policy, num_candidates)


class AgentPolicyFeatures(BaseFeaturesExtractor):
    """SB3's features-extractor slot of an rlft policy class: parameter-free, never on the compute path.

    The AgentPolicy reads the encoded observation dict itself (its backbone is the feature extractor),
    so SB3 is given this one-dimensional placeholder; it keeps SB3's default MLP, action and value
    networks down to a few parameters, which the rlft policy classes then drop.
    """

    def __init__(self, observation_space: spaces.Space) -> None:
        super().__init__(observation_space, features_dim=1)

    def forward(self, observations: Any) -> torch.Tensor:
        """Not used: the rlft policy classes compute logits and values with the AgentPolicy."""
        raise ConfigError("rlft SB3 policies compute features with their AgentPolicy (policy.agent).")


class _AgentPolicyMixin:
    """Shared SB3 policy logic: all computation is delegated to the wrapped AgentPolicy."""

    agent: AgentPolicy
    action_dist: Any
    action_space: spaces.Space
    optimizer_class: Any
    optimizer_kwargs: dict[str, Any]

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        agent_policy: AgentPolicy,
        **kwargs: Any,
    ) -> None:
        if not isinstance(agent_policy, AgentPolicy):
            raise ConfigError(
                "policy_kwargs must contain agent_policy=<AgentPolicy>; use sb3_policy_kwargs(policy)."
            )
        # SB3's own networks are not used: a placeholder feature, no hidden layers, no orthogonal init.
        kwargs.update(features_extractor_class=AgentPolicyFeatures, net_arch=[], ortho_init=False)
        kwargs.pop("features_extractor_kwargs", None)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)  # type: ignore[call-arg]
        del self.action_net, self.value_net  # type: ignore[attr-defined]
        self.agent = agent_policy
        # Only trainable parameters reach the optimizer: frozen backbone weights stay out.
        self.optimizer = self.optimizer_class(
            self.agent.trainable_parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _logits_values(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits, values = self.agent(self.agent.to_tensors(obs))
        return logits.float(), values.float().unsqueeze(-1)

    def _distribution(
        self, obs: dict[str, torch.Tensor], action_masks: Any = None
    ) -> tuple[Any, torch.Tensor]:
        logits, values = self._logits_values(obs)
        dist = self.agent.sb3_distribution(self.action_dist, logits)
        if action_masks is not None:
            dist.apply_masking(action_masks)
        return dist, values

    def _forward(self, obs: Any, deterministic: bool, action_masks: Any = None) -> tuple[torch.Tensor, ...]:
        dist, values = self._distribution(obs, action_masks)
        actions = dist.get_actions(deterministic=deterministic)
        log_prob = dist.log_prob(actions)
        return actions.reshape((-1, *(self.action_space.shape or ()))), values, log_prob

    def _evaluate(
        self, obs: Any, actions: torch.Tensor, action_masks: Any = None
    ) -> tuple[torch.Tensor, ...]:
        dist, values = self._distribution(obs, action_masks)
        return values, dist.log_prob(actions), dist.entropy()

    def predict_values(self, obs: Any) -> torch.Tensor:
        """Values ``[B, 1]``."""
        return self._logits_values(obs)[1]

    def set_training_mode(self, mode: bool) -> None:
        """Train/eval mode (the agent keeps its backbone in eval mode)."""
        self.agent.train(mode)
        self.training = mode


class RlftActorCriticPolicy(_AgentPolicyMixin, ActorCriticPolicy):
    """SB3 ``PPO``/``A2C`` policy backed by an AgentPolicy (``policy_kwargs=sb3_policy_kwargs(policy)``)."""

    def forward(
        self, obs: Any, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions, values ``[B, 1]`` and log-probabilities."""
        return self._forward(obs, deterministic)  # type: ignore[return-value]

    def evaluate_actions(
        self, obs: Any, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities of ``actions`` and entropies."""
        return self._evaluate(obs, actions)  # type: ignore[return-value]

    def get_distribution(self, obs: Any) -> Any:
        """The action distribution for ``obs``."""
        return self._distribution(obs)[0]


class RlftMaskablePolicy(_AgentPolicyMixin, MaskableActorCriticPolicy):
    """sb3-contrib ``MaskablePPO`` policy backed by an AgentPolicy."""

    def forward(
        self, obs: Any, deterministic: bool = False, action_masks: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions, values ``[B, 1]`` and log-probabilities under the action masks."""
        return self._forward(obs, deterministic, action_masks)  # type: ignore[return-value]

    def evaluate_actions(
        self, obs: Any, actions: torch.Tensor, action_masks: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities of ``actions`` and entropies under the action masks."""
        return self._evaluate(obs, actions, action_masks)  # type: ignore[return-value]

    def get_distribution(self, obs: Any, action_masks: np.ndarray | None = None) -> Any:
        """The masked action distribution for ``obs``."""
        return self._distribution(obs, action_masks)[0]


def sb3_policy_kwargs(policy: AgentPolicy, **extra: Any) -> dict[str, Any]:
    """``policy_kwargs`` for :class:`RlftActorCriticPolicy` (PPO) / :class:`RlftMaskablePolicy` (MaskablePPO).

    ``extra`` is passed on (for example ``optimizer_kwargs``); the AgentPolicy's modules are used as they
    are (the same objects: training the SB3 model trains ``policy``).
    """
    return {"agent_policy": policy, **extra}


def agent_policy_from_sb3(model: Any) -> AgentPolicy:
    """The AgentPolicy inside an SB3 model built with the rlft policy classes (for saving / evaluation).

    Raises:
        ConfigError: when the model's policy is not an rlft policy class.
    """
    policy = getattr(model, "policy", model)
    agent = getattr(policy, "agent", None)
    if not isinstance(agent, AgentPolicy):
        raise ConfigError(
            f"{type(policy).__name__} is not an rlft SB3 policy; build the model with "
            "RlftActorCriticPolicy / RlftMaskablePolicy and policy_kwargs=sb3_policy_kwargs(policy)."
        )
    return agent
