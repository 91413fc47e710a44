"""The agents' bridge to :mod:`rlft.policies`: build, load and check policies with typed errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gymnasium import spaces
from rlft.demos.dataset import DemoDataset
from rlft.demos.envs import make_env
from rlft.errors import CheckpointError, RlftError

__all__ = ["build_agent_policy", "env_spaces", "load_agent_policy", "split_space_of"]


def env_spaces(
    env_id: str, split: str | None = None, env_kwargs: Mapping[str, Any] | None = None
) -> tuple[spaces.Space, spaces.Space]:
    """Observation and action spaces of ``env_id`` (the env is made and closed)."""
    env = make_env(env_id, split, env_kwargs)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def split_space_of(dataset: DemoDataset) -> tuple[spaces.Space, spaces.Space]:
    """The spaces of the environment a dataset was recorded on."""
    return env_spaces(dataset.env_id, dataset.split, dataset.env_kwargs)


def build_agent_policy(
    backbone: str,
    finetune: str,
    policy_kwargs: Mapping[str, Any],
    observation_space: spaces.Space,
    action_space: spaces.Space,
) -> Any:
    """``build_policy(PolicyConfig(backbone, finetune=..., **policy_kwargs), spaces)``.

    Raises:
        ConfigError: unknown ``policy_kwargs`` fields or invalid values.
        UnknownBackboneError: unknown backbone name.
        ModalityError: the backbone does not fit the environment (e.g. a text-only backbone on tabletop).

    """
    from rlft.policies import PolicyConfig, build_policy

    config = PolicyConfig.from_dict({"backbone": backbone, "finetune": finetune, **dict(policy_kwargs)})
    return build_policy(config, observation_space, action_space)


def load_agent_policy(
    folder: str | Path,
    observation_space: spaces.Space | None = None,
    action_space: spaces.Space | None = None,
) -> Any:
    """Load a saved policy, wrapping any failure in :class:`CheckpointError`.

    When spaces are given, the policy must have been built for environments of the same family.

    Raises:
        CheckpointError: missing, corrupt or mismatched checkpoint; the message names the folder.

    """
    from rlft.policies import load_policy

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"No policy checkpoint at {folder}. Pass the folder `rlft train bc` / `rlft train rl` wrote "
            "(its best/ or policy/ sub-folder, or a checkpoints/step_* folder's policy/)."
        )
    try:
        policy = load_policy(folder)
    except RlftError as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(f"Cannot load the policy at {folder}: {err}") from err
    except Exception as err:  # safetensors / json / torch raise many types for damaged files
        raise CheckpointError(
            f"The policy checkpoint at {folder} is corrupt ({type(err).__name__}: {err}). "
            "Use another checkpoint (checkpoints/step_*/policy) or train again into a new --out."
        ) from err
    if observation_space is not None and action_space is not None:
        _check_fits(policy, folder, observation_space, action_space)
    return policy


def _check_fits(
    policy: Any, folder: Path, observation_space: spaces.Space, action_space: spaces.Space
) -> None:
    from rlft.policies.interface import detect_interface

    expected = detect_interface(observation_space, action_space)
    actual = getattr(policy, "interface", None)
    if actual is not None and getattr(actual, "kind", expected.kind) != expected.kind:
        raise CheckpointError(
            f"The policy at {folder} was trained for {actual.kind} environments, not {expected.kind}; "
            "pick a checkpoint trained on this environment family."
        )
