"""The agents' bridge to :mod:`rlft.policies`: build, load and check policies with typed errors.

Every policy a run saves carries ``rlft_env.json`` next to its weights: the environment id, gym.make
kwargs (the tabletop view among them) and split it was trained on, so evaluation and RL make the same
environment without the user repeating ``--env-kwarg``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gymnasium import spaces
from rlft.agents.config import EnvConfig
from rlft.demos.dataset import DemoDataset
from rlft.demos.envs import check_env_id, make_env
from rlft.errors import (
    CheckpointError,
    ConfigError,
    ModalityError,
    RlftError,
    UnknownNameError,
    atomic_write_text,
    unknown_name_message,
)

__all__ = [
    "ENV_GROUPS",
    "ENV_RECORD",
    "build_agent_policy",
    "check_policy_fits",
    "env_group",
    "env_spaces",
    "expand_env_ids",
    "load_agent_policy",
    "read_env_record",
    "resolve_env",
    "save_agent_policy",
    "split_space_of",
    "start_policy",
]

ENV_RECORD = "rlft_env.json"
"""File in a saved policy folder recording the environment it was trained on."""


TEXT_WEB_SITES: frozenset[str] = frozenset({"shop", "qa", "forms"})
"""The sites of rlft's own web ids (in-process; MiniWoB++ and WebBrowser pages run on live Chromium)."""

ENV_GROUPS: dict[str, str] = {
    "all-web": "every rlft web id (shop, QA and the form families)",
    "all-forms": "every web form family (rlft/WebForm*-v0)",
    "all-miniwob": "every MiniWoB++ id (rlft/MiniWoB-*-v0, live Chromium)",
    "all-tabletop": "every tabletop task family",
    "trained": "the ids the --policy was trained on (every dataset's id for a multi-task policy)",
}
"""Names that stand for several env ids wherever a command takes a list of them (``rlft eval``)."""


def env_group(name: str) -> tuple[str, ...]:
    """The registered ids of group ``name`` (``all-web``, ``all-forms``, ``all-miniwob`` or ``all-tabletop``).

    Raises:
        UnknownNameError: not a group of :data:`ENV_GROUPS` (``trained`` needs a policy: see
            :func:`expand_env_ids`).
    """
    from rlft.envs.registration import ENTRIES

    members = {
        "all-web": [e.id for e in ENTRIES if e.kwargs.get("site") in TEXT_WEB_SITES],
        "all-forms": [e.id for e in ENTRIES if e.kwargs.get("site") == "forms"],
        "all-miniwob": [e.id for e in ENTRIES if e.kwargs.get("site") == "miniwob"],
        "all-tabletop": [e.id for e in ENTRIES if "site" not in e.kwargs and "task" in e.kwargs],
    }
    if name not in members:
        raise UnknownNameError(unknown_name_message("env id group", name, list(members)))
    return tuple(members[name])


def trained_env_ids(policy_dir: str | Path) -> tuple[str, ...]:
    """The ids a saved policy was trained on: every dataset's id (multi-task BC) or its one id."""
    record = read_env_record(policy_dir)
    ids = record.get("env_ids") or ([record["env_id"]] if record.get("env_id") else [])
    return tuple(str(i) for i in ids)


def expand_env_ids(ids: Sequence[str | None], policy_dir: str | Path | None = None) -> list[str | None]:
    """The env ids a command runs on: groups of :data:`ENV_GROUPS` expanded, repeats dropped.

    With no id given, a multi-task policy (one that records ``env_ids``) runs on all of them; otherwise
    the result is ``[None]``: the one id the policy records (:func:`resolve_env`).

    Raises:
        ConfigError: ``trained`` without a policy, or a policy that records no id.
        UnknownNameError: an ``all-*`` name that is not a group.
    """
    given = [i for i in ids if i]
    if not given:
        recorded = read_env_record(policy_dir).get("env_ids") if policy_dir is not None else None
        return list(recorded) if recorded else [None]
    out: list[str | None] = []
    for name in given:
        if name == "trained":
            members = trained_env_ids(policy_dir) if policy_dir is not None else ()
            if not members:
                where = f"the policy at {policy_dir} records none" if policy_dir else "no --policy given"
                raise ConfigError(f"'trained' stands for the ids the policy was trained on, but {where}.")
        else:
            members = env_group(name) if name.startswith("all-") else (name,)
        out += [m for m in members if m not in out]
    return out


def save_agent_policy(policy: Any, folder: str | Path, env_record: Mapping[str, Any]) -> Path:
    """``policy.save(folder)`` plus :data:`ENV_RECORD` (``env_id``, ``env_kwargs``, ``split``)."""
    folder = Path(folder)
    policy.save(folder)
    atomic_write_text(folder / ENV_RECORD, json.dumps(dict(env_record), indent=2))
    return folder


def read_env_record(folder: str | Path) -> dict[str, Any]:
    """The environment a saved policy was trained on (empty for policies saved without one).

    Raises:
        CheckpointError: when the record exists but is not valid JSON.
    """
    path = Path(folder) / ENV_RECORD
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"{path} is corrupt ({err}); delete it and pass --env-kwarg explicitly."
        ) from err
    return record if isinstance(record, dict) else {}


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


