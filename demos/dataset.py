"""Demonstration datasets on disk: Minari datasets that hold rlft observations, read back as episodes.

A dataset is a plain Minari dataset folder (``<dir>/data/main_data.hdf5`` + ``metadata.json``), so
``minari.MinariDataset(f"{dir}/data")`` opens it and ``minari.load_dataset(dataset_id)`` finds it under
the Minari root (``$MINARI_DATASETS_PATH``, default ``~/.minari/datasets``). Minari serializes ``Box``,
``Discrete`` and ``Text`` spaces but not ``Sequence``; observation keys whose space is a
``Sequence(Text)`` (the web environments' ``admissible_commands``) are stored as one ``Text`` holding
a JSON list and decoded back on reading. rlft's own facts (environment id and kwargs, goal split,
success filter, encoded keys) live in the dataset's metadata under keys starting with ``rlft_``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from rlft.envs.text import CHARSET, text_space
from rlft.errors import DatasetError

__all__ = [
    "DemoDataset",
    "DemoEpisode",
    "decode_admissible",
    "decode_evaluation",
    "decode_observation",
    "default_dataset_dir",
    "default_dataset_id",
    "encode_observation",
    "load_demos",
    "minari_root",
    "storage_space",
]

SEQUENCE_STORAGE_LENGTH = 65_536
"""Maximum length of the JSON text that stores one ``Sequence(Text)`` observation."""


def minari_root() -> Path:
    """The Minari datasets root: ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``."""
    root = os.environ.get("MINARI_DATASETS_PATH")
    return Path(root) if root else Path.home() / ".minari" / "datasets"


def default_dataset_id(env_id: str, split: str | None, source: str = "expert") -> str:
    """The Minari dataset id ``collect`` uses by default: ``rlft/<Name>-<split>-<source>-v0``.

    ``rlft/WebShop-v0`` with split ``train`` gives ``rlft/WebShop-train-expert-v0``; data recorded by a
    policy or by the random agent ends in ``-policy-v0`` / ``-random-v0``.
    """
    name = env_id.split("/", 1)[-1].rsplit("-v", 1)[0]
    return f"rlft/{name}-{split or 'default'}-{source}-v0"


def default_dataset_dir(env_id: str, split: str | None, source: str = "expert") -> Path:
    """Where ``collect`` writes by default: ``<minari_root()>/<default_dataset_id(...)>``."""
    return minari_root() / default_dataset_id(env_id, split, source)


def _is_text_sequence(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Sequence) and isinstance(space.feature_space, spaces.Text)


def storage_space(observation_space: spaces.Space) -> tuple[spaces.Space, list[str]]:
    """Map an environment's observation space to one Minari can serialize.

    Returns:
        The storage space and the keys whose ``Sequence(Text)`` space became a JSON ``Text``.

    Raises:
        DatasetError: for a space Minari cannot store and rlft does not encode.

    """
    if not isinstance(observation_space, spaces.Dict):
        return observation_space, []
    stored: dict[str, spaces.Space] = {}
    encoded: list[str] = []
    for key, space in observation_space.spaces.items():
        if _is_text_sequence(space):
            # JSON escapes newlines/quotes with ASCII, so the encoded text stays inside CHARSET.
            stored[key] = text_space(SEQUENCE_STORAGE_LENGTH)
            encoded.append(key)
        elif isinstance(
            space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Text)
        ):
            stored[key] = space
        else:
            raise DatasetError(
                f"Observation key {key!r} has space {space}, which Minari cannot store. "
                "Supported: Box, Discrete, MultiDiscrete, MultiBinary, Text and Sequence(Text)."
            )
    return spaces.Dict(stored), encoded


def encode_observation(obs: Mapping[str, Any], encoded_keys: Sequence[str]) -> dict[str, Any]:
    """Turn one environment observation into its storage form (see :func:`storage_space`)."""
    out = dict(obs)
    for key in encoded_keys:
        text = json.dumps(list(obs[key]), ensure_ascii=False)
        if len(text) > SEQUENCE_STORAGE_LENGTH or not set(text) <= CHARSET:
            text = json.dumps(list(obs[key]), ensure_ascii=True)[:SEQUENCE_STORAGE_LENGTH]
        out[key] = text
    return out


def decode_observation(stored: Mapping[str, Any], encoded_keys: Sequence[str]) -> dict[str, Any]:
    """Inverse of :func:`encode_observation`: ``Sequence(Text)`` values come back as tuples of str."""
    out = dict(stored)
    for key in encoded_keys:
        try:
            out[key] = tuple(json.loads(stored[key]))
        except (json.JSONDecodeError, TypeError) as err:
            raise DatasetError(
                f"Observation key {key!r} holds invalid JSON ({err}); the dataset is corrupt."
            ) from err
    return out


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def decode_admissible(episode: Any, key: str = "admissible_commands") -> list[tuple[str, ...]]:
    """The admissible commands of every step of a Minari episode, decoded from their JSON storage.

    For users of the plain Minari API: ``minari.load_dataset(id)`` (or ``minari.MinariDataset(dir)``)
    yields ``EpisodeData`` whose ``observations["admissible_commands"]`` holds one JSON text per step
    (Minari cannot store ``Sequence(Text)`` spaces)::

        import minari
        from rlft.demos import decode_admissible

        episode = next(minari.load_dataset("rlft/WebShop-train-expert-v0").iterate_episodes())
        decode_admissible(episode)[0]   # ('search[...]', 'click[0]', ...) at the first step

    Args:
        episode: a Minari ``EpisodeData`` (anything with ``observations``) or its observations dict.
        key: the encoded observation key.

    Raises:
        DatasetError: when the episode has no such key or the text is not a JSON list.
    """
    observations = getattr(episode, "observations", episode)
    if not isinstance(observations, Mapping) or key not in observations:
        raise DatasetError(f"The episode has no {key!r} observations (is it a web environment's dataset?).")
    out = []
    for stored in observations[key]:
        try:
            out.append(tuple(str(c) for c in json.loads(_text(stored))))
        except (json.JSONDecodeError, TypeError) as err:
            raise DatasetError(f"{key!r} holds invalid JSON ({err}); the dataset is corrupt.") from err
    return out


def decode_evaluation(episode: Any) -> list[dict[str, Any]]:
    """The score breakdown of every step of a Minari episode (``infos["evaluation"]``, stored as JSON).

    Web: the site's evaluation details; tabletop: ``{"subgoals": [...]}``. Episodes recorded before the
    breakdown was stored give an empty list.
    """
    infos = getattr(episode, "infos", None) or {}
    return [json.loads(_text(v)) for v in infos.get("evaluation", ())]


@dataclass(frozen=True)
class DemoEpisode:
    """One recorded episode, observations decoded back into the environment's format."""

    index: int
    """Position in the dataset."""
    seed: int | None
    """The ``reset(seed=...)`` that reproduces the episode."""
    observations: list[dict[str, Any]]
    """``len(actions) + 1`` observations; the last one follows the last action."""
    actions: list[Any]
    """The expert's actions (``str`` for text environments, float arrays for Box actions)."""
    rewards: np.ndarray
    """Per-step rewards."""
    success: bool
    """``info["success"]`` after the last step."""

    @property
    def episode_return(self) -> float:
        """Sum of the rewards (the episode's partial-credit score)."""
        return float(np.sum(self.rewards))

    def transitions(self) -> Iterator[tuple[dict[str, Any], Any]]:
        """The ``(observation, action)`` pairs, in order."""
        yield from zip(self.observations[:-1], self.actions, strict=True)