def resolve_env(config: EnvConfig, policy_dir: str | Path | None) -> dict[str, Any]:
    """The environment a run makes: ``env_id``, ``env_kwargs``, ``split``, ``max_steps``.

    Missing pieces come from the policy's record (:func:`read_env_record`): the
    id when none is given, and the kwargs it was trained with (the tabletop view among them) when the id
    is the recorded one (or one of ``env_ids``, the ids of a multi-task policy's datasets); explicit
    ``env_kwargs`` override recorded ones.

    Raises:
        ConfigError: no env id given and none recorded.
    """
    record = read_env_record(policy_dir) if policy_dir is not None else {}
    env_id = config.env_id or record.get("env_id")
    if not env_id:
        where = (
            f"the policy at {policy_dir} records none"
            if policy_dir is not None
            else "no --policy records one"
        )
        raise ConfigError(f"Which environment? Pass the ENV_ID ({where}).")
    # A multi-task policy records every id it was trained on; their kwargs (the view) are shared.
    trained_on = {record.get("env_id"), *record.get("env_ids", ())}
    recorded = record.get("env_kwargs") if env_id in trained_on else None
    return {
        "env_id": check_env_id(env_id),
        "env_kwargs": config.make_kwargs(recorded),
        "split": config.goal_split,
        "max_steps": config.max_steps,
    }


def build_agent_policy(
    fields: Mapping[str, Any],
    observation_space: spaces.Space,
    action_space: spaces.Space,
    device: Any = "cpu",
    progress: bool = True,
) -> Any:
    """``build_policy(PolicyConfig(**fields), spaces)`` on ``device``.

    ``progress=False`` keeps the weight-loading progress bars quiet.

    Raises:
        ConfigError: unknown ``fields`` or invalid values.
        UnknownBackboneError: unknown backbone name.
        ModalityError: the backbone does not fit the environment (e.g. a text-only backbone on tabletop).

    """
    from rlft.policies import PolicyConfig, build_policy

    config = PolicyConfig.from_dict(dict(fields))
    return build_policy(config, observation_space, action_space, device=device, progress=progress)


def start_policy(
    config: Any,
    latest: Path | None,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    device: Any,
) -> Any:
    """The policy a training run starts from, with its frozen encodings cached.

    The run's latest checkpoint when it resumes, else ``config.policy`` (a saved policy to fine-tune),
    else a fresh policy from ``config.policy_fields`` (its head seeded by the run's seed). ``config`` is a
    training config (:class:`~rlft.agents.config.TrainConfig` and :class:`~rlft.agents.config.PolicySpec`).
    """
    progress = config.show_progress
    if latest is not None or config.policy is not None:
        source = latest / "policy" if latest is not None else Path(config.policy)
        policy = load_agent_policy(source, observation_space, action_space, device=device, progress=progress)
    else:
        fields = config.policy_fields(config.seed)
        policy = build_agent_policy(fields, observation_space, action_space, device=device, progress=progress)
    policy.cache_frozen_encodings()
    return policy


def load_agent_policy(
    folder: str | Path,
    observation_space: spaces.Space | None = None,
    action_space: spaces.Space | None = None,
    device: Any = "cpu",
    progress: bool = True,
) -> Any:
    """Load a saved policy onto ``device``, wrapping any failure in :class:`CheckpointError`.

    ``progress=False`` keeps the weight-loading progress bars quiet.

    When spaces are given, the policy must fit them (see :func:`check_policy_fits`).

    Raises:
        CheckpointError: missing or corrupt checkpoint; the message names the folder.
        ModalityError: the policy was trained for another environment family or view.

    """
    from rlft.policies import load_policy

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"No policy checkpoint at {folder}. Pass the folder `rlft train bc` / `rlft train rl` wrote "
            "(its best/ or policy/ sub-folder, or a checkpoints/step_* folder's policy/)."
        )
    try:
        policy = load_policy(folder, device=device, progress=progress)
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
        check_policy_fits(policy, folder, observation_space, action_space)
    return policy


def check_policy_fits(
    policy: Any, folder: str | Path, observation_space: spaces.Space, action_space: spaces.Space
) -> None:
    """Refuse a policy that cannot read this environment's observations.

    Raises:
        ModalityError: another family (a web policy on a tabletop env or the reverse), or another
            tabletop view or image size than the policy was trained on.
    """
    from rlft.policies.interface import detect_interface

    actual = getattr(policy, "interface", None)
    if actual is None:
        return
    view = getattr(getattr(policy, "config", None), "view", "auto")
    try:
        expected = detect_interface(observation_space, action_space, view)
    except ModalityError as err:
        raise ModalityError(f"The policy at {folder} does not fit this environment: {err}") from err
    if actual.kind != expected.kind:
        raise ModalityError(
            f"The policy at {folder} was trained for {actual.kind} environments, not {expected.kind}; "
            "pick a checkpoint trained on this environment family."
        )
    if actual != expected:
        recorded = read_env_record(folder).get("env_kwargs")
        hint = f" It was trained with env kwargs {recorded}." if recorded else ""
        raise ModalityError(
            f"The policy at {folder} reads {actual.image_key} images of shape {actual.image_shape}; this "
            f"environment gives {expected.image_key} {expected.image_shape}.{hint} Make the env with the "
            "kwargs the policy was trained with (heightmap, image_size ...)."
        )