def _unstack(stored: Any, n: int) -> list[Any]:
    """Split Minari's per-key stacked observations back into ``n`` per-step values."""
    if isinstance(stored, dict):
        columns = {key: _unstack(value, n) for key, value in stored.items()}
        return [{key: columns[key][i] for key in columns} for i in range(n)]
    return [stored[i] for i in range(n)]


class DemoDataset:
    """A demonstration dataset written by :func:`rlft.demos.collect_demos` (a Minari dataset).

    Args:
        path: the dataset folder (the one holding ``data/``), or its ``data`` folder itself.

    Raises:
        DatasetError: when the folder holds no Minari dataset, or one rlft did not write.

    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import minari

        path = Path(path).resolve()
        data = path if path.name == "data" else path / "data"
        if not (data / "metadata.json").is_file():
            raise DatasetError(
                f"No demonstration dataset at {path} (no {data / 'metadata.json'}). "
                "Record one with `rlft collect ENV_ID --out DIR` or pass the folder `collect` printed."
            )
        try:
            self._minari = minari.MinariDataset(str(data))
            metadata = self._minari.storage.metadata
            if self._minari.total_episodes > 0:  # open the data file now: fail fast, not mid-training
                list(self._minari.storage.get_episode_metadata([0]))
        except Exception as err:  # h5py/json raise many types for damaged files
            raise DatasetError(
                f"The dataset at {path} cannot be read ({type(err).__name__}: {err}); record it again."
            ) from err
        if "rlft_env_id" not in metadata:
            raise DatasetError(
                f"The Minari dataset at {path} was not recorded by rlft (no 'rlft_env_id' in its metadata). "
                "Record demonstrations with `rlft collect ENV_ID`."
            )
        self.path = data.parent
        self.env_id: str = str(metadata["rlft_env_id"])
        """Environment id the demonstrations come from."""
        self.env_kwargs: dict[str, Any] = json.loads(metadata.get("rlft_env_kwargs", "{}"))
        """``gym.make`` keyword arguments used while recording (the goal split among them)."""
        self.split: str | None = metadata.get("rlft_split") or None
        """The goal split the demonstrations were recorded on."""
        self.encoded_keys: list[str] = json.loads(metadata.get("rlft_encoded_keys", "[]"))
        """Observation keys stored as JSON text."""
        self.collect_stats: dict[str, Any] = json.loads(metadata.get("rlft_collect_stats", "{}"))
        """Attempted / kept episode counts and the success threshold used while recording."""

    @property
    def minari(self) -> Any:
        """The underlying ``minari.MinariDataset``."""
        return self._minari

    @property
    def dataset_id(self) -> str:
        """The Minari dataset id."""
        return str(self._minari.spec.dataset_id)

    @property
    def total_episodes(self) -> int:
        """Number of episodes."""
        return int(self._minari.total_episodes)

    @property
    def total_steps(self) -> int:
        """Number of (observation, action) pairs."""
        return int(self._minari.total_steps)

    def __len__(self) -> int:
        return self.total_episodes

    def episodes(self, indices: Sequence[int] | None = None) -> Iterator[DemoEpisode]:
        """Yield episodes (all of them, or those at ``indices``), observations decoded."""
        indices = list(range(self.total_episodes)) if indices is None else list(indices)
        storage = self._minari.storage
        metadatas = list(storage.get_episode_metadata(indices))
        for index, meta, raw in zip(indices, metadatas, storage.get_episodes(indices), strict=True):
            n_obs = len(raw["rewards"]) + 1
            observations = [
                decode_observation(obs, self.encoded_keys) for obs in _unstack(raw["observations"], n_obs)
            ]
            actions = _unstack(raw["actions"], n_obs - 1)
            actions = [a.decode("utf-8") if isinstance(a, bytes) else a for a in actions]
            infos = raw.get("infos") or {}
            success = bool(np.asarray(infos["success"])[-1]) if "success" in infos else False
            seed = meta.get("seed")
            yield DemoEpisode(
                index=index,
                seed=None if seed is None else int(seed),
                observations=observations,
                actions=actions,
                rewards=np.asarray(raw["rewards"], dtype=np.float64),
                success=success,
            )

    def transitions(self, indices: Sequence[int] | None = None) -> list[tuple[dict[str, Any], Any]]:
        """All ``(observation, action)`` pairs of the chosen episodes, for behaviour cloning."""
        return [pair for episode in self.episodes(indices) for pair in episode.transitions()]

    def __repr__(self) -> str:
        return (
            f"DemoDataset({str(self.path)!r}, env_id={self.env_id!r}, split={self.split!r}, "
            f"episodes={self.total_episodes}, steps={self.total_steps})"
        )


def load_demos(path: str | os.PathLike[str]) -> DemoDataset:
    """Open a demonstration dataset folder, or a Minari dataset id under :func:`minari_root`.

    Raises:
        DatasetError: when nothing readable is there; the message says how to record one.

    """
    candidate = Path(path)
    if not candidate.exists() and not candidate.is_absolute() and (minari_root() / candidate).exists():
        candidate = minari_root() / candidate
    return DemoDataset(candidate)
